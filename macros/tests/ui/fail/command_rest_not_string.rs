#[derive(ghostkit::Command)]
enum MyCommands {
    Sum {
        #[command(rest)]
        numbers: u32,
    },
}

fn main() {}
