//! Writing what was handled to the store, and retiring finished segments.
//!
//! Done and dropped marks are written as they happen, and also kept in
//! memory until a flush holds them; the bitmaps of partly-done transactions
//! are written here. After a failed write or flush (the store unavailable,
//! and then reopened, say) every kept mark is written again, so an event
//! handled while the store could not write is not handled again once it can.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{lock, Mark, SeenWindow, TransactionLog};
use crate::store::StoreError;

impl TransactionLog {
    /// Writes the progress of partly-done transactions and flushes, if
    /// anything changed since the last call. Run every `progress_interval`.
    pub async fn persist_progress(&self) -> Result<(), StoreError> {
        if !self.unflushed.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        // What may go once this flush says its transactions are done. Taken
        // before the marks: a segment released after this point has its
        // mark in a later flush, and stays until then.
        let deletable = self.wal.take_deletable();
        let rewrite = self.rewrite_marks.swap(false, Ordering::AcqRel);
        // The marks this flush will hold; copied only when they must be
        // written again (they were written as they happened otherwise).
        let (held, again): (usize, Vec<Mark>) = {
            let marks = lock(&self.marks);
            (
                marks.len(),
                if rewrite { marks.clone() } else { Vec::new() },
            )
        };
        let dirty: Vec<(u64, Vec<u8>)> = lock(&self.progress)
            .iter_mut()
            .filter(|(_, p)| p.dirty)
            .map(|(seq, p)| {
                p.dirty = false;
                (*seq, p.bits.clone())
            })
            .collect();
        if let Err(e) = self.write_and_flush(&again, &dirty).await {
            // Everything waits for the next call, as it was.
            let mut progress = lock(&self.progress);
            for (seq, _) in &dirty {
                if let Some(p) = progress.get_mut(seq) {
                    p.dirty = true;
                }
            }
            drop(progress);
            self.wal.give_back_deletable(deletable);
            // A reopened database may have lost what was written before.
            self.rewrite_marks.store(true, Ordering::Release);
            self.unflushed.store(true, Ordering::Release);
            return Err(e);
        }
        lock(&self.marks).drain(..held);
        if deletable.is_empty() {
            return Ok(());
        }
        self.retire(deletable).await
    }

    async fn write_and_flush(
        &self,
        marks: &[Mark],
        dirty: &[(u64, Vec<u8>)],
    ) -> Result<(), StoreError> {
        for &mark in marks {
            self.write_mark(mark)?;
        }
        for (seq, bits) in dirty {
            self.done.insert(seq.to_be_bytes(), bits)?;
        }
        self.store.flush().await
    }

    /// Deletes (or keeps as spares) segments whose transactions a flush
    /// marked all done, then their marks.
    async fn retire(&self, deletable: Vec<(u64, u64, u64)>) -> Result<(), StoreError> {
        // The window's entries of these segments must outlive them.
        let snapshot = lock(&self.seen).snapshot();
        let dir = self.store.path().join("txnlog");
        let saved = tokio::task::spawn_blocking(move || SeenWindow::save(&snapshot, &dir))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Err(e) = saved {
            tracing::warn!(error = %e, "cannot save the seen transactions; finished segments stay on disk for now");
            self.wal.give_back_deletable(deletable);
            return Ok(());
        }
        let mut retired = Vec::new();
        for (segment, first, last) in deletable {
            match self.wal.retire(segment) {
                Ok(()) => retired.push((first, last)),
                Err(e) => {
                    tracing::warn!(segment, error = %e, "cannot retire a finished transaction segment")
                }
            }
        }
        if retired.is_empty() {
            return Ok(());
        }
        // Their done marks go only once the segments are gone for good.
        if let Err(e) = self.wal.sync_dir() {
            tracing::warn!(error = %e, "cannot sync the transaction log's folder");
            return Ok(());
        }
        for (first, last) in retired {
            for seq in first..=last {
                self.done.remove(seq.to_be_bytes())?;
                self.dropped.remove(seq.to_be_bytes())?;
            }
        }
        Ok(())
    }

    /// How long ago the oldest transaction the duplicate window remembers
    /// was accepted; `None` when it remembers none. For a transaction
    /// accepted before the log was opened: since the file it was read back
    /// from was written.
    pub fn oldest_seen_age(&self) -> Option<Duration> {
        lock(&self.seen).oldest_at().map(|at| at.elapsed())
    }

    /// How long ago the oldest transaction not fully handled was accepted
    /// (read back at open: since its segment was last written); `None`
    /// when every transaction is handled.
    pub fn oldest_unhandled_age(&self) -> Option<Duration> {
        let progress = lock(&self.progress).values().map(|p| p.since).min();
        let recovered = lock(&self.recovered).iter().map(|(_, at)| *at).min();
        progress
            .into_iter()
            .chain(recovered)
            .min()
            .map(|at| at.elapsed())
    }

    /// How many done or dropped marks wait for a flush that holds them.
    pub fn unflushed_marks(&self) -> usize {
        lock(&self.marks).len()
    }
}
