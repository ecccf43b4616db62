//! Options, flags and sub-command names together.

use ghostkit::command::Command;

#[derive(Debug, PartialEq, ghostkit::Command)]
#[command(rename_all = "kebab-case")]
enum Admin {
    /// Kicks.
    Kick {
        user: String,
        #[command(option, name = "in")]
        room: Option<ghostkit::ruma::common::OwnedRoomId>,
        #[command(flag)]
        quiet: bool,
        #[command(rest)]
        reason: Option<String>,
    },
    /// Shows the settings.
    #[command(name = "config show")]
    ConfigShow {
        #[command(option)]
        r#for: Option<String>,
    },
    /// Changes one.
    #[command(name = "config set", aliases = ["set"])]
    ConfigSet {
        key: String,
        #[command(rest)]
        value: String,
        #[command(flag)]
        everywhere: bool,
    },
}

fn main() {
    assert!(matches!(
        Admin::parse("!", "!config set a b --everywhere"),
        Some(Ok(Admin::ConfigSet { everywhere: true, .. }))
    ));
    assert!(matches!(
        Admin::parse("!", "!config show --for x"),
        Some(Ok(Admin::ConfigShow { r#for: Some(_) }))
    ));
}
