//! What a journal holds at open: the segments read back, each with its
//! records, before the log decides what is done and what to dispatch again.

use std::path::Path;
use std::time::Instant;

use super::{damage, wal};
use crate::store::{PostgresBackend, StoreError};

/// One segment read back.
pub(super) struct Found {
    /// Its number.
    pub(super) number: u64,
    /// When it was last written (for the ages of what it holds).
    pub(super) written: Instant,
    /// Its records, in order.
    pub(super) records: Vec<wal::Record>,
    /// The first sequence number it was started with, if its header says.
    pub(super) first_seq: Option<u64>,
    /// Part of it could not be read: kept aside once handled.
    pub(super) damaged: bool,
}

/// The segment files in `dir`, oldest first, with what each lost logged.
pub(super) fn found_in_files(dir: &Path) -> std::io::Result<Vec<Found>> {
    let segments = wal::existing_segments(dir)?;
    let mut scans = Vec::with_capacity(segments.len());
    for &segment in &segments {
        scans.push(wal::scan(dir, segment)?);
    }
    let next_firsts: Vec<Option<u64>> = scans
        .iter()
        .skip(1)
        .map(|s| s.first_seq)
        .chain([None])
        .collect();
    let mut out = Vec::with_capacity(segments.len());
    for ((segment, scan), next_first) in segments.into_iter().zip(scans).zip(next_firsts) {
        let damaged = damage::report_damage(dir, segment, &scan, next_first);
        out.push(Found {
            number: segment,
            written: wal::segment_written(dir, segment),
            first_seq: scan.first_seq,
            records: scan.records,
            damaged,
        });
    }
    Ok(out)
}

/// The rows of the journal table, each a segment of its own.
pub(super) async fn found_in_postgres(db: &PostgresBackend) -> Result<Vec<Found>, StoreError> {
    let now = Instant::now();
    Ok(db
        .journal_rows()
        .await?
        .into_iter()
        .map(|(row, age)| Found {
            number: row.seq,
            written: now.checked_sub(age).unwrap_or(now),
            first_seq: Some(row.seq),
            records: vec![wal::Record {
                seq: row.seq,
                segment: row.seq,
                txn_id: row.txn_id,
                body: row.body,
            }],
            damaged: false,
        })
        .collect())
}
