//! The durable transaction log.
//!
//! On disk (sled trees):
//! - `ghostkit.txn.log`: sequence number (u64, big-endian) -> the body as received;
//! - `ghostkit.txn.done`: sequence number -> bitmap of finished items, written
//!   only for transactions that stay partly done for a while;
//! - `ghostkit.txn.seen` / `ghostkit.event.seen`: bounded sets of txnIds and
//!   event IDs, each mapped to the sequence number that owns it.
//!
//! A transaction is removed from the log when all its items are done.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::{parse, TransactionError};
use crate::event::Event;
use crate::store::{BoundedSet, Store, StoreError};

/// Sizes and timings of the log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// How many txnIds are remembered at least (at most twice as many on disk).
    pub seen_transactions: usize,
    /// How many event IDs are remembered at least, to drop events re-sent under a new txnId.
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
    total: u32,
    done: u32,
    bits: Vec<u8>,
    dirty: bool,
}

/// The durable log of transactions; see the module docs.
pub struct TransactionLog {
    store: Store,
    log: sled::Tree,
    done: sled::Tree,
    txns: BoundedSet,
    events: BoundedSet,
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
    /// Opens the log in `store`.
    pub fn open(store: &Store, config: LogConfig) -> Result<Self, StoreError> {
        let log = store.tree("ghostkit.txn.log")?;
        let next_seq = match log.last()? {
            Some((k, _)) => seq_of(&k) + 1,
            None => 1,
        };
        Ok(TransactionLog {
            txns: BoundedSet::open(store, "ghostkit.txn.seen", config.seen_transactions)?,
            events: BoundedSet::open(store, "ghostkit.event.seen", config.seen_events)?,
            done: store.tree("ghostkit.txn.done")?,
            log,
            store: store.clone(),
            next_seq: AtomicU64::new(next_seq),
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
            if self.txns.contains(txn_id.as_bytes())? {
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
        self.log.insert(key, body)?;
        let mut items = Vec::with_capacity(parsed.events.len());
        let total = parsed.events.len() as u32;
        let mut bits = vec![0u8; parsed.events.len().div_ceil(8)];
        for (idx, event) in parsed.events.into_iter().enumerate() {
            if let Some(id) = event.event_id_str() {
                // Present already: re-sent under a new txnId, or twice in this one.
                if self.events.insert_if_absent(id.as_bytes(), &key)?.is_some() {
                    tracing::debug!(event_id = id, "event seen before; not dispatched again");
                    bits[idx / 8] |= 1 << (idx % 8);
                    continue;
                }
            }
            items.push(LogItem {
                seq,
                idx: idx as u32,
                event,
            });
        }
        if items.is_empty() {
            self.log.remove(key)?;
        } else {
            let done = total - items.len() as u32;
            lock(&self.progress).insert(
                seq,
                Progress {
                    total,
                    done,
                    bits,
                    dirty: done > 0,
                },
            );
        }
        self.txns.insert_if_absent(txn_id.as_bytes(), &key)?;
        self.store.flush().await?;
        Ok(Accepted::New(items))
    }

    /// Marks one item finished; the transaction leaves the log when all are.
    pub fn item_done(&self, seq: u64, idx: u32) -> Result<(), StoreError> {
        let finished = {
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
                map.remove(&seq);
                true
            } else {
                p.dirty = true;
                false
            }
        };
        if finished {
            let key = seq.to_be_bytes();
            self.log.remove(key)?;
            self.done.remove(key)?;
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
        for entry in self.log.iter() {
            let (key, body) = entry?;
            let seq = seq_of(&key);
            let Ok(parsed) = parse(&body) else {
                tracing::error!(seq, "unreadable transaction in the log; dropping it");
                self.log.remove(&key)?;
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
                    if let Some(owner) = self.events.get(id.as_bytes())? {
                        if owner.as_ref() != key.as_ref() {
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
                self.log.remove(&key)?;
                self.done.remove(&key)?;
                continue;
            }
            lock(&self.progress).insert(
                seq,
                Progress {
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
        self.log.len()
    }

    /// How many txnIds are remembered on disk.
    pub fn remembered_transactions(&self) -> usize {
        self.txns.len()
    }

    /// How many event IDs are remembered on disk.
    pub fn remembered_events(&self) -> usize {
        self.events.len()
    }
}

fn seq_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[8 - n..].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}
