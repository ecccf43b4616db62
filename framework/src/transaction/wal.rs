//! The write-ahead file of transaction bodies.
//!
//! Bodies are appended to segment files (`txnlog/<n>.seg`) with a checksum,
//! and made durable by `fdatasync`, grouped: callers that arrive while a sync
//! runs share the next one. Small records (which transactions are pending,
//! progress, the seen window) stay in sled; a body is tens of kilobytes, and
//! sled would write it out more than once (measured: see BENCHMARKS.md).
//!
//! A segment is deleted once every transaction in it is done and it is no
//! longer the one being written. A new segment is started on each open, so a
//! torn tail from a crash is never appended to.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

const MAGIC: u32 = 0x474b_5458; // "GKTX"
const HEADER: usize = 4 + 4 + 4 + 8;
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Where a body is: segment, offset of its record, body length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

impl Location {
    pub(crate) fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&self.segment.to_be_bytes());
        b[8..16].copy_from_slice(&self.offset.to_be_bytes());
        b[16..].copy_from_slice(&self.len.to_be_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Location> {
        Some(Location {
            segment: u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            offset: u64::from_be_bytes(b.get(8..16)?.try_into().ok()?),
            len: u32::from_be_bytes(b.get(16..20)?.try_into().ok()?),
        })
    }
}

struct Current {
    file: Arc<File>,
    segment: u64,
    offset: u64,
}

pub(crate) struct Wal {
    dir: PathBuf,
    current: Mutex<Current>,
    live: Mutex<HashMap<u64, usize>>,
    requested: AtomicU64,
    synced: watch::Sender<u64>,
    sync_lock: tokio::sync::Mutex<()>,
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016}.seg"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Wal {
    /// Opens the folder and starts a new segment after the existing ones.
    pub(crate) fn open(dir: &Path) -> std::io::Result<Wal> {
        std::fs::create_dir_all(dir)?;
        let mut last = 0;
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            if let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse().ok())
            {
                last = last.max(n);
            }
        }
        let segment = last + 1;
        let file = create_segment(dir, segment)?;
        let (tx, _) = watch::channel(0);
        Ok(Wal {
            dir: dir.to_owned(),
            current: Mutex::new(Current {
                file: Arc::new(file),
                segment,
                offset: 0,
            }),
            live: Mutex::new(HashMap::new()),
            requested: AtomicU64::new(0),
            synced: tx,
            sync_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Appends a body (not yet durable: see [`Wal::sync`]).
    pub(crate) fn append(&self, seq: u64, body: &[u8]) -> std::io::Result<Location> {
        let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
        let mut record = Vec::with_capacity(HEADER + body.len());
        record.extend_from_slice(&MAGIC.to_be_bytes());
        record.extend_from_slice(&len.to_be_bytes());
        record.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
        record.extend_from_slice(&seq.to_be_bytes());
        record.extend_from_slice(body);
        let mut cur = lock(&self.current);
        if cur.offset > SEGMENT_BYTES {
            // The old segment is synced before the new one is written to, so a
            // sync of the current file covers everything appended before it.
            cur.file.sync_data()?;
            let segment = cur.segment + 1;
            let file = create_segment(&self.dir, segment)?;
            let old = cur.segment;
            *cur = Current {
                file: Arc::new(file),
                segment,
                offset: 0,
            };
            self.release_if_empty(old, segment);
        }
        let loc = Location {
            segment: cur.segment,
            offset: cur.offset,
            len,
        };
        (&*cur.file).write_all(&record)?;
        cur.offset += record.len() as u64;
        *lock(&self.live).entry(loc.segment).or_default() += 1;
        Ok(loc)
    }

    /// Makes every append made before this call durable; concurrent callers
    /// share one `fdatasync`.
    pub(crate) async fn sync(&self) -> std::io::Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = self.synced.subscribe();
        loop {
            if *rx.borrow_and_update() >= ticket {
                return Ok(());
            }
            if let Ok(_guard) = self.sync_lock.try_lock() {
                if *self.synced.borrow() >= ticket {
                    return Ok(());
                }
                let covered = self.requested.load(Ordering::SeqCst);
                let file = lock(&self.current).file.clone();
                tokio::task::spawn_blocking(move || file.sync_data())
                    .await
                    .map_err(std::io::Error::other)??;
                self.synced.send_modify(|s| *s = (*s).max(covered));
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return Ok(());
            }
        }
    }

    /// Reads a body back, checking its checksum and sequence number.
    pub(crate) fn read(&self, seq: u64, loc: Location) -> std::io::Result<Vec<u8>> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let file = File::open(segment_path(&self.dir, loc.segment))?;
        let mut header = [0u8; HEADER];
        file.read_exact_at(&mut header, loc.offset)?;
        let word = |at: usize| {
            header
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
        };
        let (magic, len, crc) = (word(0), word(4), word(8));
        let rec_seq = header
            .get(12..20)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes);
        if magic != Some(MAGIC) || len != Some(loc.len) || rec_seq != Some(seq) {
            return Err(bad("transaction record header does not match"));
        }
        let mut body = vec![0u8; loc.len as usize];
        file.read_exact_at(&mut body, loc.offset + HEADER as u64)?;
        if Some(crc32fast::hash(&body)) != crc {
            return Err(bad("transaction record checksum does not match"));
        }
        Ok(body)
    }

    /// Counts a recovered record as live in its segment.
    pub(crate) fn retain(&self, loc: Location) {
        *lock(&self.live).entry(loc.segment).or_default() += 1;
    }

    /// One record of the segment is done with; an old, empty segment is deleted.
    pub(crate) fn release(&self, loc: Location) {
        let current = lock(&self.current).segment;
        let empty = {
            let mut live = lock(&self.live);
            match live.get_mut(&loc.segment) {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n == 0
                }
                None => true,
            }
        };
        if empty {
            self.release_if_empty(loc.segment, current);
        }
    }

    /// Deletes every old segment holding no live record (after recovery).
    pub(crate) fn collect_garbage(&self) -> std::io::Result<()> {
        let current = lock(&self.current).segment;
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            if let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse().ok())
            {
                self.release_if_empty(n, current);
            }
        }
        Ok(())
    }

    fn release_if_empty(&self, segment: u64, current: u64) {
        if segment == current {
            return;
        }
        let mut live = lock(&self.live);
        if live.get(&segment).copied().unwrap_or(0) == 0 {
            live.remove(&segment);
            if let Err(e) = std::fs::remove_file(segment_path(&self.dir, segment)) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(segment, error = %e, "cannot delete a finished transaction segment");
                }
            }
        }
    }
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
