#[derive(ghostkit::Command)]
enum MyCommands {
    Kick {
        user: String,
        #[command(flag)]
        quiet: String,
        #[command(option)]
        room: String,
        #[command(option, rest)]
        reason: Option<String>,
        #[command(flag, option)]
        both: bool,
        #[command(option, name = "--limit")]
        limit: Option<u32>,
    },
    Ban {
        #[command(option)]
        room: Option<String>,
        #[command(option, name = "room")]
        other_room: Option<String>,
    },
    #[command(name = "  ")]
    Blank,
}

fn main() {}
