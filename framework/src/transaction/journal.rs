//! Where accepted transactions wait until they are handled: segment files
//! made durable with `fdatasync` (`wal.rs`, the default), or a PostgreSQL
//! table whose committed `INSERT` comes before the acknowledgement
//! (`journal/postgres.rs`).
//!
//! Both number transactions in the order they are appended and group them
//! into segments, each retired once all its transactions are done and a
//! flush of the store holds their done marks. A file segment holds many
//! transactions; in PostgreSQL each transaction is a segment of its own,
//! deleted as one row.

mod postgres;

use std::path::{Path, PathBuf};

pub(crate) use postgres::PgJournal;

use super::wal::Wal;
use crate::store::StoreError;

/// The journal of a [`TransactionLog`](super::TransactionLog).
// One per log, made once and never moved: boxing the larger variant would
// only add an indirection to every append.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Journal {
    /// Segment files in a folder.
    Files(Wal, PathBuf),
    /// A table in PostgreSQL.
    Postgres(PgJournal),
}

impl Journal {
    /// An I/O error of the files in `dir`, naming the folder.
    pub(crate) fn file_error(dir: &Path, source: std::io::Error) -> StoreError {
        StoreError::File {
            path: dir.display().to_string(),
            source,
        }
    }

    /// Appends a transaction (durable after [`Journal::sync`]); returns its
    /// sequence number and segment.
    pub(crate) fn append(&self, txn_id: &str, body: &[u8]) -> Result<(u64, u64), StoreError> {
        match self {
            Journal::Files(wal, dir) => wal
                .append(txn_id, body)
                .map_err(|e| Self::file_error(dir, e)),
            Journal::Postgres(pg) => Ok(pg.append(txn_id, body)),
        }
    }

    /// Makes the append of `seq`, and every one before it, durable.
    /// `alone`: no other transaction is being accepted.
    pub(crate) async fn sync(&self, seq: u64, alone: bool) -> Result<(), StoreError> {
        match self {
            Journal::Files(wal, dir) => wal.sync(alone).await.map_err(|e| Self::file_error(dir, e)),
            Journal::Postgres(pg) => pg.sync(seq).await,
        }
    }

    /// Counts a transaction as not done yet in its segment.
    pub(crate) fn retain(&self, segment: u64, seq: u64) {
        match self {
            Journal::Files(wal, _) => wal.retain(segment, seq),
            Journal::Postgres(pg) => pg.retain(seq),
        }
    }

    /// A transaction of the segment is done.
    pub(crate) fn release(&self, segment: u64) {
        match self {
            Journal::Files(wal, _) => wal.release(segment),
            Journal::Postgres(pg) => pg.release(segment),
        }
    }

    /// A segment found at open, with no transaction left to do unless one
    /// was retained.
    pub(crate) fn release_old(&self, segment: u64, first_seq: u64, last_seq: u64) {
        match self {
            Journal::Files(wal, _) => wal.release_old(segment, first_seq, last_seq),
            Journal::Postgres(pg) => pg.release_old(segment),
        }
    }

    /// Segments that may go, with their first and last sequence numbers.
    pub(crate) fn take_deletable(&self) -> Vec<(u64, u64, u64)> {
        match self {
            Journal::Files(wal, _) => wal.take_deletable(),
            Journal::Postgres(pg) => pg.take_deletable(),
        }
    }

    /// Whether segments wait to be retired though nothing else changed.
    pub(crate) fn retire_due(&self) -> bool {
        match self {
            Journal::Files(..) => false,
            Journal::Postgres(pg) => pg.retire_due(),
        }
    }

    /// Puts back segments taken by [`Journal::take_deletable`].
    pub(crate) fn give_back_deletable(&self, segments: Vec<(u64, u64, u64)>) {
        match self {
            Journal::Files(wal, _) => wal.give_back_deletable(segments),
            Journal::Postgres(pg) => pg.give_back_deletable(segments),
        }
    }

    /// Retires handled segments; returns the sequence ranges of those gone
    /// for good (whose done marks may go now). What cannot go is logged and
    /// stays.
    pub(crate) async fn retire(&self, deletable: Vec<(u64, u64, u64)>) -> Vec<(u64, u64)> {
        match self {
            Journal::Files(wal, _) => {
                let mut retired = Vec::new();
                for (segment, first, last) in deletable {
                    match wal.retire(segment) {
                        Ok(()) => retired.push((first, last)),
                        Err(e) => {
                            tracing::warn!(segment, error = %e, "cannot retire a finished transaction segment")
                        }
                    }
                }
                if retired.is_empty() {
                    return retired;
                }
                if let Err(e) = wal.sync_dir() {
                    tracing::warn!(error = %e, "cannot sync the transaction log's folder");
                    return Vec::new();
                }
                retired
            }
            Journal::Postgres(pg) => pg.retire(deletable).await,
        }
    }

    /// How many segments hold transactions (files: in the folder, spares
    /// not counted; PostgreSQL: rows not yet deleted).
    pub(crate) fn segment_count(&self) -> usize {
        match self {
            Journal::Files(wal, _) => wal.segment_count(),
            Journal::Postgres(pg) => pg.segment_count(),
        }
    }

    /// The segment files' fault injection.
    #[cfg(test)]
    pub(crate) fn faults(&self) -> &super::wal::Faults {
        match self {
            Journal::Files(wal, _) => wal.faults(),
            Journal::Postgres(_) => panic!("faults are injected under the files only"),
        }
    }
}
