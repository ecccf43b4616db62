//! Which txnIds and event IDs were seen lately: a bounded window.
//!
//! Kept in memory (txnIds with a 64-bit hash of their body, and 64-bit
//! hashes of event IDs). A txnId is a duplicate only with the same body: a
//! homeserver whose transaction IDs went back (Synapse on SQLite counts from
//! 1 again after a restart; a database restored from a backup) sends known
//! txnIds with new bodies, and those are let in, their events deduplicated
//! by event ID. On disk it needs
//! no record per transaction: while a transaction's segment is on disk, its
//! entry can be rebuilt from the segment (the log does so at open). Before
//! segments are retired, the whole window is written to a snapshot file
//! (`txnlog/seen.snapshot`, replaced atomically), which carries the entries
//! of retired segments over a restart. When the window holds more than its
//! bounds, the oldest transactions leave it.
//!
//! Each entry keeps, in memory only, when it was recorded, for the age of
//! the oldest one (a metric): an entry read back at open takes the
//! modification time of the file it came from, a lower bound.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::path::Path;
use std::time::{Instant, SystemTime};

const SNAPSHOT_MAGIC: u32 = 0x474b_5357; // "GKSW"
const SNAPSHOT_FORMAT: u32 = 2;
/// Format 1 had no body hashes.
const SNAPSHOT_FORMAT_V1: u32 = 1;

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

/// The hash of a transaction's body, to tell a re-sent transaction from a
/// new one under a reused txnId. xxh3: about 20 GB/s, so cheap next to the
/// parse of the same body.
pub(crate) fn body_hash(body: &[u8]) -> u64 {
    // 0 stands for "not known" (entries of a format 1 snapshot).
    xxhash_rust::xxh3::xxh3_64(body).max(1)
}

/// What a txnId means, given the body it comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnStatus {
    /// Never seen (or forgotten).
    New,
    /// Seen with this body: a re-send.
    Duplicate,
    /// Seen with another body: the homeserver counts its txnIds again.
    Reused,
}

struct Entry {
    seq: u64,
    txn_id: String,
    /// [`body_hash`] of the transaction, 0 when not known.
    body: u64,
    hashes: Vec<u64>,
    /// When it was recorded (in memory only).
    at: Instant,
}

/// The modification time of the file at `path` as an [`Instant`]; now
/// when the file system does not say.
pub(crate) fn modified_at(path: &Path) -> Instant {
    let now = Instant::now();
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

pub(crate) struct SeenWindow {
    /// txnId -> (sequence number, body hash) of its latest transaction.
    txns: HashMap<String, (u64, u64)>,
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
        let at = modified_at(&dir.join("seen.snapshot"));
        self.load_snapshot(&data, at);
        Ok(())
    }

    /// Loads a snapshot taken `at` (from [`SeenWindow::snapshot`]). A
    /// damaged one is reported and left out.
    pub(crate) fn load_snapshot(&mut self, data: &[u8], at: Instant) {
        match decode_snapshot(data, at) {
            Some(entries) => entries.into_iter().for_each(|e| self.add(e)),
            None => tracing::warn!(
                "the snapshot of seen transactions is damaged; only the ones in the log's segments are remembered"
            ),
        }
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
        let mut file = crate::store::private::create_file(&tmp)?;
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
            v.extend_from_slice(&e.body.to_be_bytes());
            encode(e, &mut v);
        }
        let crc = crc32fast::hash(&v);
        v.extend_from_slice(&crc.to_be_bytes());
        v
    }

    /// Whether `txn_id` with a body of hash `body` is new, a re-send or a
    /// reuse of the txnId. An entry whose body is not known counts as a re-send.
    pub(crate) fn txn_status(&self, txn_id: &str, body: u64) -> TxnStatus {
        match self.txns.get(txn_id) {
            None => TxnStatus::New,
            Some(&(_, known)) if known == body || known == 0 => TxnStatus::Duplicate,
            Some(_) => TxnStatus::Reused,
        }
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

    /// Records a transaction, received `at`, and those of its events not
    /// seen before; returns, per event, whether it is new.
    pub(crate) fn record<'a>(
        &mut self,
        seq: u64,
        txn_id: &str,
        body: u64,
        at: Instant,
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
            body,
            hashes,
            at,
        });
        self.evict();
        fresh
    }

    /// Forgets the transaction `seq` (it could not be made durable): its
    /// txnId and the event IDs it brought, so the homeserver's retry is new.
    pub(crate) fn forget(&mut self, seq: u64) {
        let Some(pos) = self.order.iter().rposition(|e| e.seq == seq) else {
            return;
        };
        let Some(old) = self.order.remove(pos) else {
            return;
        };
        self.drop_entry(&old);
    }

    pub(crate) fn txn_count(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn event_count(&self) -> usize {
        self.event_count
    }

    /// When the oldest transaction in the window (the lowest sequence
    /// number) was recorded.
    pub(crate) fn oldest_at(&self) -> Option<Instant> {
        self.order.front().map(|e| e.at)
    }

    fn add(&mut self, e: Entry) {
        for h in &e.hashes {
            self.events.insert(*h, e.seq);
        }
        self.add_indexed(e);
    }

    /// Adds an entry whose event hashes are in `events` already.
    fn add_indexed(&mut self, e: Entry) {
        self.txns.insert(e.txn_id.clone(), (e.seq, e.body));
        self.seqs.insert(e.seq);
        self.event_count += e.hashes.len();
        self.order.push_back(e);
    }

    fn evict(&mut self) {
        while self.order.len() > self.max_txns || self.event_count > self.max_events {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.drop_entry(&old);
        }
    }

    /// Removes what `old`, no longer in `order`, put in the indexes.
    fn drop_entry(&mut self, old: &Entry) {
        self.seqs.remove(&old.seq);
        if self.txns.get(&old.txn_id).map(|t| t.0) == Some(old.seq) {
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

/// An entry without its sequence number: txnId length, txnId, hash count, hashes.
fn encode(e: &Entry, v: &mut Vec<u8>) {
    v.extend_from_slice(&(e.txn_id.len() as u32).to_be_bytes());
    v.extend_from_slice(e.txn_id.as_bytes());
    v.extend_from_slice(&(e.hashes.len() as u32).to_be_bytes());
    for h in &e.hashes {
        v.extend_from_slice(&h.to_be_bytes());
    }
}

/// Reads a snapshot written `at`; `None` when it does not check out.
fn decode_snapshot(data: &[u8], at: Instant) -> Option<Vec<Entry>> {
    let (body, crc) = data.split_at_checked(data.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_be_bytes() != crc {
        return None;
    }
    let mut r = Reader { data: body, at: 0 };
    if r.u32()? != SNAPSHOT_MAGIC {
        return None;
    }
    let with_body = match r.u32()? {
        SNAPSHOT_FORMAT => true,
        SNAPSHOT_FORMAT_V1 => false,
        _ => return None,
    };
    let count = r.u64()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let seq = r.u64()?;
        let body = if with_body { r.u64()? } else { 0 };
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
            body,
            hashes,
            at,
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
        w.record(
            7,
            "txn-ü",
            70,
            Instant::now(),
            [Some("$a"), None, Some("$b")].into_iter(),
        );
        w.record(
            9,
            "t2",
            90,
            Instant::now(),
            [Some("$a"), Some("$c")].into_iter(),
        );
        let snap = w.snapshot();
        let entries = decode_snapshot(&snap, Instant::now()).expect("decodes");
        let got: Vec<(u64, &str, u64, usize)> = entries
            .iter()
            .map(|e| (e.seq, e.txn_id.as_str(), e.body, e.hashes.len()))
            .collect();
        // "$a" of t2 was not new: only "$c" is t2's.
        assert_eq!(got, [(7, "txn-ü", 70, 2), (9, "t2", 90, 1)]);
        let mut torn = snap.clone();
        torn.truncate(snap.len() - 1);
        assert!(decode_snapshot(&torn, Instant::now()).is_none());
        let mut flipped = snap;
        flipped[10] ^= 1;
        assert!(decode_snapshot(&flipped, Instant::now()).is_none());
        assert!(decode_snapshot(&[], Instant::now()).is_none());
    }

    #[test]
    fn a_txn_id_is_a_duplicate_only_with_the_same_body() {
        let mut w = SeenWindow::new(10, 100);
        w.record(1, "1", 11, Instant::now(), [Some("$a")].into_iter());
        assert_eq!(w.txn_status("1", 11), TxnStatus::Duplicate);
        assert_eq!(w.txn_status("1", 12), TxnStatus::Reused);
        assert_eq!(w.txn_status("2", 11), TxnStatus::New);
        // The reused txnId's new transaction replaces the old one's entry.
        let fresh = w.record(
            2,
            "1",
            12,
            Instant::now(),
            [Some("$a"), Some("$b")].into_iter(),
        );
        assert_eq!(fresh, [false, true]);
        assert_eq!(w.txn_status("1", 12), TxnStatus::Duplicate);
        assert_eq!(w.txn_status("1", 11), TxnStatus::Reused);
        // Forgetting one transaction leaves the other's events known.
        w.forget(2);
        assert_eq!(w.txn_status("1", 12), TxnStatus::New);
        assert_eq!(w.event_owner("$a"), Some(1));
        assert_eq!(w.event_owner("$b"), None);
    }

    #[test]
    fn a_format_1_snapshot_still_loads_its_entries_as_re_sends() {
        // Magic, format 1, one entry: seq 5, txnId "t", one hash.
        let mut v = Vec::new();
        v.extend_from_slice(&SNAPSHOT_MAGIC.to_be_bytes());
        v.extend_from_slice(&SNAPSHOT_FORMAT_V1.to_be_bytes());
        v.extend_from_slice(&1u64.to_be_bytes());
        v.extend_from_slice(&5u64.to_be_bytes());
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(b"t");
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&event_hash("$x").to_be_bytes());
        let crc = crc32fast::hash(&v);
        v.extend_from_slice(&crc.to_be_bytes());
        let mut w = SeenWindow::new(10, 100);
        decode_snapshot(&v, Instant::now())
            .expect("decodes")
            .into_iter()
            .for_each(|e| w.add(e));
        assert_eq!(w.txn_status("t", 99), TxnStatus::Duplicate);
        assert_eq!(w.event_owner("$x"), Some(5));
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a of "a", fixed by the algorithm, not by this build.
        assert_eq!(event_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
