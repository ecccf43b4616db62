//! examples/ghosts end to end: a real user says `!puppet <name> <text>`, the
//! ghost `@_ghost_<name>` says `<text>` with its display name.

use std::time::{Duration, Instant};

use ghostkit::{Appservice, Config, Registration};
use serde_json::json;

use crate::client::{enc, synapse_url, unique, RealUser};

/// Polls `check` every 200 ms until it gives `Some`, for at most `limit`.
async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() > limit {
            anyhow::bail!("not done after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn puppet_makes_a_ghost_speak() -> anyhow::Result<()> {
    let reg = Registration::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/registrations/ghosts.yaml"
    ))?;
    let store = tempfile::tempdir()?;
    let mut config = Config::new(synapse_url(), store.path());
    config.server_name = Some("localhost".into());
    config.self_check = false;
    let running = Appservice::new(reg, config)
        .start(ghosts::handler())
        .await?;

    let result = async {
        let alice = RealUser::register("puppeteer").await?;
        let created = alice
            .post(
                "/_matrix/client/v3/createRoom",
                json!({"preset": "private_chat", "invite": ["@ghosts:localhost"]}),
            )
            .await?;
        let room = created["room_id"].as_str().unwrap_or_default().to_owned();
        let room_enc = enc(&room);
        let member_path = |user: &str| {
            format!(
                "/_matrix/client/v3/rooms/{room_enc}/state/m.room.member/{}",
                enc(user)
            )
        };
        // The bot accepts the invite.
        eventually(Duration::from_secs(60), || async {
            let m = alice.get(&member_path("@ghosts:localhost")).await?;
            Ok((m["membership"] == "join").then_some(()))
        })
        .await?;

        let name = unique("g");
        let text = unique("hello from a puppet ");
        let ghost = format!("@_ghost_{name}:localhost");
        alice
            .send_text(&room, &format!("!puppet {name} {text}"))
            .await?;
        let said = eventually(Duration::from_secs(60), || async {
            let page = alice
                .get(&format!(
                    "/_matrix/client/v3/rooms/{room_enc}/messages?dir=b&limit=20"
                ))
                .await?;
            Ok(page["chunk"].as_array().and_then(|c| {
                c.iter()
                    .find(|e| e["sender"] == ghost.as_str() && e["type"] == "m.room.message")
                    .cloned()
            }))
        })
        .await?;
        assert_eq!(said["content"]["body"], text.as_str());
        let member = alice.get(&member_path(&ghost)).await?;
        assert_eq!(member["membership"], "join");
        assert_eq!(member["displayname"], format!("{name} (ghost)"));
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}
