//! The command line every bot gets, run as a real process.

use std::process::Command;

fn echo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_echo"));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("GHOSTKIT_") {
            c.env_remove(var);
        }
    }
    c
}

#[test]
fn generate_registration_writes_a_valid_file_with_fresh_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("reg.yaml");
    let status = echo()
        .args([
            "generate-registration",
            "--homeserver-domain",
            "example.org",
            "--url",
            "http://127.0.0.1:9999",
        ])
        .args(["--out", out.to_str().expect("utf-8 path")])
        .status()
        .expect("runs");
    assert!(status.success());
    let reg = ghostkit::Registration::load(&out).expect("valid registration");
    assert_eq!(reg.url.as_deref(), Some("http://127.0.0.1:9999"));
    assert_eq!(reg.as_token.len(), 64);
    assert_ne!(reg.as_token, reg.hs_token);
    assert!(reg.is_user_in_namespace("@echo:example.org"));

    // A second run does not overwrite the secrets without --force.
    let again = echo()
        .args([
            "generate-registration",
            "--homeserver-domain",
            "example.org",
        ])
        .args(["--out", out.to_str().expect("utf-8 path")])
        .output()
        .expect("runs");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let same = ghostkit::Registration::load(&out).expect("still valid");
    assert_eq!(same.as_token, reg.as_token);
}

#[test]
fn a_missing_registration_says_what_to_do() {
    let out = echo()
        .args(["--registration", "/nonexistent/reg.yaml"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GHOSTKIT_REGISTRATION") && err.contains("generate-registration"),
        "{err}"
    );
}

#[test]
fn a_bad_registration_names_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("reg.yaml");
    std::fs::write(
        &path,
        "id: e\nas_token: same\nhs_token: same\nsender_localpart: echo\nnamespaces: {}\n",
    )
    .expect("write");
    let out = echo()
        .args(["--registration", path.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`url`") && err.contains("url: null"), "{err}");
}

#[test]
fn check_registration_explains_the_file_and_each_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("reg.yaml");
    std::fs::write(
        &path,
        "id: e\nurl: http://127.0.0.1:1\nas_token: same\nhs_token: same\nsender_localpart: echo\n\
         namespaces:\n  users: [{regex: '@_echo_.*', exclusive: true}]\n  aliases: [{regex: '#_echo_.*:example\\.org$', exclusive: false}]\n",
    )
    .expect("write");
    let out = echo()
        .args(["check-registration", path.to_str().expect("utf-8")])
        .args(["--homeserver-domain", "example.org"])
        .args([
            "--user",
            "@_echo_bob:example.org",
            "--user",
            "@echo:example.org",
        ])
        .args(["--user", "@echo:other.org", "--user", "@bob:example.org"])
        .args([
            "--alias",
            "#_echo_x:example.org",
            "--room",
            "!r:example.org",
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "user @_echo_bob:example.org: in namespace (exclusive)\n",
        "user @echo:example.org: the appservice's own user\n",
        "user @echo:other.org: not ours\n",
        "user @bob:example.org: not ours\n",
        "alias #_echo_x:example.org: in namespace (not exclusive)\n",
        "room !r:example.org: not ours\n",
        "users: `@_echo_.*` — any user whose ID starts with `@_echo_`",
        "warning: `as_token` and `hs_token` are the same",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }

    // The same default file as a run: GHOSTKIT_REGISTRATION; a refused file exits 1.
    std::fs::write(
        &path,
        "id: e\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: echo\n",
    )
    .expect("write");
    let out = echo()
        .env("GHOSTKIT_REGISTRATION", &path)
        .args(["check-registration"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`namespaces`"), "{err}");
}

#[test]
fn a_bad_dispatch_order_names_the_flag_and_the_valid_values() {
    let by_flag = echo()
        .args(["--dispatch-order", "sorted"])
        .output()
        .expect("runs");
    let by_env = echo()
        .env("GHOSTKIT_DISPATCH_ORDER", "sorted")
        .output()
        .expect("runs");
    for (out, name) in [
        (by_flag, "--dispatch-order"),
        (by_env, "GHOSTKIT_DISPATCH_ORDER"),
    ] {
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{err}");
        assert!(err.contains("sorted"), "{err}");
        for order in ["per_room", "per_sender", "unordered"] {
            assert!(err.contains(order), "{err}");
        }
    }
}

#[test]
fn a_good_dispatch_order_is_accepted() {
    // Parsed, then the run stops at the missing registration, not at the order.
    let out = echo()
        .args(["--dispatch-order", "per-room"])
        .args(["--registration", "/nonexistent/reg.yaml"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/reg.yaml"), "{err}");
    assert!(!err.contains("dispatch"), "{err}");
}

#[test]
fn version_prints_the_bots_and_ghostkits_version() {
    let want = ghostkit::bot_info!("echo").version_line();
    assert!(
        want.starts_with(&format!("echo {} (ghostkit ", env!("CARGO_PKG_VERSION"))),
        "{want}"
    );
    for flag in ["--version", "-V"] {
        let out = echo().arg(flag).output().expect("runs");
        assert!(out.status.success(), "{flag}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{flag}");
    }
}

#[test]
fn a_bad_log_format_names_the_flag_and_the_valid_values() {
    let by_flag = echo()
        .args(["--log-format", "yaml"])
        .output()
        .expect("runs");
    let by_env = echo()
        .env("GHOSTKIT_LOG_FORMAT", "yaml")
        .output()
        .expect("runs");
    for (out, name) in [(by_flag, "--log-format"), (by_env, "GHOSTKIT_LOG_FORMAT")] {
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name) && err.contains("yaml"), "{err}");
        assert!(err.contains("text") && err.contains("json"), "{err}");
    }
}

#[test]
fn json_logs_are_json_lines_and_text_logs_have_no_colours_off_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("reg.yaml");
    // Loads with a warning (equal tokens), logged at start; with `url:
    // null` and no --bind there is nowhere to listen, so the run then stops.
    std::fs::write(
        &path,
        "id: e\nurl: null\nas_token: same\nhs_token: same\nsender_localpart: echo\nnamespaces: {}\n",
    )
    .expect("write");
    let run = |format: &str| {
        echo()
            .args(["--registration", path.to_str().expect("utf-8")])
            .args(["--homeserver-url", "http://127.0.0.1:9"])
            .args(["--homeserver-domain", "example.org"])
            .args(["--store", dir.path().join("store").to_str().expect("utf-8")])
            .args(["--log-format", format])
            .env("RUST_LOG", "warn")
            .output()
            .expect("runs")
    };
    let out = run("json");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no address to listen on"),
        "{err}"
    );
    let logged: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON object"))
        .collect();
    assert!(
        logged
            .iter()
            .any(|v| v["level"] == "WARN" && v["fields"]["message"].as_str().is_some()),
        "{err}"
    );
    let out = run("text");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WARN"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI codes off a terminal: {err:?}"
    );
}

#[test]
fn a_stop_signal_while_starting_ends_the_start_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = dir.path().join("reg.yaml");
    let made = echo()
        .args([
            "generate-registration",
            "--homeserver-domain",
            "example.org",
        ])
        .args(["--out", reg.to_str().expect("utf-8 path")])
        .status()
        .expect("runs");
    assert!(made.success());
    // A "homeserver" that takes connections and never answers: without a
    // domain given, the start waits for it to say its server name.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listens");
    let url = format!("http://{}", silent.local_addr().expect("address"));
    let mut child = echo()
        .args(["--registration", reg.to_str().expect("utf-8 path")])
        .args(["--homeserver-url", &url])
        .args([
            "--store",
            dir.path().join("store").to_str().expect("utf-8 path"),
        ])
        .args(["--bind", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(child.try_wait().expect("waits").is_none(), "still starting");
    let sent = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the bot did not stop within 5 s of SIGTERM while starting");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // Stopped by its own hand (0), not killed by the signal's default action.
    assert_eq!(status.code(), Some(0), "{status:?}");
    drop(silent);
}

#[test]
fn the_config_file_then_variables_then_flags_set_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let out = echo()
            .current_dir(dir.path())
            .envs(env.iter().copied())
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // generate-config writes ./echo.yaml, which a run then reads.
    let out = echo()
        .current_dir(dir.path())
        .arg("generate-config")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(dir.path().join("echo.yaml")).expect("written");
    assert!(
        text.contains("\nregistration: echo-registration.yaml\n"),
        "{text}"
    );
    std::fs::write(
        dir.path().join("echo.yaml"),
        text.replace(
            "\nregistration: echo-registration.yaml\n",
            "\nregistration: from-file.yaml\n",
        ),
    )
    .expect("write");
    assert!(run(&[], &[]).contains("from-file.yaml not found"));
    // A variable wins over the file, a flag over both; a _FILE variable
    // reads the value from that file.
    let var = [("GHOSTKIT_REGISTRATION", "from-var.yaml")];
    assert!(run(&var, &[]).contains("from-var.yaml not found"));
    let flag = ["--registration", "from-flag.yaml"];
    assert!(run(&var, &flag).contains("from-flag.yaml not found"));
    std::fs::write(dir.path().join("secret"), "from-secret.yaml\n").expect("write");
    let secret = [("GHOSTKIT_REGISTRATION_FILE", "secret")];
    assert!(run(&secret, &[]).contains("from-secret.yaml not found"));
    // A value out of range is named with its key and variable, before the
    // registration is looked for.
    let err = run(&[("GHOSTKIT_DISPATCH_MAX_BACKLOG", "0")], &[]);
    assert!(
        err.contains("`dispatch.max_backlog` (GHOSTKIT_DISPATCH_MAX_BACKLOG) is `0`"),
        "{err}"
    );
    // An unknown key names the nearest known one.
    std::fs::write(
        dir.path().join("echo.yaml"),
        "dispatch:\n  max_backlgo: 5\n",
    )
    .expect("write");
    let err = run(&[], &[]);
    assert!(
        err.contains("unknown key `dispatch.max_backlgo`")
            && err.contains("did you mean `dispatch.max_backlog`?"),
        "{err}"
    );
    // A file named that is not there is an error; the default may be absent.
    let err = run(&[], &["--config", "nowhere.yaml"]);
    assert!(err.contains("nowhere.yaml does not exist"), "{err}");
}
