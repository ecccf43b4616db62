//! The format of a segment file, and reading one back.
//!
//! A segment starts with a header: magic `GKSG`, format version, the
//! segment's number, the sequence number its first record will have, and a
//! checksum of those. Records follow: magic `GKTX`, body length, checksum,
//! sequence number, txnId length, txnId, body.
//!
//! A file is written over again once its transactions are done (recycled),
//! so old records may follow the new ones. A scan keeps only records whose
//! sequence numbers go on one by one from the header's first one, and stops
//! at the first record that does not check out: a torn write or old data.
//! Files written before the header existed (records from the first byte)
//! are still read.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

const SEGMENT_MAGIC: u32 = 0x474b_5347; // "GKSG"
const FORMAT: u32 = 1;
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

/// The header of a record, made (checksum included) before its sequence
/// number is known, so the append lock is not held for the checksum.
pub(super) struct RecordHeader([u8; RECORD_HEADER]);

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
        h[8..12].copy_from_slice(&crc.finalize().to_be_bytes());
        h[20..22].copy_from_slice(&id_len.to_be_bytes());
        Ok(RecordHeader(h))
    }

    /// The header's bytes, with the record's sequence number.
    pub(super) fn with_seq(&mut self, seq: u64) -> &[u8] {
        self.0[12..20].copy_from_slice(&seq.to_be_bytes());
        &self.0
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

/// Reads every sound record of a segment, stopping at the first torn or
/// old one.
pub(crate) fn scan(dir: &Path, segment: u64) -> std::io::Result<Vec<Record>> {
    let mut data = Vec::new();
    File::open(path(dir, segment))?.read_to_end(&mut data)?;
    // Where records start, and the sequence number the first must have.
    let (mut at, mut expected) = match u32_at(&data, 0) {
        Some(SEGMENT_MAGIC) => {
            let sound = data.get(..SEGMENT_HEADER).is_some_and(|h| {
                u32_at(h, 24) == Some(crc32fast::hash(&h[..24]))
                    && u32_at(h, 4) == Some(FORMAT)
                    && u64_at(h, 8) == Some(segment)
            });
            if !sound {
                // Its header never reached the disk: no record can have.
                return Ok(Vec::new());
            }
            (SEGMENT_HEADER, u64_at(&data, 16))
        }
        _ => (0, None),
    };
    let mut out = Vec::new();
    while let (Some(magic), Some(len), Some(crc), Some(seq), Some(id_len)) = (
        u32_at(&data, at),
        u32_at(&data, at + 4),
        u32_at(&data, at + 8),
        u64_at(&data, at + 12),
        data.get(at + 20..at + 22)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_be_bytes),
    ) {
        if magic != RECORD_MAGIC || expected.is_some_and(|e| e != seq) {
            break;
        }
        let end = at + RECORD_HEADER + id_len as usize + len as usize;
        let Some(payload) = data.get(at + RECORD_HEADER..end) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
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
        expected = Some(seq + 1);
        at = end;
    }
    if at < data.len() {
        // After a crash, or old records of a file written over again.
        tracing::debug!(
            segment,
            bytes = data.len() - at,
            "end of the sound records of a segment"
        );
    }
    Ok(out)
}
