//! Management-room commands: their syntax is the [`Command`] enum, parsed
//! and documented by ghostkit's `#[derive(Command)]` (help included); what
//! they do is in `manage.rs`.

/// A command of the management room. The doc comments are the help.
#[derive(Debug, Clone, PartialEq, Eq, ghostkit::Command)]
pub enum Command {
    /// Bans a user, room or server (globs `*` and `?`) through a policy list.
    ///
    /// A wildcard ban waits for `confirm`.
    #[command(example = "@spammer:evil.org main spam")]
    Ban {
        /// `@user:server`, `!room:server` / `#alias:server`, else a server.
        entity: String,
        /// The list's shortcode (see `list create`).
        list: String,
        /// Why.
        #[command(rest)]
        reason: Option<String>,
    },
    /// Removes the ban rules for an entity and unbans (and invites back).
    #[command(example = "@someone:example.org --invite")]
    Unban {
        /// The entity as banned.
        entity: String,
        /// Invite the user back into the rooms they were banned from.
        #[command(flag)]
        invite: bool,
    },
    /// Kicks matching members from the protected rooms.
    #[command(example = "@spam*:evil.org --room #general:example.org go away")]
    Kick {
        /// A user ID or glob.
        #[command(name = "user|glob")]
        target: String,
        /// Only in this room.
        #[command(option)]
        room: Option<String>,
        /// Why.
        #[command(rest)]
        reason: Option<String>,
    },
    /// Redacts a user's recent messages, or one event by permalink.
    #[command(example = "@spammer:evil.org --limit 50")]
    Redact {
        /// A user ID or an event permalink (`https://matrix.to/#/!room/$event`).
        #[command(name = "user|permalink")]
        target: String,
        /// Only in this room.
        #[command(option)]
        room: Option<String>,
        /// How many recent events to look at per room.
        #[command(option)]
        limit: Option<u32>,
    },
    /// Lists the protected rooms.
    Rooms,
    /// Protects a room.
    #[command(name = "rooms add", example = "#general:example.org")]
    RoomsAdd {
        /// Room ID or alias.
        room: String,
    },
    /// Stops protecting a room.
    #[command(name = "rooms remove", example = "#general:example.org")]
    RoomsRemove {
        /// Room ID or alias.
        room: String,
    },
    /// Creates a policy list owned by the bot.
    #[command(name = "list create", example = "main #modbot_bans:example.org")]
    ListCreate {
        /// The short name used in `ban`.
        shortcode: String,
        /// The alias to create (`#list:server`).
        alias: String,
    },
    /// Follows a policy list owned by others.
    #[command(example = "#community-bans:matrix.org")]
    Watch {
        /// The list's room ID or alias.
        room: String,
    },
    /// Stops following a list.
    Unwatch {
        /// The list's room ID or alias.
        room: String,
    },
    /// Shows the rules in force.
    Rules,
    /// Shows the rules matching an entity.
    #[command(name = "rules matching", example = "@someone:example.org")]
    RulesMatching {
        /// A user, room or server.
        entity: String,
    },
    /// Re-reads lists and members, and enforces everything.
    Sync,
    /// Says what the bot protects, watches and did.
    Status,
    /// Lists the protections and their settings.
    Protections,
    /// Turns a protection on (everywhere, or in one room).
    #[command(example = "flooding")]
    Enable {
        /// The protection.
        name: String,
        /// Only in this room.
        #[command(option)]
        room: Option<String>,
    },
    /// Turns a protection off (everywhere, or in one room).
    #[command(example = "flooding")]
    Disable {
        /// The protection.
        name: String,
        /// Only in this room.
        #[command(option)]
        room: Option<String>,
    },
    /// Changes a protection's setting (everywhere, or in one room).
    #[command(name = "config set", example = "flooding max_messages 5")]
    ConfigSet {
        /// The protection.
        protection: String,
        /// The setting.
        key: String,
        /// The new value.
        #[command(rest)]
        value: String,
        /// Only in this room.
        #[command(option)]
        room: Option<String>,
    },
    /// Applies what waits for confirmation: your wildcard ban, or a rule
    /// from a list that the bot held because of its reach.
    #[command(example = "@*:evil.org")]
    Confirm {
        /// The held rule's entity (needed when several wait).
        entity: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghostkit::command::{Command as _, CommandError, Outcome};

    /// What the command layer makes of `!mod <text>`.
    fn interpret(text: &str) -> Outcome<Command> {
        Command::outcome("!mod ", &format!("!mod {text}"))
            .unwrap_or_else(|| Outcome::Help(Command::help("!mod ")))
    }

    fn parse(text: &str) -> Result<Command, String> {
        match interpret(text) {
            Outcome::Command(c) => Ok(c),
            Outcome::Help(h) => Err(format!("help: {h}")),
            Outcome::Error(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn ban_with_and_without_reason() {
        assert_eq!(
            parse("ban @a:x main spam and scam"),
            Ok(Command::Ban {
                entity: "@a:x".into(),
                list: "main".into(),
                reason: Some("spam and scam".into())
            })
        );
        assert!(matches!(
            parse("BAN @a:x main"),
            Ok(Command::Ban { reason: None, .. })
        ));
        assert_eq!(
            parse("ban @a:x"),
            Err("`!mod ban` needs a list, e.g. `!mod ban @spammer:evil.org main spam`".into())
        );
    }

    #[test]
    fn options_and_flags() {
        assert_eq!(
            parse("unban @a:x --invite"),
            Ok(Command::Unban {
                entity: "@a:x".into(),
                invite: true
            })
        );
        assert_eq!(parse("unban --invite @a:x"), parse("unban @a:x --invite"));
        assert!(matches!(
            parse("unban @a:x"),
            Ok(Command::Unban { invite: false, .. })
        ));
        assert_eq!(
            parse("kick @spam*:x --room !r:x go away"),
            Ok(Command::Kick {
                target: "@spam*:x".into(),
                room: Some("!r:x".into()),
                reason: Some("go away".into())
            })
        );
        assert_eq!(
            parse("redact @a:x --limit 20"),
            Ok(Command::Redact {
                target: "@a:x".into(),
                room: None,
                limit: Some(20)
            })
        );
        assert!(parse("redact @a:x --limit lots")
            .is_err_and(|e| e.contains("`lots` is not a valid --limit value")));
        assert!(parse("redact @a:x --limit").is_err_and(|e| e.contains("`--limit` needs a value")));
        assert!(
            parse("kick @a:x --rooom !r:x").is_err_and(|e| e.contains("has no option `--rooom`"))
        );
        assert_eq!(
            parse("enable flooding --room #r:x"),
            Ok(Command::Enable {
                name: "flooding".into(),
                room: Some("#r:x".into())
            })
        );
    }

    #[test]
    fn sub_commands() {
        assert_eq!(parse("rooms"), Ok(Command::Rooms));
        assert_eq!(
            parse("rooms add #r:x"),
            Ok(Command::RoomsAdd {
                room: "#r:x".into()
            })
        );
        assert_eq!(
            parse("rooms remove #r:x"),
            Ok(Command::RoomsRemove {
                room: "#r:x".into()
            })
        );
        assert!(parse("rooms add").is_err_and(|e| e.starts_with("`!mod rooms add` needs a room")));
        assert_eq!(
            parse("list create main #list:x"),
            Ok(Command::ListCreate {
                shortcode: "main".into(),
                alias: "#list:x".into()
            })
        );
        assert_eq!(parse("rules"), Ok(Command::Rules));
        assert_eq!(
            parse("rules matching @a:x"),
            Ok(Command::RulesMatching {
                entity: "@a:x".into()
            })
        );
        assert_eq!(
            parse("config set flooding max_messages 5 --room !r:x"),
            Ok(Command::ConfigSet {
                room: Some("!r:x".into()),
                protection: "flooding".into(),
                key: "max_messages".into(),
                value: "5".into()
            })
        );
        assert_eq!(
            parse("watch #l:x"),
            Ok(Command::Watch {
                room: "#l:x".into()
            })
        );
        assert_eq!(
            parse("unwatch #l:x"),
            Ok(Command::Unwatch {
                room: "#l:x".into()
            })
        );
        for (text, cmd) in [
            ("sync", Command::Sync),
            ("status", Command::Status),
            ("protections", Command::Protections),
            ("confirm", Command::Confirm { entity: None }),
        ] {
            assert_eq!(parse(text), Ok(cmd));
        }
        assert_eq!(
            parse("confirm @*:x"),
            Ok(Command::Confirm {
                entity: Some("@*:x".into())
            })
        );
        assert!(parse("").is_err_and(|h| h.starts_with("help: ")));
        assert!(matches!(
            interpret("frobnicate"),
            Outcome::Error(CommandError::Unknown { word, .. }) if word == "frobnicate"
        ));
    }

    #[test]
    fn help_lists_every_command() {
        let h = Command::help("!mod ");
        for spec in Command::COMMANDS {
            assert!(h.contains(&spec.usage("!mod ")), "{h}");
        }
        for usage in [
            "!mod ban <entity> <list> [reason…]",
            "!mod unban <entity> [--invite]",
            "!mod kick <user|glob> [--room <room>] [reason…]",
            "!mod redact <user|permalink> [--room <room>] [--limit <limit>]",
            "!mod rooms add <room>",
            "!mod list create <shortcode> <alias>",
            "!mod rules matching <entity>",
            "!mod config set <protection> <key> <value…> [--room <room>]",
            "!mod help [command]",
        ] {
            assert!(h.contains(usage), "{usage} in {h}");
        }
        let Outcome::Help(one) = interpret("help rooms add") else {
            panic!("help for one command");
        };
        assert!(
            one.contains("Protects a room.")
                && one.contains("Example: !mod rooms add #general:example.org"),
            "{one}"
        );
    }
}
