//! The command line of the `ircbridge` binary, run as a real process.

use std::path::Path;
use std::process::{Command, Output};

/// The binary, run in `dir` (where an `ircbridge.yaml` would be read), with
/// none of ghostkit's settings (nor the old `IRCBRIDGE_*` ones) in its
/// environment; `PATH` and the rest stay.
fn ircbridge(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ircbridge"));
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("GHOSTKIT_") || name.starts_with("IRCBRIDGE_") {
            c.env_remove(&key);
        }
    }
    c.current_dir(dir);
    c
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_needs_no_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Not even a valid one: a broken file in the working folder is not read.
    std::fs::write(dir.path().join("ircbridge.yaml"), "bot:\n  nick: 'a b'\n").expect("writes");
    let out = ircbridge(dir.path())
        .arg("--version")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), ircbridge::INFO.version_line());
}

#[test]
fn help_needs_no_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ircbridge.yaml"), "bot:\n  nick: 'a b'\n").expect("writes");
    let out = ircbridge(dir.path()).arg("--help").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    let help = stdout(&out);
    assert!(
        help.contains("--config") && help.contains("generate-config"),
        "{help}"
    );
}

#[test]
fn a_run_with_a_named_file_that_is_missing_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ircbridge(dir.path())
        .args(["--config", "/nonexistent/x.yaml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.starts_with("ircbridge: ") && err.contains("/nonexistent/x.yaml does not exist"),
        "{err}"
    );
    // Named by the variable, the same.
    let out = ircbridge(dir.path())
        .env("GHOSTKIT_CONFIG", "/nonexistent/y.yaml")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("/nonexistent/y.yaml does not exist"),
        "{out:?}"
    );
}

#[test]
fn a_run_with_a_bad_bot_section_fails_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "bot:\n  network: libera\n  nick: 'a b'\n").expect("writes");
    let out = ircbridge(dir.path())
        .arg("--config")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.starts_with("ircbridge: `bot.nick`: ") && err.contains("holds a space"),
        "{err}"
    );
    // A key the bridge does not have, with the one meant.
    std::fs::write(&file, "bot:\n  nik: bridge\n").expect("writes");
    let out = ircbridge(dir.path())
        .arg("--config")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("unknown key `bot.nik`")
            && stderr(&out).contains("did you mean `bot.nick`?"),
        "{out:?}"
    );
    // A variable over a good file is checked too.
    std::fs::write(&file, "bot:\n  nick: bridge\n").expect("writes");
    let out = ircbridge(dir.path())
        .arg("--config")
        .arg(&file)
        .env("GHOSTKIT_BOT_FLOOD_BURST", "0")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("`bot.flood_burst`: 0"), "{out:?}");
}

#[test]
fn generate_config_writes_a_commented_file_and_keeps_an_existing_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("i.yaml");
    let out = ircbridge(dir.path())
        .arg("generate-config")
        .arg("--out")
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).expect("written");
    assert!(text.contains("\nbot:\n"), "{text}");
    for line in [
        "# The bridge's nick on IRC.\n  # (GHOSTKIT_BOT_NICK)\n  nick: matrixbridge\n",
        "# (GHOSTKIT_BOT_NETWORK)\n  network: irc\n",
        "# (GHOSTKIT_BOT_CHANNELS)\n  channels: []\n",
        "# (GHOSTKIT_BOT_FLOOD_PER_SECOND)\n  flood_per_second: 2.0\n",
        "\nregistration: ircbridge-registration.yaml\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from {text}");
    }
    // Not written over without --force.
    std::fs::write(&file, "# mine\n").expect("writes");
    let out = ircbridge(dir.path())
        .arg("generate-config")
        .arg("--out")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("--force"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("reads"),
        "# mine\n",
        "kept"
    );
    let out = ircbridge(dir.path())
        .args(["generate-config", "--force", "--out"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).expect("reads"), text);
    // The file it wrote is one the bridge runs with: the run gets past the
    // settings to the registration, which is not there.
    let out = ircbridge(dir.path())
        .arg("--config")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("registration file ircbridge-registration.yaml not found"),
        "{out:?}"
    );
}
