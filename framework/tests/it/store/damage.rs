//! A database that lost flushed writes (a damaged, truncated or deleted
//! file) is refused at open with an error naming the folder, unless the
//! operator asked to start empty; a sound one opens every time.

use std::path::Path;

use ghostkit::store::{IfDamaged, Store, StoreError};

const ENTRIES: usize = 2_000;

/// A store in `dir` holding `ENTRIES` entries, flushed every 100, closed
/// cleanly (checkpointed).
async fn filled(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let tree = store.tree("bot").unwrap();
    for i in 0..ENTRIES {
        tree.insert(format!("k{i:05}"), vec![b'v'; 100])
            .await
            .unwrap();
        if i % 100 == 99 {
            store.flush().await.unwrap();
        }
    }
    store.checkpoint().await.unwrap();
}

async fn entries(store: &Store) -> usize {
    store.tree("bot").unwrap().len().await.unwrap()
}

/// What opening `dir` gives after `damage` was done to its `db` file.
async fn open_after(damage: impl FnOnce(&Path)) -> (tempfile::TempDir, Result<Store, StoreError>) {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path()).await;
    damage(&dir.path().join("db"));
    let opened = Store::open(dir.path());
    (dir, opened)
}

async fn assert_refused(what: &str, opened: Result<Store, StoreError>, dir: &Path) {
    match opened {
        Ok(store) => panic!(
            "{what}: the damaged store opened with {} of {ENTRIES} entries",
            entries(&store).await
        ),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                matches!(e, StoreError::Damaged { .. } | StoreError::Open { .. }),
                "{what}: {msg}"
            );
            assert!(
                msg.contains(&dir.display().to_string()),
                "{what}: names the folder: {msg}"
            );
            assert!(
                msg.contains("--start-empty-if-damaged"),
                "{what}: says what to do: {msg}"
            );
        }
    }
}

#[tokio::test]
async fn a_sound_store_reopens_with_everything_after_clean_stops_and_after_crashes() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path()).await;
    for round in 0..3 {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(entries(&store).await, ENTRIES, "round {round}");
        // A write flushed but never checkpointed: a crash after it.
        store
            .put_json("more", &format!("r{round}"), &round)
            .await
            .unwrap();
        store.flush().await.unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.tree("more").unwrap().len().await.unwrap(), 3);
}

#[tokio::test]
async fn a_deleted_database_file_is_refused() {
    let (dir, opened) = open_after(|db| std::fs::remove_file(db).unwrap()).await;
    assert_refused("deleted", opened, dir.path()).await;
}

#[tokio::test]
async fn a_truncated_database_file_is_refused() {
    let (dir, opened) = open_after(|db| {
        let len = std::fs::metadata(db).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
        f.set_len(len / 2).unwrap();
    })
    .await;
    assert_refused("truncated", opened, dir.path()).await;
}

#[tokio::test]
async fn a_flipped_byte_in_the_database_file_is_refused() {
    let (dir, opened) = open_after(|db| {
        let mut bytes = std::fs::read(db).unwrap();
        let at = bytes.len() / 3;
        bytes[at] ^= 0x40;
        std::fs::write(db, bytes).unwrap();
    })
    .await;
    assert_refused("flipped byte", opened, dir.path()).await;
}

#[tokio::test]
async fn starting_empty_is_the_operators_choice_and_keeps_the_damaged_files_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path()).await;
    std::fs::create_dir_all(dir.path().join("txnlog")).unwrap();
    std::fs::write(dir.path().join("txnlog/keep"), b"log").unwrap();
    std::fs::remove_file(dir.path().join("db")).unwrap();
    let store = Store::open_with(dir.path(), IfDamaged::StartEmpty).unwrap();
    assert_eq!(entries(&store).await, 0);
    store.put_json("bot", "new", &1).await.unwrap();
    store.checkpoint().await.unwrap();
    drop(store);
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "one folder of damaged files");
    assert!(
        aside[0].path().join("conf").exists(),
        "sled's files went aside"
    );
    assert_eq!(
        std::fs::read(dir.path().join("txnlog/keep")).unwrap(),
        b"log"
    );
    // The new database is sound from then on.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get_json::<i32>("bot", "new").await.unwrap(), Some(1));
}
