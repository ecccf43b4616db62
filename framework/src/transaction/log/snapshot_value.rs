//! The seen window's snapshot as a store value: when it was taken (Unix
//! milliseconds, 8 bytes big-endian), then the snapshot itself.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `snapshot`, taken now, as a value.
pub(super) fn encode(snapshot: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + snapshot.len());
    v.extend_from_slice(&unix_ms(SystemTime::now()).to_be_bytes());
    v.extend_from_slice(snapshot);
    v
}

/// When the snapshot in `value` was taken (now, when that is unknown or in
/// the future), and the snapshot.
pub(super) fn decode(value: &[u8]) -> (Instant, &[u8]) {
    let now = Instant::now();
    let Some((head, snapshot)) = value.split_first_chunk::<8>() else {
        return (now, value);
    };
    let age = unix_ms(SystemTime::now()).saturating_sub(u64::from_be_bytes(*head));
    let at = now.checked_sub(Duration::from_millis(age)).unwrap_or(now);
    (at, snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_gives_back_its_snapshot_and_a_time_close_to_now() {
        let value = encode(b"window");
        let (at, snapshot) = decode(&value);
        assert_eq!(snapshot, b"window");
        assert!(at.elapsed() < Duration::from_secs(5));
        // Too short to hold a time: the bytes as they are.
        assert_eq!(decode(b"abc").1, b"abc");
    }
}
