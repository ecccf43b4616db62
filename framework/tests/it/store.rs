//! Every backend behaves the same through `Store` and `Tree`: sled on disk,
//! the in-memory one and PostgreSQL (when the tests have one) run the same
//! checks.

use ghostkit::store::{BoundedSet, MemoryBackend, Store, Write};

async fn backends() -> Vec<(&'static str, Store, tempfile::TempDir)> {
    let sled_dir = tempfile::tempdir().unwrap();
    let mem_dir = tempfile::tempdir().unwrap();
    let mut out = vec![
        ("sled", Store::open(sled_dir.path()).unwrap(), sled_dir),
        (
            "memory",
            Store::with_backend(mem_dir.path(), MemoryBackend::new()),
            mem_dir,
        ),
    ];
    let pg_dir = tempfile::tempdir().unwrap();
    if let Some(store) = crate::postgres::store(pg_dir.path()).await {
        out.push(("postgres", store, pg_dir));
    }
    out
}

#[tokio::test]
async fn trees_keep_keys_in_order_and_apart() {
    for (name, store, _dir) in backends().await {
        let a = store.tree("a").unwrap();
        let b = store.tree("b").unwrap();
        assert!(a.is_empty().await.unwrap(), "{name}");
        a.insert("k2", "two").await.unwrap();
        a.insert("k1", "one").await.unwrap();
        a.insert("other", "x").await.unwrap();
        b.insert("k1", "in b").await.unwrap();
        assert_eq!(a.get("k1").await.unwrap(), Some(b"one".to_vec()), "{name}");
        assert_eq!(b.get("k1").await.unwrap(), Some(b"in b".to_vec()), "{name}");
        assert_eq!(a.len().await.unwrap(), 3, "{name}");
        let keys: Vec<Vec<u8>> = a
            .scan_prefix("k")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(keys, [b"k1".to_vec(), b"k2".to_vec()], "{name}");
        assert_eq!(
            a.first().await.unwrap().unwrap().0,
            b"k1".to_vec(),
            "{name}"
        );
        // The same tree opened again sees the same data.
        assert_eq!(
            store.tree("a").unwrap().get("k2").await.unwrap(),
            Some(b"two".to_vec()),
            "{name}"
        );
        assert_eq!(
            a.insert("k1", "uno").await.unwrap(),
            Some(b"one".to_vec()),
            "{name}"
        );
        assert_eq!(
            a.remove("k1").await.unwrap(),
            Some(b"uno".to_vec()),
            "{name}"
        );
        assert!(!a.contains_key("k1").await.unwrap(), "{name}");
        assert_eq!(
            a.insert_if_absent("k2", "2").await.unwrap(),
            Some(b"two".to_vec()),
            "{name}"
        );
        assert_eq!(a.insert_if_absent("k3", "3").await.unwrap(), None, "{name}");
        a.clear().await.unwrap();
        assert!(a.is_empty().await.unwrap(), "{name}");
        assert_eq!(b.len().await.unwrap(), 1, "{name}");
    }
}

#[tokio::test]
async fn prefixes_end_where_the_bytes_do() {
    for (name, store, _dir) in backends().await {
        let t = store.tree("p").unwrap();
        for key in [
            &b"a"[..],
            b"a\xff",
            b"a\xff\xff",
            b"a\xff\x00",
            b"b",
            b"\xff",
            b"\xff\xff",
        ] {
            t.insert(key, key).await.unwrap();
        }
        let keys = |entries: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<Vec<u8>> {
            entries.into_iter().map(|e| e.0).collect()
        };
        assert_eq!(
            keys(t.scan_prefix(b"a\xff").await.unwrap()),
            [
                b"a\xff".to_vec(),
                b"a\xff\x00".to_vec(),
                b"a\xff\xff".to_vec()
            ],
            "{name}"
        );
        assert_eq!(
            keys(t.scan_prefix(b"\xff").await.unwrap()),
            [b"\xff".to_vec(), b"\xff\xff".to_vec()],
            "{name}"
        );
        assert_eq!(t.scan_prefix(b"").await.unwrap().len(), 7, "{name}");
        assert!(t.scan_prefix(b"c").await.unwrap().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn a_batch_of_writes_lands_in_order() {
    for (name, store, _dir) in backends().await {
        let t = store.tree("batch").unwrap();
        t.insert("gone", "x").await.unwrap();
        t.apply(vec![
            Write::Insert(b"k1".to_vec(), b"1".to_vec()),
            Write::Insert(b"k2".to_vec(), b"2".to_vec()),
            Write::Remove(b"gone".to_vec()),
            Write::Insert(b"k1".to_vec(), b"one".to_vec()),
            Write::Remove(b"k2".to_vec()),
            Write::Insert(b"k2".to_vec(), b"two".to_vec()),
            Write::Remove(b"never-there".to_vec()),
        ])
        .await
        .unwrap();
        t.apply(Vec::new()).await.unwrap();
        assert_eq!(
            t.entries().await.unwrap(),
            [
                (b"k1".to_vec(), b"one".to_vec()),
                (b"k2".to_vec(), b"two".to_vec())
            ],
            "{name}"
        );
    }
}

#[tokio::test]
async fn json_values_and_bounded_sets_work_on_every_backend() {
    for (name, store, _dir) in backends().await {
        store.put_json("t", "k", &vec![1, 2, 3]).await.unwrap();
        assert_eq!(
            store.get_json::<Vec<i32>>("t", "k").await.unwrap(),
            Some(vec![1, 2, 3])
        );
        store
            .tree("t")
            .unwrap()
            .insert("bad", "not json")
            .await
            .unwrap();
        let err = store.get_json::<Vec<i32>>("t", "bad").await.unwrap_err();
        assert!(err.to_string().contains("`bad`"), "{name}: {err}");
        assert!(store.remove("t", "k").await.unwrap(), "{name}");
        assert!(!store.remove("t", "k").await.unwrap(), "{name}");

        let set = BoundedSet::open(&store, "set", 2).await.unwrap();
        for key in ["a", "b", "c", "d", "e"] {
            assert_eq!(
                set.insert_if_absent(key.as_bytes(), b"").await.unwrap(),
                None,
                "{name}"
            );
        }
        assert!(
            !set.contains(b"a").await.unwrap(),
            "{name}: the oldest generation went"
        );
        assert!(set.contains(b"e").await.unwrap(), "{name}");
        assert!(set.len().await.unwrap() <= 4, "{name}");
    }
}

#[tokio::test]
async fn sled_data_survives_a_reopen_after_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.tree("t").unwrap().insert("k", "v").await.unwrap();
        store.flush().await.unwrap();
    }
    let store = crate::common::open_store(dir.path()).await;
    assert_eq!(
        store.tree("t").unwrap().get("k").await.unwrap(),
        Some(b"v".to_vec())
    );
}

#[tokio::test]
async fn the_transaction_log_runs_on_the_memory_backend() {
    use ghostkit::transaction::{LogConfig, TransactionLog};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::with_backend(dir.path(), MemoryBackend::new());
    let log = TransactionLog::open(&store, LogConfig::default())
        .await
        .unwrap();
    let body = crate::common::txn(&[crate::common::message("$m1", "!r:x.org", "hi")]);
    let items = crate::common::accept_new(&log, "t1", &body).await;
    assert_eq!(crate::common::ids(&items), ["$m1"]);
    assert!(matches!(
        log.accept("t1", body.clone().into()).await.unwrap(),
        ghostkit::transaction::Accepted::Duplicate
    ));
    log.item_done(items[0].seq, items[0].idx);
    log.persist_progress().await.unwrap();
    assert_eq!(log.pending_transactions(), 0);
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_and_every_file_in_it_are_private() {
    use ghostkit::transaction::{LogConfig, TransactionLog};
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("store");
    // A folder made earlier with the usual permissions is tightened too.
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    {
        let store = Store::open(&dir).unwrap();
        store.put_json("secrets", "k", &"hmac").await.unwrap();
        let log = TransactionLog::open(&store, LogConfig::default())
            .await
            .unwrap();
        let body = crate::common::txn(&[crate::common::message("$p", "!r:x.org", "x")]);
        log.accept("t1", body.into()).await.unwrap();
        store.flush().await.unwrap();
    }
    // Reopened: files the backend made since are tightened as well.
    drop(Store::open(&dir).unwrap());
    let mut seen = 0;
    let mut stack = vec![dir.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
            seen += 1;
        }
    }
    assert!(
        seen >= 3,
        "sled's files and the log's segment were checked ({seen})"
    );
}

#[test]
fn a_store_path_that_is_a_file_is_an_error_naming_it() {
    let parent = tempfile::tempdir().unwrap();
    let path = parent.path().join("not-a-folder");
    std::fs::write(&path, b"x").unwrap();
    let err = Store::open(&path).expect_err("a file is not a store");
    let text = err.to_string();
    assert!(text.contains("not-a-folder"), "{text}");
}

mod appservice;
mod damage;
mod disk_full;
