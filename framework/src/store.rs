//! Durable state on disk: the transaction log, caches and bot data.
//!
//! [`Store`] wraps one sled database. Bots keep their own data in named
//! [`Store::tree`]s as JSON values ([`Store::get_json`], [`Store::put_json`]).
//! [`Store::flush`] is a group commit: concurrent callers share one flush to
//! disk, which is what lets concurrent transactions be acknowledged quickly.

mod bounded;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{watch, Mutex};

pub use bounded::BoundedSet;

/// Everything that can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("store at {path} failed: {source}; check the path is writable and not used by another process")]
    Open {
        /// The store's folder.
        path: String,
        /// What sled said.
        #[source]
        source: sled::Error,
    },
    /// A read or write failed.
    #[error("store operation failed: {0}")]
    Io(#[source] sled::Error),
    /// A stored value could not be (de)serialized.
    #[error("stored value under `{key}` is not the expected JSON: {source}")]
    Value {
        /// The key.
        key: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Io(e)
    }
}

/// A handle to the on-disk store; cheap to clone.
///
/// ```
/// # fn main() -> Result<(), ghostkit::store::StoreError> {
/// let store = ghostkit::Store::temporary()?;
/// store.put_json("reminders", "r1", &vec!["buy milk"])?;
/// let got: Option<Vec<String>> = store.get_json("reminders", "r1")?;
/// assert_eq!(got.unwrap(), vec!["buy milk".to_string()]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    flusher: Arc<Flusher>,
    dir: Arc<StoreDir>,
}

/// The store's folder; a temporary one is deleted with the last handle.
struct StoreDir {
    path: PathBuf,
    temporary: bool,
}

impl Drop for StoreDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store in the folder `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(4 * 1024 * 1024)
            .flush_every_ms(Some(200))
            .open()
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self::from_db(db, path.to_owned(), false))
    }

    /// A store in a temporary folder that is deleted when dropped (tests, examples).
    pub fn temporary() -> Result<Self, StoreError> {
        use rand::Rng;
        let name = format!("ghostkit-{:016x}", rand::thread_rng().gen::<u64>());
        let path = std::env::temp_dir().join(name);
        let mut store = Self::open(&path)?;
        store.dir = Arc::new(StoreDir {
            path,
            temporary: true,
        });
        Ok(store)
    }

    /// The store's folder.
    pub fn path(&self) -> &Path {
        &self.dir.path
    }

    fn from_db(db: sled::Db, path: PathBuf, temporary: bool) -> Self {
        let (tx, _) = watch::channel(0u64);
        Store {
            db,
            flusher: Arc::new(Flusher {
                requested: std::sync::atomic::AtomicU64::new(0),
                done: tx,
                lock: Mutex::new(()),
            }),
            dir: Arc::new(StoreDir { path, temporary }),
        }
    }

    /// A named tree (a key space) for the bot's own data.
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Reads a JSON value from `tree` under `key`.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        tree: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.tree(tree)?.get(key)? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| StoreError::Value {
                        key: key.to_owned(),
                        source,
                    })
            }
        }
    }

    /// Writes a JSON value to `tree` under `key` (durable after the next [`Store::flush`]).
    pub fn put_json<T: Serialize>(
        &self,
        tree: &str,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Value {
            key: key.to_owned(),
            source,
        })?;
        self.tree(tree)?.insert(key, bytes)?;
        Ok(())
    }

    /// Removes `key` from `tree`; true when it was there.
    pub fn remove(&self, tree: &str, key: &str) -> Result<bool, StoreError> {
        Ok(self.tree(tree)?.remove(key)?.is_some())
    }

    /// Makes every write made before this call durable on disk.
    ///
    /// Concurrent callers are grouped: while one flush runs, later callers wait
    /// for the next one, which then covers all of them.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.flusher.flush(&self.db).await
    }

    /// The underlying sled database, for advanced use.
    ///
    /// Its folder is [`Store::path`]`/db`-like internals of sled; the
    /// transaction log's segments are in `txnlog/` beside them.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}

/// Group commit: a ticket is taken before waiting; a flush that *started*
/// after the ticket was taken covers it.
struct Flusher {
    requested: std::sync::atomic::AtomicU64,
    done: watch::Sender<u64>,
    lock: Mutex<()>,
}

impl Flusher {
    async fn flush(&self, db: &sled::Db) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = self.done.subscribe();
        loop {
            if *rx.borrow_and_update() >= ticket {
                return Ok(());
            }
            // Either become the flusher, or wait for the running flush to end.
            if let Ok(_guard) = self.lock.try_lock() {
                if *self.done.borrow() >= ticket {
                    return Ok(());
                }
                let covered = self.requested.load(Ordering::SeqCst);
                let db = db.clone();
                let res = tokio::task::spawn_blocking(move || db.flush())
                    .await
                    .map_err(|e| StoreError::Io(sled::Error::ReportableBug(e.to_string())))?;
                res?;
                self.done.send_modify(|d| *d = (*d).max(covered));
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return Ok(());
            }
        }
    }
}
