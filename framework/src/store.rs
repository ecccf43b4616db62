//! Durable state on disk: the transaction log, caches and bot data.
//!
//! [`Store`] is the handle everything uses. Its data lives in a [`Backend`]:
//! named [`Tree`]s of ordered byte keys and byte values. The default backend
//! is sled ([`SledBackend`], in `store/sled.rs`), embedded and needing no
//! set-up; [`PostgresBackend`] keeps the data in PostgreSQL, for a store
//! that must outlive one machine's disk; [`MemoryBackend`] keeps
//! everything in memory (tests, throw-away bots); another database plugs in
//! by implementing the async [`Backend`] and [`TreeBackend`] and calling
//! [`Store::with_backend`]. The transaction log's segment files live in the
//! store's folder whatever the backend.
//!
//! Bots keep their own data in named trees, as JSON values
//! ([`Store::get_json`], [`Store::put_json`]) or as bytes ([`Store::tree`]).
//! [`Store::flush`] is a group commit: concurrent callers share one flush.
//!
//! A store opened from disk notices a database that lost flushed writes
//! (see `store/integrity.rs`, [`IfDamaged`]), and a sled database that
//! failed a write is reopened until it works again ([`Store::healthy`]).

mod bounded;
mod integrity;
mod memory;
pub(crate) mod postgres;
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
pub use integrity::IfDamaged;
pub use memory::MemoryBackend;
pub use postgres::{Leadership, PostgresBackend, PostgresOptions};
pub use tree::{Backend, Entry, Tree, TreeBackend, Write};

/// A backend's own error, kept as the source of a [`StoreError`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("store at {path} failed: {source}; check the path is writable and not used by another process (if the database is damaged, restore the folder from a backup or start empty with --start-empty-if-damaged)")]
    Open {
        /// The store's folder.
        path: String,
        /// What the backend said.
        #[source]
        source: BackendError,
    },
    /// A database server could not be reached or refused the connection.
    #[error("cannot reach the PostgreSQL store ({database}): {source}; check `postgres_url` (GHOSTKIT_POSTGRES_URL): the address, the user and password, and that the server runs and accepts connections")]
    Connect {
        /// The database and server, without credentials.
        database: String,
        /// What the driver said.
        #[source]
        source: BackendError,
    },
    /// A read or write failed.
    #[error("store operation failed: {0}")]
    Io(#[source] BackendError),
    /// The database failed a write and cannot be used until it is reopened,
    /// which is tried again and again; the operation may work later as it is.
    #[error("the store at {path} cannot be written now ({source}); it is reopened until it can: free disk space or fix the file system")]
    Unavailable {
        /// The store's folder.
        path: String,
        /// The failure that stopped the database.
        #[source]
        source: BackendError,
    },
    /// The database lost writes it had flushed: its files were truncated,
    /// damaged, deleted or replaced by an older copy.
    #[error("the store database in {path} is damaged: it holds {found} of its {flushed} flushes (a file was truncated, damaged, deleted or replaced by an older copy). Restore the folder from a backup, or start with an empty database with --start-empty-if-damaged (GHOSTKIT_START_EMPTY_IF_DAMAGED=true), which keeps the damaged files in a damaged-<time> folder")]
    Damaged {
        /// The store's folder.
        path: String,
        /// How many flushes the database had made durable.
        flushed: u64,
        /// How many it holds.
        found: u64,
    },
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

impl StoreError {
    /// Whether the operation may work later as it is: the database failed
    /// and is being reopened ([`StoreError::Unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(Box::new(e))
    }
}

/// A handle to the on-disk store; cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ghostkit::store::StoreError> {
/// let store = ghostkit::Store::temporary()?;
/// store.put_json("reminders", "r1", &vec!["buy milk"]).await?;
/// let got: Option<Vec<String>> = store.get_json("reminders", "r1").await?;
/// assert_eq!(got.unwrap(), vec!["buy milk".to_string()]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    flusher: Arc<Flusher>,
    dir: Arc<StoreDir>,
    counter: Option<Arc<integrity::Counter>>,
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
    /// Opens (or creates) the store in the folder `path`, with sled;
    /// refuses a damaged database ([`IfDamaged::Refuse`]).
    ///
    /// The folder and every file in it are made readable by the bot's own
    /// user only (`0700` / `0600`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, IfDamaged::Refuse)
    }

    /// Opens (or creates) the store in the folder `path`, with sled, doing
    /// `if_damaged` when the database lost flushed writes or is corrupt.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ghostkit::store::StoreError> {
    /// use ghostkit::store::{IfDamaged, Store};
    /// let dir = std::env::temp_dir().join(format!("ghostkit-doc-open-with-{}", std::process::id()));
    /// let store = Store::open_with(&dir, IfDamaged::Refuse)?;
    /// store.put_json("t", "k", &1).await?;
    /// store.flush().await?;
    /// # drop(store); std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    pub fn open_with(path: impl AsRef<Path>, if_damaged: IfDamaged) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let file_error = |source| StoreError::File {
            path: path.display().to_string(),
            source,
        };
        private::create_dir(path).map_err(file_error)?;
        let flushed = integrity::in_file(path)?;
        let (backend, counter) = match Self::open_checked(path, flushed) {
            Err(e) if if_damaged == IfDamaged::StartEmpty && damaged(&e) => {
                let aside = integrity::move_aside(path)?;
                tracing::error!(
                    path = %path.display(),
                    kept = %aside.display(),
                    error = %e,
                    "the store database is damaged; starting with an empty one as configured"
                );
                Self::open_checked(path, None)?
            }
            other => other?,
        };
        private::tighten(path).map_err(file_error)?;
        let mut store = Self::with_backend(path, backend);
        store.counter = Some(Arc::new(integrity::Counter::new(
            store.tree(integrity::TREE)?,
            path,
            counter,
        )));
        Ok(store)
    }

    /// Opens sled in `path` and checks its flush counter against `flushed`.
    fn open_checked(path: &Path, flushed: Option<u64>) -> Result<(SledBackend, u64), StoreError> {
        let backend = SledBackend::open(path)?;
        let found = integrity::in_database_now(&backend)?;
        match flushed {
            Some(flushed) if found < flushed => Err(StoreError::Damaged {
                path: path.display().to_string(),
                flushed,
                found,
            }),
            _ => Ok((backend, found)),
        }
    }

    /// A store whose data lives in `backend`; the transaction log's files go
    /// in the folder `path`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ghostkit::store::StoreError> {
    /// use ghostkit::store::{MemoryBackend, Store};
    /// let dir = std::env::temp_dir().join("ghostkit-doc-with-backend");
    /// let store = Store::with_backend(&dir, MemoryBackend::new());
    /// store.put_json("t", "k", &1).await?;
    /// assert_eq!(store.get_json::<i32>("t", "k").await?, Some(1));
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
            counter: None,
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
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        tree: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.tree(tree)?.get(key).await? {
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
    pub async fn put_json<T: Serialize>(
        &self,
        tree: &str,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Value {
            key: key.to_owned(),
            source,
        })?;
        self.tree(tree)?.insert(key, bytes).await?;
        Ok(())
    }

    /// Removes `key` from `tree`; true when it was there.
    pub async fn remove(&self, tree: &str, key: &str) -> Result<bool, StoreError> {
        Ok(self.tree(tree)?.remove(key).await?.is_some())
    }

    /// Makes every write made before this call durable on disk.
    ///
    /// Concurrent callers are grouped: while one flush runs, later callers wait
    /// for the next one, which then covers all of them.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.flusher
            .flush(&self.backend, self.counter.as_ref(), false)
            .await
    }

    /// A flush that also records, beside the database, how many flushes it
    /// holds, so that a database losing them is found at the next open.
    /// Run at a clean stop; [`Store::flush`] records it at most once a second.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if !self.backend.healthy() {
            self.recover().await;
        }
        self.flusher
            .flush(&self.backend, self.counter.as_ref(), true)
            .await
    }

    /// Whether the store can write now; false while a failed database
    /// waits to be reopened (see [`Backend::healthy`]).
    pub fn healthy(&self) -> bool {
        self.backend.healthy()
    }

    /// Tries to reopen a failed database now; true when the store can
    /// write afterwards.
    pub async fn recover(&self) -> bool {
        self.backend.recover().await
    }
}

/// Whether an open failed because the database is damaged (rather than,
/// say, locked by another process or not writable).
fn damaged(e: &StoreError) -> bool {
    match e {
        StoreError::Damaged { .. } => true,
        StoreError::Open { source, .. } => matches!(
            source.downcast_ref::<::sled::Error>(),
            Some(::sled::Error::Corruption { .. } | ::sled::Error::ReportableBug(_))
        ),
        _ => false,
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
    async fn flush(
        &self,
        backend: &Arc<dyn Backend>,
        counter: Option<&Arc<integrity::Counter>>,
        always_record: bool,
    ) -> Result<(), StoreError> {
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
                let value = match counter {
                    Some(c) => Some(c.before_flush().await?),
                    None => None,
                };
                backend.flush().await?;
                if let (Some(c), Some(v)) = (counter, value) {
                    c.after_flush(v, always_record).await?;
                }
                self.done.send_modify(|d| *d = (*d).max(covered));
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return Ok(());
            }
        }
    }
}
