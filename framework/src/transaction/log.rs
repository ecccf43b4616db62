//! The durable transaction log.
//!
//! On disk:
//! - `txnlog/*.seg`: the bodies as received, appended with a checksum
//!   (see [`super::wal`]);
//! - sled tree `ghostkit.txn.pending`: sequence number (u64, big-endian) ->
//!   where its body is, for every transaction not fully dispatched;
//! - sled tree `ghostkit.txn.done`: sequence number -> bitmap of finished
//!   items, written only for transactions that stay partly done for a while;
//! - sled tree `ghostkit.txn.seen`: the bounded window of txnIds and event IDs
//!   seen lately (see [`super::seen`]).
//!
//! A transaction is acknowledged only after its body and its records are
//! synced to disk (both syncs run at once), and leaves the log when all its
//! items are done.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::seen::SeenWindow;
use super::wal::{Location, Wal};
use super::{parse, TransactionError};
use crate::event::Event;
use crate::store::{Store, StoreError};

/// Sizes and timings of the log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// How many txnIds are remembered, at most (the oldest are forgotten first).
    pub seen_transactions: usize,
    /// How many event IDs are remembered, at most, to drop events re-sent under a new txnId.
    pub seen_events: usize,
    /// How often progress of partly-done transactions is written and flushed.
    pub progress_interval: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            seen_transactions: 10_000,
            seen_events: 100_000,
            progress_interval: Duration::from_millis(10),
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
    loc: Location,
    total: u32,
    done: u32,
    bits: Vec<u8>,
    dirty: bool,
}

/// The durable log of transactions; see the module docs.
pub struct TransactionLog {
    store: Store,
    wal: Wal,
    pending: sled::Tree,
    done: sled::Tree,
    /// Bodies of unfinished transactions found at open, for [`TransactionLog::recover`].
    recovered: Mutex<Vec<(u64, Location, Vec<u8>)>>,
    seen: Mutex<SeenWindow>,
    next_seq: AtomicU64,
    progress: Mutex<HashMap<u64, Progress>>,
    in_flight: Mutex<HashSet<String>>,
    unflushed: AtomicBool,
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

impl From<sled::Error> for AcceptError {
    fn from(e: sled::Error) -> Self {
        AcceptError::Store(e.into())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TransactionLog {
    /// Opens the log in `store` (segments in `txnlog/` of the store's folder).
    pub fn open(store: &Store, config: LogConfig) -> Result<Self, StoreError> {
        let wal = Wal::open(&store.path().join("txnlog")).map_err(|e| StoreError::Io(e.into()))?;
        let pending = store.tree("ghostkit.txn.pending")?;
        let done = store.tree("ghostkit.txn.done")?;
        let seen_tree = store.tree("ghostkit.txn.seen")?;
        let mut last = 0;
        for tree in [&pending, &seen_tree] {
            if let Some((k, _)) = tree.last()? {
                last = last.max(seq_of(&k));
            }
        }
        // Read back every unfinished body. One that cannot be read was never
        // acknowledged (the ack follows the sync): forget it entirely, so the
        // homeserver's retry of its txnId is taken as new.
        let mut recovered = Vec::new();
        for entry in pending.iter() {
            let (key, value) = entry?;
            let seq = seq_of(&key);
            let body = Location::decode(&value)
                .ok_or_else(|| "bad location".to_owned())
                .and_then(|loc| {
                    wal.read(seq, loc)
                        .map(|b| (loc, b))
                        .map_err(|e| e.to_string())
                });
            match body {
                Ok((loc, body)) => {
                    wal.retain(loc);
                    recovered.push((seq, loc, body));
                }
                Err(e) => {
                    tracing::warn!(seq, error = %e, "dropping a transaction that never reached the disk whole");
                    pending.remove(&key)?;
                    done.remove(&key)?;
                    seen_tree.remove(&key)?;
                }
            }
        }
        wal.collect_garbage()
            .map_err(|e| StoreError::Io(e.into()))?;
        Ok(TransactionLog {
            seen: Mutex::new(SeenWindow::open(
                seen_tree,
                config.seen_transactions,
                config.seen_events,
            )?),
            wal,
            pending,
            done,
            recovered: Mutex::new(recovered),
            store: store.clone(),
            next_seq: AtomicU64::new(last + 1),
            progress: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            unflushed: AtomicBool::new(false),
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Writes a new transaction to disk (flushed) and returns its items, or
    /// says it is a duplicate. Nothing is written for a body that does not parse.
    pub async fn accept(&self, txn_id: &str, body: &[u8]) -> Result<Accepted, AcceptError> {
        // The same txnId twice at once: the second waits for the first to land.
        loop {
            if lock(&self.seen).has_txn(txn_id) {
                return Ok(Accepted::Duplicate);
            }
            if lock(&self.in_flight).insert(txn_id.to_owned()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let res = self.accept_new(txn_id, body).await;
        lock(&self.in_flight).remove(txn_id);
        res
    }

    async fn accept_new(&self, txn_id: &str, body: &[u8]) -> Result<Accepted, AcceptError> {
        let parsed = parse(body)?;
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        let key = seq.to_be_bytes();
        let loc = self
            .wal
            .append(seq, body)
            .map_err(|e| StoreError::Io(e.into()))?;
        let fresh =
            lock(&self.seen).record(seq, txn_id, parsed.events.iter().map(|e| e.event_id_str()))?;
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
            self.wal.release(loc);
        } else {
            self.pending.insert(key, &loc.encode())?;
            let done = total - items.len() as u32;
            lock(&self.progress).insert(
                seq,
                Progress {
                    loc,
                    total,
                    done,
                    bits,
                    dirty: done > 0,
                },
            );
        }
        let (wal, store) = tokio::join!(self.wal.sync(), self.store.flush());
        if let Err(e) = wal.map_err(|e| StoreError::Io(e.into())).and(store) {
            // Not durable: let the homeserver's retry of this txnId in again.
            lock(&self.seen).forget_txn(txn_id);
            lock(&self.progress).remove(&seq);
            return Err(e.into());
        }
        Ok(Accepted::New(items))
    }

    /// Marks one item finished; the transaction leaves the log when all are.
    pub fn item_done(&self, seq: u64, idx: u32) -> Result<(), StoreError> {
        let finished: Option<Location> = {
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
                map.remove(&seq).map(|p| p.loc)
            } else {
                p.dirty = true;
                None
            }
        };
        if let Some(loc) = finished {
            let key = seq.to_be_bytes();
            self.pending.remove(key)?;
            self.done.remove(key)?;
            self.wal.release(loc);
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
        self.store.flush().await
    }

    /// Everything in the log not yet done, in log order: what a crash left behind.
    pub fn recover(&self) -> Result<Vec<LogItem>, StoreError> {
        let mut out = Vec::new();
        let recovered = std::mem::take(&mut *lock(&self.recovered));
        for (seq, loc, body) in recovered {
            let key = seq.to_be_bytes();
            let Ok(parsed) = parse(&body) else {
                tracing::error!(seq, "unparsable transaction in the log; dropping it");
                self.pending.remove(key)?;
                self.wal.release(loc);
                continue;
            };
            let mut bits = match self.done.get(&key)? {
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
                self.pending.remove(key)?;
                self.done.remove(key)?;
                self.wal.release(loc);
                continue;
            }
            lock(&self.progress).insert(
                seq,
                Progress {
                    loc,
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

    /// How many transactions are in the log (not fully dispatched).
    pub fn pending_transactions(&self) -> usize {
        self.pending.len()
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

fn seq_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[8 - n..].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}
