//! Which txnIds and event IDs were seen lately: a bounded window.
//!
//! Kept in memory (txnIds, and 64-bit hashes of event IDs). On disk it needs
//! no record per transaction: while a transaction's segment is on disk, its
//! entry can be rebuilt from the segment (the log does so at open). Before
//! segments are retired, the whole window is written to a snapshot file
//! (`txnlog/seen.snapshot`, replaced atomically), which carries the entries
//! of retired segments over a restart. When the window holds more than its
//! bounds, the oldest transactions leave it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::path::Path;

const SNAPSHOT_MAGIC: u32 = 0x474b_5357; // "GKSW"
const SNAPSHOT_FORMAT: u32 = 1;

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
    txns: HashMap<String, u64>,
    events: HashKeyed<u64>,
    seqs: HashSet<u64>,
    order: VecDeque<Entry>,
    event_count: usize,
    max_txns: usize,
    max_events: usize,
}

impl SeenWindow {
    /// An empty window with these bounds.
    pub(crate) fn new(max_txns: usize, max_events: usize) -> Self {
        SeenWindow {
            txns: HashMap::new(),
            events: HashKeyed::default(),
            seqs: HashSet::new(),
            order: VecDeque::new(),
            event_count: 0,
            max_txns: max_txns.max(1),
            max_events: max_events.max(1),
        }
    }

    /// Loads the snapshot in `dir`, if any. A damaged snapshot is reported
    /// and left out: what the segments hold is still rebuilt from them.
    pub(crate) fn load(&mut self, dir: &Path) -> std::io::Result<()> {
        let data = match std::fs::read(dir.join("seen.snapshot")) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        match decode_snapshot(&data) {
            Some(entries) => entries.into_iter().for_each(|e| self.add(e)),
            None => tracing::warn!(
                "the snapshot of seen transactions is damaged; only the ones in the log's segments are remembered"
            ),
        }
        Ok(())
    }

    /// After loading: oldest first, within the bounds.
    pub(crate) fn settle(&mut self) {
        self.order.make_contiguous().sort_by_key(|e| e.seq);
        self.evict();
    }

    /// Writes the window to `dir/seen.snapshot`, replacing the old one only
    /// once the new one is on disk.
    pub(crate) fn save(snapshot: &[u8], dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join("seen.snapshot.tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(snapshot)?;
        file.sync_data()?;
        std::fs::rename(&tmp, dir.join("seen.snapshot"))?;
        super::wal::sync_dir(dir)
    }

    /// The window, encoded for [`SeenWindow::save`].
    pub(crate) fn snapshot(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + self.order.len() * 16 + self.event_count * 8);
        v.extend_from_slice(&SNAPSHOT_MAGIC.to_be_bytes());
        v.extend_from_slice(&SNAPSHOT_FORMAT.to_be_bytes());
        v.extend_from_slice(&(self.order.len() as u64).to_be_bytes());
        for e in &self.order {
            v.extend_from_slice(&e.seq.to_be_bytes());
            encode(e, &mut v);
        }
        let crc = crc32fast::hash(&v);
        v.extend_from_slice(&crc.to_be_bytes());
        v
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
    /// per event, whether it is new.
    pub(crate) fn record<'a>(
        &mut self,
        seq: u64,
        txn_id: &str,
        event_ids: impl Iterator<Item = Option<&'a str>>,
    ) -> Vec<bool> {
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
        self.add_indexed(Entry {
            seq,
            txn_id: txn_id.to_owned(),
            hashes,
        });
        self.evict();
        fresh
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

    fn evict(&mut self) {
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
        }
    }
}

/// An entry without its sequence number: txnId length, txnId, hash count, hashes.
fn encode(e: &Entry, v: &mut Vec<u8>) {
    v.extend_from_slice(&(e.txn_id.len() as u32).to_be_bytes());
    v.extend_from_slice(e.txn_id.as_bytes());
    v.extend_from_slice(&(e.hashes.len() as u32).to_be_bytes());
    for h in &e.hashes {
        v.extend_from_slice(&h.to_be_bytes());
    }
}

/// Reads a snapshot; `None` when it does not check out.
fn decode_snapshot(data: &[u8]) -> Option<Vec<Entry>> {
    let (body, crc) = data.split_at_checked(data.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_be_bytes() != crc {
        return None;
    }
    let mut r = Reader { data: body, at: 0 };
    if r.u32()? != SNAPSHOT_MAGIC || r.u32()? != SNAPSHOT_FORMAT {
        return None;
    }
    let count = r.u64()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let seq = r.u64()?;
        let id_len = r.u32()? as usize;
        let txn_id = std::str::from_utf8(r.take(id_len)?).ok()?.to_owned();
        let n = r.u32()? as usize;
        let hashes = r
            .take(n.checked_mul(8)?)?
            .chunks_exact(8)
            .filter_map(|c| c.try_into().ok().map(u64::from_be_bytes))
            .collect();
        out.push(Entry {
            seq,
            txn_id,
            hashes,
        });
    }
    Some(out)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_round_trips_through_a_snapshot_and_a_damaged_one_is_refused() {
        let mut w = SeenWindow::new(10, 100);
        w.record(7, "txn-ü", [Some("$a"), None, Some("$b")].into_iter());
        w.record(9, "t2", [Some("$a"), Some("$c")].into_iter());
        let snap = w.snapshot();
        let entries = decode_snapshot(&snap).expect("decodes");
        let got: Vec<(u64, &str, usize)> = entries
            .iter()
            .map(|e| (e.seq, e.txn_id.as_str(), e.hashes.len()))
            .collect();
        // "$a" of t2 was not new: only "$c" is t2's.
        assert_eq!(got, [(7, "txn-ü", 2), (9, "t2", 1)]);
        let mut torn = snap.clone();
        torn.truncate(snap.len() - 1);
        assert!(decode_snapshot(&torn).is_none());
        let mut flipped = snap;
        flipped[10] ^= 1;
        assert!(decode_snapshot(&flipped).is_none());
        assert!(decode_snapshot(&[]).is_none());
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a of "a", fixed by the algorithm, not by this build.
        assert_eq!(event_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
