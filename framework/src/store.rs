//! Durable state on disk: the transaction log, caches and bot data.
//!
//! [`Store`] is the handle everything uses. Its data lives in a [`Backend`]:
//! named [`Tree`]s of ordered byte keys and byte values. The default backend
//! is sled ([`SledBackend`], in `store/sled.rs`); [`MemoryBackend`] keeps
//! everything in memory (tests, throw-away bots); another database plugs in
//! by implementing [`Backend`] and [`TreeBackend`] and calling
//! [`Store::with_backend`]. The transaction log's segment files live in the
//! store's folder whatever the backend.
//!
//! Bots keep their own data in named trees, as JSON values
//! ([`Store::get_json`], [`Store::put_json`]) or as bytes ([`Store::tree`]).
//! [`Store::flush`] is a group commit: concurrent callers share one flush.

mod bounded;
mod memory;
pub(crate) mod private;
mod sled;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{watch, Mutex};

pub use self::sled::SledBackend;
pub use bounded::BoundedSet;
pub use memory::MemoryBackend;
pub use tree::{Backend, Entry, Tree, TreeBackend};

/// A backend's own error, kept as the source of a [`StoreError`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("store at {path} failed: {source}; check the path is writable and not used by another process")]
    Open {
        /// The store's folder.
        path: String,
        /// What the backend said.
        #[source]
        source: BackendError,
    },
    /// A read or write failed.
    #[error("store operation failed: {0}")]
    Io(#[source] BackendError),
    /// A file or folder of the store could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file or folder.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
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

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(Box::new(e))
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
    backend: Arc<dyn Backend>,
    flusher: Arc<Flusher>,
    dir: Arc<StoreDir>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.dir.path)
            .finish_non_exhaustive()
    }
}

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

impl Store {
    /// Opens (or creates) the store in the folder `path`, with sled.
    ///
    /// The folder and every file in it are made readable by the bot's own
    /// user only (`0700` / `0600`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let file_error = |source| StoreError::File {
            path: path.display().to_string(),
            source,
        };
        private::create_dir(path).map_err(file_error)?;
        let backend = SledBackend::open(path)?;
        private::tighten(path).map_err(file_error)?;
        Ok(Self::with_backend(path, backend))
    }

    /// A store whose data lives in `backend`; the transaction log's files go
    /// in the folder `path`.
    ///
    /// ```
    /// # fn main() -> Result<(), ghostkit::store::StoreError> {
    /// use ghostkit::store::{MemoryBackend, Store};
    /// let dir = std::env::temp_dir().join("ghostkit-doc-with-backend");
    /// let store = Store::with_backend(&dir, MemoryBackend::new());
    /// store.put_json("t", "k", &1)?;
    /// assert_eq!(store.get_json::<i32>("t", "k")?, Some(1));
    /// # Ok(()) }
    /// ```
    pub fn with_backend(path: impl AsRef<Path>, backend: impl Backend) -> Self {
        let (tx, _) = watch::channel(0u64);
        Store {
            backend: Arc::new(backend),
            flusher: Arc::new(Flusher {
                requested: std::sync::atomic::AtomicU64::new(0),
                done: tx,
                lock: Mutex::new(()),
            }),
            dir: Arc::new(StoreDir {
                path: path.as_ref().to_owned(),
                temporary: false,
            }),
        }
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

    /// A named tree (a key space) for the bot's own data.
    pub fn tree(&self, name: &str) -> Result<Tree, StoreError> {
        Ok(Tree::new(self.backend.open_tree(name)?))
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

    /// Makes every write made before this call durable, blocking the thread
    /// (for code outside async: tests, a final save). Async code calls
    /// [`Store::flush`].
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.backend.flush()
    }

    /// Makes every write made before this call durable on disk.
    ///
    /// Concurrent callers are grouped: while one flush runs, later callers wait
    /// for the next one, which then covers all of them.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.flusher.flush(&self.backend).await
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
    async fn flush(&self, backend: &Arc<dyn Backend>) -> Result<(), StoreError> {
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
                let backend = backend.clone();
                tokio::task::spawn_blocking(move || backend.flush())
                    .await
                    .map_err(|e| StoreError::Io(Box::new(e)))??;
                self.done.send_modify(|d| *d = (*d).max(covered));
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return Ok(());
            }
        }
    }
}
