//! The write-ahead file of transactions: what makes an acknowledgement safe.
//!
//! Each accepted transaction is appended to a segment file
//! (`txnlog/<n>.seg`) as one record: a header with a checksum, its sequence
//! number, its txnId and the body as received. [`Wal::sync`] makes appends
//! durable with `fdatasync`, grouped: callers that arrive while a sync runs
//! share the next one. Nothing else is synced before an acknowledgement.
//!
//! Sequence numbers are given out under the append lock, so they grow with
//! the file. A segment whose transactions are all done becomes *deletable*;
//! the log deletes it only after the store has flushed the records that say
//! so ([`Wal::take_deletable`]). Each open starts a new segment, so a torn
//! tail from a crash is never appended to; a scan stops at the first record
//! that does not check out.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::watch;

const MAGIC: u32 = 0x474b_5458; // "GKTX"
const HEADER: usize = 4 + 4 + 4 + 8 + 2;

/// One record read back from a segment.
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) segment: u64,
    pub(crate) txn_id: String,
    pub(crate) body: Vec<u8>,
}

#[derive(Default)]
struct SegmentInfo {
    live: usize,
    first_seq: u64,
    last_seq: u64,
}

struct Current {
    file: Arc<File>,
    segment: u64,
    offset: u64,
    next_seq: u64,
}

pub(crate) struct Wal {
    dir: PathBuf,
    sync: Arc<SyncShared>,
    syncer: Option<std::thread::JoinHandle<()>>,
    segments: Mutex<HashMap<u64, SegmentInfo>>,
    deletable: Mutex<Vec<(u64, u64, u64)>>,
    segment_bytes: u64,
}

/// Where the grouped syncs stand.
#[derive(Default)]
struct SyncState {
    /// Every ticket up to this one is durable.
    synced: u64,
    /// Every ticket above `synced` up to this one failed to sync.
    failed: u64,
    /// Why the last sync failed.
    error: String,
}

/// What appenders, waiters and the sync thread share.
struct SyncShared {
    current: Mutex<Current>,
    /// Tickets given out: one per `sync` call, after its append.
    requested: AtomicU64,
    state: watch::Sender<SyncState>,
    /// Held during an `fdatasync`: one at a time.
    running: Mutex<()>,
    /// (a sync is wanted, the log is closing), for the sync thread.
    wake: Mutex<(bool, bool)>,
    wake_cv: Condvar,
}

impl SyncShared {
    /// Syncs the current file for every ticket given out so far; call with
    /// `running` held.
    fn sync_now(&self) -> std::io::Result<()> {
        // Tickets first, then the file: an append covered by a ticket is in
        // this file or in an older one, which was synced when it was retired.
        let covered = self.requested.load(Ordering::SeqCst);
        if self.state.borrow().synced >= covered {
            return Ok(());
        }
        let file = lock(&self.current).file.clone();
        match file.sync_data() {
            Ok(()) => {
                self.state.send_modify(|s| s.synced = s.synced.max(covered));
                Ok(())
            }
            Err(e) => {
                self.state.send_modify(|s| {
                    s.failed = s.failed.max(covered);
                    s.error = e.to_string();
                });
                Err(e)
            }
        }
    }

    /// The sync thread: syncs whenever asked, until the log closes.
    fn run(&self) {
        loop {
            {
                let mut wake = lock(&self.wake);
                while !wake.0 && !wake.1 {
                    wake = self.wake_cv.wait(wake).unwrap_or_else(|p| p.into_inner());
                }
                if !wake.0 {
                    return;
                }
                wake.0 = false;
            }
            let _running = lock(&self.running);
            if let Err(e) = self.sync_now() {
                tracing::error!(error = %e, "cannot sync the transaction log");
            }
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        lock(&self.sync.wake).1 = true;
        self.sync.wake_cv.notify_one();
        if let Some(t) = self.syncer.take() {
            let _ = t.join();
        }
    }
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016}.seg"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The segments in `dir`, oldest first.
pub(crate) fn existing_segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg"))
            .and_then(|n| n.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Reads every sound record of a segment, stopping at the first torn one.
pub(crate) fn scan(dir: &Path, segment: u64) -> std::io::Result<Vec<Record>> {
    let mut data = Vec::new();
    File::open(segment_path(dir, segment))?.read_to_end(&mut data)?;
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(header) = data.get(at..at + HEADER) {
        let word = |i: usize| {
            header
                .get(i..i + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
        };
        let seq = header
            .get(12..20)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes);
        let id_len = header
            .get(20..22)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_be_bytes);
        let (Some(magic), Some(len), Some(crc), Some(seq), Some(id_len)) =
            (word(0), word(4), word(8), seq, id_len)
        else {
            break;
        };
        let end = at + HEADER + id_len as usize + len as usize;
        let Some(payload) = data.get(at + HEADER..end) else {
            break;
        };
        if magic != MAGIC || crc32fast::hash(payload) != crc {
            break;
        }
        let (id, body) = payload.split_at(id_len as usize);
        let Ok(txn_id) = std::str::from_utf8(id) else {
            break;
        };
        out.push(Record {
            seq,
            segment,
            txn_id: txn_id.to_owned(),
            body: body.to_vec(),
        });
        at = end;
    }
    if at < data.len() {
        tracing::warn!(
            segment,
            bytes = data.len() - at,
            "ignoring a torn tail in a transaction segment"
        );
    }
    Ok(out)
}

impl Wal {
    /// Opens the folder and starts a new segment after the existing ones;
    /// sequence numbers go on from `next_seq`.
    pub(crate) fn open(dir: &Path, next_seq: u64, segment_bytes: u64) -> std::io::Result<Wal> {
        std::fs::create_dir_all(dir)?;
        let segment = existing_segments(dir)?.last().copied().unwrap_or(0) + 1;
        let file = create_segment(dir, segment)?;
        let (state, _) = watch::channel(SyncState::default());
        let sync = Arc::new(SyncShared {
            current: Mutex::new(Current {
                file: Arc::new(file),
                segment,
                offset: 0,
                next_seq,
            }),
            requested: AtomicU64::new(0),
            state,
            running: Mutex::new(()),
            wake: Mutex::new((false, false)),
            wake_cv: Condvar::new(),
        });
        let shared = sync.clone();
        let syncer = std::thread::Builder::new()
            .name("ghostkit-txnlog-sync".into())
            .spawn(move || shared.run())?;
        Ok(Wal {
            dir: dir.to_owned(),
            sync,
            syncer: Some(syncer),
            segments: Mutex::new(HashMap::new()),
            deletable: Mutex::new(Vec::new()),
            segment_bytes,
        })
    }

    /// Appends a transaction (durable after [`Wal::sync`]); returns its
    /// sequence number and segment.
    pub(crate) fn append(&self, txn_id: &str, body: &[u8]) -> std::io::Result<(u64, u64)> {
        let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
        let id_len = u16::try_from(txn_id.len()).map_err(std::io::Error::other)?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(txn_id.as_bytes());
        crc.update(body);
        let crc = crc.finalize();
        let mut cur = lock(&self.sync.current);
        if cur.offset > self.segment_bytes {
            // The old segment is synced before the new one is written, so a
            // sync of the current file covers everything appended before it.
            cur.file.sync_data()?;
            let old = cur.segment;
            let segment = old + 1;
            cur.file = Arc::new(create_segment(&self.dir, segment)?);
            cur.segment = segment;
            cur.offset = 0;
            self.mark_if_done(old, segment);
        }
        let seq = cur.next_seq;
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&MAGIC.to_be_bytes());
        header[4..8].copy_from_slice(&len.to_be_bytes());
        header[8..12].copy_from_slice(&crc.to_be_bytes());
        header[12..20].copy_from_slice(&seq.to_be_bytes());
        header[20..22].copy_from_slice(&id_len.to_be_bytes());
        write_all_vectored(&cur.file, &[&header, txn_id.as_bytes(), body])?;
        cur.offset += (HEADER + txn_id.len() + body.len()) as u64;
        cur.next_seq += 1;
        self.retain(cur.segment, seq);
        Ok((seq, cur.segment))
    }

    /// Makes every append made before this call durable; concurrent callers
    /// share one `fdatasync`.
    ///
    /// `alone`: no other transaction is being accepted, so nobody could
    /// share the sync; it runs on this thread, which would only wait anyway.
    /// Otherwise the sync thread runs it, and this thread serves other
    /// requests meanwhile (a group fills while a sync runs).
    pub(crate) async fn sync(&self, alone: bool) -> std::io::Result<()> {
        let sync = &self.sync;
        let ticket = sync.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = sync.state.subscribe();
        if alone {
            if let Ok(_running) = sync.running.try_lock() {
                return sync.sync_now();
            }
        }
        lock(&sync.wake).0 = true;
        sync.wake_cv.notify_one();
        loop {
            {
                let state = rx.borrow_and_update();
                if state.synced >= ticket {
                    return Ok(());
                }
                if state.failed >= ticket {
                    return Err(std::io::Error::other(state.error.clone()));
                }
            }
            if rx.changed().await.is_err() {
                return Err(std::io::Error::other("the transaction log is closed"));
            }
        }
    }

    /// Counts a transaction as not done yet in its segment.
    pub(crate) fn retain(&self, segment: u64, seq: u64) {
        let mut segs = lock(&self.segments);
        let info = segs.entry(segment).or_insert_with(|| SegmentInfo {
            live: 0,
            first_seq: seq,
            last_seq: seq,
        });
        info.live += 1;
        info.first_seq = info.first_seq.min(seq);
        info.last_seq = info.last_seq.max(seq);
    }

    /// A transaction of the segment is done; an old segment with none left
    /// becomes deletable.
    pub(crate) fn release(&self, segment: u64) {
        let current = lock(&self.sync.current).segment;
        {
            let mut segs = lock(&self.segments);
            if let Some(info) = segs.get_mut(&segment) {
                info.live = info.live.saturating_sub(1);
            }
        }
        self.mark_if_done(segment, current);
    }

    /// Marks an old segment (found at open) with no pending transaction deletable.
    pub(crate) fn release_old(&self, segment: u64, first_seq: u64, last_seq: u64) {
        let mut segs = lock(&self.segments);
        let info = segs.entry(segment).or_insert_with(|| SegmentInfo {
            live: 0,
            first_seq,
            last_seq,
        });
        info.first_seq = info.first_seq.min(first_seq);
        info.last_seq = info.last_seq.max(last_seq);
        drop(segs);
        let current = lock(&self.sync.current).segment;
        self.mark_if_done(segment, current);
    }

    fn mark_if_done(&self, segment: u64, current: u64) {
        if segment == current {
            return;
        }
        let mut segs = lock(&self.segments);
        if segs.get(&segment).is_some_and(|i| i.live == 0) {
            if let Some(info) = segs.remove(&segment) {
                lock(&self.deletable).push((segment, info.first_seq, info.last_seq));
            }
        }
    }

    /// Segments that may go, with their first and last sequence numbers.
    /// Call after the store flushed the records that mark them done.
    pub(crate) fn take_deletable(&self) -> Vec<(u64, u64, u64)> {
        std::mem::take(&mut *lock(&self.deletable))
    }

    /// How many segment files are in the folder.
    pub(crate) fn segment_count(&self) -> usize {
        existing_segments(&self.dir).map(|s| s.len()).unwrap_or(0)
    }

    /// Deletes a segment's file.
    pub(crate) fn delete(&self, segment: u64) -> std::io::Result<()> {
        match std::fs::remove_file(segment_path(&self.dir, segment)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Writes all the parts with as few system calls as the kernel allows,
/// without first copying them into one buffer.
fn write_all_vectored(mut file: &File, parts: &[&[u8]]) -> std::io::Result<()> {
    let mut parts: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    while !parts.is_empty() {
        let slices: Vec<std::io::IoSlice<'_>> =
            parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
        let mut written = file.write_vectored(&slices)?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while let Some(first) = parts.first_mut() {
            if written >= first.len() {
                written -= first.len();
                parts.remove(0);
            } else {
                *first = &first[written..];
                break;
            }
        }
    }
    Ok(())
}

fn create_segment(dir: &Path, segment: u64) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, segment))?;
    // The new file's directory entry must survive a crash too.
    File::open(dir)?.sync_all()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ghostkit-wal-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[tokio::test]
    async fn a_torn_tail_is_ignored_and_the_records_before_it_are_read() {
        let dir = temp_dir();
        let wal = Wal::open(&dir, 1, 1 << 20).expect("opens");
        let (s1, seg) = wal.append("t1", b"{\"events\":[]}").expect("appends");
        let (s2, _) = wal.append("t2", b"{\"events\":[1]}").expect("appends");
        wal.sync(false).await.expect("syncs");
        assert_eq!((s1, s2), (1, 2));
        drop(wal);
        // A crash in the middle of a third record: half of it reached the disk.
        let path = segment_path(&dir, seg);
        let whole = std::fs::read(&path).expect("reads");
        let mut torn = whole.clone();
        torn.extend_from_slice(&whole[..HEADER + 3]);
        std::fs::write(&path, &torn).expect("writes");

        let records = scan(&dir, seg).expect("scans");
        let got: Vec<(u64, &str, &[u8])> = records
            .iter()
            .map(|r| (r.seq, r.txn_id.as_str(), r.body.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "t1", &b"{\"events\":[]}"[..]),
                (2, "t2", &b"{\"events\":[1]}"[..])
            ]
        );
        // The next open writes a new segment after the torn one.
        let wal = Wal::open(&dir, 3, 1 << 20).expect("reopens");
        let (s3, seg2) = wal.append("t3", b"{}").expect("appends");
        assert_eq!(s3, 3);
        assert!(seg2 > seg);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_syncs_are_grouped_on_the_sync_thread_and_all_return() {
        let dir = temp_dir();
        let wal = Arc::new(Wal::open(&dir, 1, 1 << 20).expect("opens"));
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let wal = wal.clone();
                tokio::spawn(async move {
                    wal.append(&format!("t{i}"), b"{\"events\":[]}")
                        .expect("appends");
                    wal.sync(i % 2 == 0).await
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("synced");
        }
        let state = wal.sync.state.borrow();
        assert_eq!(state.synced, 32, "every ticket is covered by a sync");
        assert_eq!(state.failed, 0);
        drop(state);
        let records = scan(&dir, 1).expect("scans");
        assert_eq!(records.len(), 32);
        drop(wal);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_flipped_bit_ends_the_scan_at_that_record() {
        let dir = temp_dir();
        let wal = Wal::open(&dir, 1, 1 << 20).expect("opens");
        let (_, seg) = wal.append("t1", b"first").expect("appends");
        wal.append("t2", b"second").expect("appends");
        drop(wal);
        let path = segment_path(&dir, seg);
        let mut bytes = std::fs::read(&path).expect("reads");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).expect("writes");
        let records = scan(&dir, seg).expect("scans");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].body, b"first");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
