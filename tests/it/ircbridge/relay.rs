//! bots/ircbridge against a real Synapse and a real IRC server (ngircd,
//! started per test): messages both ways, memberships, nicks, topics,
//! admin commands, and a restart that keeps the portals.

use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};

use crate::common::{enc, eventually, unique, User};
use crate::ircbridge::{
    bridge_config, ghost, portal_room, start_bridge, start_bridge_with, IrcClient, Ngircd, PORT,
};

const WAIT: Duration = Duration::from_secs(30);

/// Joins the portal of `channel` through its alias; returns the room ID.
pub(crate) async fn join_alias(user: &User, channel: &str) -> Result<String> {
    let alias = ircbridge::names::Names::new("test", "localhost").alias(channel);
    let joined = user
        .call(
            reqwest::Method::POST,
            &format!("/_matrix/client/v3/join/{}", enc(&alias)),
            Some(json!({})),
        )
        .await?;
    Ok(joined["room_id"].as_str().unwrap_or_default().to_owned())
}

/// Waits for a message of `sender` in `room` with `body`; returns the event.
pub(crate) async fn matrix_message(
    user: &User,
    room: &str,
    sender: &str,
    body: &str,
) -> Result<Value> {
    eventually(WAIT, &format!("`{body}` from {sender}"), || async {
        Ok(user.messages(room).await?.into_iter().find(|m| {
            m["type"] == "m.room.message" && m["sender"] == sender && m["content"]["body"] == body
        }))
    })
    .await
}

pub(crate) async fn is_member(user: &User, room: &str, who: &str) -> Result<bool> {
    Ok(user.joined_members(room).await?["joined"]
        .get(who)
        .is_some())
}

pub(crate) async fn send_content(user: &User, room: &str, content: Value) -> Result<()> {
    user.call(
        reqwest::Method::PUT,
        &format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
            enc(room),
            unique("t")
        ),
        Some(content),
    )
    .await
    .map(drop)
}

#[tokio::test]
async fn messages_memberships_nicks_and_topics_cross_the_bridge() -> Result<()> {
    let _port = PORT.lock().await;
    let irc = Ngircd::start().await?;
    let store = tempfile::tempdir()?;
    let running = start_bridge(irc.port, store.path()).await?;
    let result = async {
        let channel = format!("#{}", unique("c"));
        let nick = unique("a");
        let mut alice = IrcClient::connect(irc.port, &nick).await?;
        alice.join(&channel).await?;

        // Joining the alias makes the portal; the bridge joins the channel.
        let bob = User::register("ircb").await?;
        let room = join_alias(&bob, &channel).await?;
        assert!(room.starts_with('!'));
        alice
            .expect("the bridge to join", |m| {
                m.command == "JOIN" && m.source_nick() == Some("bridge")
            })
            .await?;
        let state = bob
            .call(
                reqwest::Method::GET,
                &format!("/_matrix/client/v3/rooms/{}/state", enc(&room)),
                None,
            )
            .await?;
        let types: Vec<&str> = state
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert!(
            types.contains(&"m.bridge") && types.contains(&"uk.half-shot.bridge"),
            "{types:?}"
        );
        // Alice was in the channel first: her ghost comes in from the names list.
        let alice_ghost = ghost(&nick);
        eventually(WAIT, "alice's ghost in the room", || async {
            Ok(is_member(&bob, &room, &alice_ghost).await?.then_some(()))
        })
        .await?;

        // Matrix -> IRC.
        bob.send_text(&room, "hello from matrix").await?;
        let text = alice.expect_privmsg(&channel, "hello from matrix").await?;
        assert!(
            text.starts_with('<') && text.ends_with("> hello from matrix"),
            "{text}"
        );
        send_content(&bob, &room, json!({"msgtype": "m.emote", "body": "waves"})).await?;
        let text = alice.expect_privmsg(&channel, "waves").await?;
        assert!(
            text.starts_with("\u{1}ACTION ") && text.ends_with(" waves\u{1}"),
            "{text:?}"
        );
        send_content(
            &bob,
            &room,
            json!({"msgtype": "m.text", "body": "**b**",
            "format": "org.matrix.custom.html", "formatted_body": "<b>bold</b> &amp; plain"}),
        )
        .await?;
        alice.expect_privmsg(&channel, "> bold & plain").await?;
        // An edit goes out as a correction.
        let original = bob.send_text(&room, "tpyo").await?;
        alice.expect_privmsg(&channel, "> tpyo").await?;
        send_content(
            &bob,
            &room,
            json!({"msgtype": "m.text", "body": "* typo", "m.new_content": {"msgtype": "m.text", "body": "typo"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": original}}),
        )
        .await?;
        alice.expect_privmsg(&channel, "> * typo").await?;
        // A long multi-line message is split within IRC's line limit.
        let long = format!("first line\n{}", "λόγος ".repeat(150));
        bob.send_text(&room, &long).await?;
        alice.expect_privmsg(&channel, "> first line").await?;
        let mut got = String::new();
        while got.split_whitespace().count() < 150 {
            let piece = alice.expect_privmsg(&channel, "λόγος").await?;
            let (_, words) = piece.split_once("> ").unwrap_or(("", &piece));
            got.push_str(words);
            got.push(' ');
        }
        assert_eq!(got.split_whitespace().count(), 150);

        // IRC -> Matrix: text, action, notice.
        alice
            .send(&format!("PRIVMSG {channel} :hello from irc"))
            .await?;
        let ev = matrix_message(&bob, &room, &alice_ghost, "hello from irc").await?;
        assert_eq!(ev["content"]["msgtype"], "m.text");
        alice
            .send(&format!("PRIVMSG {channel} :\u{1}ACTION dances\u{1}"))
            .await?;
        let ev = matrix_message(&bob, &room, &alice_ghost, "dances").await?;
        assert_eq!(ev["content"]["msgtype"], "m.emote");
        alice.send(&format!("NOTICE {channel} :a notice")).await?;
        let ev = matrix_message(&bob, &room, &alice_ghost, "a notice").await?;
        assert_eq!(ev["content"]["msgtype"], "m.notice");
        // The ghost is named after the nick; Bob's own messages did not come back.
        let profile = bob
            .call(
                reqwest::Method::GET,
                &format!("/_matrix/client/v3/profile/{}", enc(&alice_ghost)),
                None,
            )
            .await?;
        assert_eq!(profile["displayname"], nick.as_str());
        let echoed = bob
            .messages(&room)
            .await?
            .into_iter()
            .filter(|m| {
                m["sender"] != bob.user_id.as_str()
                    && m["content"]["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("hello from matrix"))
            })
            .count();
        assert_eq!(echoed, 0, "no loop back into Matrix");

        // Topic.
        alice
            .send(&format!("TOPIC {channel} :the new topic"))
            .await?;
        eventually(WAIT, "the topic", || async {
            let t = bob
                .call(
                    reqwest::Method::GET,
                    &format!(
                        "/_matrix/client/v3/rooms/{}/state/m.room.topic/",
                        enc(&room)
                    ),
                    None,
                )
                .await?;
            Ok((t["topic"] == "the new topic").then_some(()))
        })
        .await?;

        // Another IRC user joins, then leaves.
        let carol_nick = unique("c");
        let mut carol = IrcClient::connect(irc.port, &carol_nick).await?;
        carol.join(&channel).await?;
        let carol_ghost = ghost(&carol_nick);
        eventually(WAIT, "carol's ghost to join", || async {
            Ok(is_member(&bob, &room, &carol_ghost).await?.then_some(()))
        })
        .await?;
        carol.send(&format!("PART {channel} :bye")).await?;
        eventually(WAIT, "carol's ghost to leave", || async {
            Ok((!is_member(&bob, &room, &carol_ghost).await?).then_some(()))
        })
        .await?;
        // Back in, then kicked by Alice (channel operator, she came first).
        carol.join(&channel).await?;
        eventually(WAIT, "carol's ghost to join again", || async {
            Ok(is_member(&bob, &room, &carol_ghost).await?.then_some(()))
        })
        .await?;
        alice
            .send(&format!("KICK {channel} {carol_nick} :behave"))
            .await?;
        eventually(WAIT, "carol's ghost to be out after the kick", || async {
            Ok((!is_member(&bob, &room, &carol_ghost).await?).then_some(()))
        })
        .await?;
        let left = eventually(WAIT, "the kick's reason", || async {
            Ok(bob.messages(&room).await?.into_iter().find(|m| {
                m["type"] == "m.room.member"
                    && m["state_key"] == carol_ghost.as_str()
                    && m["content"]["membership"] == "leave"
                    && m["content"]["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("behave"))
            }))
        })
        .await?;
        assert!(left["content"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("kicked by")));

        // A case-only nick change keeps the ghost and renames it.
        let upper = nick.to_uppercase();
        alice.send(&format!("NICK {upper}")).await?;
        eventually(WAIT, "the ghost's new display name", || async {
            let p = bob
                .call(
                    reqwest::Method::GET,
                    &format!("/_matrix/client/v3/profile/{}", enc(&alice_ghost)),
                    None,
                )
                .await?;
            Ok((p["displayname"] == upper.as_str()).then_some(()))
        })
        .await?;
        // A real nick change: the old ghost leaves, the new one joins.
        let new_nick = unique("n");
        alice.send(&format!("NICK {new_nick}")).await?;
        let new_ghost = ghost(&new_nick);
        eventually(WAIT, "the rename", || async {
            let gone = !is_member(&bob, &room, &alice_ghost).await?;
            let here = is_member(&bob, &room, &new_ghost).await?;
            Ok((gone && here).then_some(()))
        })
        .await?;
        // QUIT: the ghost leaves.
        alice.send("QUIT :done").await?;
        eventually(WAIT, "the ghost to leave on quit", || async {
            Ok((!is_member(&bob, &room, &new_ghost).await?).then_some(()))
        })
        .await?;
        // `/metrics` counts one connection and messages both ways.
        let text = crate::common::scrape_metrics(&running).await?;
        let value = |name: &str| crate::common::metric(&text, name);
        anyhow::ensure!(value("ircbridge_connections_total") == Some(1), "{text}");
        anyhow::ensure!(value("ircbridge_irc_to_matrix_total") >= Some(1), "{text}");
        anyhow::ensure!(value("ircbridge_matrix_to_irc_total") >= Some(1), "{text}");
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}

#[tokio::test]
async fn admin_commands_and_portals_survive_a_restart() -> Result<()> {
    let _port = PORT.lock().await;
    let irc = Ngircd::start().await?;
    let store = tempfile::tempdir()?;
    let admin = User::register("ircadm").await?;
    let config = ircbridge::BridgeConfig {
        admins: vec![admin.user_id.clone()],
        ..bridge_config(irc.port)
    };
    let running = start_bridge_with(config.clone(), store.path()).await?;
    let channel = format!("#{}", unique("r"));
    let nick = unique("d");
    let mut dave = IrcClient::connect(irc.port, &nick).await?;
    dave.join(&channel).await?;
    let bot = "@ircbridge:localhost";
    let result = async {
        let dm = admin
            .create_room(json!({ "preset": "private_chat", "invite": [bot], "is_direct": true }))
            .await?;
        eventually(WAIT, "the bot to join the DM", || async {
            Ok(is_member(&admin, &dm, bot).await?.then_some(()))
        })
        .await?;
        admin.send_text(&dm, "!join ").await?;
        admin.send_text(&dm, &format!("!join {channel}")).await?;
        let reply = eventually(WAIT, "the bot's answer", || async {
            Ok(admin.messages(&dm).await?.into_iter().find(|m| {
                m["sender"] == bot
                    && m["content"]["body"]
                        .as_str()
                        .is_some_and(|b| b.starts_with("Bridging"))
            }))
        })
        .await?;
        assert!(reply["content"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("#_irc_test_"));
        dave.expect("the bridge to join", |m| {
            m.command == "JOIN" && m.source_nick() == Some("bridge")
        })
        .await?;
        let room = portal_room(&running, &channel)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no portal"))?;
        // Invited by the bot: accept.
        admin
            .call(
                reqwest::Method::POST,
                &format!("/_matrix/client/v3/join/{}", enc(&room)),
                Some(json!({})),
            )
            .await?;
        admin.send_text(&dm, "!list").await?;
        eventually(WAIT, "the list", || async {
            Ok(admin.messages(&dm).await?.into_iter().find(|m| {
                m["sender"] == bot
                    && m["content"]["body"]
                        .as_str()
                        .is_some_and(|b| b.contains(&channel) && b.contains(&room))
            }))
        })
        .await?;
        dave.send(&format!("PRIVMSG {channel} :before the restart"))
            .await?;
        matrix_message(&admin, &room, &ghost(&nick), "before the restart").await?;
        anyhow::Ok(room)
    }
    .await;
    running.stop().await;
    let room = result?;
    dave.expect("the bridge to quit", |m| {
        m.command == "QUIT" && m.source_nick() == Some("bridge")
    })
    .await?;

    let running = start_bridge_with(config, store.path()).await?;
    let result = async {
        // The portal is remembered: the bridge rejoins and bridges the same room.
        dave.expect("the bridge to rejoin", |m| {
            m.command == "JOIN" && m.source_nick() == Some("bridge")
        })
        .await?;
        assert_eq!(
            portal_room(&running, &channel).await?.as_deref(),
            Some(room.as_str())
        );
        dave.send(&format!("PRIVMSG {channel} :after the restart"))
            .await?;
        matrix_message(&admin, &room, &ghost(&nick), "after the restart").await?;
        admin.send_text(&room, "still bridged").await?;
        dave.expect_privmsg(&channel, "> still bridged").await?;
        // !nick renames the bridge on IRC; !part unbridges.
        let dm = admin
            .create_room(json!({ "preset": "private_chat", "invite": [bot], "is_direct": true }))
            .await?;
        eventually(WAIT, "the bot to join the DM", || async {
            Ok(is_member(&admin, &dm, bot).await?.then_some(()))
        })
        .await?;
        admin.send_text(&dm, "!nick bridge2").await?;
        dave.expect("the bridge's new nick", |m| {
            m.command == "NICK" && m.param(0) == Some("bridge2")
        })
        .await?;
        admin.send_text(&dm, &format!("!part {channel}")).await?;
        dave.expect("the bridge to part", |m| {
            m.command == "PART" && m.source_nick() == Some("bridge2")
        })
        .await?;
        assert_eq!(portal_room(&running, &channel).await?, None);
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}

#[tokio::test]
async fn a_taken_nick_and_a_server_restart_are_survived() -> Result<()> {
    let _port = PORT.lock().await;
    let irc = Ngircd::start().await?;
    let port = irc.port;
    // Someone holds the bridge's nick: it registers as `bridge_`.
    let squatter = IrcClient::connect(port, "bridge").await?;
    let store = tempfile::tempdir()?;
    let running = start_bridge(port, store.path()).await?;
    let result = async {
        let channel = format!("#{}", unique("k"));
        let mut watcher = IrcClient::connect(port, &unique("w")).await?;
        watcher.join(&channel).await?;
        let user = User::register("ircre").await?;
        let room = join_alias(&user, &channel).await?;
        watcher
            .expect("the bridge to join as bridge_", |m| {
                m.command == "JOIN" && m.source_nick() == Some("bridge_")
            })
            .await?;
        // The nick is free again: the bridge takes it back.
        drop(squatter);
        watcher
            .expect("the bridge to reclaim its nick", |m| {
                m.command == "NICK"
                    && m.source_nick() == Some("bridge_")
                    && m.param(0) == Some("bridge")
            })
            .await?;
        let watcher_ghost = ghost(&watcher.nick);
        eventually(WAIT, "the watcher's ghost in the room", || async {
            Ok(is_member(&user, &room, &watcher_ghost).await?.then_some(()))
        })
        .await?;

        // The server goes away (the watcher with it, unseen by the bridge)
        // and comes back: the bridge reconnects and rejoins.
        drop(irc);
        drop(watcher);
        let irc = Ngircd::start_on(port).await?;
        let nick = unique("e");
        // The old server may still be closing its sockets on the same port
        // while the new one starts (seen on a loaded machine as a reset
        // before the welcome): a client tries again, as the bridge does.
        let mut tries = 0;
        let mut erin = loop {
            match IrcClient::connect(irc.port, &nick).await {
                Ok(c) => break c,
                Err(e) if tries < 5 => {
                    tries += 1;
                    eprintln!("connecting to the restarted server: {e}; again");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => return Err(e),
            }
        };
        erin.send(&format!("JOIN {channel}")).await?;
        erin.expect("the bridge in the channel", |m| {
            let named = m.command == "353" && m.param(3).is_some_and(|n| n.contains("bridge"));
            let joins =
                m.command == "JOIN" && m.source_nick().is_some_and(|n| n.starts_with("bridge"));
            named || joins
        })
        .await?;
        erin.send(&format!("PRIVMSG {channel} :after the outage"))
            .await?;
        matrix_message(&user, &room, &ghost(&nick), "after the outage").await?;
        // The names list on rejoining: the watcher is gone, so is its ghost.
        eventually(WAIT, "the watcher's ghost to leave", || async {
            Ok((!is_member(&user, &room, &watcher_ghost).await?).then_some(()))
        })
        .await?;
        user.send_text(&room, "welcome back").await?;
        erin.expect_privmsg(&channel, "> welcome back").await?;
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}

/// Waits for the connection to register; returns its nick.
async fn connected(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<ircbridge::irc::IrcEvent>,
) -> Result<String> {
    let wait = tokio::time::timeout(WAIT, async {
        while let Some(ev) = events.recv().await {
            if let ircbridge::irc::IrcEvent::Connected { nick } = ev {
                return Some(nick);
            }
        }
        None
    });
    wait.await
        .ok()
        .flatten()
        .ok_or_else(|| anyhow::anyhow!("the TLS connection did not register"))
}

#[tokio::test]
async fn the_irc_connection_speaks_tls_to_a_server_it_trusts() -> Result<()> {
    let server = Ngircd::start_tls().await?;
    let (tls_port, cert) = server
        .tls
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no TLS port"))?;
    let mut watcher = IrcClient::connect(server.port, "watcher").await?;
    watcher.join("#tls").await?;

    let mut config = ircbridge::irc::IrcConfig::new("localhost", tls_port, "tlsbot");
    config.tls = Some(ircbridge::irc::Tls {
        ca_file: Some(cert),
    });
    let (irc, mut events) = ircbridge::irc::IrcHandle::spawn(config);
    assert_eq!(connected(&mut events).await?, "tlsbot");
    irc.join("#tls");
    watcher
        .expect("tlsbot's join", |m| {
            m.command == "JOIN" && m.prefix.as_ref().is_some_and(|p| p.nick == "tlsbot")
        })
        .await?;
    irc.privmsg("#tls", "over TLS")?;
    assert_eq!(
        watcher.expect_privmsg("#tls", "over TLS").await?,
        "over TLS"
    );
    irc.quit("bye").await;
    Ok(())
}

#[tokio::test]
async fn a_server_certificate_nobody_vouches_for_is_refused() -> Result<()> {
    let server = Ngircd::start_tls().await?;
    let (tls_port, _cert) = server
        .tls
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no TLS port"))?;
    // Only the public authorities: the test CA is not among them.
    let tls = ircbridge::irc::Tls::default();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", tls_port)).await?;
    let err = tls
        .handshake("localhost", tcp)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("the handshake passed"))?;
    assert!(err.contains("TLS handshake with localhost failed"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // And the connection never registers (it keeps retrying, quietly).
    let mut config = ircbridge::irc::IrcConfig::new("localhost", tls_port, "untrusting");
    config.tls = Some(tls);
    let (irc, mut events) = ircbridge::irc::IrcHandle::spawn(config);
    let got = tokio::time::timeout(Duration::from_secs(2), events.recv()).await;
    assert!(got.is_err(), "no event from an untrusted server: {got:?}");
    assert!(!irc.is_connected());
    irc.quit("bye").await;
    Ok(())
}
