//! `#[derive(Command)]`: words, typed and quoted arguments, optional and
//! rest-of-line arguments, aliases, case rules, help, errors.

use ghostkit::command::{ArgKind, Command, CommandError, Outcome};

/// Dice and friends.
#[derive(Debug, PartialEq, ghostkit::Command)]
enum Cmd {
    /// Rolls dice.
    ///
    /// Each die is rolled separately.
    #[command(aliases = ["r", "dice"], example = "6 2")]
    Roll {
        /// Sides of each die.
        sides: u32,
        /// How many dice.
        times: Option<u8>,
    },
    /// Says something.
    Say {
        #[command(rest)]
        text: String,
    },
    /// Sets the topic.
    SetTopic {
        #[command(name = "new topic")]
        topic: String,
        #[command(rest)]
        reason: Option<String>,
    },
    /// Pings.
    #[command(name = "ping", hidden)]
    Alive,
}

/// Exact words.
#[derive(Debug, PartialEq, ghostkit::Command)]
#[command(rename_all = "kebab-case", case_sensitive)]
enum Strict {
    /// Sets the topic.
    SetTopic {
        #[command(rest)]
        topic: String,
    },
    /// Has its own help.
    Help,
}

fn parse(text: &str) -> Option<Result<Cmd, CommandError>> {
    Cmd::parse("!", text)
}

#[test]
fn words_aliases_and_case() {
    let roll = Cmd::Roll {
        sides: 6,
        times: None,
    };
    assert_eq!(parse("!roll 6"), Some(Ok(roll)));
    assert!(matches!(
        parse("!r 6 2"),
        Some(Ok(Cmd::Roll { times: Some(2), .. }))
    ));
    assert!(matches!(parse("  !DICE 6"), Some(Ok(Cmd::Roll { .. }))));
    assert_eq!(parse("!ping"), Some(Ok(Cmd::Alive)));
    assert_eq!(
        parse("!settopic x"),
        Some(Ok(Cmd::SetTopic {
            topic: "x".into(),
            reason: None
        }))
    );
    assert_eq!(
        Strict::parse("!", "!set-topic a b"),
        Some(Ok(Strict::SetTopic {
            topic: "a b".into()
        }))
    );
    assert!(matches!(
        Strict::parse("!", "!Set-Topic a"),
        Some(Err(CommandError::Unknown { .. }))
    ));
}

#[test]
fn not_a_command_is_none() {
    assert_eq!(parse("roll 6"), None);
    assert_eq!(parse("! roll 6"), None);
    assert_eq!(parse(""), None);
    assert_eq!(Cmd::parse("bot:", "!roll 6"), None);
    assert!(matches!(Cmd::parse("bot:", "bot:roll 6"), Some(Ok(_))));
}

#[test]
fn quotes_and_rest() {
    assert_eq!(
        parse(r#"!settopic "Rust and Matrix" because "we" like it"#),
        Some(Ok(Cmd::SetTopic {
            topic: "Rust and Matrix".into(),
            reason: Some(r#"because "we" like it"#.into()),
        }))
    );
    assert_eq!(
        parse("!say   hello   world  "),
        Some(Ok(Cmd::Say {
            text: "hello   world".into()
        }))
    );
    assert_eq!(
        parse("!say “quoted on a phone”"),
        Some(Ok(Cmd::Say {
            text: "quoted on a phone".into()
        }))
    );
}

#[test]
fn errors_a_person_understands() {
    let msg = |t: &str| parse(t).and_then(Result::err).map(|e| e.to_string());
    assert_eq!(
        msg("!roll").as_deref(),
        Some("`!roll` needs a sides, e.g. `!roll 6 2`")
    );
    assert_eq!(
        msg("!say").as_deref(),
        Some("`!say` needs a text, usage: `!say <text…>`")
    );
    assert_eq!(
        msg("!roll 6 many").as_deref(),
        Some("`!roll`: `many` is not a valid times (invalid digit found in string), e.g. `!roll 6 2`")
    );
    assert_eq!(
        msg("!roll 6 2 3").as_deref(),
        Some("`!roll` does not take `3`; usage: `!roll <sides> [times]`")
    );
    assert_eq!(
        msg("!rol 6").as_deref(),
        Some("unknown command `!rol`; say `!help` for the list")
    );
    assert!(matches!(
        parse(r#"!settopic "open"#),
        Some(Err(CommandError::UnclosedQuote { .. }))
    ));
}

#[test]
fn help_from_doc_comments() {
    let help = Cmd::help("!");
    assert_eq!(
        help,
        "Commands:\n!roll <sides> [times] — Rolls dice.\n!say <text…> — Says something.\n\
         !settopic <new topic> [reason…] — Sets the topic.\n\
         !help [command] — this list, or all about one command"
    );
    let roll = Cmd::help_for("!", "r").unwrap_or_default();
    assert!(roll.contains("Each die is rolled separately."), "{roll}");
    assert!(roll.contains("sides: Sides of each die."), "{roll}");
    assert!(roll.contains("Also: !r, !dice"), "{roll}");
    assert!(roll.contains("Example: !roll 6 2"), "{roll}");
    assert!(Cmd::help_for("!", "ping").is_some());

    assert_eq!(Cmd::outcome("!", "!help"), Some(Outcome::Help(help)));
    assert_eq!(Cmd::outcome("!", "!help !r"), Some(Outcome::Help(roll)));
    assert!(matches!(
        Cmd::outcome("!", "!help nope"),
        Some(Outcome::Error(CommandError::Unknown { word, .. })) if word == "nope"
    ));
    // An enum with its own `help` command gets it parsed, not answered.
    assert_eq!(
        Strict::outcome("!", "!help"),
        Some(Outcome::Command(Strict::Help))
    );
    assert!(!Strict::help("!").contains("[command]"));
}

#[test]
fn specs_describe_the_arguments() {
    let set_topic = &Cmd::COMMANDS[2];
    assert_eq!(set_topic.name, "settopic");
    assert_eq!(set_topic.args[0].name, "new topic");
    assert_eq!(set_topic.args[1].kind, ArgKind::OptionalRest);
    assert!(Cmd::COMMANDS[3].hidden);
    const { assert!(Strict::CASE_SENSITIVE && !Cmd::CASE_SENSITIVE) };
}
