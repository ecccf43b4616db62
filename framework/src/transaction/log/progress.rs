//! Writing what was handled to the store, and retiring finished segments.
//!
//! Done and dropped marks are kept in memory until a flush holds them, and
//! written here, in one batch with the bitmaps of partly-done transactions.
//! After a failed write or flush (the store unavailable, and then reopened,
//! say) every kept mark is written again, so an event handled while the
//! store could not write is not handled again once it can.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{lock, snapshot_value, Mark, SeenWindow, TransactionLog, SEEN_KEY};
use crate::store::{StoreError, Write};

impl TransactionLog {
    /// Writes the progress of partly-done transactions and flushes, if
    /// anything changed since the last call. Run every `progress_interval`.
    pub async fn persist_progress(&self) -> Result<(), StoreError> {
        if !self.unflushed.swap(false, Ordering::AcqRel) && !self.journal.retire_due() {
            return Ok(());
        }
        // What may go once this flush says its transactions are done. Taken
        // before the marks: a segment released after this point has its
        // mark in a later flush, and stays until then.
        let deletable = self.journal.take_deletable();
        // The marks this flush will hold.
        let (held, marks): (usize, Vec<Mark>) = {
            let marks = lock(&self.marks);
            (marks.len(), marks.clone())
        };
        let dirty: Vec<(u64, Vec<u8>)> = lock(&self.progress)
            .iter_mut()
            .filter(|(_, p)| p.dirty)
            .map(|(seq, p)| {
                p.dirty = false;
                (*seq, p.bits.clone())
            })
            .collect();
        if let Err(e) = self.write_and_flush(&marks, &dirty).await {
            // Everything waits for the next call, as it was.
            let mut progress = lock(&self.progress);
            for (seq, _) in &dirty {
                if let Some(p) = progress.get_mut(seq) {
                    p.dirty = true;
                }
            }
            drop(progress);
            self.journal.give_back_deletable(deletable);
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
        let key = |seq: u64| seq.to_be_bytes().to_vec();
        let mut done = Vec::new();
        let mut dropped = Vec::new();
        for &mark in marks {
            match mark {
                Mark::Done(seq) => done.push(Write::Insert(key(seq), Vec::new())),
                Mark::Dropped(seq) => dropped.push(Write::Insert(key(seq), Vec::new())),
            }
        }
        // A bitmap of a transaction finished since is written before its
        // done mark, which replaces it.
        let mut writes: Vec<Write> = dirty
            .iter()
            .map(|(seq, bits)| Write::Insert(key(*seq), bits.clone()))
            .collect();
        writes.extend(done);
        self.done.apply(writes).await?;
        self.dropped.apply(dropped).await?;
        self.store.flush().await
    }

    /// Deletes (or keeps as spares) segments whose transactions a flush
    /// marked all done, then their marks.
    async fn retire(&self, deletable: Vec<(u64, u64, u64)>) -> Result<(), StoreError> {
        // The window's entries of these segments must outlive them.
        let snapshot = lock(&self.seen).snapshot();
        let saved = match &self.seen_tree {
            Some(tree) => tree
                .insert(SEEN_KEY, snapshot_value::encode(&snapshot))
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            None => {
                let dir = self.store.path().join("txnlog");
                tokio::task::spawn_blocking(move || SeenWindow::save(&snapshot, &dir))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
                    .map_err(|e| e.to_string())
            }
        };
        if let Err(e) = saved {
            tracing::warn!(error = %e, "cannot save the seen transactions; finished segments stay on disk for now");
            self.journal.give_back_deletable(deletable);
            return Ok(());
        }
        let retired = self.journal.retire(deletable).await;
        if retired.is_empty() {
            return Ok(());
        }
        // Their done marks go only once the segments are gone for good.
        let removals = || {
            retired
                .iter()
                .flat_map(|&(first, last)| first..=last)
                .map(|seq| Write::Remove(seq.to_be_bytes().to_vec()))
                .collect::<Vec<_>>()
        };
        self.done.apply(removals()).await?;
        self.dropped.apply(removals()).await?;
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
        let recovered = lock(&self.recovered).iter().map(|(_, at, _)| *at).min();
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
