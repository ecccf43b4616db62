#[derive(ghostkit::Command)]
enum MyCommands {
    Echo {
        #[command(raw)]
        text: String,
    },
}

fn main() {}
