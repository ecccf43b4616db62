//! The command line of the `modbot` binary, run as a real process.

use std::path::Path;
use std::process::{Command, Output};

/// The binary, with none of ghostkit's settings in its environment, run in
/// `dir` (where a `modbot.yaml` would be read).
fn modbot(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_modbot"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GHOSTKIT_") {
            c.env_remove(key);
        }
    }
    c.current_dir(dir);
    c
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_needs_no_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = modbot(dir.path()).arg("--version").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        modbot::INFO.version_line()
    );
}

#[test]
fn help_needs_no_config_and_a_run_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = modbot(dir.path()).arg("--help").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--log-format") && help.contains("generate-config"),
        "{help}"
    );
    // A run reads the config first and says what is wrong with it.
    let out = modbot(dir.path())
        .args(["--config", "/nonexistent/modbot.yaml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.starts_with("modbot: ") && err.contains("/nonexistent/modbot.yaml does not exist"),
        "{err}"
    );
    // Without a file, the bot's own settings are missing.
    let out = modbot(dir.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("bot.management_room"), "{out:?}");
}

#[test]
fn generate_config_writes_a_file_the_bot_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = modbot(dir.path())
        .arg("generate-config")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    // The default path, in the working folder.
    let text = std::fs::read_to_string(dir.path().join("modbot.yaml")).expect("written");
    assert!(text.contains("\nbot:\n"), "{text}");
    assert!(
        text.contains("# (GHOSTKIT_BOT_MANAGEMENT_ROOM)\n  management_room: ''\n"),
        "{text}"
    );
    assert!(
        text.contains("\nregistration: modbot-registration.yaml\n"),
        "{text}"
    );
    // Not written over without --force.
    let out = modbot(dir.path())
        .arg("generate-config")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("--force"), "{out:?}");
    let out = modbot(dir.path())
        .args(["generate-config", "--force"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    // The file is read from the working folder; with the management room
    // set by its variable, the run goes on to the registration.
    let out = modbot(dir.path())
        .env("GHOSTKIT_BOT_MANAGEMENT_ROOM", "#mods:example.org")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("registration file modbot-registration.yaml not found"),
        "{err}"
    );
    // A key out of range in the file is named.
    std::fs::write(
        dir.path().join("modbot.yaml"),
        "bot:\n  management_room: '#mods:example.org'\n  redact_limit: 0\n",
    )
    .expect("write");
    let out = modbot(dir.path()).output().expect("runs");
    assert!(
        stderr(&out).contains("`bot.redact_limit` is `0`"),
        "{out:?}"
    );
    // So is a variable that names no key.
    let out = modbot(dir.path())
        .env("GHOSTKIT_BOT_DRY_RUNN", "true")
        .output()
        .expect("runs");
    assert!(
        stderr(&out).contains("did you mean `GHOSTKIT_BOT_DRY_RUN`?"),
        "{out:?}"
    );
}

#[test]
fn registration_commands_need_no_bot_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A bot section the run would refuse does not stop them.
    std::fs::write(dir.path().join("modbot.yaml"), "bot:\n  redact_limit: 0\n").expect("write");
    let out = modbot(dir.path())
        .args([
            "generate-registration",
            "--homeserver-domain",
            "example.org",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let out = modbot(dir.path())
        .arg("check-registration")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("modbot-registration.yaml"),
        "{out:?}"
    );
}
