//! A full disk, and a read-only file system, under a real sled store: the failure is reported as
//! "unavailable", the store reopens by itself once there is room, and no
//! write that was answered `Ok` is lost, also across a reopen and a restart.

use std::time::Duration;

use ghostkit::store::Store;

use crate::tmpfs::Tmpfs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_the_store_unavailable_and_it_recovers_without_losing_a_write() {
    crate::common::init_tracing();
    let Some(fs) = Tmpfs::mount(16) else { return };
    let dir = fs.path().join("store");
    let store = Store::open(&dir).unwrap();
    let tree = store.tree("bot").unwrap();
    for i in 0..100 {
        tree.insert(format!("before{i:03}"), vec![b'b'; 64])
            .await
            .unwrap();
    }
    store.flush().await.unwrap();

    let filler = fs.fill();
    // Writes sled takes into its buffers, until one of them (or a flush)
    // meets the full disk.
    let mut accepted = Vec::new();
    let mut failure = None;
    for i in 0..100_000 {
        let key = format!("during{i:06}");
        let res = tree.insert(&key, vec![b'd'; 256]).await;
        let res = match res {
            Ok(_) => {
                accepted.push(key);
                if i % 50 == 49 {
                    store.flush().await
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            failure = Some(e);
            break;
        }
    }
    let failure = failure.expect("the full disk fails a write or a flush");
    assert!(failure.is_unavailable(), "{failure}");
    assert!(!store.healthy(), "the store says it cannot write");
    assert!(
        failure.to_string().contains(&dir.display().to_string()),
        "names the store: {failure}"
    );
    // Still full: reopening does not help yet, and nothing is lost by trying.
    assert!(!store.recover().await);
    assert!(tree.insert("still-full", b"x").await.is_err());

    std::fs::remove_file(&filler).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tree.insert("after", b"a").await.is_err() || !store.healthy() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.flush().await.unwrap();
    for key in &accepted {
        assert!(
            tree.contains_key(key).await.unwrap(),
            "{key} was answered Ok and is there after the reopen"
        );
    }
    drop(tree);
    store.checkpoint().await.unwrap();
    drop(store);

    let store = Store::open(&dir).unwrap();
    let tree = store.tree("bot").unwrap();
    assert_eq!(tree.scan_prefix("before").await.unwrap().len(), 100);
    let mut lost: Vec<&String> = Vec::new();
    for key in &accepted {
        if !tree.contains_key(key).await.unwrap() {
            lost.push(key);
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} accepted writes lost: {:?}",
        lost.len(),
        accepted.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(tree.contains_key("after").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_file_system_is_refused_at_open_naming_the_folder_and_loses_nothing() {
    let Some(fs) = Tmpfs::mount(16) else { return };
    let dir = fs.path().join("store");
    {
        let store = Store::open(&dir).unwrap();
        store.put_json("bot", "kept", &42).await.unwrap();
        store.checkpoint().await.unwrap();
    }
    fs.remount(true);
    let err = Store::open(&dir).expect_err("a read-only store cannot be opened for writing");
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.display().to_string()),
        "names the folder: {msg}"
    );
    fs.remount(false);
    let store = Store::open(&dir).unwrap();
    assert_eq!(
        store.get_json::<i32>("bot", "kept").await.unwrap(),
        Some(42)
    );
}
