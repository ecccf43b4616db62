#[derive(ghostkit::Command)]
enum MyCommands {
    Roll(String),
}

fn main() {}
