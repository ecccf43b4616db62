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
/// When segment `segment` in `dir` was last written (now when not known).
pub(crate) fn segment_written(dir: &Path, segment: u64) -> std::time::Instant {
    super::seen::modified_at(&segment::path(dir, segment))
}

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
            let mut file = crate::store::private::create_file(&target)?;
            file.write_all(&header)?;
            file
        }
    };
    // The new name must survive a crash too.
    sync_dir(dir)?;
    Ok(file)
}

#[cfg(test)]
mod tests;
