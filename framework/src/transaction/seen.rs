//! Which txnIds and event IDs were seen lately: a bounded window.
//!
//! Kept in memory for speed and on disk for restarts as one record per
//! transaction (`ghostkit.txn.seen`: sequence number -> txnId and the 64-bit
//! hashes of its new event IDs), so accepting a transaction costs one write
//! here, not one per event. When the window holds more than its bounds, the
//! oldest transactions leave it, in memory and on disk.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::store::StoreError;

/// FNV-1a, 64 bits: stable across builds and runs, unlike std's hasher.
pub(crate) fn event_hash(event_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in event_id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The keys of the event map are hashes already: hashing them again is waste.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashKeyed<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

struct Entry {
    seq: u64,
    txn_id: String,
    hashes: Vec<u64>,
}

pub(crate) struct SeenWindow {
    tree: sled::Tree,
    txns: HashMap<String, u64>,
    events: HashKeyed<u64>,
    seqs: HashSet<u64>,
    order: VecDeque<Entry>,
    event_count: usize,
    max_txns: usize,
    max_events: usize,
}

impl SeenWindow {
    /// Loads the window from disk.
    pub(crate) fn open(
        tree: sled::Tree,
        max_txns: usize,
        max_events: usize,
    ) -> Result<Self, StoreError> {
        let mut w = SeenWindow {
            tree,
            txns: HashMap::new(),
            events: HashKeyed::default(),
            seqs: HashSet::new(),
            order: VecDeque::new(),
            event_count: 0,
            max_txns: max_txns.max(1),
            max_events: max_events.max(1),
        };
        for entry in w.tree.iter() {
            let (k, v) = entry?;
            let Some(e) = decode(&k, &v) else {
                w.tree.remove(k)?;
                continue;
            };
            w.add(e);
        }
        w.evict()?;
        Ok(w)
    }

    /// Whether the txnId was seen.
    pub(crate) fn has_txn(&self, txn_id: &str) -> bool {
        self.txns.contains_key(txn_id)
    }

    /// Whether the transaction with this sequence number is in the window.
    pub(crate) fn has_seq(&self, seq: u64) -> bool {
        self.seqs.contains(&seq)
    }

    /// The highest sequence number in the window.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.seqs.iter().max().copied()
    }

    /// The transaction that first brought this event, if remembered.
    pub(crate) fn event_owner(&self, event_id: &str) -> Option<u64> {
        self.events.get(&event_hash(event_id)).copied()
    }

    /// Records a transaction and those of its events not seen before; returns,
    /// per event, whether it is new. Written to the store (not flushed).
    pub(crate) fn record<'a>(
        &mut self,
        seq: u64,
        txn_id: &str,
        event_ids: impl Iterator<Item = Option<&'a str>>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut fresh = Vec::new();
        let mut hashes = Vec::new();
        for id in event_ids {
            let is_new = match id {
                None => true,
                // One probe: the hash goes in now, so a twin later in the
                // same transaction finds it too.
                Some(id) => match self.events.entry(event_hash(id)) {
                    std::collections::hash_map::Entry::Occupied(_) => false,
                    std::collections::hash_map::Entry::Vacant(v) => {
                        hashes.push(*v.key());
                        v.insert(seq);
                        true
                    }
                },
            };
            fresh.push(is_new);
        }
        let entry = Entry {
            seq,
            txn_id: txn_id.to_owned(),
            hashes,
        };
        self.tree.insert(seq.to_be_bytes(), encode(&entry))?;
        self.add_indexed(entry);
        self.evict()?;
        Ok(fresh)
    }

    /// Forgets a txnId whose transaction could not be made durable.
    pub(crate) fn forget_txn(&mut self, txn_id: &str) {
        self.txns.remove(txn_id);
    }

    pub(crate) fn txn_count(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn event_count(&self) -> usize {
        self.event_count
    }

    fn add(&mut self, e: Entry) {
        for h in &e.hashes {
            self.events.insert(*h, e.seq);
        }
        self.add_indexed(e);
    }

    /// Adds an entry whose event hashes are in `events` already.
    fn add_indexed(&mut self, e: Entry) {
        self.txns.insert(e.txn_id.clone(), e.seq);
        self.seqs.insert(e.seq);
        self.event_count += e.hashes.len();
        self.order.push_back(e);
    }

    fn evict(&mut self) -> Result<(), StoreError> {
        while self.order.len() > self.max_txns || self.event_count > self.max_events {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.seqs.remove(&old.seq);
            if self.txns.get(&old.txn_id) == Some(&old.seq) {
                self.txns.remove(&old.txn_id);
            }
            for h in &old.hashes {
                if self.events.get(h) == Some(&old.seq) {
                    self.events.remove(h);
                }
            }
            self.event_count -= old.hashes.len();
            self.tree.remove(old.seq.to_be_bytes())?;
        }
        Ok(())
    }
}

fn encode(e: &Entry) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + e.txn_id.len() + 8 * e.hashes.len());
    v.extend_from_slice(&(e.txn_id.len() as u32).to_be_bytes());
    v.extend_from_slice(e.txn_id.as_bytes());
    for h in &e.hashes {
        v.extend_from_slice(&h.to_be_bytes());
    }
    v
}

fn decode(key: &[u8], v: &[u8]) -> Option<Entry> {
    let seq = u64::from_be_bytes(key.try_into().ok()?);
    let len = u32::from_be_bytes(v.get(..4)?.try_into().ok()?) as usize;
    let txn_id = std::str::from_utf8(v.get(4..4 + len)?).ok()?.to_owned();
    let rest = v.get(4 + len..)?;
    if rest.len() % 8 != 0 {
        return None;
    }
    let hashes = rest
        .chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(u64::from_be_bytes))
        .collect();
    Some(Entry {
        seq,
        txn_id,
        hashes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_encoding() {
        let e = Entry {
            seq: 7,
            txn_id: "txn-ü".into(),
            hashes: vec![1, u64::MAX],
        };
        let d = decode(&7u64.to_be_bytes(), &encode(&e)).expect("decodes");
        assert_eq!(
            (d.seq, d.txn_id.as_str(), d.hashes),
            (7, "txn-ü", vec![1, u64::MAX])
        );
        assert!(decode(&7u64.to_be_bytes(), &[0, 0, 0, 9, b'a']).is_none());
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a of "a", fixed by the algorithm, not by this build.
        assert_eq!(event_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
