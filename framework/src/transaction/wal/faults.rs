//! I/O faults injected under the log's file operations, for tests.
//!
//! Outside tests, [`Faults`] is empty and its checks compile to nothing.
//! In tests, a write can be cut short after a byte budget (what a full disk
//! does: part of the record lands, then `ENOSPC`) and the next syncs can
//! fail with `EIO` (what a failing device does to `fdatasync`).

#[cfg(test)]
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

/// Faults to inject; see the module docs.
#[derive(Default)]
pub(crate) struct Faults {
    /// Bytes that may still be written before writes fail; negative: no limit.
    #[cfg(test)]
    write_budget: AtomicI64,
    /// How many of the next syncs fail.
    #[cfg(test)]
    failing_syncs: AtomicU32,
}

impl Faults {
    /// No faults.
    pub(crate) fn none() -> Self {
        Faults {
            #[cfg(test)]
            write_budget: AtomicI64::new(-1),
            #[cfg(test)]
            failing_syncs: AtomicU32::new(0),
        }
    }

    /// How many of `len` bytes a write may put down; an error when none.
    #[inline]
    pub(crate) fn before_write(&self, len: usize) -> std::io::Result<usize> {
        #[cfg(test)]
        {
            let budget = self.write_budget.load(Ordering::SeqCst);
            if budget >= 0 {
                if budget == 0 {
                    return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
                }
                let allowed = len.min(budget as usize);
                self.write_budget
                    .fetch_sub(allowed as i64, Ordering::SeqCst);
                return Ok(allowed);
            }
        }
        Ok(len)
    }

    /// An error if this sync is one that must fail.
    #[inline]
    pub(crate) fn before_sync(&self) -> std::io::Result<()> {
        #[cfg(test)]
        {
            let failed = self
                .failing_syncs
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            if failed.is_ok() {
                return Err(std::io::Error::from_raw_os_error(5)); // EIO
            }
        }
        Ok(())
    }

    /// Writes fail once `bytes` more have been written (a full disk);
    /// `None`: no limit again.
    #[cfg(test)]
    pub(crate) fn limit_writes(&self, bytes: Option<u64>) {
        let budget = bytes.map_or(-1, |b| b as i64);
        self.write_budget.store(budget, Ordering::SeqCst);
    }

    /// The next `n` syncs fail with `EIO`.
    #[cfg(test)]
    pub(crate) fn fail_syncs(&self, n: u32) {
        self.failing_syncs.store(n, Ordering::SeqCst);
    }
}
