//! The format of a segment file, and reading one back.
//!
//! A segment starts with a header: magic `GKSG`, format version, the
//! segment's number, the sequence number its first record will have, and a
//! checksum of those. Records follow: magic `GKTX`, body length, checksum,
//! sequence number, txnId length, txnId, body.
//!
//! A record's checksum covers its txnId and body and is keyed by the
//! segment's number (format 2): a record of another segment never checks
//! out in this one, even where this one's header is damaged.
//!
//! A file is written over again once its transactions are done (recycled),
//! so old records may follow the new ones. A scan keeps records whose
//! sequence numbers go up from the header's first one. Where a record does
//! not check out (a torn write, a flipped bit, old data), it looks further
//! for the next record that does and has a later sequence number, and says
//! what it had to skip. Format 1 files (unkeyed checksums) and files written
//! before the header existed (records from the first byte) are still read.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

const SEGMENT_MAGIC: u32 = 0x474b_5347; // "GKSG"
/// Records' checksums keyed by the segment's number.
const FORMAT: u32 = 2;
/// Records' checksums over txnId and body only.
const FORMAT_UNKEYED: u32 = 1;
/// Magic, version, segment, first sequence number, checksum.
pub(super) const SEGMENT_HEADER: usize = 4 + 4 + 8 + 8 + 4;
const RECORD_MAGIC: u32 = 0x474b_5458; // "GKTX"
/// Magic, body length, checksum, sequence number, txnId length.
pub(super) const RECORD_HEADER: usize = 4 + 4 + 4 + 8 + 2;

/// One record read back from a segment.
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) segment: u64,
    pub(crate) txn_id: String,
    pub(crate) body: Vec<u8>,
}

/// The file of segment `n`.
pub(super) fn path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016}.seg"))
}

/// A handled segment kept to be written over again.
pub(super) fn spare_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016}.spare"))
}

/// A damaged segment kept aside once handled.
pub(super) fn corrupt_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016}.corrupt"))
}

/// The numbers of the files in `dir` with this extension, in order.
pub(super) fn list(dir: &Path, extension: &str) -> std::io::Result<Vec<u64>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(extension))
            .and_then(|n| n.strip_suffix('.'))
            .and_then(|n| n.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The header of segment `segment` whose first record will be `first_seq`.
pub(super) fn header(segment: u64, first_seq: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..4].copy_from_slice(&SEGMENT_MAGIC.to_be_bytes());
    h[4..8].copy_from_slice(&FORMAT.to_be_bytes());
    h[8..16].copy_from_slice(&segment.to_be_bytes());
    h[16..24].copy_from_slice(&first_seq.to_be_bytes());
    let crc = crc32fast::hash(&h[..24]);
    h[24..].copy_from_slice(&crc.to_be_bytes());
    h
}

/// What the checksums of segment `segment`'s records are keyed with.
pub(super) fn record_key(segment: u64) -> u32 {
    crc32fast::hash(&segment.to_be_bytes())
}

/// The header of a record, made (checksum included) before its sequence
/// number and segment are known, so the append lock is not held for the
/// checksum.
pub(super) struct RecordHeader {
    bytes: [u8; RECORD_HEADER],
    crc: u32,
}

impl RecordHeader {
    pub(super) fn new(txn_id: &str, body: &[u8]) -> std::io::Result<Self> {
        let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
        let id_len = u16::try_from(txn_id.len()).map_err(std::io::Error::other)?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(txn_id.as_bytes());
        crc.update(body);
        let mut h = [0u8; RECORD_HEADER];
        h[..4].copy_from_slice(&RECORD_MAGIC.to_be_bytes());
        h[4..8].copy_from_slice(&len.to_be_bytes());
        h[20..22].copy_from_slice(&id_len.to_be_bytes());
        Ok(RecordHeader {
            bytes: h,
            crc: crc.finalize(),
        })
    }

    /// The header's bytes, as record `seq` of the segment keyed `key`.
    pub(super) fn seal(&mut self, seq: u64, key: u32) -> &[u8] {
        self.bytes[8..12].copy_from_slice(&(self.crc ^ key).to_be_bytes());
        self.bytes[12..20].copy_from_slice(&seq.to_be_bytes());
        &self.bytes
    }
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)?
        .try_into()
        .ok()
        .map(u32::from_be_bytes)
}

fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    data.get(at..at + 8)?
        .try_into()
        .ok()
        .map(u64::from_be_bytes)
}

/// What a scan read from a segment, and what it could not read.
pub(crate) struct Scan {
    /// The sound records, in order.
    pub(crate) records: Vec<Record>,
    /// The sequence number the header gives the first record; `None` when
    /// the header is damaged or absent.
    pub(crate) first_seq: Option<u64>,
    /// The header did not check out.
    pub(crate) header_damaged: bool,
    /// Unreadable stretches followed by sound records: (offset, bytes).
    pub(crate) damage: Vec<(u64, u64)>,
    /// Records known lost inside the segment: the gaps in the sequence
    /// numbers of the sound records around the damage.
    pub(crate) lost: u64,
    /// Bytes after the last sound record: a torn tail, old records of a
    /// reused file, or damage; the next segment's first sequence number
    /// tells which.
    pub(crate) tail_bytes: u64,
}

/// The record at `at`, if it checks out: (sequence number, end, txnId, body).
fn record_at(data: &[u8], at: usize, key: u32) -> Option<(u64, usize, &str, &[u8])> {
    if u32_at(data, at)? != RECORD_MAGIC {
        return None;
    }
    let len = u32_at(data, at + 4)? as usize;
    let crc = u32_at(data, at + 8)?;
    let seq = u64_at(data, at + 12)?;
    let id_len = data
        .get(at + 20..at + 22)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_be_bytes)? as usize;
    let end = (at + RECORD_HEADER).checked_add(id_len)?.checked_add(len)?;
    let payload = data.get(at + RECORD_HEADER..end)?;
    if crc32fast::hash(payload) ^ key != crc {
        return None;
    }
    let (id, body) = payload.split_at(id_len);
    let txn_id = std::str::from_utf8(id).ok()?;
    Some((seq, end, txn_id, body))
}

/// Reads every sound record of a segment; see the module docs.
pub(crate) fn scan(dir: &Path, segment: u64) -> std::io::Result<Scan> {
    let mut data = Vec::new();
    File::open(path(dir, segment))?.read_to_end(&mut data)?;
    Ok(scan_bytes(&data, segment))
}

fn scan_bytes(data: &[u8], segment: u64) -> Scan {
    let mut scan = Scan {
        records: Vec::new(),
        first_seq: None,
        header_damaged: false,
        damage: Vec::new(),
        lost: 0,
        tail_bytes: 0,
    };
    // Where records start, the sequence number the first must have, the
    // checksum key, and whether damage may be skipped.
    let (mut at, mut expected, key, resync) = match u32_at(data, 0) {
        Some(RECORD_MAGIC) => (0, None, 0, false),
        _ if data.len() < SEGMENT_HEADER => {
            // Its header never reached the disk: no record can have.
            return scan;
        }
        _ => {
            let h = &data[..SEGMENT_HEADER];
            let sound = u32_at(h, 0) == Some(SEGMENT_MAGIC)
                && u32_at(h, 24) == Some(crc32fast::hash(&h[..24]))
                && u64_at(h, 8) == Some(segment);
            match u32_at(h, 4) {
                Some(FORMAT) if sound => (SEGMENT_HEADER, u64_at(h, 16), record_key(segment), true),
                Some(FORMAT_UNKEYED) if sound => (SEGMENT_HEADER, u64_at(h, 16), 0, true),
                _ => {
                    scan.header_damaged = true;
                    (SEGMENT_HEADER, None, record_key(segment), true)
                }
            }
        }
    };
    scan.first_seq = expected;
    while at < data.len() {
        let found = record_at(data, at, key)
            .filter(|r| expected.is_none_or(|e| r.0 >= e))
            .map(|r| (at, r));
        let found = match found {
            Some(f) => Some(f),
            None if resync => data[at + 1..]
                .windows(4)
                .enumerate()
                .filter(|(_, w)| *w == RECORD_MAGIC.to_be_bytes())
                .map(|(i, _)| at + 1 + i)
                .find_map(|p| {
                    record_at(data, p, key)
                        .filter(|r| expected.is_none_or(|e| r.0 >= e))
                        .map(|r| (p, r))
                }),
            None => None,
        };
        let Some((from, (seq, end, txn_id, body))) = found else {
            scan.tail_bytes = (data.len() - at) as u64;
            break;
        };
        if from > at {
            scan.damage.push((at as u64, (from - at) as u64));
        }
        if let Some(e) = expected {
            scan.lost += seq - e;
        }
        scan.records.push(Record {
            seq,
            segment,
            txn_id: txn_id.to_owned(),
            body: body.to_vec(),
        });
        expected = Some(seq + 1);
        at = end;
    }
    scan
}
