//! The write-ahead file of transactions: what makes an acknowledgement safe.
//!
//! Each accepted transaction is appended to a segment file
//! (`txnlog/<n>.seg`) as one record: a header with a checksum, its sequence
//! number, its txnId and the body as received (format in `segment.rs`).
//! [`Wal::sync`] makes appends durable with `fdatasync`, grouped (see
//! `sync.rs`). Nothing else is synced before an acknowledgement.
//!
//! Sequence numbers are given out under the append lock, so they grow with
//! the file. A segment whose transactions are all done becomes *deletable*;
//! the log retires it only after the store has flushed the records that say
//! so ([`Wal::take_deletable`]). Each open starts a new segment, so a torn
//! tail from a crash is never appended to.
//!
//! A retired segment is kept as a spare (`<n>.spare`, a few at most) and
//! written over when a new segment starts: its blocks are allocated and its
//! pages are likely cached, so appends copy into memory the kernel has
//! already, and a sync writes data without changing the file's size (two to
//! seven times cheaper appends here than into a new file).
//!
//! An I/O error never leaves a record behind which later ones would be
//! hidden: a failed append cuts the file back to the end of the last whole
//! record, and when that fails too, or a sync failed, the next append starts
//! a new segment. A segment found damaged is kept aside as `<n>.corrupt`
//! when it is retired, never written over.

mod faults;
mod segment;
mod sync;

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub(crate) use faults::Faults;
use segment::{record_key, RECORD_HEADER, SEGMENT_HEADER};
pub(crate) use segment::{scan, Record, Scan};
use sync::{GroupSync, SyncThread};

#[derive(Default)]
struct SegmentInfo {
    live: usize,
    first_seq: u64,
    last_seq: u64,
}

struct Current {
    file: Arc<File>,
    segment: u64,
    /// What this segment's record checksums are keyed with.
    key: u32,
    /// Where the next record goes: the end of the last whole one.
    offset: u64,
    next_seq: u64,
    /// An I/O error left the file in doubt: the next append starts a new segment.
    broken: bool,
}

pub(crate) struct Wal {
    dir: PathBuf,
    sync: Arc<GroupSync>,
    _syncer: SyncThread,
    segments: Mutex<HashMap<u64, SegmentInfo>>,
    deletable: Mutex<Vec<(u64, u64, u64)>>,
    /// Retired segments kept to be written over, by their old number.
    spares: Mutex<Vec<u64>>,
    /// Segments found damaged: kept aside when retired.
    damaged: Mutex<HashSet<u64>>,
    max_spares: usize,
    segment_bytes: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The segments in `dir`, oldest first.
pub(crate) fn existing_segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    segment::list(dir, "seg")
}

impl Wal {
    /// Opens the folder and starts a new segment after the existing ones;
    /// sequence numbers go on from `next_seq`. At most `max_spares` retired
    /// segments are kept to be written over.
    pub(crate) fn open(
        dir: &Path,
        next_seq: u64,
        segment_bytes: u64,
        max_spares: usize,
    ) -> std::io::Result<Wal> {
        crate::store::private::create_dir(dir)?;
        let segment = existing_segments(dir)?.last().copied().unwrap_or(0) + 1;
        let mut spares = segment::list(dir, "spare")?;
        while spares.len() > max_spares {
            if let Some(n) = spares.pop() {
                std::fs::remove_file(segment::spare_path(dir, n))?;
            }
        }
        let spares = Mutex::new(spares);
        let file = start_segment(dir, segment, next_seq, &spares)?;
        let (sync, syncer) = GroupSync::start(Current {
            file: Arc::new(file),
            segment,
            key: record_key(segment),
            offset: SEGMENT_HEADER as u64,
            next_seq,
            broken: false,
        })?;
        Ok(Wal {
            dir: dir.to_owned(),
            sync,
            _syncer: syncer,
            segments: Mutex::new(HashMap::new()),
            deletable: Mutex::new(Vec::new()),
            spares,
            damaged: Mutex::new(HashSet::new()),
            max_spares,
            segment_bytes,
        })
    }

    /// Appends a transaction (durable after [`Wal::sync`]); returns its
    /// sequence number and segment.
    pub(crate) fn append(&self, txn_id: &str, body: &[u8]) -> std::io::Result<(u64, u64)> {
        let mut header = segment::RecordHeader::new(txn_id, body)?;
        let mut cur = lock(&self.sync.current);
        if cur.offset > self.segment_bytes || cur.broken {
            // The old segment is synced before the new one is written, so a
            // sync of the current file covers everything appended before it.
            // In a broken one, this covers what was appended after the
            // failure; what the failure lost got an error, not an
            // acknowledgement.
            self.sync.faults.before_sync()?;
            cur.file.sync_data()?;
            let old = cur.segment;
            let segment = old + 1;
            cur.file = Arc::new(start_segment(
                &self.dir,
                segment,
                cur.next_seq,
                &self.spares,
            )?);
            cur.segment = segment;
            cur.key = record_key(segment);
            cur.offset = SEGMENT_HEADER as u64;
            cur.broken = false;
            self.mark_if_done(old, segment);
        }
        let seq = cur.next_seq;
        let parts = [header.seal(seq, cur.key), txn_id.as_bytes(), body];
        if let Err(e) = write_all_vectored(&cur.file, &parts, &self.sync.faults) {
            // Part of the record may be in the file: cut it off, so the next
            // record follows the last whole one; if that fails, the next
            // append starts a new segment.
            let offset = cur.offset;
            let cut = cur
                .file
                .set_len(offset)
                .and_then(|()| (&*cur.file).seek(SeekFrom::Start(offset)).map(drop));
            if let Err(cut) = cut {
                tracing::error!(segment = cur.segment, error = %cut, "cannot cut a failed append off the transaction log; starting a new segment");
                cur.broken = true;
            }
            return Err(e);
        }
        cur.offset += (RECORD_HEADER + txn_id.len() + body.len()) as u64;
        cur.next_seq += 1;
        self.retain(cur.segment, seq);
        Ok((seq, cur.segment))
    }

    /// Makes every append made before this call durable; concurrent callers
    /// share one `fdatasync`. `alone`: no other transaction is being
    /// accepted (the sync runs on this thread).
    pub(crate) async fn sync(&self, alone: bool) -> std::io::Result<()> {
        self.sync.wait(alone).await
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

    /// Puts back segments taken by [`Wal::take_deletable`] that could not go yet.
    pub(crate) fn give_back_deletable(&self, segments: Vec<(u64, u64, u64)>) {
        lock(&self.deletable).extend(segments);
    }

    /// Segments that may go, with their first and last sequence numbers.
    /// Call after the store flushed the records that mark them done.
    pub(crate) fn take_deletable(&self) -> Vec<(u64, u64, u64)> {
        std::mem::take(&mut *lock(&self.deletable))
    }

    /// How many segment files are in the folder (spares not counted).
    pub(crate) fn segment_count(&self) -> usize {
        existing_segments(&self.dir).map(|s| s.len()).unwrap_or(0)
    }

    /// Marks a segment found damaged: it is kept aside when retired.
    pub(crate) fn mark_damaged(&self, segment: u64) {
        lock(&self.damaged).insert(segment);
    }

    /// The faults injected under this log's file operations.
    #[cfg(test)]
    pub(crate) fn faults(&self) -> &Faults {
        &self.sync.faults
    }

    /// Retires a handled segment: kept as a spare while there is room, else
    /// deleted; a damaged one is renamed `<n>.corrupt` and kept. Call
    /// [`Wal::sync_dir`] before relying on it.
    pub(crate) fn retire(&self, segment: u64) -> std::io::Result<()> {
        let from = segment::path(&self.dir, segment);
        if lock(&self.damaged).remove(&segment) {
            let to = segment::corrupt_path(&self.dir, segment);
            tracing::warn!(segment, path = %to.display(), "a damaged transaction segment is handled; kept aside for inspection");
            return std::fs::rename(&from, &to);
        }
        let mut spares = lock(&self.spares);
        let res = if spares.len() < self.max_spares {
            std::fs::rename(&from, segment::spare_path(&self.dir, segment))
                .map(|()| spares.push(segment))
        } else {
            std::fs::remove_file(&from)
        };
        match res {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Makes renames and deletions in the folder durable.
    pub(crate) fn sync_dir(&self) -> std::io::Result<()> {
        sync_dir(&self.dir)
    }
}

/// Makes the entries of folder `dir` (new, renamed, deleted files) durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes all the parts with as few system calls as the kernel allows,
/// without first copying them into one buffer.
fn write_all_vectored(mut file: &File, parts: &[&[u8]], faults: &Faults) -> std::io::Result<()> {
    let mut parts: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    while !parts.is_empty() {
        let mut allowed = faults.before_write(parts.iter().map(|p| p.len()).sum())?;
        let slices: Vec<std::io::IoSlice<'_>> = parts
            .iter()
            .map_while(|p| {
                let n = p.len().min(allowed);
                allowed -= n;
                (n > 0).then(|| std::io::IoSlice::new(&p[..n]))
            })
            .collect();
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

/// Starts segment `segment`, in a spare file when there is one. Its header
/// is on disk before its name is: a crash never leaves a segment whose old
/// records could be read as new.
fn start_segment(
    dir: &Path,
    segment: u64,
    first_seq: u64,
    spares: &Mutex<Vec<u64>>,
) -> std::io::Result<File> {
    let header = segment::header(segment, first_seq);
    let target = segment::path(dir, segment);
    let spare = lock(spares).pop();
    let reused = spare.and_then(|n| {
        let path = segment::spare_path(dir, n);
        let res = (|| {
            let mut file = OpenOptions::new().write(true).open(&path)?;
            file.write_all(&header)?;
            file.sync_data()?;
            std::fs::rename(&path, &target)?;
            Ok::<_, std::io::Error>(file)
        })();
        match res {
            Ok(file) => Some(file),
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot reuse a spare segment; starting a new file");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    });
    let file = match reused {
        Some(f) => f,
        None => {
            let mut file = crate::store::private::create_file(&target, true)?;
            file.write_all(&header)?;
            file
        }
    };
    // The new name must survive a crash too.
    sync_dir(dir)?;
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
        let wal = Wal::open(&dir, 1, 1 << 20, 2).expect("opens");
        let (s1, seg) = wal.append("t1", b"{\"events\":[]}").expect("appends");
        let (s2, _) = wal.append("t2", b"{\"events\":[1]}").expect("appends");
        wal.sync(false).await.expect("syncs");
        assert_eq!((s1, s2), (1, 2));
        drop(wal);
        // A crash in the middle of a third record: half of it reached the disk.
        let path = segment::path(&dir, seg);
        let whole = std::fs::read(&path).expect("reads");
        let mut torn = whole.clone();
        torn.extend_from_slice(&whole[SEGMENT_HEADER..SEGMENT_HEADER + RECORD_HEADER + 3]);
        std::fs::write(&path, &torn).expect("writes");

        let records = scan(&dir, seg).expect("scans");
        assert!(records.damage.is_empty() && records.lost == 0);
        assert!(records.tail_bytes > 0);
        let got: Vec<(u64, &str, &[u8])> = records
            .records
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
        let wal = Wal::open(&dir, 3, 1 << 20, 2).expect("reopens");
        let (s3, seg2) = wal.append("t3", b"{}").expect("appends");
        assert_eq!(s3, 3);
        assert!(seg2 > seg);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_syncs_are_grouped_on_the_sync_thread_and_all_return() {
        let dir = temp_dir();
        let wal = Arc::new(Wal::open(&dir, 1, 1 << 20, 2).expect("opens"));
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
        assert_eq!(
            wal.sync.synced(),
            (32, 0),
            "every ticket is covered by a sync, none failed"
        );
        let records = scan(&dir, 1).expect("scans");
        assert_eq!(records.records.len(), 32);
        drop(wal);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_reused_spare_shows_only_its_new_records() {
        let dir = temp_dir();
        // Two 33-byte records fill a segment past 90 bytes.
        let wal = Wal::open(&dir, 1, 90, 1).expect("opens");
        let body = [b'x'; 10];
        let (_, seg1) = wal.append("a", &body).expect("appends");
        wal.append("b", &body).expect("appends");
        let (_, seg2) = wal.append("c", &body).expect("appends");
        assert_eq!(seg2, seg1 + 1, "rotated after two records");
        wal.release(seg1);
        wal.release(seg1);
        let retired: Vec<u64> = wal.take_deletable().iter().map(|d| d.0).collect();
        assert_eq!(retired, [seg1]);
        wal.retire(seg1).expect("retires");
        assert!(segment::spare_path(&dir, seg1).exists());
        wal.append("d", &body).expect("appends");
        let (seq, seg3) = wal.append("e", b"0123456789").expect("appends");
        assert_eq!(seg3, seg2 + 1);
        // Segment 1's file now holds segment 3: "e" over "a", and "b" after
        // it, whole and in place, but older than the header's first record.
        assert!(!segment::spare_path(&dir, seg1).exists());
        assert!(!segment::path(&dir, seg1).exists());
        let read = scan(&dir, seg3).expect("scans");
        assert!(
            read.damage.is_empty() && read.lost == 0,
            "old records are not damage"
        );
        let got: Vec<(u64, String)> = read
            .records
            .into_iter()
            .map(|r| (r.seq, r.txn_id))
            .collect();
        assert_eq!(got, [(seq, "e".to_owned())]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn seqs(scan: &Scan) -> Vec<u64> {
        scan.records.iter().map(|r| r.seq).collect()
    }

    /// Segment `seg`'s bytes with bit `bit` of byte `at` flipped.
    fn flip(dir: &Path, seg: u64, at: usize) {
        let path = segment::path(dir, seg);
        let mut bytes = std::fs::read(&path).expect("reads");
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).expect("writes");
    }

    #[test]
    fn a_flipped_bit_loses_only_its_record_and_is_reported() {
        let dir = temp_dir();
        let wal = Wal::open(&dir, 1, 1 << 20, 2).expect("opens");
        let (_, seg) = wal.append("t1", b"first").expect("appends");
        for i in 2..=6 {
            wal.append(&format!("t{i}"), b"later").expect("appends");
        }
        drop(wal);
        // Inside the second record's body.
        let second = SEGMENT_HEADER + RECORD_HEADER + 2 + 5;
        flip(&dir, seg, second + RECORD_HEADER + 3);
        let read = scan(&dir, seg).expect("scans");
        assert_eq!(seqs(&read), [1, 3, 4, 5, 6]);
        assert_eq!(read.lost, 1);
        assert_eq!(
            read.damage,
            [(second as u64, (RECORD_HEADER + 2 + 5) as u64)]
        );
        assert!(!read.header_damaged);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_flipped_bit_in_the_header_loses_no_record() {
        let dir = temp_dir();
        let wal = Wal::open(&dir, 1, 1 << 20, 2).expect("opens");
        let (_, seg) = wal.append("t1", b"first").expect("appends");
        for i in 2..=6 {
            wal.append(&format!("t{i}"), b"later").expect("appends");
        }
        drop(wal);
        flip(&dir, seg, 17);
        let read = scan(&dir, seg).expect("scans");
        assert!(read.header_damaged);
        assert_eq!(read.first_seq, None);
        assert_eq!(seqs(&read), [1, 2, 3, 4, 5, 6]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_of_another_segment_never_check_out_even_behind_a_damaged_header() {
        let dir = temp_dir();
        let wal = Wal::open(&dir, 1, 1 << 20, 2).expect("opens");
        let (_, seg) = wal.append("t1", b"old").expect("appends");
        wal.append("t2", b"old").expect("appends");
        drop(wal);
        // The file as a later segment would find it when written over, with
        // a header that did not reach the disk.
        let later = seg + 4;
        std::fs::rename(segment::path(&dir, seg), segment::path(&dir, later)).expect("renames");
        flip(&dir, later, 9);
        let read = scan(&dir, later).expect("scans");
        assert!(read.header_damaged);
        assert!(
            read.records.is_empty(),
            "old records read as new: {:?}",
            seqs(&read)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_append_is_cut_off_and_the_next_ones_are_read_back() {
        let dir = temp_dir();
        let wal = Wal::open(&dir, 1, 1 << 20, 2).expect("opens");
        let (_, seg) = wal.append("t1", b"first").expect("appends");
        // The disk fills up in the middle of the second record.
        wal.faults().limit_writes(Some(10));
        let err = wal.append("t2", b"second").expect_err("no room");
        assert_eq!(err.raw_os_error(), Some(28));
        wal.faults().limit_writes(None);
        let (s3, seg3) = wal.append("t3", b"third").expect("appends");
        assert_eq!(
            (s3, seg3),
            (2, seg),
            "the failed append used no sequence number"
        );
        drop(wal);
        let read = scan(&dir, seg).expect("scans");
        let got: Vec<(u64, &str)> = read
            .records
            .iter()
            .map(|r| (r.seq, r.txn_id.as_str()))
            .collect();
        assert_eq!(got, [(1, "t1"), (2, "t3")]);
        assert!(read.damage.is_empty() && read.tail_bytes == 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn after_a_failed_sync_appends_go_on_in_a_new_segment() {
        let dir = temp_dir();
        let wal = Wal::open(&dir, 1, 1 << 20, 2).expect("opens");
        let (_, seg) = wal.append("t1", b"first").expect("appends");
        wal.faults().fail_syncs(1);
        let err = wal.sync(true).await.expect_err("fails");
        assert!(err.to_string().contains("Input/output"), "{err}");
        let (s2, seg2) = wal.append("t2", b"second").expect("appends");
        wal.sync(true).await.expect("syncs");
        assert_eq!((s2, seg2), (2, seg + 1));
        drop(wal);
        assert_eq!(seqs(&scan(&dir, seg2).expect("scans")), [2]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
