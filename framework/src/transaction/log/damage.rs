//! Reporting what a scan of a segment could not read.

use super::wal;

/// Logs what a scan of `segment` could not read; says whether the segment
/// is damaged (and so kept aside once handled). `next_first`: the first
/// sequence number of the next segment, which bounds this one's.
pub(super) fn report_damage(
    dir: &std::path::Path,
    segment: u64,
    scan: &wal::Scan,
    next_first: Option<u64>,
) -> bool {
    let last = scan
        .records
        .last()
        .map(|r| r.seq)
        .or(scan.first_seq.map(|f| f.saturating_sub(1)));
    // Records the next segment's start says this one had, but not read.
    let lost_at_end = match (next_first, last) {
        (Some(next), Some(last)) => next.saturating_sub(last + 1),
        _ => 0,
    };
    let lost = scan.lost + lost_at_end;
    if !scan.header_damaged && scan.damage.is_empty() && lost == 0 {
        if scan.tail_bytes > 0 {
            // A torn tail (a crash during an append that was never
            // acknowledged) or old records of a file written over again.
            tracing::debug!(
                segment,
                bytes = scan.tail_bytes,
                "end of the sound records of a segment"
            );
        }
        return false;
    }
    let path = dir.join(format!("{segment:016}.seg"));
    let offsets: Vec<u64> = scan.damage.iter().map(|d| d.0).collect();
    if scan.header_damaged {
        tracing::error!(
            path = %path.display(),
            segment,
            read = scan.records.len(),
            damaged_at = ?offsets,
            "a transaction log segment's header is damaged: its records were read by their own \
             checksums, but how many were lost before the first sound one is unknown; the file \
             is kept aside as .corrupt once handled"
        );
    } else {
        tracing::error!(
            path = %path.display(),
            segment,
            read = scan.records.len(),
            lost,
            damaged_at = ?offsets,
            tail_bytes = scan.tail_bytes,
            "a transaction log segment is damaged: records that were acknowledged could not be \
             read and will not be handled; the rest are; the file is kept aside as .corrupt \
             once handled"
        );
    }
    true
}
