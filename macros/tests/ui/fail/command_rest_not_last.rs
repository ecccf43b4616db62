#[derive(ghostkit::Command)]
enum MyCommands {
    Remind {
        #[command(rest)]
        text: String,
        when: String,
    },
}

fn main() {}
