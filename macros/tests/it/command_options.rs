//! `#[derive(Command)]` options (`--flag`, `--name value`) and sub-commands
//! (command names of several words).

use ghostkit::command::{ArgKind, Command, CommandError, Outcome};

/// Room moderation.
#[derive(Debug, PartialEq, ghostkit::Command)]
enum Mod {
    /// Kicks a user.
    #[command(example = "@a:x --room !r:x bye")]
    Kick {
        user: String,
        /// Only in this room.
        #[command(option)]
        room: Option<String>,
        /// Ask first.
        #[command(flag)]
        dry_run: bool,
        #[command(rest)]
        reason: Option<String>,
    },
    /// Redacts recent messages.
    Redact {
        user: String,
        #[command(option, name = "max")]
        limit: Option<u32>,
    },
    /// Lists the rooms.
    Rooms,
    /// Adds a room.
    #[command(name = "rooms add", aliases = ["rooms +"])]
    RoomsAdd { room: String },
    /// Echoes.
    Echo {
        #[command(rest, raw)]
        text: String,
    },
}

fn parse(text: &str) -> Result<Mod, String> {
    match Mod::parse("!", text) {
        Some(r) => r.map_err(|e| e.to_string()),
        None => Err("not a command".into()),
    }
}

#[test]
fn options_anywhere_and_flags() {
    let kick = Mod::Kick {
        user: "@a:x".into(),
        room: Some("!r:x".into()),
        dry_run: true,
        reason: Some("go away".into()),
    };
    assert_eq!(parse("!kick @a:x --room !r:x --dry-run go away"), Ok(kick));
    let kick = parse("!kick --DRY-RUN @a:x go --room \"!r:x\" away").expect("parses");
    assert!(
        matches!(&kick, Mod::Kick { room: Some(r), dry_run: true, reason: Some(why), .. } if r == "!r:x" && why == "go away")
    );
    assert_eq!(
        parse("!kick @a:x"),
        Ok(Mod::Kick {
            user: "@a:x".into(),
            room: None,
            dry_run: false,
            reason: None
        })
    );
    // The last one counts; `--` ends the options; quoted text is not one.
    assert!(matches!(
        parse("!redact @a:x --max 1 --max 2"),
        Ok(Mod::Redact { limit: Some(2), .. })
    ));
    assert!(matches!(
        parse("!kick @a:x -- --room is text"),
        Ok(Mod::Kick { room: None, reason: Some(r), .. }) if r == "--room is text"
    ));
    assert!(matches!(
        parse("!kick @a:x \"--room\""),
        Ok(Mod::Kick { room: None, reason: Some(r), .. }) if r == "--room"
    ));
    // A command without options takes `--x` as text.
    assert_eq!(
        parse("!echo --x  y"),
        Ok(Mod::Echo {
            text: "--x  y".into()
        })
    );
}

#[test]
fn option_errors() {
    assert_eq!(
        parse("!kick @a:x --rom !r:x"),
        Err("`!kick` has no option `--rom`; usage: `!kick <user> [--room <room>] [--dry-run] [reason…]`".into())
    );
    assert_eq!(
        parse("!kick @a:x --room"),
        Err("`!kick`: `--room` needs a value, e.g. `!kick @a:x --room !r:x bye`".into())
    );
    assert!(parse("!redact @a:x --max lots")
        .is_err_and(|e| e.starts_with("`!redact`: `lots` is not a valid --max value (")));
    assert!(matches!(
        Mod::parse("!", "!redact --max 3"),
        Some(Err(CommandError::Missing { .. }))
    ));
}

#[test]
fn sub_commands_by_several_words() {
    assert_eq!(parse("!rooms"), Ok(Mod::Rooms));
    assert_eq!(
        parse("!ROOMS   add #r:x"),
        Ok(Mod::RoomsAdd {
            room: "#r:x".into()
        })
    );
    assert_eq!(
        parse("!rooms + #r:x"),
        Ok(Mod::RoomsAdd {
            room: "#r:x".into()
        })
    );
    assert_eq!(
        parse("!rooms add"),
        Err("`!rooms add` needs a room, usage: `!rooms add <room>`".into())
    );
    assert_eq!(
        parse("!rooms addx"),
        Err("`!rooms` does not take `addx`; usage: `!rooms`".into())
    );
}

#[test]
fn help_shows_options_and_sub_commands() {
    let help = Mod::help("!");
    assert!(
        help.contains("!kick <user> [--room <room>] [--dry-run] [reason…] — Kicks a user."),
        "{help}"
    );
    assert!(help.contains("!redact <user> [--max <max>]"), "{help}");
    assert!(help.contains("!rooms add <room> — Adds a room."), "{help}");
    let Some(Outcome::Help(kick)) = Mod::outcome("!", "!help kick") else {
        panic!("help for kick");
    };
    assert!(kick.contains("--room: Only in this room."), "{kick}");
    assert!(kick.contains("--dry-run: Ask first."), "{kick}");
    let Some(Outcome::Help(add)) = Mod::outcome("!", "!help rooms add") else {
        panic!("help for rooms add");
    };
    assert!(add.starts_with("!rooms add <room>\nAdds a room."), "{add}");
    assert_eq!(Mod::COMMANDS[0].args[2].kind, ArgKind::Flag);
    assert_eq!(Mod::COMMANDS[0].args[1].kind, ArgKind::Named);
    assert_eq!(Mod::COMMANDS[0].args[2].name, "dry-run");
}
