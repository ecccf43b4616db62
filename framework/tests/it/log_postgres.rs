//! The transaction log kept in PostgreSQL: what was acknowledged and not
//! handled comes back after a crash, what was handled does not, and
//! duplicates stay dropped, with no segment file in the store folder and
//! the window of seen txnIds in the database.

use bytes::Bytes;
use ghostkit::store::{PostgresBackend, Store};
use ghostkit::transaction::{Accepted, LogConfig, LogItem, TransactionLog};

use crate::common::{message, txn};

fn ids(items: &[LogItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i.event.event_id().map(|id| id.to_string()))
        .collect()
}

fn new_items(accepted: Accepted) -> Vec<LogItem> {
    match accepted {
        Accepted::New(items) => items,
        Accepted::Duplicate => panic!("taken for a duplicate"),
    }
}

async fn open(dir: &std::path::Path, db: &PostgresBackend) -> TransactionLog {
    let store = Store::with_backend(dir, db.clone());
    TransactionLog::open_in_postgres(&store, db, LogConfig::default())
        .await
        .expect("the log opens in PostgreSQL")
}

#[tokio::test]
async fn acknowledged_and_unhandled_comes_back_handled_does_not() {
    let Some(options) = crate::postgres::database().await else {
        return;
    };
    let db = PostgresBackend::connect(&options).await.expect("connects");
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Bytes::from(txn(&[
        message("$a", "!r:x.org", "a"),
        message("$b", "!r:x.org", "b"),
    ]));
    let second = Bytes::from(txn(&[message("$c", "!r:x.org", "c")]));
    {
        let log = open(dir.path(), &db).await;
        let items = new_items(log.accept("1", first.clone()).await.expect("accepted"));
        assert_eq!(ids(&items), ["$a", "$b"]);
        for item in &items {
            log.item_done(item.seq, item.idx);
        }
        let items = new_items(log.accept("2", second.clone()).await.expect("accepted"));
        assert_eq!(ids(&items), ["$c"]);
        // The first is done and written; then a crash before `$c` is.
        log.persist_progress().await.expect("progress written");
        assert_eq!(log.segment_files(), 1, "one transaction left to do");
    }

    let log = open(dir.path(), &db).await;
    let again = log.recover().expect("recovers");
    assert_eq!(ids(&again), ["$c"], "only the unhandled event comes back");
    assert!(matches!(
        log.accept("1", first).await.expect("answered"),
        Accepted::Duplicate
    ));
    let resent = log
        .accept("9", Bytes::from(txn(&[message("$b", "!r:x.org", "b")])))
        .await
        .expect("accepted");
    assert!(
        new_items(resent).is_empty(),
        "an event seen before is not dispatched again"
    );
    for item in &again {
        log.item_done(item.seq, item.idx);
    }
    log.persist_progress().await.expect("progress written");
    assert_eq!(log.segment_files(), 0);
    drop(log);

    // Handled and retired: nothing comes back at the next open.
    let log = open(dir.path(), &db).await;
    assert!(log.recover().expect("recovers").is_empty());
    let segment_files = std::fs::read_dir(dir.path().join("txnlog"))
        .expect("the folder of the seen window")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .count();
    assert_eq!(segment_files, 0, "nothing of the log went to files");
}

#[tokio::test]
async fn concurrent_transactions_share_writes_and_all_come_back() {
    let Some(options) = crate::postgres::database().await else {
        return;
    };
    let db = PostgresBackend::connect(&options).await.expect("connects");
    let dir = tempfile::tempdir().expect("tempdir");
    let want: Vec<String> = (0..40).map(|i| format!("$e{i}")).collect();
    {
        let log = std::sync::Arc::new(open(dir.path(), &db).await);
        let accepts = want.iter().enumerate().map(|(i, id)| {
            let log = log.clone();
            let body = Bytes::from(txn(&[message(id, &format!("!r{}:x.org", i % 4), "m")]));
            async move { log.accept(&format!("t{i}"), body).await }
        });
        for accepted in futures_util::future::join_all(accepts).await {
            assert_eq!(new_items(accepted.expect("accepted")).len(), 1);
        }
    }
    // Nothing handled: every acknowledged transaction comes back, in order.
    let log = open(dir.path(), &db).await;
    let mut got = ids(&log.recover().expect("recovers"));
    got.sort();
    let mut sorted = want.clone();
    sorted.sort();
    assert_eq!(got, sorted);
}

/// The rows of the journal table.
async fn rows(url: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connects");
    tokio::spawn(connection);
    client
        .query_one("SELECT count(*) FROM ghostkit_txnlog", &[])
        .await
        .expect("counts")
        .get(0)
}

#[tokio::test]
async fn handled_transactions_leave_the_table_in_groups() {
    let Some(options) = crate::postgres::database().await else {
        return;
    };
    let db = PostgresBackend::connect(&options).await.expect("connects");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path(), &db).await;
    let handle = |n: std::ops::Range<usize>| {
        let log = &log;
        async move {
            for i in n {
                let body = Bytes::from(txn(&[message(&format!("$h{i}"), "!r:x.org", "m")]));
                for item in new_items(log.accept(&format!("h{i}"), body).await.expect("accepted")) {
                    log.item_done(item.seq, item.idx);
                }
            }
            log.persist_progress().await.expect("progress written");
        }
    };
    // A few handled rows wait for more before they go.
    handle(0..10).await;
    assert_eq!(rows(&options.url).await, 10);
    handle(10..300).await;
    assert_eq!(rows(&options.url).await, 0, "handled rows are deleted");
    assert_eq!(log.remembered_transactions(), 300);
    drop(log);

    // A standby on another machine (another folder): the rows are gone, and
    // the window's snapshot in the database still knows every txnId.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let standby = open(elsewhere.path(), &db).await;
    assert_eq!(standby.remembered_transactions(), 300);
    let again = Bytes::from(txn(&[message("$h5", "!r:x.org", "m")]));
    assert!(matches!(
        standby.accept("h5", again).await.expect("answered"),
        Accepted::Duplicate
    ));
}
