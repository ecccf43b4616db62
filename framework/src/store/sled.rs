//! The default backend: sled, an embedded database in the store's folder.
//!
//! sled keeps the first I/O error it meets (a full disk, a failed write) and
//! fails every later write with it, also once the cause is gone; only a new
//! open clears it. So a failed operation marks the backend failed
//! ([`Backend::healthy`] turns false, and every operation answers
//! [`StoreError::Unavailable`]), and the next operation after a pause
//! (200 ms, doubling up to 10 s) closes and reopens the database. sled's
//! recovery then reads back everything flushed before the fault, and the
//! writes sled took since the last flush, which it lost with its buffers,
//! are applied again from a copy kept until a flush holds them (the redo
//! list). So a fault loses no write that was answered `Ok`.
//!
//! Trees are looked up in the open database at each call, so a reopen
//! reaches every [`Tree`](super::Tree) handed out before it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Backend, Entry, StoreError, TreeBackend, Write};
use crate::backoff::{Backoff, Steps};

/// The pauses before a failed database is reopened: 200 ms, doubling up to 10 s.
const REOPEN: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
/// Bytes of writes kept for a reopen past which a write flushes at once
/// (the appservice flushes far more often).
const REDO_LIMIT: usize = 32 * 1024 * 1024;

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
    redo: Mutex<Redo>,
}

/// Writes sled answered `Ok` since the last flush began, in order.
#[derive(Default)]
struct Redo {
    /// The number of `ops[0]` among every write ever kept.
    first: u64,
    ops: Vec<Op>,
    bytes: usize,
}

impl Redo {
    /// Forgets the writes numbered below `upto`.
    fn forget_before(&mut self, upto: u64) {
        let n = (upto.saturating_sub(self.first) as usize).min(self.ops.len());
        let freed: usize = self.ops.drain(..n).map(|op| op.bytes()).sum();
        self.first += n as u64;
        self.bytes = self.bytes.saturating_sub(freed);
    }
}

enum Op {
    Insert(Arc<str>, Box<[u8]>, Box<[u8]>),
    Remove(Arc<str>, Box<[u8]>),
    Clear(Arc<str>),
}

impl Op {
    fn apply(&self, db: &sled::Db) -> sled::Result<()> {
        match self {
            Op::Insert(tree, k, v) => db.open_tree(&**tree)?.insert(&**k, &**v).map(|_| ()),
            Op::Remove(tree, k) => db.open_tree(&**tree)?.remove(&**k).map(|_| ()),
            Op::Clear(tree) => db.open_tree(&**tree)?.clear(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Op::Insert(_, k, v) => k.len() + v.len() + 32,
            Op::Remove(_, k) => k.len() + 32,
            Op::Clear(_) => 32,
        }
    }
}

struct Open {
    db: sled::Db,
    trees: Mutex<HashMap<String, sled::Tree>>,
}

struct Retry {
    next: Instant,
    pauses: Steps,
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
                    pauses: REOPEN.steps(),
                }),
                redo: Mutex::new(Redo::default()),
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

    /// Keeps `op`, which sled answered `Ok`, until a flush holds it. Called
    /// while the database that took it is open (under the read lock), so a
    /// reopen sees it. True when the kept writes are over their limit.
    fn record(&self, op: Op) -> bool {
        let mut redo = lock(&self.redo);
        redo.bytes += op.bytes();
        redo.ops.push(op);
        redo.bytes > REDO_LIMIT
    }

    /// Flushes, then forgets the writes kept from before it began.
    fn flush(&self) -> Result<(), StoreError> {
        let upto = {
            let redo = lock(&self.redo);
            redo.first + redo.ops.len() as u64
        };
        self.with_db(|open| open.db.flush().map(|_| ()))?;
        lock(&self.redo).forget_before(upto);
        Ok(())
    }

    /// Opens the database again and applies the kept writes.
    fn open_and_redo(&self) -> sled::Result<sled::Db> {
        let db = open_db(&self.path)?;
        let mut redo = lock(&self.redo);
        for op in &redo.ops {
            op.apply(&db)?;
        }
        db.flush()?;
        let applied = redo.ops.len();
        let upto = redo.first + applied as u64;
        redo.forget_before(upto);
        drop(redo);
        if applied > 0 {
            tracing::info!(
                writes = applied,
                "writes lost with the failed store were applied again"
            );
        }
        Ok(db)
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
                    retry.pauses.reset();
                    retry.next = Instant::now() + retry.pauses.next_delay();
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
            retry.next = Instant::now() + retry.pauses.next_delay();
        }
        // Waits for calls in progress; their trees go with the old database.
        let mut open = self.open.write().unwrap_or_else(|p| p.into_inner());
        if !self.failed.load(Ordering::Acquire) {
            return true;
        }
        drop(open.take());
        match self.open_and_redo() {
            Ok(db) => {
                *open = Some(Open {
                    db,
                    trees: Mutex::new(HashMap::new()),
                });
                self.failed.store(false, Ordering::Release);
                lock(&self.retry).pauses.reset();
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

impl SledBackend {
    /// The value of `key` in tree `name`, read at once (for the checks at
    /// open, outside async).
    pub(super) fn get_now(&self, name: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.with_tree(name, |t| t.get(key).map(owned))
    }
}

#[async_trait]
impl Backend for SledBackend {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn TreeBackend>, StoreError> {
        self.inner.with_tree(name, |_| Ok(()))?;
        Ok(Arc::new(SledTree {
            name: name.into(),
            inner: self.inner.clone(),
        }))
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.flush())
            .await
            .map_err(|e| StoreError::Io(Box::new(e)))?
    }

    fn healthy(&self) -> bool {
        !self.inner.failed.load(Ordering::Acquire)
    }

    async fn recover(&self) -> bool {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.reopen(true))
            .await
            .unwrap_or(false)
    }
}

/// One tree, found by name in the database open at each call.
struct SledTree {
    name: Arc<str>,
    inner: Arc<Inner>,
}

impl SledTree {
    /// Runs a write on the tree; `op` says what to keep for a reopen when
    /// the write changed something (`None`: nothing to keep).
    fn write<T>(
        &self,
        f: impl FnOnce(&sled::Tree) -> sled::Result<T>,
        op: impl FnOnce(&T, Arc<str>) -> Option<Op>,
    ) -> Result<T, StoreError> {
        let mut over = false;
        let out = self.inner.with_tree(&self.name, |t| {
            let out = f(t)?;
            if let Some(op) = op(&out, self.name.clone()) {
                over = self.inner.record(op);
            }
            Ok(out)
        })?;
        if over {
            // A failure here is the next caller's.
            let _ = self.inner.flush();
        }
        Ok(out)
    }
}

fn owned(v: Option<sled::IVec>) -> Option<Vec<u8>> {
    v.map(|v| v.to_vec())
}

#[async_trait]
impl TreeBackend for SledTree {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.with_tree(&self.name, |t| t.get(key).map(owned))
    }

    async fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.write(
            |t| t.insert(key, value).map(owned),
            |_, t| Some(Op::Insert(t, key.into(), value.into())),
        )
    }

    async fn insert_if_absent(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.with_tree(&self.name, |t| {
            Ok(
                match t.compare_and_swap(key, None as Option<&[u8]>, Some(value))? {
                    Ok(()) => None,
                    Err(e) => owned(e.current),
                },
            )
        })
    }

    async fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.write(
            |t| t.remove(key).map(owned),
            |old, t| old.is_some().then(|| Op::Remove(t, key.into())),
        )
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        let iter = self
            .inner
            .with_tree(&self.name, |t| Ok(t.scan_prefix(prefix)))?;
        iter.map(|r| match r {
            Ok((k, v)) => Ok((k.to_vec(), v.to_vec())),
            Err(e) => Err(self.inner.failure(e)),
        })
        .collect()
    }

    async fn first(&self) -> Result<Option<Entry>, StoreError> {
        self.inner.with_tree(&self.name, |t| {
            t.first().map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
        })
    }

    async fn len(&self) -> Result<usize, StoreError> {
        // sled's own count never ends on a failed database.
        Ok(self.scan_prefix(&[]).await?.len())
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.first().await?.is_none())
    }

    async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for w in &writes {
            match w {
                Write::Insert(k, v) => batch.insert(&k[..], &v[..]),
                Write::Remove(k) => batch.remove(&k[..]),
            }
        }
        let mut over = false;
        self.inner.with_tree(&self.name, |t| {
            t.apply_batch(batch)?;
            for w in writes {
                let op = match w {
                    Write::Insert(k, v) => Op::Insert(self.name.clone(), k.into(), v.into()),
                    Write::Remove(k) => Op::Remove(self.name.clone(), k.into()),
                };
                over |= self.inner.record(op);
            }
            Ok(())
        })?;
        if over {
            // A failure here is the next caller's.
            let _ = self.inner.flush();
        }
        Ok(())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.write(|t| t.clear(), |_, t| Some(Op::Clear(t)))
    }
}
