//! bots/ircbridge's defences, end to end: aliases make portals only for
//! the operator's channels, valid ones, so many an hour; no admins, no
//! commands; relayed names are cleaned and marked; a message becomes a
//! bounded number of lines, each within IRC's 512 bytes.

use anyhow::Result;
use serde_json::json;

use crate::common::{enc, eventually, unique, User};
use crate::ircbridge::relay::{is_member, join_alias, send_content};
use crate::ircbridge::{bridge_config, portal_room, start_bridge_with, IrcClient, Ngircd, PORT};

const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Sets `user`'s display name.
async fn set_display_name(user: &User, name: &str) -> Result<()> {
    user.call(
        reqwest::Method::PUT,
        &format!(
            "/_matrix/client/v3/profile/{}/displayname",
            enc(&user.user_id)
        ),
        Some(json!({ "displayname": name })),
    )
    .await
    .map(drop)
}

#[tokio::test]
async fn ircbridge_aliases_make_portals_only_for_allowed_valid_channels_and_commands_need_admins(
) -> Result<()> {
    let _port = PORT.lock().await;
    let irc = Ngircd::start().await?;
    let store = tempfile::tempdir()?;
    let config = ircbridge::BridgeConfig {
        alias_channels: vec!["#ok-*".into()],
        alias_portals_per_hour: 1,
        admins: Vec::new(),
        ..bridge_config(irc.port)
    };
    let running = start_bridge_with(config, store.path()).await?;
    let result = async {
        let u = unique("s");
        let (a, b, allowed) = (format!("#ok-{u}a"), format!("#ok-{u}b"), format!("#ok-{u}"));
        let mut watcher = IrcClient::connect(irc.port, &unique("w")).await?;
        for c in [&a, &b, &allowed] {
            watcher.join(c).await?;
        }
        let user = User::register("ircsec").await?;
        // `#ok-…a,#ok-…b` matches the pattern but would join two channels;
        // a BEL would ring on IRC; `#other…` is not allowed at all.
        for bad in [
            format!("{a},{b}"),
            format!("{allowed}\u{7}"),
            format!("#other-{u}"),
        ] {
            let joined = join_alias(&user, &bad).await;
            assert!(joined.is_err(), "{bad:?} made a portal: {joined:?}");
            assert_eq!(portal_room(&running, &bad).await?, None);
        }
        // An allowed channel: the portal is made and the bridge joins it,
        // and it is the first channel the bridge joins.
        let room = join_alias(&user, &allowed).await?;
        assert!(room.starts_with('!'), "{room}");
        let join = watcher
            .expect("the bridge to join", |m| {
                m.command == "JOIN" && m.source_nick() == Some("bridge")
            })
            .await?;
        assert_eq!(join.param(0), Some(allowed.as_str()));
        // One portal an hour: the next allowed alias makes none.
        let second = join_alias(&user, &format!("{allowed}x")).await;
        assert!(second.is_err(), "past the hour's limit: {second:?}");

        // No admins: the commands are off, for everyone.
        let bot = "@ircbridge:localhost";
        let dm = user
            .create_room(json!({ "preset": "private_chat", "invite": [bot], "is_direct": true }))
            .await?;
        eventually(WAIT, "the bot to join the DM", || async {
            Ok(is_member(&user, &dm, bot).await?.then_some(()))
        })
        .await?;
        let wanted = format!("#ok-{}", unique("j"));
        user.send_text(&dm, &format!("!join {wanted}")).await?;
        eventually(WAIT, "the bot's refusal", || async {
            Ok(user.messages(&dm).await?.into_iter().find(|m| {
                m["sender"] == bot
                    && m["content"]["body"]
                        .as_str()
                        .is_some_and(|b| b.starts_with("Admin commands are disabled"))
            }))
        })
        .await?;
        assert_eq!(portal_room(&running, &wanted).await?, None);
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}

#[tokio::test]
async fn ircbridge_relayed_names_are_cleaned_and_marked_and_messages_bounded() -> Result<()> {
    let _port = PORT.lock().await;
    let irc = Ngircd::start().await?;
    let store = tempfile::tempdir()?;
    let config = ircbridge::BridgeConfig {
        max_lines_per_message: 5,
        ..bridge_config(irc.port)
    };
    let running = start_bridge_with(config, store.path()).await?;
    let result = async {
        let channel = format!("#{}", unique("n"));
        let mut watcher = IrcClient::connect(irc.port, &unique("w")).await?;
        watcher.join(&channel).await?;
        // A name that would read as a second speaker and end a CTCP.
        let bob = User::register("ircimp").await?;
        set_display_name(&bob, "bob> <alice\u{1}").await?;
        let room = join_alias(&bob, &channel).await?;
        watcher
            .expect("the bridge to join", |m| {
                m.command == "JOIN" && m.source_nick() == Some("bridge")
            })
            .await?;
        bob.send_text(&room, "hi").await?;
        let text = watcher.expect_privmsg(&channel, "hi").await?;
        assert_eq!(text, "<bob alice [m]> hi");
        send_content(&bob, &room, json!({"msgtype": "m.emote", "body": "waves"})).await?;
        let text = watcher.expect_privmsg(&channel, "waves").await?;
        assert_eq!(text, "\u{1}ACTION bob alice [m] waves\u{1}");

        // 20 lines become 5 and a note with a link to the event.
        let body: Vec<String> = (1..=20).map(|i| format!("row {i}")).collect();
        let event = bob.send_text(&room, &body.join("\n")).await?;
        for i in 1..=5 {
            watcher
                .expect_privmsg(&channel, &format!("> row {i}"))
                .await?;
        }
        let note = watcher
            .expect("the truncation note", |m| {
                m.command == "NOTICE" && m.param(0) == Some(channel.as_str())
            })
            .await?;
        let note = note.param(1).unwrap_or_default().to_owned();
        assert!(
            note.contains("(message truncated, 15 more lines: https://matrix.to/#/")
                && note.contains(&event),
            "{note}"
        );

        // A 400-byte display name: the name is cut, 2,000 bytes of text stay
        // 5 lines and a note, and every line fits in 512 bytes.
        let carol = User::register("irclong").await?;
        set_display_name(&carol, &"é".repeat(200)).await?;
        let joined = join_alias(&carol, &channel).await?;
        assert_eq!(joined, room);
        carol.send_text(&room, &"word ".repeat(400)).await?;
        let cut_name = format!("<{} [m]> ", "é".repeat(32));
        let mut lines = Vec::new();
        loop {
            let m = watcher
                .expect("carol's lines", |m| {
                    m.param(0) == Some(channel.as_str())
                        && m.param(1).is_some_and(|t| t.starts_with(&cut_name))
                })
                .await?;
            let done = m.command == "NOTICE";
            lines.push(m);
            if done {
                break;
            }
        }
        assert_eq!(lines.len(), 6, "5 lines and the note");
        for m in &lines {
            assert!(m.to_line().len() + 2 <= 512, "{}", m.to_line().len());
        }
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}
