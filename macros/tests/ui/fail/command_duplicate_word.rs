#[derive(ghostkit::Command)]
enum MyCommands {
    #[command(aliases = ["r"])]
    Roll { dice: String },
    #[command(aliases = ["R"])]
    Remind {
        #[command(rest)]
        text: String,
    },
}

fn main() {}
