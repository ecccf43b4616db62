//! The command line of the `ircbridge` binary, run as a real process.

use std::process::Command;

/// The binary, with none of the bot's settings in its environment.
fn ircbridge() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ircbridge"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("IRCBRIDGE_") {
            c.env_remove(key);
        }
    }
    c
}

#[test]
fn version_needs_no_config() {
    let out = ircbridge().arg("--version").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        ircbridge::INFO.version_line()
    );
}

#[test]
fn help_needs_no_config_and_a_run_does() {
    let out = ircbridge().arg("--help").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("--log-format"));
    // A run reads the config first and says what is wrong with it.
    let out = ircbridge()
        .env("IRCBRIDGE_CONFIG", "/nonexistent/ircbridge.yaml")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("ircbridge: ") && err.contains("/nonexistent/ircbridge.yaml"),
        "{err}"
    );
}
