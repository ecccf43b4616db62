#[derive(ghostkit::Command)]
#[command(rename_all = "SCREAMING")]
enum MyCommands {
    SetTopic {
        #[command(rest)]
        topic: String,
    },
}

fn main() {}
