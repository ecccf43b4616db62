//! Management-room commands: a small hand-written parser and the help text
//! generated from one table.
//!
//! All command syntax lives here so that it can later be replaced by the
//! framework's `#[derive(Command)]` without touching what the commands do
//! (`manage.rs`).

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Adds a ban rule for `entity` to the list `list` (shortcode or room).
    Ban {
        /// User, room or server (globs allowed).
        entity: String,
        /// The list's shortcode.
        list: String,
        /// Why.
        reason: Option<String>,
    },
    /// Removes ban rules for `entity` from the bot's lists and unbans.
    Unban {
        /// The entity as banned.
        entity: String,
        /// Invite the user back into the rooms they were banned from.
        invite: bool,
    },
    /// Kicks joined users matching `target`.
    Kick {
        /// A user ID or glob.
        target: String,
        /// Only in this room.
        room: Option<String>,
        /// Why.
        reason: Option<String>,
    },
    /// Redacts a user's recent messages, or one event by permalink.
    Redact {
        /// A user ID or an event permalink.
        target: String,
        /// Only in this room.
        room: Option<String>,
        /// How many recent events to look at per room.
        limit: Option<u32>,
    },
    /// Lists the protected rooms.
    Rooms,
    /// Protects a room.
    RoomsAdd(String),
    /// Stops protecting a room.
    RoomsRemove(String),
    /// Creates a policy list the bot owns.
    ListCreate {
        /// The short name used in `ban`.
        shortcode: String,
        /// The alias to create (`#list:server`).
        alias: String,
    },
    /// Watches a policy list owned by someone else.
    Watch(String),
    /// Stops watching a list.
    Unwatch(String),
    /// Lists the rules, or those matching an entity.
    Rules {
        /// Only rules matching this entity.
        matching: Option<String>,
    },
    /// Re-reads lists and members and enforces everything.
    Sync,
    /// Says how things are.
    Status,
    /// Lists the protections and their settings.
    Protections,
    /// Turns a protection on.
    Enable {
        /// The protection.
        name: String,
        /// Only in this room.
        room: Option<String>,
    },
    /// Turns a protection off.
    Disable {
        /// The protection.
        name: String,
        /// Only in this room.
        room: Option<String>,
    },
    /// Changes a protection's setting (everywhere, or in one room).
    ConfigSet {
        /// Only in this room.
        room: Option<String>,
        /// The protection.
        protection: String,
        /// The setting.
        key: String,
        /// The new value.
        value: String,
    },
    /// Confirms the wildcard ban waiting for confirmation.
    Confirm,
    /// Shows the help.
    Help,
}

/// Why a command could not be parsed: the message says what to type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No such command.
    #[error("unknown command `{0}`; try `help`")]
    Unknown(String),
    /// The command lacks an argument or has a wrong one.
    #[error("usage: {0}")]
    Usage(&'static str),
}

/// One line of help per command: (usage, what it does).
pub const HELP: &[(&str, &str)] = &[
    (
        "ban <entity> <list> [reason]",
        "ban a user, room or server (globs * and ?) through a policy list",
    ),
    (
        "unban <entity> [--invite]",
        "remove the ban rules for an entity and unban (and invite back)",
    ),
    (
        "kick <user|glob> [--room R] [reason]",
        "kick matching members from the protected rooms",
    ),
    (
        "redact <user|permalink> [--room R] [--limit N]",
        "redact a user's recent messages, or one event",
    ),
    ("rooms", "list the protected rooms"),
    (
        "rooms add|remove <room>",
        "protect a room, or stop protecting it",
    ),
    (
        "list create <shortcode> <alias>",
        "create a policy list owned by the bot",
    ),
    (
        "watch|unwatch <room>",
        "follow (or stop following) a policy list owned by others",
    ),
    ("rules [matching <entity>]", "show the rules in force"),
    ("sync", "re-read lists and members, and enforce everything"),
    ("status", "what the bot protects and watches"),
    ("protections", "list protections and their settings"),
    (
        "enable|disable <name> [--room R]",
        "turn a protection on or off",
    ),
    (
        "config set <protection> <key> <value> [--room R]",
        "change a protection setting (everywhere or in one room)",
    ),
    ("confirm", "confirm a wildcard ban"),
    ("help", "this help"),
];

/// The help text, from [`HELP`].
pub fn help(prefix: &str) -> String {
    let mut out = String::from("Commands (in this room, prefixed by `");
    out.push_str(prefix);
    out.push_str("` or by mentioning the bot):\n");
    for (usage, what) in HELP {
        out.push_str(&format!("{prefix} {usage} — {what}\n"));
    }
    out
}

/// The command text of a message, if it is addressed to the bot: it starts
/// with `prefix` or with a mention of the bot (`@modbot:x:` or `modbot:`).
pub fn strip_address<'a>(body: &'a str, prefix: &str, bot_user_id: &str) -> Option<&'a str> {
    let body = body.trim();
    let localpart = bot_user_id
        .strip_prefix('@')
        .and_then(|s| s.split(':').next())
        .unwrap_or(bot_user_id);
    for start in [prefix, bot_user_id, localpart] {
        if start.is_empty() {
            continue;
        }
        if let Some(rest) = body.strip_prefix(start) {
            let rest = rest.strip_prefix(':').unwrap_or(rest);
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                return Some(rest.trim());
            }
        }
    }
    None
}

/// Splits into words, taking out `--name value` options (and bare flags in `flags`).
struct Args {
    words: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

fn split(text: &str, flags: &[&str]) -> Args {
    let mut words = Vec::new();
    let mut options = Vec::new();
    let mut it = text.split_whitespace();
    while let Some(w) = it.next() {
        if let Some(name) = w.strip_prefix("--") {
            if flags.contains(&name) {
                options.push((name.to_owned(), None));
            } else {
                options.push((name.to_owned(), it.next().map(str::to_owned)));
            }
        } else {
            words.push(w.to_owned());
        }
    }
    Args { words, options }
}

impl Args {
    fn opt(&self, name: &str) -> Option<String> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    }
    fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }
    fn rest(&self, from: usize) -> Option<String> {
        let r = self.words.get(from..).unwrap_or_default().join(" ");
        (!r.is_empty()).then_some(r)
    }
    fn word(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }
}

/// Parses a command (the text after the prefix or mention).
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let a = split(text, &["invite"]);
    let name = a.word(0).unwrap_or("help").to_lowercase();
    let usage = |i: usize| ParseError::Usage(HELP[i].0);
    let need = |i: usize, u: usize| a.word(i).map(str::to_owned).ok_or_else(|| usage(u));
    Ok(match name.as_str() {
        "ban" => Command::Ban {
            entity: need(1, 0)?,
            list: need(2, 0)?,
            reason: a.rest(3),
        },
        "unban" => Command::Unban {
            entity: need(1, 1)?,
            invite: a.flag("invite"),
        },
        "kick" => Command::Kick {
            target: need(1, 2)?,
            room: a.opt("room"),
            reason: a.rest(2),
        },
        "redact" => Command::Redact {
            target: need(1, 3)?,
            room: a.opt("room"),
            limit: match a.opt("limit") {
                Some(n) => Some(n.parse().map_err(|_| usage(3))?),
                None => None,
            },
        },
        "rooms" => match a.word(1) {
            None => Command::Rooms,
            Some("add") => Command::RoomsAdd(need(2, 5)?),
            Some("remove") => Command::RoomsRemove(need(2, 5)?),
            Some(_) => return Err(usage(5)),
        },
        "list" => match a.word(1) {
            Some("create") => Command::ListCreate {
                shortcode: need(2, 6)?,
                alias: need(3, 6)?,
            },
            _ => return Err(usage(6)),
        },
        "watch" => Command::Watch(need(1, 7)?),
        "unwatch" => Command::Unwatch(need(1, 7)?),
        "rules" => match a.word(1) {
            None => Command::Rules { matching: None },
            Some("matching") => Command::Rules {
                matching: Some(need(2, 8)?),
            },
            Some(_) => return Err(usage(8)),
        },
        "sync" => Command::Sync,
        "status" => Command::Status,
        "protections" => Command::Protections,
        "enable" => Command::Enable {
            name: need(1, 12)?,
            room: a.opt("room"),
        },
        "disable" => Command::Disable {
            name: need(1, 12)?,
            room: a.opt("room"),
        },
        "config" => match a.word(1) {
            Some("set") => Command::ConfigSet {
                room: a.opt("room"),
                protection: need(2, 13)?,
                key: need(3, 13)?,
                value: a.rest(4).ok_or_else(|| usage(13))?,
            },
            _ => return Err(usage(13)),
        },
        "confirm" => Command::Confirm,
        "help" => Command::Help,
        other => return Err(ParseError::Unknown(other.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            parse("ban @a:x main"),
            Ok(Command::Ban { reason: None, .. })
        ));
        assert_eq!(
            parse("ban @a:x"),
            Err(ParseError::Usage("ban <entity> <list> [reason]"))
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
        assert!(parse("redact @a:x --limit lots").is_err());
    }

    #[test]
    fn sub_commands() {
        assert_eq!(parse("rooms"), Ok(Command::Rooms));
        assert_eq!(
            parse("rooms add #r:x"),
            Ok(Command::RoomsAdd("#r:x".into()))
        );
        assert_eq!(
            parse("list create main #list:x"),
            Ok(Command::ListCreate {
                shortcode: "main".into(),
                alias: "#list:x".into()
            })
        );
        assert_eq!(
            parse("rules matching @a:x"),
            Ok(Command::Rules {
                matching: Some("@a:x".into())
            })
        );
        assert_eq!(
            parse("config set flooding max_messages 5"),
            Ok(Command::ConfigSet {
                room: None,
                protection: "flooding".into(),
                key: "max_messages".into(),
                value: "5".into()
            })
        );
        assert_eq!(parse(""), Ok(Command::Help));
        assert_eq!(
            parse("frobnicate"),
            Err(ParseError::Unknown("frobnicate".into()))
        );
    }

    #[test]
    fn addressing_by_prefix_or_mention() {
        let bot = "@modbot:x";
        assert_eq!(strip_address("!mod status", "!mod", bot), Some("status"));
        assert_eq!(
            strip_address("@modbot:x: rooms", "!mod", bot),
            Some("rooms")
        );
        assert_eq!(strip_address("modbot: help", "!mod", bot), Some("help"));
        assert_eq!(strip_address("!moderate", "!mod", bot), None);
        assert_eq!(strip_address("hello", "!mod", bot), None);
    }

    #[test]
    fn help_lists_every_command() {
        let h = help("!mod");
        for (usage, _) in HELP {
            assert!(h.contains(usage));
        }
    }
}
