//! Homeserver outages: a handler failing on an unavailable homeserver
//! pauses its lane.

use super::*;

fn unavailable_pausing() -> DispatchConfig {
    DispatchConfig {
        unavailable_pause: Duration::from_millis(40),
        ..DispatchConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_on_an_unavailable_homeserver_pauses_its_room_and_is_not_marked_done() {
    let seen: Log = Arc::default();
    let s = seen.clone();
    let handler = FnHandler::new(move |ev| {
        let s = s.clone();
        async move {
            let id = id_of(&ev);
            let calls = {
                let mut seen = s.lock().unwrap();
                seen.push((id.clone(), room_of(&ev)));
                seen.iter().filter(|(i, _)| *i == id).count()
            };
            if id == "$a" && calls <= 3 {
                let busy = ghostkit::MatrixError::from_response(503, None, b"{}");
                return Err(ghostkit::client::ClientError::from(busy).into());
            }
            Ok(())
        }
    });
    let bench = Bench::new(handler, unavailable_pausing()).await;
    bench.send(&[("$a", "!r:x.org"), ("$b", "!r:x.org")]).await;
    bench.wait_finished(2).await;
    let got: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(i, _)| i.clone())
        .collect();
    assert_eq!(
        got,
        ["$a", "$a", "$a", "$a", "$b"],
        "the room waited for $a"
    );
    assert_eq!((bench.handled(), bench.failed()), (2, 0));
}

#[cfg(feature = "testing")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_seen_through_any_error_type_pauses_and_the_send_happens_once() {
    use ghostkit::client::{Client, ClientConfig, RetryPolicy};
    use ghostkit::testing::{FakeHomeserver, FakeReply};
    let hs = FakeHomeserver::start().await.unwrap();
    // The homeserver answers 503 to the first six sends: longer than one
    // call's retry budget.
    hs.script(
        "/send/m.room.message/",
        (0..6).map(|_| FakeReply::error(503, "M_UNKNOWN", "restarting")),
    );
    let config = ClientConfig {
        retry: RetryPolicy {
            max_total: Duration::from_millis(30),
            initial_backoff: Duration::from_millis(10),
            jitter: 0.0,
            ..RetryPolicy::default()
        },
        ..ClientConfig::default()
    };
    let client = Client::with_config(&hs.url(), Arc::new(common::registration()), config).unwrap();
    client.set_server_name(ghostkit::ruma::common::server_name!("x.org"));
    let handler = FnHandler::new(move |ev| {
        let client = client.clone();
        async move {
            let room = room_of(&ev);
            // The error's type is lost on the way, as `anyhow` or a
            // bot's own error type would lose it.
            let room = ghostkit::ruma::common::OwnedRoomId::try_from(room)?;
            client
                .as_bot()
                .send_text(&room, "reply")
                .await
                .map_err(|e| format!("cannot reply: {e}"))?;
            Ok(())
        }
    });
    let bench = Bench::new(handler, unavailable_pausing()).await;
    bench.send(&[("$a", "!r:x.org")]).await;
    bench.wait_finished(1).await;
    assert_eq!((bench.handled(), bench.failed()), (1, 0));
    let sends = hs.requests_to("/send/m.room.message/");
    assert_eq!(sends.len(), 7, "six refused, one accepted");
    let txn_ids: std::collections::HashSet<String> = sends
        .iter()
        .filter_map(|r| r.path.rsplit('/').next().map(str::to_owned))
        .collect();
    assert_eq!(
        txn_ids.len(),
        1,
        "every attempt is the same send: {txn_ids:?}"
    );
    hs.stop().await;
}
