//! The durable transaction log.
//!
//! On disk:
//! - `txnlog/*.seg`: every accepted transaction, appended and synced before
//!   the acknowledgement (see `wal.rs`); the source of truth. Opened with
//!   [`TransactionLog::open_in_postgres`], the rows of the table
//!   `ghostkit_txnlog` instead, committed before the acknowledgement (see
//!   `journal.rs`);
//! - store tree `ghostkit.txn.done`: sequence number -> bitmap of finished
//!   items for transactions partly done, or an empty value once all are done;
//! - store tree `ghostkit.txn.dropped`: sequence numbers of transactions
//!   whose sync failed: they got an error, not an acknowledgement, and are
//!   never read back (the homeserver's retry is a transaction of its own);
//! - `txnlog/seen.snapshot`: the bounded window of txnIds and event IDs seen
//!   lately, as of the last time segments were retired (see `seen.rs`); in
//!   the store tree `ghostkit.txn.seen` when the journal is in PostgreSQL.
//!
//! The store records are written and flushed every `progress_interval`; a segment is retired only after the flush that marks
//! all its transactions done, and after the snapshot of the seen window is
//! saved. After a crash, the segments are read again: whatever is not marked
//! done is dispatched again, and the seen window gets back, from them, what
//! the snapshot lacks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::journal::{Journal, PgJournal};
use super::seen::{body_hash, SeenWindow, TxnStatus};
use super::wal::{self, Wal};
use super::{parse_shared, TransactionError};
use crate::event::Event;
use crate::store::{PostgresBackend, Store, StoreError, Tree};
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

/// A record of the store's trees waiting for a flush.
#[derive(Debug, Clone, Copy)]
enum Mark {
    /// Every item of the transaction is done.
    Done(u64),
    /// The transaction was never made durable; it is not read back.
    Dropped(u64),
}

struct Progress {
    segment: u64,
    total: u32,
    done: u32,
    bits: Vec<u8>,
    dirty: bool,
    /// When the transaction was accepted (for one read back at open: when
    /// its segment was last written).
    since: Instant,
}

/// An unfinished transaction read back at open: its record, when its segment
/// was last written, and the bitmap of its items done (if any were).
type Recovered = (wal::Record, Instant, Option<Vec<u8>>);

/// The durable log of transactions; see the module docs.
pub struct TransactionLog {
    store: Store,
    journal: Journal,
    done: Tree,
    dropped: Tree,
    /// Unfinished transactions found at open, for [`TransactionLog::recover`],
    /// with when their segment was last written and the bitmap of their
    /// items done.
    recovered: Mutex<Vec<Recovered>>,
    seen: Mutex<SeenWindow>,
    /// Where the window's snapshot is kept when the journal is in the
    /// database (else in `txnlog/seen.snapshot`).
    seen_tree: Option<Tree>,
    progress: Mutex<HashMap<u64, Progress>>,
    in_flight: Mutex<HashSet<String>>,
    unflushed: AtomicBool,
    /// Done and dropped marks not yet held by a flush, oldest first; each
    /// [`TransactionLog::persist_progress`] writes them all, in one batch.
    marks: Mutex<Vec<Mark>>,
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

impl TransactionLog {
    /// Opens the log in `store` (segments in `txnlog/` of the store's folder)
    /// and reads back what a crash may have left unfinished.
    pub async fn open(store: &Store, config: LogConfig) -> Result<Self, StoreError> {
        Self::open_on(store, None, config).await
    }

    /// Opens the log with its transactions in the PostgreSQL database `db`
    /// (table `ghostkit_txnlog`): an acknowledgement follows the committed
    /// `INSERT` of its transaction. The window of seen txnIds is still
    /// kept in `txnlog/` of the store's folder.
    pub async fn open_in_postgres(
        store: &Store,
        db: &PostgresBackend,
        config: LogConfig,
    ) -> Result<Self, StoreError> {
        Self::open_on(store, Some(db), config).await
    }

    async fn open_on(
        store: &Store,
        db: Option<&PostgresBackend>,
        config: LogConfig,
    ) -> Result<Self, StoreError> {
        let dir = store.path().join("txnlog");
        let io = |source| Journal::file_error(&dir, source);
        let done = store.tree("ghostkit.txn.done")?;
        let dropped = store.tree("ghostkit.txn.dropped")?;
        crate::store::private::create_dir(&dir).map_err(io)?;
        let mut seen = SeenWindow::new(config.seen_transactions, config.seen_events);
        // With the journal in the database, the window's snapshot is there
        // too, so that a standby on another machine has it.
        let seen_tree = match db {
            Some(_) => Some(store.tree(SEEN_TREE)?),
            None => None,
        };
        match &seen_tree {
            None => seen.load(&dir).map_err(io)?,
            Some(tree) => {
                if let Some(value) = tree.get(SEEN_KEY).await? {
                    let (at, snapshot) = snapshot_value::decode(&value);
                    seen.load_snapshot(snapshot, at);
                }
            }
        }
        // Sequence numbers go on after every one that may have been used:
        // a number given again could meet an old done mark.
        let mut last_seq = seen.last_seq().unwrap_or(0);
        let seq_of = |key: &[u8]| <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes);
        let mut done_bits: HashMap<u64, Vec<u8>> = HashMap::new();
        for (key, bits) in done.entries().await? {
            if let Some(seq) = seq_of(&key) {
                last_seq = last_seq.max(seq);
                done_bits.insert(seq, bits);
            }
        }
        let dropped_seqs: HashSet<u64> = dropped
            .entries()
            .await?
            .iter()
            .filter_map(|(key, _)| seq_of(key))
            .collect();
        let found = match db {
            None => found_in_files(&dir).map_err(io)?,
            Some(db) => found_in_postgres(db).await?,
        };
        let mut recovered = Vec::new();
        let mut old_segments = Vec::new();
        let mut damaged = Vec::new();
        for segment in found {
            let written = segment.written;
            if segment.damaged {
                damaged.push(segment.number);
            }
            let records = segment.records;
            let (first, last) = match (records.first(), records.last()) {
                (Some(f), Some(l)) => (f.seq, l.seq),
                _ => (0, 0),
            };
            if let Some(f) = segment.first_seq {
                last_seq = last_seq.max(f.saturating_sub(1));
            }
            old_segments.push((segment.number, first, last));
            for rec in records {
                last_seq = last_seq.max(rec.seq);
                if dropped_seqs.contains(&rec.seq) {
                    continue;
                }
                if !seen.has_seq(rec.seq) {
                    // Not in the snapshot: its segment was still on disk.
                    if let Ok(parsed) = super::parse(&rec.body) {
                        seen.record(
                            rec.seq,
                            &rec.txn_id,
                            body_hash(&rec.body),
                            written,
                            parsed.events.iter().map(|e| e.event_id_str()),
                        );
                    }
                }
                let bits = done_bits.remove(&rec.seq);
                if !bits.as_ref().is_some_and(|v| v.is_empty()) {
                    recovered.push((rec, written, bits));
                }
            }
        }
        seen.settle();
        let journal = match db {
            None => {
                let wal = Wal::open(
                    &dir,
                    last_seq + 1,
                    config.segment_bytes,
                    config.spare_segments,
                )
                .map_err(io)?;
                for segment in damaged {
                    wal.mark_damaged(segment);
                }
                Journal::Files(wal, dir.clone())
            }
            Some(db) => Journal::Postgres(PgJournal::new(db.clone(), last_seq + 1)),
        };
        for (rec, _, _) in &recovered {
            journal.retain(rec.segment, rec.seq);
        }
        for (segment, first, last) in old_segments {
            journal.release_old(segment, first, last);
        }
        Ok(TransactionLog {
            seen: Mutex::new(seen),
            seen_tree,
            journal,
            done,
            dropped,
            recovered: Mutex::new(recovered),
            store: store.clone(),
            progress: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            unflushed: AtomicBool::new(true),
            marks: Mutex::new(Vec::new()),
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
        let now = Instant::now();
        let (seq, segment) = self.journal.append(txn_id, &body)?;
        let fresh = lock(&self.seen).record(
            seq,
            txn_id,
            hash,
            now,
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
        // A transaction with nothing to dispatch is done once it is durable:
        // released before, its row could be retired before it is written.
        let nothing_to_do = items.is_empty();
        if !nothing_to_do {
            let done = total - items.len() as u32;
            lock(&self.progress).insert(
                seq,
                Progress {
                    segment,
                    total,
                    done,
                    bits,
                    dirty: done > 0,
                    since: now,
                },
            );
        }
        self.unflushed.store(true, Ordering::Release);
        let alone = lock(&self.in_flight).len() <= 1;
        if let Err(e) = self.journal.sync(seq, alone).await {
            // Not durable: let the homeserver's retry of this txnId, and its
            // events, in again; this copy is never dispatched.
            lock(&self.seen).forget(seq);
            let pending = lock(&self.progress).remove(&seq).is_some() || nothing_to_do;
            self.drop_undurable(seq, segment, pending);
            return Err(e.into());
        }
        if nothing_to_do {
            self.finish(seq, segment);
        }
        Ok(Accepted::New(items))
    }

    /// Marks an appended transaction that could not be made durable as
    /// never to be read back, and releases it (`pending`: not released yet).
    fn drop_undurable(&self, seq: u64, segment: u64, pending: bool) {
        self.mark(Mark::Dropped(seq));
        if pending {
            self.finish(seq, segment);
        }
    }

    /// Marks a transaction done and releases its segment.
    fn finish(&self, seq: u64, segment: u64) {
        self.mark(Mark::Done(seq));
        self.journal.release(segment);
    }

    /// Keeps `mark` until a flush holds it; the next
    /// [`TransactionLog::persist_progress`] writes it.
    fn mark(&self, mark: Mark) {
        lock(&self.marks).push(mark);
        self.unflushed.store(true, Ordering::Release);
    }

    /// Marks one item finished; the transaction leaves the log when all are.
    /// The mark is written at the next [`TransactionLog::persist_progress`],
    /// and written again after a failed one until a flush holds it.
    pub fn item_done(&self, seq: u64, idx: u32) {
        let finished: Option<u64> = {
            let mut map = lock(&self.progress);
            let Some(p) = map.get_mut(&seq) else {
                return;
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
            self.finish(seq, segment);
        }
        self.unflushed.store(true, Ordering::Release);
    }

    /// Everything in the log not yet done, in log order: what a crash left behind.
    pub fn recover(&self) -> Result<Vec<LogItem>, StoreError> {
        let mut out = Vec::new();
        let recovered = std::mem::take(&mut *lock(&self.recovered));
        for (rec, written, bits) in recovered {
            let (seq, segment) = (rec.seq, rec.segment);
            let Ok(parsed) = parse_shared(Bytes::from(rec.body)) else {
                tracing::error!(seq, "unparsable transaction in the log; dropping it");
                self.finish(seq, segment);
                continue;
            };
            let mut bits = bits.unwrap_or_default();
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
                self.finish(seq, segment);
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
                    since: written,
                },
            );
            out.extend(pending);
        }
        Ok(out)
    }

    /// How many segment files are on disk (handled ones are deleted); with
    /// the log in PostgreSQL, how many transactions are not handled yet.
    pub fn segment_files(&self) -> usize {
        self.journal.segment_count()
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

mod damage;
mod found;
mod progress;
mod snapshot_value;

/// The tree of the seen window's snapshot, with the journal in the database.
const SEEN_TREE: &str = "ghostkit.txn.seen";
/// Its one key.
const SEEN_KEY: &[u8] = b"snapshot";

use found::{found_in_files, found_in_postgres};
#[cfg(test)]
mod tests;
