//! The command line of the `webhooks` binary, run as a real process.

use std::path::Path;
use std::process::{Command, Output};

/// The binary, with none of ghostkit's settings (nor the old `WEBHOOKS_*`
/// ones) in its environment, run in `dir` (where a `webhooks.yaml` would be
/// read).
fn webhooks(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_webhooks"));
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("GHOSTKIT_")
            || key_text.starts_with("WEBHOOKS_")
            || key_text == "RUST_LOG"
        {
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
    // A bot section the run would refuse does not stop it.
    std::fs::write(dir.path().join("webhooks.yaml"), "bot:\n  rate: 0\n").expect("write");
    let out = webhooks(dir.path())
        .arg("--version")
        .env("GHOSTKIT_BOT_RATE", "fast")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        webhooks::INFO.version_line()
    );
}

#[test]
fn help_needs_no_config_and_a_run_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = webhooks(dir.path())
        .arg("--help")
        .env("GHOSTKIT_BOT_RATE", "fast")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--log-format") && help.contains("generate-config"),
        "{help}"
    );
    // A run reads the config first and says what is wrong with it.
    let out = webhooks(dir.path())
        .env("GHOSTKIT_BOT_RATE", "fast")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.starts_with("webhooks: ") && err.contains("`bot.rate` (GHOSTKIT_BOT_RATE)"),
        "{err}"
    );
    // A value of the right type but out of range, with the fix.
    let out = webhooks(dir.path())
        .env("GHOSTKIT_BOT_RATE", "0")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.starts_with("webhooks: `bot.rate` is `0`: use a finite number"),
        "{err}"
    );
    // The old variables' names are not read: a typo of a new one is named.
    let out = webhooks(dir.path())
        .env("GHOSTKIT_BOT_RATES", "2")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("did you mean `GHOSTKIT_BOT_RATE`?"),
        "{out:?}"
    );
    // A named file that is missing.
    let out = webhooks(dir.path())
        .args(["--config", "/nonexistent/webhooks.yaml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("/nonexistent/webhooks.yaml does not exist"),
        "{out:?}"
    );
}

#[test]
fn generate_config_writes_a_file_the_bot_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("w.yaml");
    let file_arg = file.to_str().expect("a UTF-8 path");
    let out = webhooks(dir.path())
        .args(["generate-config", "--out", file_arg])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).expect("written");
    assert!(text.contains("\nbot:\n"), "{text}");
    for key in [
        "listen",
        "public_url",
        "rate",
        "burst",
        "max_body",
        "workers",
        "outbound_allow",
        "outbound_deny",
        "outbound_attempts",
        "outbound_backoff_ms",
        "outbound_timeout_ms",
        "outbound_queue",
    ] {
        let variable = format!("# (GHOSTKIT_BOT_{})\n  {key}: ", key.to_ascii_uppercase());
        assert!(text.contains(&variable), "{key}: {text}");
    }
    assert!(
        text.contains("  # Messages per second each inbound hook may post, on average"),
        "{text}"
    );
    assert!(
        text.contains("# (GHOSTKIT_BOT_LISTEN)\n  listen: 127.0.0.1:9016\n"),
        "{text}"
    );
    // Not written over without --force.
    std::fs::write(&file, "bot:\n  rate: 1\n").expect("write");
    let out = webhooks(dir.path())
        .args(["generate-config", "--out", file_arg])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("--force"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "bot:\n  rate: 1\n"
    );
    let out = webhooks(dir.path())
        .args(["generate-config", "--out", file_arg, "--force"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), text);
    // The file loads and passes the bot's checks: the run goes on to the
    // registration, which is missing.
    let out = webhooks(dir.path())
        .args(["--config", file_arg])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("registration file webhooks-registration.yaml not found"),
        "{err}"
    );
    // A key out of range in the file is named, as `bot.<key>`.
    std::fs::write(&file, "bot:\n  workers: 0\n").expect("write");
    let out = webhooks(dir.path())
        .args(["--config", file_arg])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("`bot.workers` is `0`"), "{out:?}");
}

#[test]
fn registration_commands_need_no_bot_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("webhooks.yaml"), "bot:\n  rate: 0\n").expect("write");
    let out = webhooks(dir.path())
        .args([
            "generate-registration",
            "--homeserver-domain",
            "example.org",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let out = webhooks(dir.path())
        .arg("check-registration")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("webhooks-registration.yaml"), "{report}");
    assert!(report.contains("_webhook_"), "{report}");
}
