//! A backend in memory: for tests and bots whose state may be lost.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;

use super::{Backend, Entry, StoreError, TreeBackend};

/// Keeps every tree in memory; nothing survives the process, and
/// [`Backend::flush`] does nothing. The transaction log's own files still go
/// to the store's folder.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ghostkit::store::StoreError> {
/// use ghostkit::store::{MemoryBackend, Store};
/// let store = Store::with_backend(std::env::temp_dir().join("ghostkit-doc-memory"), MemoryBackend::new());
/// let seen = store.tree("seen")?;
/// assert_eq!(seen.insert_if_absent("a", "1").await?, None);
/// assert_eq!(seen.insert_if_absent("a", "2").await?, Some(b"1".to_vec()));
/// # Ok(()) }
/// ```
#[derive(Debug, Default, Clone)]
pub struct MemoryBackend {
    trees: Arc<Mutex<HashMap<String, Arc<MemoryTree>>>>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }
}

#[derive(Debug, Default)]
struct MemoryTree(RwLock<BTreeMap<Vec<u8>, Vec<u8>>>);

impl MemoryTree {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn TreeBackend>, StoreError> {
        let mut trees = self.trees.lock().unwrap_or_else(|p| p.into_inner());
        Ok(trees.entry(name.to_owned()).or_default().clone())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl TreeBackend for MemoryTree {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().get(key).cloned())
    }

    async fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.write().insert(key.to_vec(), value.to_vec()))
    }

    async fn insert_if_absent(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut map = self.write();
        if let Some(v) = map.get(key) {
            return Ok(Some(v.clone()));
        }
        map.insert(key.to_vec(), value.to_vec());
        Ok(None)
    }

    async fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.write().remove(key))
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .read()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn first(&self) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .read()
            .first_key_value()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    async fn len(&self) -> Result<usize, StoreError> {
        Ok(self.read().len())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.write().clear();
        Ok(())
    }
}
