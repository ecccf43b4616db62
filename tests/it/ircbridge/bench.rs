//! Throughput of the IRC bridge, each way, against the real Synapse and
//! ngircd. Not a regular test (it takes a while and measures the machine):
//!
//! ```text
//! cargo test -p ghostkit-tests --test it ircbridge_bench -- --ignored --nocapture
//! ```
//! Numbers go to BENCHMARKS.md (`## IRC bridge`).

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::common::{enc, eventually, unique, User};
use crate::ircbridge::{ghost, start_bridge, IrcClient, Ngircd, PORT};

const N: usize = 300;

#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn ircbridge_bench() -> Result<()> {
    let _port = PORT.lock().await;
    let irc = Ngircd::start().await?;
    let store = tempfile::tempdir()?;
    let running = start_bridge(irc.port, store.path()).await?;
    let result = async {
        let channel = format!("#{}", unique("b"));
        let nick = unique("s");
        let mut sender = IrcClient::connect(irc.port, &nick).await?;
        sender.join(&channel).await?;
        let user = User::register("ircbench").await?;
        let alias = ircbridge::names::Names::new("test", "localhost").alias(&channel);
        let joined = user
            .call(reqwest::Method::POST, &format!("/_matrix/client/v3/join/{}", enc(&alias)), Some(json!({})))
            .await?;
        let room = joined["room_id"].as_str().unwrap_or_default().to_owned();
        sender.expect("the bridge to join", |m| m.command == "JOIN" && m.source_nick() == Some("bridge")).await?;
        // Warm up: the ghost registered and joined.
        sender.send(&format!("PRIVMSG {channel} :warm-up")).await?;
        let g = ghost(&nick);
        eventually(Duration::from_secs(30), "the warm-up", || async {
            Ok(user.messages(&room).await?.iter().any(|m| m["sender"] == g.as_str()).then_some(()))
        })
        .await?;

        // IRC -> Matrix.
        let start = Instant::now();
        for i in 0..N {
            sender.send(&format!("PRIVMSG {channel} :irc-bench {i}")).await?;
        }
        let last = format!("irc-bench {}", N - 1);
        eventually(Duration::from_secs(300), "the last IRC message in Matrix", || async {
            Ok(user.messages(&room).await?.iter().any(|m| m["content"]["body"] == last.as_str()).then_some(()))
        })
        .await?;
        let irc_to_matrix = N as f64 / start.elapsed().as_secs_f64();

        // Matrix -> IRC: sent by 8 concurrent senders, received by the IRC client.
        let start = Instant::now();
        let user = std::sync::Arc::new(user);
        let mut tasks = Vec::new();
        for w in 0..8 {
            let (user, room) = (user.clone(), room.clone());
            tasks.push(tokio::spawn(async move {
                for i in (w..N).step_by(8) {
                    user.send_text(&room, &format!("mx-bench {i}")).await?;
                }
                anyhow::Ok(())
            }));
        }
        let mut seen = 0;
        while seen < N {
            sender.expect_privmsg(&channel, "mx-bench").await?;
            seen += 1;
        }
        for t in tasks {
            t.await??;
        }
        let matrix_to_irc = N as f64 / start.elapsed().as_secs_f64();
        println!("ircbridge bench: {N} messages; IRC -> Matrix {irc_to_matrix:.1} msg/s; Matrix -> IRC {matrix_to_irc:.1} msg/s");
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}
