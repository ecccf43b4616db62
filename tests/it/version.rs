//! `--version` of the test bot, which reads its own arguments.

#[test]
fn the_test_bot_prints_its_version() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ghostkit-testbot"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ghostkit-testbot {}", env!("CARGO_PKG_VERSION"))
    );
}
