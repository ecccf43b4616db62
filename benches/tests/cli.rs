//! `--version` of `txn-bench`, which reads its own arguments.

#[test]
fn txn_bench_prints_its_version() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_txn-bench"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("txn-bench {}", env!("CARGO_PKG_VERSION"))
    );
}
