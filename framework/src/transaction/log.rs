//! The durable transaction log.
//!
//! On disk:
//! - `txnlog/*.seg`: every accepted transaction, appended and synced before
//!   the acknowledgement (see `wal.rs`); the source of truth;
//! - store tree `ghostkit.txn.done`: sequence number -> bitmap of finished
//!   items for transactions partly done, or an empty value once all are done;
//! - store tree `ghostkit.txn.dropped`: sequence numbers of transactions
//!   whose sync failed: they got an error, not an acknowledgement, and are
//!   never read back (the homeserver's retry is a transaction of its own);
//! - `txnlog/seen.snapshot`: the bounded window of txnIds and event IDs seen
//!   lately, as of the last time segments were retired (see `seen.rs`).
//!
//! The store records are written as things happen and flushed every
//! `progress_interval`; a segment is retired only after the flush that marks
//! all its transactions done, and after the snapshot of the seen window is
//! saved. After a crash, the segments are read again: whatever is not marked
//! done is dispatched again, and the seen window gets back, from them, what
//! the snapshot lacks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::seen::{body_hash, SeenWindow, TxnStatus};
use super::wal::{self, Wal};
use super::{parse_shared, TransactionError};
use crate::event::Event;
use crate::store::{Store, StoreError, Tree};
use bytes::Bytes;

/// Sizes and timings of the log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// How many txnIds are remembered, at most (the oldest are forgotten first).
    pub seen_transactions: usize,
    /// How many event IDs are remembered, at most, to drop events re-sent under a new txnId.
    pub seen_events: usize,
    /// How often progress of partly-done transactions is written and flushed.
    pub progress_interval: Duration,
    /// Size past which a new segment file is started; a segment is retired
    /// once all its transactions are done, so this bounds the disk used by
    /// handled transactions.
    pub segment_bytes: u64,
    /// How many retired segment files are kept to be written over again
    /// (cheaper appends and syncs than in new files); the rest are deleted.
    pub spare_segments: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            seen_transactions: 10_000,
            seen_events: 100_000,
            progress_interval: Duration::from_millis(10),
            segment_bytes: 16 * 1024 * 1024,
            spare_segments: 4,
        }
    }
}

/// The outcome of [`TransactionLog::accept`].
#[derive(Debug)]
pub enum Accepted {
    /// The txnId was seen before: answer `200` and dispatch nothing.
    Duplicate,
    /// New and on disk: dispatch these items (sequence number, index, event).
    New(Vec<LogItem>),
}

/// One item to dispatch, with its place in the log.
#[derive(Debug)]
pub struct LogItem {
    /// The transaction's sequence number in the log.
    pub seq: u64,
    /// The item's index in the parsed transaction.
    pub idx: u32,
    /// The item.
    pub event: Event,
}

struct Progress {
    segment: u64,
    total: u32,
    done: u32,
    bits: Vec<u8>,
    dirty: bool,
}

/// The durable log of transactions; see the module docs.
pub struct TransactionLog {
    store: Store,
    wal: Wal,
    done: Tree,
    dropped: Tree,
    /// Unfinished transactions found at open, for [`TransactionLog::recover`].
    recovered: Mutex<Vec<wal::Record>>,
    seen: Mutex<SeenWindow>,
    progress: Mutex<HashMap<u64, Progress>>,
    in_flight: Mutex<HashSet<String>>,
    unflushed: AtomicBool,
    /// Whether "the homeserver's transaction IDs went back" was logged.
    reuse_logged: AtomicBool,
    config: LogConfig,
}

impl std::fmt::Debug for TransactionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionLog").finish_non_exhaustive()
    }
}

/// Why a transaction could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The body is not a transaction.
    #[error(transparent)]
    Parse(#[from] TransactionError),
    /// The store failed; the homeserver should retry later.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Logs what a scan of `segment` could not read; says whether the segment
/// is damaged (and so kept aside once handled). `next_first`: the first
/// sequence number of the next segment, which bounds this one's.
fn report_damage(
    dir: &std::path::Path,
    segment: u64,
    scan: &wal::Scan,
    next_first: Option<u64>,
) -> bool {
    let last = scan
        .records
        .last()
        .map(|r| r.seq)
        .or(scan.first_seq.map(|f| f.saturating_sub(1)));
    // Records the next segment's start says this one had, but not read.
    let lost_at_end = match (next_first, last) {
        (Some(next), Some(last)) => next.saturating_sub(last + 1),
        _ => 0,
    };
    let lost = scan.lost + lost_at_end;
    if !scan.header_damaged && scan.damage.is_empty() && lost == 0 {
        if scan.tail_bytes > 0 {
            // A torn tail (a crash during an append that was never
            // acknowledged) or old records of a file written over again.
            tracing::debug!(
                segment,
                bytes = scan.tail_bytes,
                "end of the sound records of a segment"
            );
        }
        return false;
    }
    let path = dir.join(format!("{segment:016}.seg"));
    let offsets: Vec<u64> = scan.damage.iter().map(|d| d.0).collect();
    if scan.header_damaged {
        tracing::error!(
            path = %path.display(),
            segment,
            read = scan.records.len(),
            damaged_at = ?offsets,
            "a transaction log segment's header is damaged: its records were read by their own \
             checksums, but how many were lost before the first sound one is unknown; the file \
             is kept aside as .corrupt once handled"
        );
    } else {
        tracing::error!(
            path = %path.display(),
            segment,
            read = scan.records.len(),
            lost,
            damaged_at = ?offsets,
            tail_bytes = scan.tail_bytes,
            "a transaction log segment is damaged: records that were acknowledged could not be \
             read and will not be handled; the rest are; the file is kept aside as .corrupt \
             once handled"
        );
    }
    true
}

impl TransactionLog {
    /// Opens the log in `store` (segments in `txnlog/` of the store's folder)
    /// and reads back what a crash may have left unfinished.
    pub fn open(store: &Store, config: LogConfig) -> Result<Self, StoreError> {
        let dir = store.path().join("txnlog");
        let io = |source| StoreError::File {
            path: dir.display().to_string(),
            source,
        };
        let done = store.tree("ghostkit.txn.done")?;
        let dropped = store.tree("ghostkit.txn.dropped")?;
        crate::store::private::create_dir(&dir).map_err(io)?;
        let mut seen = SeenWindow::new(config.seen_transactions, config.seen_events);
        seen.load(&dir).map_err(io)?;
        // Sequence numbers go on after every one that may have been used:
        // a number given again could meet an old done mark.
        let mut last_seq = seen.last_seq().unwrap_or(0);
        for entry in done.iter() {
            let (key, _) = entry?;
            if let Ok(seq) = <[u8; 8]>::try_from(key.as_slice()) {
                last_seq = last_seq.max(u64::from_be_bytes(seq));
            }
        }
        let mut recovered = Vec::new();
        let mut old_segments = Vec::new();
        let mut damaged = Vec::new();
        let segments = wal::existing_segments(&dir).map_err(io)?;
        let mut scans = Vec::with_capacity(segments.len());
        for &segment in &segments {
            scans.push(wal::scan(&dir, segment).map_err(io)?);
        }
        let next_firsts: Vec<Option<u64>> = scans
            .iter()
            .skip(1)
            .map(|s| s.first_seq)
            .chain([None])
            .collect();
        for ((segment, scan), next_first) in segments.into_iter().zip(scans).zip(next_firsts) {
            if report_damage(&dir, segment, &scan, next_first) {
                damaged.push(segment);
            }
            let records = scan.records;
            let (first, last) = match (records.first(), records.last()) {
                (Some(f), Some(l)) => (f.seq, l.seq),
                _ => (0, 0),
            };
            if let Some(f) = scan.first_seq {
                last_seq = last_seq.max(f.saturating_sub(1));
            }
            old_segments.push((segment, first, last));
            for rec in records {
                last_seq = last_seq.max(rec.seq);
                if dropped.contains_key(rec.seq.to_be_bytes())? {
                    continue;
                }
                if !seen.has_seq(rec.seq) {
                    // Not in the snapshot: its segment was still on disk.
                    if let Ok(parsed) = super::parse(&rec.body) {
                        seen.record(
                            rec.seq,
                            &rec.txn_id,
                            body_hash(&rec.body),
                            parsed.events.iter().map(|e| e.event_id_str()),
                        );
                    }
                }
                let finished = done
                    .get(rec.seq.to_be_bytes())?
                    .is_some_and(|v| v.is_empty());
                if !finished {
                    recovered.push(rec);
                }
            }
        }
        seen.settle();
        let wal = Wal::open(
            &dir,
            last_seq + 1,
            config.segment_bytes,
            config.spare_segments,
        )
        .map_err(io)?;
        for rec in &recovered {
            wal.retain(rec.segment, rec.seq);
        }
        for segment in damaged {
            wal.mark_damaged(segment);
        }
        for (segment, first, last) in old_segments {
            wal.release_old(segment, first, last);
        }
        Ok(TransactionLog {
            seen: Mutex::new(seen),
            wal,
            done,
            dropped,
            recovered: Mutex::new(recovered),
            store: store.clone(),
            progress: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            unflushed: AtomicBool::new(true),
            reuse_logged: AtomicBool::new(false),
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Writes a new transaction to disk (flushed) and returns its items, or
    /// says it is a duplicate. Nothing is written for a body that does not parse.
    ///
    /// A duplicate is a txnId seen before *with the same body*. A known
    /// txnId with another body means the homeserver numbers its transactions
    /// again (a restart of Synapse on SQLite, a database restored from a
    /// backup): it is logged once and taken as new, its events deduplicated
    /// by event ID.
    pub async fn accept(&self, txn_id: &str, body: Bytes) -> Result<Accepted, AcceptError> {
        let hash = body_hash(&body);
        // The same txnId twice at once: the second waits for the first to land.
        loop {
            match lock(&self.seen).txn_status(txn_id, hash) {
                TxnStatus::Duplicate => return Ok(Accepted::Duplicate),
                TxnStatus::Reused => self.log_reuse(txn_id),
                TxnStatus::New => {}
            }
            if lock(&self.in_flight).insert(txn_id.to_owned()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let res = self.accept_new(txn_id, hash, body).await;
        lock(&self.in_flight).remove(txn_id);
        res
    }

    fn log_reuse(&self, txn_id: &str) {
        if !self.reuse_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                txn_id,
                "the homeserver sent a known transaction ID with other events: its transaction IDs \
                 went back (it was restarted on SQLite, or its database was reset or restored); \
                 such transactions are taken as new and their events deduplicated by event ID"
            );
        }
    }

    async fn accept_new(
        &self,
        txn_id: &str,
        hash: u64,
        body: Bytes,
    ) -> Result<Accepted, AcceptError> {
        let parsed = parse_shared(body.clone())?;
        let (seq, segment) = self
            .wal
            .append(txn_id, &body)
            .map_err(|e| self.file_error(e))?;
        let fresh = lock(&self.seen).record(
            seq,
            txn_id,
            hash,
            parsed.events.iter().map(|e| e.event_id_str()),
        );
        let total = parsed.events.len() as u32;
        let mut bits = vec![0u8; parsed.events.len().div_ceil(8)];
        let mut items = Vec::with_capacity(parsed.events.len());
        for ((idx, event), fresh) in parsed.events.into_iter().enumerate().zip(fresh) {
            if !fresh {
                tracing::debug!(
                    event_id = event.event_id_str(),
                    "event seen before; not dispatched again"
                );
                bits[idx / 8] |= 1 << (idx % 8);
                continue;
            }
            items.push(LogItem {
                seq,
                idx: idx as u32,
                event,
            });
        }
        if items.is_empty() {
            self.finish(seq, segment)?;
        } else {
            let done = total - items.len() as u32;
            lock(&self.progress).insert(
                seq,
                Progress {
                    segment,
                    total,
                    done,
                    bits,
                    dirty: done > 0,
                },
            );
        }
        self.unflushed.store(true, Ordering::Release);
        let alone = lock(&self.in_flight).len() <= 1;
        if let Err(e) = self.wal.sync(alone).await {
            // Not durable: let the homeserver's retry of this txnId, and its
            // events, in again; this copy is never dispatched.
            lock(&self.seen).forget(seq);
            let pending = lock(&self.progress).remove(&seq).is_some();
            if let Err(e) = self.drop_undurable(seq, segment, pending) {
                tracing::warn!(seq, error = %e, "cannot mark an undurable transaction dropped");
            }
            return Err(self.file_error(e).into());
        }
        Ok(Accepted::New(items))
    }

    /// An I/O error of the log's files, naming their folder.
    fn file_error(&self, source: std::io::Error) -> StoreError {
        StoreError::File {
            path: self.store.path().join("txnlog").display().to_string(),
            source,
        }
    }

    /// Marks an appended transaction that could not be made durable as
    /// never to be read back, and releases it (`pending`: not released yet).
    fn drop_undurable(&self, seq: u64, segment: u64, pending: bool) -> Result<(), StoreError> {
        self.dropped.insert(seq.to_be_bytes(), [])?;
        if pending {
            self.finish(seq, segment)?;
        }
        Ok(())
    }

    fn finish(&self, seq: u64, segment: u64) -> Result<(), StoreError> {
        self.done.insert(seq.to_be_bytes(), [])?;
        self.wal.release(segment);
        Ok(())
    }

    /// Marks one item finished; the transaction leaves the log when all are.
    pub fn item_done(&self, seq: u64, idx: u32) -> Result<(), StoreError> {
        let finished: Option<u64> = {
            let mut map = lock(&self.progress);
            let Some(p) = map.get_mut(&seq) else {
                return Ok(());
            };
            let (byte, bit) = (idx as usize / 8, 1u8 << (idx % 8));
            if let Some(b) = p.bits.get_mut(byte) {
                if *b & bit == 0 {
                    *b |= bit;
                    p.done += 1;
                }
            }
            if p.done >= p.total {
                map.remove(&seq).map(|p| p.segment)
            } else {
                p.dirty = true;
                None
            }
        };
        if let Some(segment) = finished {
            self.finish(seq, segment)?;
        }
        self.unflushed.store(true, Ordering::Release);
        Ok(())
    }

    /// Writes the progress of partly-done transactions and flushes, if
    /// anything changed since the last call. Run every `progress_interval`.
    pub async fn persist_progress(&self) -> Result<(), StoreError> {
        if !self.unflushed.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let dirty: Vec<(u64, Vec<u8>)> = lock(&self.progress)
            .iter_mut()
            .filter(|(_, p)| p.dirty)
            .map(|(seq, p)| {
                p.dirty = false;
                (*seq, p.bits.clone())
            })
            .collect();
        for (seq, bits) in dirty {
            self.done.insert(seq.to_be_bytes(), bits)?;
        }
        // What may go once this flush says its transactions are done.
        let deletable = self.wal.take_deletable();
        self.store.flush().await?;
        if deletable.is_empty() {
            return Ok(());
        }
        // The window's entries of these segments must outlive them.
        let snapshot = lock(&self.seen).snapshot();
        let dir = self.store.path().join("txnlog");
        let saved = tokio::task::spawn_blocking(move || SeenWindow::save(&snapshot, &dir))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Err(e) = saved {
            tracing::warn!(error = %e, "cannot save the seen transactions; finished segments stay on disk for now");
            self.wal.give_back_deletable(deletable);
            return Ok(());
        }
        let mut retired = Vec::new();
        for (segment, first, last) in deletable {
            match self.wal.retire(segment) {
                Ok(()) => retired.push((first, last)),
                Err(e) => {
                    tracing::warn!(segment, error = %e, "cannot retire a finished transaction segment")
                }
            }
        }
        if retired.is_empty() {
            return Ok(());
        }
        // Their done marks go only once the segments are gone for good.
        if let Err(e) = self.wal.sync_dir() {
            tracing::warn!(error = %e, "cannot sync the transaction log's folder");
            return Ok(());
        }
        for (first, last) in retired {
            for seq in first..=last {
                self.done.remove(seq.to_be_bytes())?;
                self.dropped.remove(seq.to_be_bytes())?;
            }
        }
        Ok(())
    }

    /// Everything in the log not yet done, in log order: what a crash left behind.
    pub fn recover(&self) -> Result<Vec<LogItem>, StoreError> {
        let mut out = Vec::new();
        let recovered = std::mem::take(&mut *lock(&self.recovered));
        for rec in recovered {
            let (seq, segment) = (rec.seq, rec.segment);
            let key = seq.to_be_bytes();
            let Ok(parsed) = parse_shared(Bytes::from(rec.body)) else {
                tracing::error!(seq, "unparsable transaction in the log; dropping it");
                self.finish(seq, segment)?;
                continue;
            };
            let mut bits = match self.done.get(key)? {
                Some(b) => b.to_vec(),
                None => vec![0u8; parsed.events.len().div_ceil(8)],
            };
            bits.resize(parsed.events.len().div_ceil(8), 0);
            let total = parsed.events.len() as u32;
            let mut done = 0;
            let mut pending = Vec::new();
            for (idx, event) in parsed.events.into_iter().enumerate() {
                let bit = 1u8 << (idx % 8);
                if bits[idx / 8] & bit != 0 {
                    done += 1;
                    continue;
                }
                if let Some(id) = event.event_id_str() {
                    if let Some(owner) = lock(&self.seen).event_owner(id) {
                        if owner != seq {
                            bits[idx / 8] |= bit;
                            done += 1;
                            continue;
                        }
                    }
                }
                pending.push(LogItem {
                    seq,
                    idx: idx as u32,
                    event,
                });
            }
            if pending.is_empty() {
                self.finish(seq, segment)?;
                continue;
            }
            lock(&self.progress).insert(
                seq,
                Progress {
                    segment,
                    total,
                    done,
                    bits,
                    dirty: false,
                },
            );
            out.extend(pending);
        }
        Ok(out)
    }

    /// How many segment files are on disk (handled ones are deleted).
    pub fn segment_files(&self) -> usize {
        self.wal.segment_count()
    }

    /// How many transactions are not fully dispatched.
    pub fn pending_transactions(&self) -> usize {
        lock(&self.progress).len() + lock(&self.recovered).len()
    }

    /// How many txnIds are remembered (on disk and in memory).
    pub fn remembered_transactions(&self) -> usize {
        lock(&self.seen).txn_count()
    }

    /// How many event IDs are remembered (on disk and in memory).
    pub fn remembered_events(&self) -> usize {
        lock(&self.seen).event_count()
    }
}

#[cfg(test)]
mod tests;
