#[derive(ghostkit::Command)]
enum MyCommands {
    #[command(alias = ["r"])]
    Roll { dice: String },
}

fn main() {}
