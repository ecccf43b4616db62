//! The default backend: sled, an embedded database in the store's folder.

use std::path::Path;
use std::sync::Arc;

use super::{Backend, Entry, StoreError, TreeBackend};

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Io(Box::new(e))
    }
}

/// sled as a [`Backend`]: what [`Store::open`](super::Store::open) uses.
#[derive(Clone)]
pub struct SledBackend {
    db: sled::Db,
}

impl std::fmt::Debug for SledBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledBackend").finish_non_exhaustive()
    }
}

impl SledBackend {
    /// Opens (or creates) the database in `path`: a 4 MiB cache, and a
    /// background flush every 200 ms besides the explicit ones.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(4 * 1024 * 1024)
            .flush_every_ms(Some(200))
            .open()
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source: Box::new(source),
            })?;
        Ok(SledBackend { db })
    }
}

impl Backend for SledBackend {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn TreeBackend>, StoreError> {
        Ok(Arc::new(self.db.open_tree(name)?))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

fn owned(v: Option<sled::IVec>) -> Option<Vec<u8>> {
    v.map(|v| v.to_vec())
}

impl TreeBackend for sled::Tree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(owned(sled::Tree::get(self, key)?))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(owned(sled::Tree::insert(self, key, value)?))
    }

    fn insert_if_absent(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.compare_and_swap(key, None as Option<&[u8]>, Some(value))? {
            Ok(()) => Ok(None),
            Err(e) => Ok(owned(e.current)),
        }
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(owned(sled::Tree::remove(self, key)?))
    }

    fn scan_prefix<'a>(
        &'a self,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + Send + 'a> {
        Box::new(
            sled::Tree::scan_prefix(self, prefix)
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into)),
        )
    }

    fn len(&self) -> usize {
        sled::Tree::len(self)
    }

    fn is_empty(&self) -> bool {
        sled::Tree::is_empty(self)
    }

    fn clear(&self) -> Result<(), StoreError> {
        Ok(sled::Tree::clear(self)?)
    }
}
