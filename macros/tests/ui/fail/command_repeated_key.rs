#[derive(ghostkit::Command)]
enum MyCommands {
    #[command(name = "roll", example = "2d6", name = "dice")]
    Roll { dice: String },
}

fn main() {}
