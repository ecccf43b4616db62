//! The command line of the `webhooks` binary, run as a real process.

use std::process::Command;

/// The binary, with none of the bot's settings in its environment.
fn webhooks() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_webhooks"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WEBHOOKS_") {
            c.env_remove(key);
        }
    }
    c
}

#[test]
fn version_needs_no_config() {
    let out = webhooks().arg("--version").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        webhooks::INFO.version_line()
    );
}

#[test]
fn help_needs_no_config_and_a_run_does() {
    let out = webhooks().arg("--help").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("--log-format"));
    // A run reads the config first and says what is wrong with it.
    let out = webhooks()
        .env("WEBHOOKS_RATE", "fast")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("webhooks: ") && err.contains("WEBHOOKS_RATE"),
        "{err}"
    );
}
