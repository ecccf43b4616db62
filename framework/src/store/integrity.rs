//! Finding a database that lost writes it had flushed.
//!
//! sled opens whatever it can read back: a database whose file was
//! truncated, deleted, damaged or put back from an older copy opens without
//! a word, with part or none of its data. The store notices with a counter
//! of flushes kept in two places:
//! - every [`Store::flush`](super::Store::flush) first writes the counter's
//!   next value into the database (tree `ghostkit.store`, key `flushes`);
//! - after the flush, the value goes to the file `flushed` beside the
//!   database too: at most once a second, and at every
//!   [`Store::checkpoint`](super::Store::checkpoint) (a clean stop).
//!
//! The file therefore never runs ahead of what the database made durable.
//! At open, a database whose counter is below the file's lost data: that is
//! [`StoreError::Damaged`], unless the operator chose
//! [`IfDamaged::StartEmpty`], which moves the database's files aside into
//! `damaged-<unix time>/` and starts an empty one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{private, SledBackend, StoreError, Tree};

/// The tree holding the database's side of the counter.
pub(super) const TREE: &str = "ghostkit.store";
const KEY: &str = "flushes";
/// The file holding the other side, in the store's folder.
pub(super) const FILE: &str = "flushed";
const MAGIC: &str = "ghostkit store flushes";
/// How often, at most, the file is rewritten after a flush.
const FILE_EVERY: Duration = Duration::from_secs(1);

/// What [`Store::open_with`](super::Store::open_with) does with a database
/// that lost flushed writes (or that sled reports as corrupt).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IfDamaged {
    /// Refuse to open it: [`StoreError::Damaged`] (the default). Nothing is
    /// changed on disk, so the folder can be restored from a backup.
    #[default]
    Refuse,
    /// Move the database's files aside (`damaged-<unix time>/` in the
    /// store's folder), log an error, and start with an empty database. The
    /// transaction log's files stay: what they hold unhandled is handled.
    StartEmpty,
}

/// The counter of flushes of one open store.
pub(super) struct Counter {
    meta: Tree,
    file: PathBuf,
    value: AtomicU64,
    last_file_write: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter")
            .field("value", &self.value.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The counter a stored value holds, 0 for none.
fn counter_of(value: Option<Vec<u8>>) -> u64 {
    value
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// The database's counter, 0 when it has none.
async fn in_database(meta: &Tree) -> Result<u64, StoreError> {
    Ok(counter_of(meta.get(KEY).await?))
}

/// The counter of a database just opened, 0 when it has none.
pub(super) fn in_database_now(db: &SledBackend) -> Result<u64, StoreError> {
    Ok(counter_of(db.get_now(TREE, KEY.as_bytes())?))
}

/// The file's counter, `None` when there is no file (a new store, or one
/// made by a version without the counter).
pub(super) fn in_file(dir: &Path) -> Result<Option<u64>, StoreError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::File {
                path: path.display().to_string(),
                source,
            })
        }
    };
    text.strip_prefix(MAGIC)
        .and_then(|rest| rest.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| StoreError::File {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a ghostkit flush counter; delete the file to skip the damage check once",
            ),
        })
}

impl Counter {
    /// The counter of a store whose database holds `value`.
    pub(super) fn new(meta: Tree, dir: &Path, value: u64) -> Self {
        Counter {
            meta,
            file: dir.join(FILE),
            value: AtomicU64::new(value),
            last_file_write: Mutex::new(None),
        }
    }

    /// Writes the next value into the database, before a flush; returns it.
    pub(super) async fn before_flush(&self) -> Result<u64, StoreError> {
        let next = self.value.fetch_add(1, Ordering::AcqRel) + 1;
        self.meta.insert(KEY, next.to_be_bytes()).await?;
        Ok(next)
    }

    /// After the flush that made `value` durable: writes it to the file,
    /// when a second has passed since the last time or when `always`.
    pub(super) async fn after_flush(&self, value: u64, always: bool) -> Result<(), StoreError> {
        let due =
            |last: &Option<Instant>| always || !last.is_some_and(|t| t.elapsed() < FILE_EVERY);
        if !due(&self.last()) {
            return Ok(());
        }
        // A database reopened between the write and the flush may not hold
        // `value`; the file must never claim more than the database has.
        if in_database(&self.meta).await? < value {
            return Ok(());
        }
        // Flushes run one at a time (the store's group commit), so the
        // file is written by one caller at a time.
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || write_file(&file, value))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            .map_err(|source| StoreError::File {
                path: self.file.display().to_string(),
                source,
            })?;
        *self
            .last_file_write
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Ok(())
    }

    fn last(&self) -> Option<Instant> {
        *self
            .last_file_write
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// Replaces the file by one holding `value`, through a synced temporary file.
fn write_file(path: &Path, value: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = private::create_file(&tmp)?;
    writeln!(f, "{MAGIC} {value}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Whether `name`, in the store's folder, is one of sled's own files.
fn is_database_file(name: &str) -> bool {
    matches!(name, "conf" | "db" | "blobs" | FILE) || name.starts_with("snap.")
}

/// Moves the database's files (and the counter file) into a new folder
/// `damaged-<unix time>` of `dir`; returns that folder.
pub(super) fn move_aside(dir: &Path) -> Result<PathBuf, StoreError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let aside = dir.join(format!("damaged-{secs}"));
    let file_error = |path: &Path, source| StoreError::File {
        path: path.display().to_string(),
        source,
    };
    private::create_dir(&aside).map_err(|e| file_error(&aside, e))?;
    for entry in std::fs::read_dir(dir).map_err(|e| file_error(dir, e))? {
        let entry = entry.map_err(|e| file_error(dir, e))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(is_database_file) {
            std::fs::rename(entry.path(), aside.join(&name))
                .map_err(|e| file_error(&entry.path(), e))?;
        }
    }
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sleds_files_and_the_counter_are_moved_aside() {
        for name in ["conf", "db", "blobs", "snap.00000000000A1B2C", "flushed"] {
            assert!(is_database_file(name), "{name}");
        }
        for name in ["txnlog", "damaged-1", "registration.yaml", "dbx"] {
            assert!(!is_database_file(name), "{name}");
        }
    }
}
