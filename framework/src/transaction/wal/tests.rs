//! Tests of `wal`.

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
