struct Dice;

#[derive(ghostkit::Command)]
enum MyCommands {
    Roll { dice: Dice },
}

fn main() {}
