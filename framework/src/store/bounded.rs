//! A durable set with a bounded size: two generations of trees.
//!
//! New keys go into the current generation. When it holds `capacity` keys, the
//! older generation is cleared and becomes the current one. A key is therefore
//! remembered for at least `capacity` later insertions and at most `2 * capacity`
//! keys are ever on disk, without any per-key bookkeeping.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Mutex;

use super::{Store, StoreError, Tree};

/// A bounded, durable "have I seen this?" set. Values are small tags.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ghostkit::store::StoreError> {
/// let store = ghostkit::Store::temporary()?;
/// let seen = ghostkit::store::BoundedSet::open(&store, "seen", 2).await?;
/// assert_eq!(seen.insert_if_absent(b"a", b"1").await?, None);
/// assert_eq!(seen.insert_if_absent(b"a", b"2").await?.as_deref(), Some(&b"1"[..]));
/// seen.insert_if_absent(b"b", b"").await?; // generation full: a new one starts
/// seen.insert_if_absent(b"c", b"").await?;
/// seen.insert_if_absent(b"d", b"").await?; // full again: the one holding "a" is dropped
/// seen.insert_if_absent(b"e", b"").await?;
/// assert!(!seen.contains(b"a").await?);
/// assert!(seen.contains(b"e").await?);
/// # Ok(()) }
/// ```
pub struct BoundedSet {
    gens: [Tree; 2],
    meta: Tree,
    meta_key: Vec<u8>,
    current: AtomicUsize,
    count: AtomicUsize,
    capacity: usize,
    rotate: Mutex<()>,
}

impl std::fmt::Debug for BoundedSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedSet")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl BoundedSet {
    /// Opens the set `name` in `store`, remembering at least `capacity` keys.
    pub async fn open(store: &Store, name: &str, capacity: usize) -> Result<Self, StoreError> {
        let gens = [
            store.tree(&format!("{name}.gen0"))?,
            store.tree(&format!("{name}.gen1"))?,
        ];
        let meta = store.tree("ghostkit.meta")?;
        let meta_key = format!("{name}.current").into_bytes();
        let current = match meta.get(&meta_key).await? {
            Some(v) if v == b"1" => 1,
            _ => 0,
        };
        let count = gens[current].len().await?;
        Ok(BoundedSet {
            gens,
            meta,
            meta_key,
            current: AtomicUsize::new(current),
            count: AtomicUsize::new(count),
            capacity: capacity.max(1),
            rotate: Mutex::new(()),
        })
    }

    /// Inserts `key` with `value` unless present; returns the value already there.
    pub async fn insert_if_absent(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let cur = self.current.load(Ordering::Acquire);
        if let Some(old) = self.gens[1 - cur].get(key).await? {
            return Ok(Some(old));
        }
        match self.gens[cur].insert_if_absent(key, value).await? {
            None => {
                if self.count.fetch_add(1, Ordering::AcqRel) + 1 >= self.capacity {
                    self.rotate().await?;
                }
                Ok(None)
            }
            Some(current) => Ok(Some(current)),
        }
    }

    /// The value stored for `key`, if it is remembered.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let cur = self.current.load(Ordering::Acquire);
        if let Some(v) = self.gens[cur].get(key).await? {
            return Ok(Some(v));
        }
        self.gens[1 - cur].get(key).await
    }

    /// Whether `key` is remembered.
    pub async fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(key).await?.is_some())
    }

    /// How many keys are stored now (at most twice the capacity).
    pub async fn len(&self) -> Result<usize, StoreError> {
        Ok(self.gens[0].len().await? + self.gens[1].len().await?)
    }

    /// Whether nothing is remembered.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.gens[0].is_empty().await? && self.gens[1].is_empty().await?)
    }

    async fn rotate(&self) -> Result<(), StoreError> {
        let _guard = self.rotate.lock().await;
        if self.count.load(Ordering::Acquire) < self.capacity {
            return Ok(()); // someone else rotated
        }
        let cur = self.current.load(Ordering::Acquire);
        let next = 1 - cur;
        self.gens[next].clear().await?;
        self.meta
            .insert(
                &self.meta_key,
                if next == 1 { &b"1"[..] } else { &b"0"[..] },
            )
            .await?;
        self.count.store(0, Ordering::Release);
        self.current.store(next, Ordering::Release);
        Ok(())
    }
}
