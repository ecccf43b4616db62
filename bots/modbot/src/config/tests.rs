//! Tests of `config`, read as the bot reads it: the `bot` section of the
//! one config file, with the `GHOSTKIT_BOT_*` variables over it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ghostkit::config::{Settings, Sources};

use super::*;

/// The settings of the file `text`, with `vars`, checked as a run checks
/// them; the error's text when refused.
fn load_with(text: &str, vars: &[(&str, &str)]) -> Result<ModConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modbot.yaml");
    std::fs::write(&path, text).unwrap();
    load_file(&path, vars)
}

fn load_file(path: &Path, vars: &[(&str, &str)]) -> Result<ModConfig, String> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let settings = Settings::<ModConfig>::load(&Sources::new("modbot", Some(path.into()), vars))
        .map_err(|e| e.to_string())?;
    settings.bot.validate().map_err(|e| e.to_string())?;
    Ok(settings.bot)
}

/// The `bot` section made of these lines.
fn bot(lines: &str) -> String {
    let mut text = String::from("bot:\n");
    for line in lines.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn refused(lines: &str) -> String {
    match load_with(&bot(lines), &[]) {
        Ok(c) => panic!("accepted {lines:?}: {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn reads_the_bot_section_and_keeps_defaults() {
    let c = load_with(&bot("management_room: '!m:x'\ndry_run: true"), &[]).unwrap();
    assert_eq!(c.management_room, "!m:x");
    assert!(c.dry_run);
    assert_eq!(c.command_prefix, "!mod");
    assert_eq!(c.command_power_level, 50);
    assert_eq!(c.confirm_above_members, 5);
    assert!(c.reason_wants_redaction("SPAM bot"));
    assert!(!c.reason_wants_redaction("rude"));
}

#[test]
fn variables_set_the_bots_keys_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let room_file = dir.path().join("room");
    std::fs::write(&room_file, "#secret:x\n").unwrap();
    let c = load_with(
        &bot("management_room: '!m:x'\nredact_reason_words: [spam]"),
        &[
            ("GHOSTKIT_BOT_DRY_RUN", "true"),
            ("GHOSTKIT_BOT_COMMAND_PREFIX", "!ban"),
            ("GHOSTKIT_BOT_REDACT_REASON_WORDS", "scam, phishing"),
            (
                "GHOSTKIT_BOT_MANAGEMENT_ROOM_FILE",
                room_file.to_str().unwrap(),
            ),
        ],
    )
    .unwrap();
    assert!(c.dry_run);
    assert_eq!(c.command_prefix, "!ban");
    assert_eq!(c.redact_reason_words, ["scam", "phishing"]);
    assert_eq!(c.management_room, "#secret:x");
    let e = load_with(
        &bot("management_room: '!m:x'"),
        &[("GHOSTKIT_BOT_DRY_RUNN", "true")],
    )
    .unwrap_err();
    assert_eq!(
        e,
        "unknown environment variable GHOSTKIT_BOT_DRY_RUNN; did you mean `GHOSTKIT_BOT_DRY_RUN`?"
    );
    let e = load_with(
        &bot("management_room: '!m:x'"),
        &[("GHOSTKIT_BOT_DRY_RUN", "perhaps")],
    )
    .unwrap_err();
    assert!(e.contains("bot.dry_run"), "{e}");
}

#[test]
fn unknown_keys_are_errors_that_suggest_the_nearest() {
    let err = refused("management_room: '#m:x'\ndry_runn: true");
    assert!(
        err.starts_with("unknown key `bot.dry_runn` in ")
            && err.ends_with("; did you mean `bot.dry_run`?"),
        "{err}"
    );
    let err = refused("command_power: 50");
    assert!(
        err.contains("did you mean `bot.command_power_level`?"),
        "{err}"
    );
    let err = refused("zzzzzz: 1");
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn nonsense_values_are_refused_not_clamped() {
    for (lines, key) in [
        ("management_room: 'moderators'", "`bot.management_room`"),
        ("management_room: '#moderators'", "`bot.management_room`"),
        ("management_room: '!'", "`bot.management_room`"),
        ("management_room: '@mod:x'", "`bot.management_room`"),
        ("management_room: '#a b:x'", "`bot.management_room`"),
        (
            "management_room: '!m:x'\nredact_limit: 0",
            "`bot.redact_limit`",
        ),
        (
            "management_room: '!m:x'\nredact_limit: 99999",
            "`bot.redact_limit`",
        ),
        (
            "management_room: '!m:x'\nredact_limit: -1",
            "bot.redact_limit",
        ),
        (
            "management_room: '!m:x'\nmax_concurrent_requests: 0",
            "`bot.max_concurrent_requests`",
        ),
        (
            "management_room: '!m:x'\nmax_concurrent_requests: -3",
            "bot.max_concurrent_requests",
        ),
        (
            "management_room: '!m:x'\ncommand_power_level: 0",
            "`bot.command_power_level`",
        ),
        (
            "management_room: '!m:x'\ncommand_power_level: -10",
            "`bot.command_power_level`",
        ),
        (
            "management_room: '!m:x'\nconfirm_above_members: -1",
            "bot.confirm_above_members",
        ),
        (
            "management_room: '!m:x'\ncommand_prefix: ''",
            "`bot.command_prefix`",
        ),
        (
            "management_room: '!m:x'\ncommand_prefix: '! mod'",
            "`bot.command_prefix`",
        ),
        (
            "management_room: '!m:x'\nredact_reason_words: [spam, '']",
            "`bot.redact_reason_words`",
        ),
        ("management_room: '!m:x'\ndry_run: maybe", "bot.dry_run"),
    ] {
        let err = refused(lines);
        assert!(err.contains(key), "{lines:?}: {err}");
    }
    let err = refused("dry_run: true");
    assert!(err.contains("GHOSTKIT_BOT_MANAGEMENT_ROOM"), "{err}");
    assert!(matches!(
        ModConfig::default().validate(),
        Err(ConfigError::NoManagementRoom)
    ));
}

#[test]
fn room_ids_of_every_version_and_aliases_are_accepted() {
    for room in [
        "!m:x",
        "!abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "#mods:example.org",
    ] {
        ModConfig::new(room)
            .validate()
            .unwrap_or_else(|e| panic!("{room}: {e}"));
    }
    let c = load_with(
        &bot("management_room: '#m:x'\nconfirm_above_members: 0"),
        &[],
    )
    .unwrap();
    assert_eq!(
        c.confirm_above_members, 0,
        "0: every rule that bans anyone waits"
    );
}

#[test]
fn the_generated_file_reads_back_as_the_defaults() {
    let text = Settings::<ModConfig>::template("modbot");
    assert!(
        text.contains("# (GHOSTKIT_BOT_COMMAND_POWER_LEVEL)\n  command_power_level: 50\n"),
        "{text}"
    );
    assert!(text.contains("# The management room"), "{text}");
    let back: Settings<ModConfig> = serde_yaml::from_str(&text).unwrap();
    assert_eq!(back.bot, ModConfig::default());
}

#[test]
fn the_example_file_is_valid() {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/modbot.example.yaml"));
    let c = load_file(&path, &[]).unwrap();
    assert_eq!(c.management_room, "#moderators:example.org");
    assert_eq!(c.command_power_level, 50);
    assert_eq!(c.redact_reason_words, ["spam", "scam"]);
}
