//! The storage trait: what a backend provides, and the [`Tree`] handle
//! everything else uses.
//!
//! The traits are async, so that a backend may sit across a network
//! ([`PostgresBackend`](super::PostgresBackend)); the embedded ones
//! ([`SledBackend`](super::SledBackend), [`MemoryBackend`](super::MemoryBackend))
//! answer at once, without yielding.

use std::sync::Arc;

use async_trait::async_trait;

use super::StoreError;

/// A key and its value, as stored.
pub type Entry = (Vec<u8>, Vec<u8>);

/// One write of a batch given to [`Tree::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Sets the key to the value.
    Insert(Vec<u8>, Vec<u8>),
    /// Removes the key.
    Remove(Vec<u8>),
}

/// A storage backend: named trees of ordered byte keys and byte values.
///
/// Implement it (with [`TreeBackend`]) to keep a bot's data elsewhere, and
/// give it to [`Store::with_backend`](super::Store::with_backend).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The tree `name`, created empty if needed. Opening is cheap and does
    /// no I/O a caller waits on.
    fn open_tree(&self, name: &str) -> Result<Arc<dyn TreeBackend>, StoreError>;

    /// Makes every write made before the call durable. A backend whose
    /// writes are durable when they return does nothing.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Whether the backend can write now. A backend that keeps failing
    /// after an I/O error (and gets back by reopening, as
    /// [`SledBackend`](super::SledBackend) does) says false until it has
    /// recovered; readiness reports it.
    fn healthy(&self) -> bool {
        true
    }

    /// Tries to recover a failed backend now, without waiting for its next
    /// attempt; true when it can write afterwards.
    async fn recover(&self) -> bool {
        self.healthy()
    }
}

/// One tree of a [`Backend`]: ordered byte keys (ordered as bytes), byte
/// values. Each call is atomic on its own.
#[async_trait]
pub trait TreeBackend: Send + Sync + 'static {
    /// The value under `key`.
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets `key` to `value`; returns the value it replaced.
    async fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Inserts `key` unless present, as one atomic step; returns the value
    /// already there (and then changes nothing).
    async fn insert_if_absent(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes `key`; returns its value.
    async fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The entries whose key starts with `prefix`, in key order.
    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;

    /// The entry with the smallest key.
    async fn first(&self) -> Result<Option<Entry>, StoreError> {
        Ok(self.scan_prefix(&[]).await?.into_iter().next())
    }

    /// How many keys the tree holds.
    async fn len(&self) -> Result<usize, StoreError>;

    /// Whether the tree holds no key.
    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }

    /// Removes every key.
    async fn clear(&self) -> Result<(), StoreError>;

    /// Applies `writes` in order. A backend that can makes them one atomic
    /// step and one round trip; the default applies them one by one.
    async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        for write in writes {
            match write {
                Write::Insert(k, v) => drop(self.insert(&k, &v).await?),
                Write::Remove(k) => drop(self.remove(&k).await?),
            }
        }
        Ok(())
    }
}

/// A named key space of the [`Store`](super::Store); cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ghostkit::store::StoreError> {
/// let store = ghostkit::Store::temporary()?;
/// let tree = store.tree("portals")?;
/// tree.insert("irc/#rust", "!room:example.org").await?;
/// tree.insert("irc/#tokio", "!other:example.org").await?;
/// assert_eq!(tree.get("irc/#rust").await?.as_deref(), Some(&b"!room:example.org"[..]));
/// let keys: Vec<Vec<u8>> = tree.scan_prefix("irc/").await?.into_iter().map(|(k, _)| k).collect();
/// assert_eq!(keys, [b"irc/#rust".to_vec(), b"irc/#tokio".to_vec()]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tree(Arc<dyn TreeBackend>);

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree").finish_non_exhaustive()
    }
}

impl Tree {
    pub(super) fn new(backend: Arc<dyn TreeBackend>) -> Self {
        Tree(backend)
    }

    /// The value under `key`.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key.as_ref()).await
    }

    /// Whether `key` is present.
    pub async fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, StoreError> {
        Ok(self.0.get(key.as_ref()).await?.is_some())
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub async fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.insert(key.as_ref(), value.as_ref()).await
    }

    /// Inserts `key` unless present (atomically); returns the value already there.
    pub async fn insert_if_absent(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.insert_if_absent(key.as_ref(), value.as_ref()).await
    }

    /// Removes `key`; returns its value.
    pub async fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.remove(key.as_ref()).await
    }

    /// Applies `writes` in order, in one step where the backend can.
    pub async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.0.apply(writes).await
    }

    /// Every entry, in key order.
    pub async fn entries(&self) -> Result<Vec<Entry>, StoreError> {
        self.0.scan_prefix(&[]).await
    }

    /// The entries whose key starts with `prefix`, in key order.
    pub async fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Vec<Entry>, StoreError> {
        self.0.scan_prefix(prefix.as_ref()).await
    }

    /// The entry with the smallest key.
    pub async fn first(&self) -> Result<Option<Entry>, StoreError> {
        self.0.first().await
    }

    /// How many keys the tree holds.
    pub async fn len(&self) -> Result<usize, StoreError> {
        self.0.len().await
    }

    /// Whether the tree is empty.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        self.0.is_empty().await
    }

    /// Removes every key.
    pub async fn clear(&self) -> Result<(), StoreError> {
        self.0.clear().await
    }
}
