//! The default backend: sled, an embedded database in the store's folder.
//!
//! sled keeps the first I/O error it meets (a full disk, a failed write) and
//! fails every later write with it, also once the cause is gone; only a new
//! open clears it. So a failed operation marks the backend failed
//! ([`Backend::healthy`] turns false, and every operation answers
//! [`StoreError::Unavailable`]), and the next operation after a pause
//! (200 ms, doubling up to 10 s) closes and reopens the database. sled's
//! recovery then reads back everything flushed before the fault.
//!
//! Trees are looked up in the open database at each call, so a reopen
//! reaches every [`Tree`](super::Tree) handed out before it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{Backend, Entry, StoreError, TreeBackend};

/// The first pause before a failed database is reopened.
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between two reopen attempts.
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// sled as a [`Backend`]: what [`Store::open`](super::Store::open) uses.
#[derive(Clone)]
pub struct SledBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SledBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledBackend")
            .field("path", &self.inner.path)
            .field("healthy", &self.healthy())
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    /// The open database; `None` between a failed reopen and the next.
    open: RwLock<Option<Open>>,
    failed: AtomicBool,
    retry: Mutex<Retry>,
}

struct Open {
    db: sled::Db,
    trees: Mutex<HashMap<String, sled::Tree>>,
}

struct Retry {
    next: Instant,
    pause: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn open_db(path: &Path) -> sled::Result<sled::Db> {
    sled::Config::new()
        .path(path)
        .cache_capacity(4 * 1024 * 1024)
        .flush_every_ms(Some(200))
        .open()
}

impl SledBackend {
    /// Opens (or creates) the database in `path`: a 4 MiB cache, and a
    /// background flush every 200 ms besides the explicit ones.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = open_db(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source: Box::new(source),
        })?;
        Ok(SledBackend {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                open: RwLock::new(Some(Open {
                    db,
                    trees: Mutex::new(HashMap::new()),
                })),
                failed: AtomicBool::new(false),
                retry: Mutex::new(Retry {
                    next: Instant::now(),
                    pause: FIRST_PAUSE,
                }),
            }),
        })
    }
}

impl Inner {
    fn unavailable(&self, source: impl Into<super::BackendError>) -> StoreError {
        StoreError::Unavailable {
            path: self.path.display().to_string(),
            source: source.into(),
        }
    }

    /// Runs `f` on the open database, reopening a failed one first when its
    /// pause is over.
    fn with_db<T>(&self, f: impl FnOnce(&Open) -> sled::Result<T>) -> Result<T, StoreError> {
        if self.failed.load(Ordering::Acquire) {
            self.reopen(false);
        }
        let guard = self.open.read().unwrap_or_else(|p| p.into_inner());
        let Some(open) = guard.as_ref() else {
            return Err(self.unavailable("the database is closed until it can be reopened"));
        };
        f(open).map_err(|e| self.failure(e))
    }

    fn with_tree<T>(
        &self,
        name: &str,
        f: impl FnOnce(&sled::Tree) -> sled::Result<T>,
    ) -> Result<T, StoreError> {
        self.with_db(|open| {
            let tree = {
                let mut trees = lock(&open.trees);
                match trees.get(name) {
                    Some(t) => t.clone(),
                    None => {
                        let t = open.db.open_tree(name)?;
                        trees.insert(name.to_owned(), t.clone());
                        t
                    }
                }
            };
            f(&tree)
        })
    }

    /// Turns a sled error into ours; an I/O error or damage marks the
    /// database failed, to be reopened.
    fn failure(&self, e: sled::Error) -> StoreError {
        match e {
            sled::Error::Io(_) | sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => {
                if !self.failed.swap(true, Ordering::AcqRel) {
                    tracing::error!(
                        path = %self.path.display(),
                        error = %e,
                        "the store cannot be written; it is reopened until it can (is the disk full?)"
                    );
                    let mut retry = lock(&self.retry);
                    retry.next = Instant::now() + FIRST_PAUSE;
                    retry.pause = FIRST_PAUSE;
                }
                self.unavailable(e)
            }
            other => StoreError::Io(Box::new(other)),
        }
    }

    /// Closes and reopens a failed database, if its pause is over (or at
    /// once when `now`). True when the database is usable afterwards.
    fn reopen(&self, now: bool) -> bool {
        {
            let mut retry = lock(&self.retry);
            if !self.failed.load(Ordering::Acquire) {
                return true;
            }
            if !now && Instant::now() < retry.next {
                return false;
            }
            retry.pause = (retry.pause * 2).min(MAX_PAUSE);
            retry.next = Instant::now() + retry.pause;
        }
        // Waits for calls in progress; their trees go with the old database.
        let mut open = self.open.write().unwrap_or_else(|p| p.into_inner());
        if !self.failed.load(Ordering::Acquire) {
            return true;
        }
        drop(open.take());
        match open_db(&self.path) {
            Ok(db) => {
                *open = Some(Open {
                    db,
                    trees: Mutex::new(HashMap::new()),
                });
                self.failed.store(false, Ordering::Release);
                lock(&self.retry).pause = FIRST_PAUSE;
                tracing::info!(path = %self.path.display(), "the store was reopened");
                true
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "the store cannot be reopened yet");
                false
            }
        }
    }
}

impl Backend for SledBackend {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn TreeBackend>, StoreError> {
        self.inner.with_tree(name, |_| Ok(()))?;
        Ok(Arc::new(SledTree {
            name: name.to_owned(),
            inner: self.inner.clone(),
        }))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.inner.with_db(|open| open.db.flush().map(|_| ()))
    }

    fn healthy(&self) -> bool {
        !self.inner.failed.load(Ordering::Acquire)
    }

    fn recover(&self) -> bool {
        self.inner.reopen(true)
    }
}

/// One tree, found by name in the database open at each call.
struct SledTree {
    name: String,
    inner: Arc<Inner>,
}

fn owned(v: Option<sled::IVec>) -> Option<Vec<u8>> {
    v.map(|v| v.to_vec())
}

impl TreeBackend for SledTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.with_tree(&self.name, |t| t.get(key).map(owned))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner
            .with_tree(&self.name, |t| t.insert(key, value).map(owned))
    }

    fn insert_if_absent(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.with_tree(&self.name, |t| {
            Ok(
                match t.compare_and_swap(key, None as Option<&[u8]>, Some(value))? {
                    Ok(()) => None,
                    Err(e) => owned(e.current),
                },
            )
        })
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner
            .with_tree(&self.name, |t| t.remove(key).map(owned))
    }

    fn scan_prefix<'a>(
        &'a self,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + Send + 'a> {
        let iter = match self
            .inner
            .with_tree(&self.name, |t| Ok(t.scan_prefix(prefix)))
        {
            Ok(iter) => iter,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let inner = self.inner.clone();
        // A failed database answers errors for ever: stop at the first.
        let mut failed = false;
        Box::new(iter.map_while(move |r| {
            if failed {
                return None;
            }
            Some(match r {
                Ok((k, v)) => Ok((k.to_vec(), v.to_vec())),
                Err(e) => {
                    failed = true;
                    Err(inner.failure(e))
                }
            })
        }))
    }

    fn len(&self) -> usize {
        // sled's own count never ends on a failed database.
        self.scan_prefix(&[]).take_while(Result::is_ok).count()
    }

    fn is_empty(&self) -> bool {
        self.scan_prefix(&[]).next().is_none()
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.inner.with_tree(&self.name, |t| t.clear())
    }
}
