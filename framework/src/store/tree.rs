//! The storage trait: what a backend provides, and the [`Tree`] handle
//! everything else uses.

use std::sync::Arc;

use super::StoreError;

/// A key and its value, as stored.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A storage backend: named trees of ordered byte keys and byte values.
///
/// Implement it (with [`TreeBackend`]) to keep a bot's data elsewhere than in
/// sled, and give it to [`Store::with_backend`](super::Store::with_backend).
pub trait Backend: Send + Sync + 'static {
    /// Opens the tree `name`, creating it empty if needed.
    fn open_tree(&self, name: &str) -> Result<Arc<dyn TreeBackend>, StoreError>;

    /// Makes every write made before the call durable. Called on a
    /// blocking thread; may take a while.
    fn flush(&self) -> Result<(), StoreError>;

    /// Whether the backend can write now. A backend that keeps failing
    /// after an I/O error (and gets back by reopening, as
    /// [`SledBackend`](super::SledBackend) does) says false until it has
    /// recovered; readiness reports it.
    fn healthy(&self) -> bool {
        true
    }

    /// Tries to recover a failed backend now, without waiting for its next
    /// attempt; true when it can write afterwards.
    fn recover(&self) -> bool {
        self.healthy()
    }
}

/// One tree of a [`Backend`]: ordered byte keys, byte values. Each call is
/// atomic on its own.
pub trait TreeBackend: Send + Sync + 'static {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets `key` to `value`; returns the value it replaced.
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Inserts `key` unless present, as one atomic step; returns the value
    /// already there (and then changes nothing).
    fn insert_if_absent(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes `key`; returns its value.
    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The entries whose key starts with `prefix`, in key order.
    fn scan_prefix<'a>(
        &'a self,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + Send + 'a>;

    /// How many keys the tree holds.
    fn len(&self) -> usize;

    /// Whether the tree holds no key.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key.
    fn clear(&self) -> Result<(), StoreError>;
}

/// A named key space of the [`Store`](super::Store); cheap to clone.
///
/// ```
/// # fn main() -> Result<(), ghostkit::store::StoreError> {
/// let store = ghostkit::Store::temporary()?;
/// let tree = store.tree("portals")?;
/// tree.insert("irc/#rust", "!room:example.org")?;
/// tree.insert("irc/#tokio", "!other:example.org")?;
/// assert_eq!(tree.get("irc/#rust")?.as_deref(), Some(&b"!room:example.org"[..]));
/// let keys: Vec<Vec<u8>> = tree.scan_prefix("irc/").map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
/// assert_eq!(keys, [b"irc/#rust".to_vec(), b"irc/#tokio".to_vec()]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tree(Arc<dyn TreeBackend>);

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree").field("len", &self.len()).finish()
    }
}

impl Tree {
    pub(super) fn new(backend: Arc<dyn TreeBackend>) -> Self {
        Tree(backend)
    }

    /// The value under `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key.as_ref())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, StoreError> {
        Ok(self.0.get(key.as_ref())?.is_some())
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.insert(key.as_ref(), value.as_ref())
    }

    /// Inserts `key` unless present (atomically); returns the value already there.
    pub fn insert_if_absent(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.insert_if_absent(key.as_ref(), value.as_ref())
    }

    /// Removes `key`; returns its value.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.remove(key.as_ref())
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = Result<Entry, StoreError>> + Send + '_ {
        self.0.scan_prefix(&[])
    }

    /// The entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(
        &self,
        prefix: impl AsRef<[u8]>,
    ) -> impl Iterator<Item = Result<Entry, StoreError>> + Send + '_ {
        self.0.scan_prefix(prefix.as_ref())
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<Entry>, StoreError> {
        self.iter().next().transpose()
    }

    /// How many keys the tree holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes every key.
    pub fn clear(&self) -> Result<(), StoreError> {
        self.0.clear()
    }
}
