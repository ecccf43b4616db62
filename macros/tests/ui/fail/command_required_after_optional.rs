#[derive(ghostkit::Command)]
enum MyCommands {
    Roll { times: Option<u32>, dice: String },
}

fn main() {}
