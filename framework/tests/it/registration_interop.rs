//! Registrations written the way real projects write them (fixtures under
//! `tests/fixtures/registrations/`), what Ghostkit makes of them, and the key
//! check: Synapse itself, asked through its own `load_appservices`, agrees
//! on every file and every ID.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ghostkit::registration::check::{report, verdict, Ids, Verdict};
use ghostkit::registration::{
    GenerateOptions, NamespaceKind, Registration, RegistrationError, RegistrationWarning,
};
use serde_json::{json, Value};

use NamespaceKind::{Aliases, Rooms, Users};
use Verdict::{InNamespace, NotOurs, OwnUser};

/// The server name every check uses (Synapse's `hostname`).
const SERVER: &str = "example.org";

const EXCL: Verdict = InNamespace(true);
const SHARED: Verdict = InNamespace(false);

/// A fixture that loads, and what each ID is to it.
struct Loads {
    file: &'static str,
    ids: &'static [(NamespaceKind, &'static str, Verdict)],
}

const LOADS: &[Loads] = &[
    Loads {
        file: "mautrix_go_bridgev2.yaml",
        ids: &[
            (Users, "@whatsapp_4915112345678:example.org", EXCL),
            (Users, "@whatsappbot:example.org", EXCL),
            (
                Users,
                "@De1f8rESQedUStPKR0CsTy4Qwb8DwkNh:example.org",
                OwnUser,
            ),
            (Users, "@whatsapp_1:example.org.evil", NotOurs),
            (Users, "@whatsappbot:example.org.evil", NotOurs),
            (Users, "@alice:example.org", NotOurs),
        ],
    },
    Loads {
        file: "mautrix_python.yaml",
        ids: &[
            (Users, "@telegram_123456:example.org", EXCL),
            (Users, "@telegrambot:example.org", EXCL),
            // Start-anchored only: the suffix after the server still matches.
            (Users, "@telegrambot:example.org.evil", EXCL),
            (Users, "@telegram:example.org", NotOurs),
            (Aliases, "#telegram_chat:example.org", EXCL),
            (Aliases, "#chat:example.org", NotOurs),
        ],
    },
    Loads {
        file: "heisenbridge.yaml",
        ids: &[
            (Users, "@irc_libera_bob:example.org", EXCL),
            // `@irc_*` is `@irc` then any `_`s, from the start only.
            (Users, "@ircfoo:example.org", EXCL),
            (Users, "@irc:other.org", EXCL),
            (Users, "@heisenbridge:example.org", OwnUser),
            (Users, "@heisenbridge:other.org", NotOurs),
            (Users, "@bob_irc_x:example.org", NotOurs),
        ],
    },
    Loads {
        file: "matrix_appservice_irc.yaml",
        ids: &[
            (Users, "@irc_alice:example.org", EXCL),
            (Users, "@appservice-irc:example.org", OwnUser),
            (Aliases, "#irc_#libera:example.org", EXCL),
            (Rooms, "!kieouiJuedJoxtVdaG:example.org", SHARED),
            (Rooms, "!other:example.org", NotOurs),
        ],
    },
    Loads {
        file: "matrix_hookshot.yaml",
        ids: &[
            (Users, "@_github_alice:example.org", EXCL),
            (Users, "@_github_alice:exampleXorg", EXCL),
            (Users, "@feeds:example.org", EXCL),
            (Users, "@_webhooks_hook1:example.org", EXCL),
            (Users, "@hookshot:example.org", OwnUser),
            (Aliases, "#github_repo:example.org", EXCL),
            (Aliases, "#github_:example.org", NotOurs),
        ],
    },
    Loads {
        file: "matrix_hookshot_docker.yaml",
        ids: &[
            (Users, "@_webhooks_x:example.org", EXCL),
            (Users, "@hookshot:example.org", OwnUser),
            (Users, "@_webhooks_x:exampleXorg", NotOurs),
        ],
    },
    Loads {
        file: "draupnir_appservice.yaml",
        ids: &[
            (Users, "@draupnir_abc123:example.org", EXCL),
            (Users, "@mjolnir_x:other.server", EXCL),
            (Users, "@draupnir-moderation:example.org", OwnUser),
            (Users, "@alice:example.org", NotOurs),
        ],
    },
    Loads {
        file: "matrix_appservice_slack.yaml",
        ids: &[
            (Users, "@_slack_T123_U456:example.org", EXCL),
            (Users, "@slackbot:example.org", OwnUser),
            (Aliases, "#_slack_general:example.org", EXCL),
        ],
    },
    Loads {
        file: "matrix_appservice_discord.yaml",
        ids: &[
            (Users, "@_discord_bot:example.org", OwnUser),
            (Users, "@_discord_123456789:example.org", EXCL),
            (Aliases, "#_discord_1234_5678:example.org", EXCL),
            (Aliases, "#discord:example.org", NotOurs),
        ],
    },
    Loads {
        file: "spec_example.yaml",
        ids: &[
            (Users, "@_irc_bot:example.org", OwnUser),
            (Users, "@_irc_bridge_alice:example.org", EXCL),
            (Aliases, "#_irc_bridge_chan:example.org", SHARED),
            (Rooms, "!abc:example.org", NotOurs),
        ],
    },
    Loads {
        file: "python_regex_features.yaml",
        ids: &[
            (Users, "@bob:example.org", EXCL),
            (Users, "@admin:example.org", NotOurs),
            (Users, "@administrator:example.org", NotOurs),
            (Users, "@_f_x:example.org", EXCL),
            (Users, "@_f_x:example.org.evil", NotOurs),
            (Aliases, "#ab-ab:example.org", SHARED),
            (Aliases, "#ab-cd:example.org", NotOurs),
        ],
    },
    Loads {
        file: "loose_but_legal.yaml",
        ids: &[
            (Users, "@Bridge~Bot:example.org", OwnUser),
            (Users, "@x_1:example.org", SHARED),
            (Users, "@y_1:example.org", EXCL),
            (Users, "@y_1:example.org.evil", NotOurs),
        ],
    },
];

/// Fixtures Synapse refuses, and the field Ghostkit must name.
const REFUSED: &[(&str, &str)] = &[
    ("refused_id_pipe.yaml", "id"),
    (
        "refused_missing_exclusive.yaml",
        "namespaces.users[0].exclusive",
    ),
    ("refused_missing_url.yaml", "url"),
    ("refused_missing_namespaces.yaml", "namespaces"),
    ("refused_int_token.yaml", "as_token"),
    ("refused_sender_char.yaml", "sender_localpart"),
    ("refused_namespace_null.yaml", "namespaces.users"),
    (
        "refused_exclusive_string.yaml",
        "namespaces.aliases[0].exclusive",
    ),
    ("refused_bad_regex.yaml", "namespaces.users[0].regex"),
    ("refused_rust_named_group.yaml", "namespaces.users[0].regex"),
    ("refused_msc3202_null.yaml", "org.matrix.msc3202"),
    ("refused_protocols_string.yaml", "protocols"),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registrations")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the framework is inside the workspace")
        .to_owned()
}

fn load(file: &str) -> Result<Registration, RegistrationError> {
    Registration::load(fixtures().join(file))
}

#[test]
fn every_fixture_is_listed() {
    let listed: BTreeSet<&str> = LOADS
        .iter()
        .map(|l| l.file)
        .chain(REFUSED.iter().map(|r| r.0))
        .collect();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(listed.contains(name.as_str()), "{name} has no expectations");
    }
}

#[test]
fn real_world_registrations_load_and_claim_the_right_ids() {
    for case in LOADS {
        let reg = load(case.file).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        for &(kind, id, want) in case.ids {
            assert_eq!(
                verdict(&reg, kind, id, Some(SERVER)),
                want,
                "{}: {kind} {id}",
                case.file
            );
        }
    }
}

#[test]
fn refused_registrations_name_the_field_and_the_fix() {
    for &(file, want) in REFUSED {
        match load(file) {
            Err(e @ RegistrationError::Invalid { .. }) => {
                let text = e.to_string();
                let RegistrationError::Invalid { field, fix, .. } = e else {
                    unreachable!()
                };
                assert_eq!(field, want, "{file}: {text}");
                assert!(text.contains(&format!("`{want}`")), "{file}: {text}");
                assert!(!fix.is_empty(), "{file}");
            }
            other => panic!("{file}: expected a refusal naming `{want}`, got {other:?}"),
        }
    }
}

#[test]
fn real_world_registrations_warn_about_what_they_risk() {
    let has = |file: &str, pred: &dyn Fn(&RegistrationWarning) -> bool| {
        load(file).unwrap().warnings().iter().any(pred)
    };
    use RegistrationWarning as W;
    assert!(has("matrix_hookshot.yaml", &|w| *w == W::EqualTokens));
    assert!(has(
        "draupnir_appservice.yaml",
        &|w| matches!(w, W::NoServerPart(n) if n.regex == "@mjolnir_.*")
    ));
    assert!(has(
        "spec_example.yaml",
        &|w| matches!(w, W::NotExclusive(n) if n.kind == Aliases)
    ));
    assert!(has(
        "python_regex_features.yaml",
        &|w| matches!(w, W::FancyRegex(n) if n.index == 0)
    ));
    assert!(has("mautrix_go_bridgev2.yaml", &|w| matches!(
        w,
        W::SenderLocalpartNotStrict { .. }
    )));
    assert!(has(
        "loose_but_legal.yaml",
        &|w| matches!(w, W::NotBool { field, read_as: true, .. } if field == "rate_limited")
    ));
    assert!(has(
        "loose_but_legal.yaml",
        &|w| matches!(w, W::NotBool { field, read_as: true, .. } if field == "receive_ephemeral")
    ));
    assert!(has(
        "mautrix_python.yaml",
        &|w| matches!(w, W::Unanchored { start: true, end: true, namespace } if namespace.index == 1)
    ));
    // A ^…$ regex is read alike everywhere: no such warning.
    let go = load("mautrix_go_bridgev2.yaml").unwrap();
    assert!(
        !go.warnings()
            .iter()
            .any(|w| matches!(w, W::Unanchored { .. })),
        "{:?}",
        go.warnings()
    );

    let loose = load("loose_but_legal.yaml").unwrap();
    assert_eq!(loose.rate_limited, Some(true));
    assert!(loose.protocols.is_empty());
    assert!(loose.wants_ephemeral());
    assert!(loose.namespaces.extra.contains_key("x-custom"));
}

#[test]
fn the_check_report_reads_a_real_registration_in_words() {
    let reg = load("heisenbridge.yaml").unwrap();
    let ids = Ids {
        users: vec![
            "@irc_libera_bob:example.org".into(),
            "@heisenbridge:example.org".into(),
            "@heisenbridge:elsewhere.org".into(),
            "@bob:example.org".into(),
        ],
        aliases: vec!["#irc:example.org".into()],
        rooms: vec!["!r:example.org".into()],
    };
    let text = report(&reg, &ids, None);
    for line in [
        "users: `@irc_*` — any user ID that matches the regex `@irc_*` from its start (exclusive)",
        "aliases: none claimed",
        "user @irc_libera_bob:example.org: in namespace (exclusive)",
        "user @heisenbridge:example.org: the appservice's own user",
        "user @heisenbridge:elsewhere.org: the appservice's own user",
        "user @bob:example.org: not ours",
        "alias #irc:example.org: not ours",
        "room !r:example.org: not ours",
        "note: no --homeserver-domain given",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        text.contains("warning: `namespaces.users[0].regex` (`@irc_*`) has no `:server` part"),
        "{text}"
    );

    // With the server name, the own user is only on that server.
    let text = report(&reg, &ids, Some(SERVER));
    assert!(
        text.contains("user @heisenbridge:elsewhere.org: not ours\n"),
        "{text}"
    );

    let spec = load("spec_example.yaml").unwrap();
    let ids = Ids {
        aliases: vec!["#_irc_bridge_x:example.org".into()],
        ..Ids::default()
    };
    let text = report(&spec, &ids, Some(SERVER));
    assert!(
        text.contains("alias #_irc_bridge_x:example.org: in namespace (not exclusive)\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "users: `@_irc_bridge_.*` — any user whose ID starts with `@_irc_bridge_` (exclusive)"
        ),
        "{text}"
    );
}

/// The Python that has Synapse installed: `.dev/venv/bin/python` at the
/// workspace root (scripts/test.sh creates it), or `TEST_SYNAPSE_PYTHON`.
fn synapse_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TEST_SYNAPSE_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = workspace().join(".dev/venv/bin/python");
    p.exists().then_some(p)
}

/// Every registration file the project ships or generates, beside the fixtures.
fn project_files(tmp: &Path) -> Vec<PathBuf> {
    let root = workspace();
    let mut files = vec![
        root.join("registration.yaml.example"),
        root.join("bots/ircbridge/registration.yaml.example"),
        root.join("bots/modbot/registration.example.yaml"),
        root.join("bots/webhooks/registration.yaml.example"),
    ];
    let mut shipped: Vec<PathBuf> = std::fs::read_dir(root.join("tests/registrations"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    shipped.sort();
    files.extend(shipped);
    for (i, (user, alias)) in [(Some("_gen_"), Some("_gen_")), (None, None)]
        .into_iter()
        .enumerate()
    {
        let reg = Registration::generate(GenerateOptions {
            id: format!("generated{i}"),
            url: "http://127.0.0.1:9000".into(),
            sender_localpart: "genbot".into(),
            server_name: SERVER.into(),
            user_prefix: user.map(Into::into),
            alias_prefix: alias.map(Into::into),
        })
        .unwrap();
        let path = tmp.join(format!("generated{i}.yaml"));
        reg.save(&path).unwrap();
        files.push(path);
    }
    files
}

#[test]
fn synapse_agrees_on_every_file_and_every_id() {
    let Some(python) = synapse_python() else {
        if std::env::var("TEST_SKIP_SYNAPSE_LOAD").as_deref() == Ok("1") {
            eprintln!("skipped: TEST_SKIP_SYNAPSE_LOAD=1 and no Synapse venv");
            return;
        }
        panic!(
            "no Synapse to compare with: {} is missing. Run `scripts/synapse.sh install` \
             (scripts/test.sh does), point TEST_SYNAPSE_PYTHON at a Python with \
             matrix-synapse installed, or set TEST_SKIP_SYNAPSE_LOAD=1 to skip this check",
            workspace().join(".dev/venv/bin/python").display()
        );
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = LOADS
        .iter()
        .map(|l| l.file)
        .chain(REFUSED.iter().map(|r| r.0))
        .map(|f| fixtures().join(f))
        .collect();
    let ours = project_files(tmp.path());
    for p in &ours {
        if let Err(e) = Registration::load(p) {
            panic!(
                "{}: the project's own registration does not load: {e}",
                p.display()
            );
        }
    }
    files.extend(ours);

    // Every ID of every fixture, plus a few more, against every file.
    let mut ids: [BTreeSet<String>; 3] = Default::default();
    for case in LOADS {
        for &(kind, id, _) in case.ids {
            ids[kind as usize].insert(id.to_owned());
        }
    }
    for id in [
        "@echo:example.org",
        "@echo:localhost",
        "@_echo_alice:example.org",
        "@_echo_alice:example.org.evil",
        "@_gen_x:example.org",
        "@genbot:example.org",
        "@genbot:example.org.evil",
        "@ircbridge:example.org",
        "@_irc_libera_nick:example.org",
        "@modbot:example.org",
        "@webhooks:example.org",
        "@_webhook_hook:example.org",
        "@bench:localhost",
    ] {
        ids[Users as usize].insert(id.into());
    }
    for id in [
        "#_echo_room:example.org",
        "#_gen_x:example.org",
        "#_irc_libera_chan:example.org",
        "#modbot_list:example.org",
    ] {
        ids[Aliases as usize].insert(id.into());
    }
    ids[Rooms as usize].insert("!iVZ_MlYQB25yyxanRNo1iDeazUZE7PwofPkWAEFQ2A8".into());
    let [users, aliases, rooms] = ids.map(|s| s.into_iter().collect::<Vec<_>>());

    let request = json!({
        "hostname": SERVER,
        "cases": files.iter().map(|p| json!({
            "path": p, "users": users, "aliases": aliases, "rooms": rooms,
        })).collect::<Vec<_>>(),
    });
    let mut child = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/synapse_answers.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(request.to_string().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Synapse's loader did not run:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answers.len(), files.len());

    let mut compared = 0;
    let mut disagreements = Vec::new();
    for (path, answer) in files.iter().zip(&answers) {
        let ours = Registration::load(path);
        let synapse_loads = answer["loaded"].as_bool().unwrap();
        match (&ours, synapse_loads) {
            (Ok(_), true) | (Err(_), false) => {}
            (Ok(_), false) => {
                disagreements.push(format!(
                    "{}: Ghostkit loads it, Synapse refuses: {}",
                    path.display(),
                    answer["error"]
                ));
                continue;
            }
            (Err(e), true) => {
                disagreements.push(format!(
                    "{}: Synapse loads it, Ghostkit refuses: {e}",
                    path.display()
                ));
                continue;
            }
        }
        let Ok(reg) = ours else { continue };
        for (kind, key) in [(Users, "users"), (Aliases, "aliases"), (Rooms, "rooms")] {
            for a in answer[key].as_array().unwrap() {
                let id = a["id"].as_str().unwrap();
                let theirs = if a["own"].as_bool().unwrap() {
                    OwnUser
                } else if a["in_namespace"].as_bool().unwrap() {
                    InNamespace(a["exclusive"].as_bool().unwrap())
                } else {
                    NotOurs
                };
                let mine = verdict(&reg, kind, id, Some(SERVER));
                compared += 1;
                if mine != theirs {
                    disagreements.push(format!(
                        "{}: {kind} {id}: Synapse says {theirs:?}, Ghostkit {mine:?}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "Ghostkit and Synapse disagree:\n{}",
        disagreements.join("\n")
    );
    assert!(compared > 500, "only {compared} answers compared");
    eprintln!(
        "{} files, {compared} IDs: Ghostkit and Synapse agree",
        files.len()
    );
}
