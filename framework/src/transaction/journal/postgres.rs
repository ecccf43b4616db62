//! The transaction log in PostgreSQL: one row per transaction, written in
//! groups, each group one committed statement.
//!
//! [`PgJournal::append`] gives the sequence number at once and keeps the
//! row in memory; [`PgJournal::sync`] writes every row kept so far in one
//! `INSERT` (concurrent callers share it, one group at a time) and returns
//! once the row it asks about is committed. The write runs in a task of its
//! own, so a caller that goes away (its connection closed) does not cut a
//! group short. A group that fails fails every transaction in it: none of
//! them is acknowledged, and the log drops them, as it does after a failed
//! `fdatasync`.
//!
//! Each transaction is its own segment (its sequence number), retired by
//! deleting its row. Rows are retired in groups of [`RETIRE_BATCH`] (or
//! once the oldest has waited [`RETIRE_AFTER`]): each retirement first
//! saves the window of seen txnIds, which is as large as the window, so it
//! comes about as often as with segment files of the default size.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many handled rows are retired together.
pub(crate) const RETIRE_BATCH: usize = 256;
/// How long a handled row waits, at most, for its group to fill (checked
/// when progress is written).
pub(crate) const RETIRE_AFTER: Duration = Duration::from_secs(2);

use crate::store::postgres::JournalRow;
use crate::store::{PostgresBackend, StoreError};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
struct State {
    next_seq: u64,
    /// Appended, not yet handed to a write.
    pending: Vec<JournalRow>,
    /// Every sequence number up to this one was in a group that ended
    /// (committed, or failed and listed in `failed`).
    settled: u64,
    /// Sequence numbers whose group failed, until their caller learns it.
    failed: HashMap<u64, String>,
    /// Transactions not done yet, by sequence number.
    live: HashSet<u64>,
    /// Rows that may be deleted.
    deletable: Vec<(u64, u64, u64)>,
    /// When the oldest of `deletable` became so.
    deletable_since: Option<Instant>,
}

impl State {
    fn may_delete(&mut self, seq: u64) {
        self.deletable.push((seq, seq, seq));
        self.deletable_since.get_or_insert_with(Instant::now);
    }
}

/// The transaction log's rows in PostgreSQL.
pub(crate) struct PgJournal {
    db: PostgresBackend,
    state: Arc<Mutex<State>>,
    /// Held while a group is written: one group at a time, in order.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl PgJournal {
    /// The journal in `db`; sequence numbers go on from `next_seq`.
    pub(crate) fn new(db: PostgresBackend, next_seq: u64) -> Self {
        PgJournal {
            db,
            state: Arc::new(Mutex::new(State {
                next_seq,
                settled: next_seq.saturating_sub(1),
                ..State::default()
            })),
            turn: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Keeps a transaction to be written by the next [`PgJournal::sync`];
    /// returns its sequence number, which is also its segment.
    pub(crate) fn append(&self, txn_id: &str, body: &[u8]) -> (u64, u64) {
        let mut st = lock(&self.state);
        let seq = st.next_seq;
        st.next_seq += 1;
        st.pending.push(JournalRow {
            seq,
            txn_id: txn_id.to_owned(),
            body: body.to_vec(),
        });
        st.live.insert(seq);
        (seq, seq)
    }

    /// What became of `seq`'s group: `None` while it is not written yet.
    fn outcome(&self, seq: u64) -> Option<Result<(), StoreError>> {
        let mut st = lock(&self.state);
        if let Some(reason) = st.failed.remove(&seq) {
            return Some(Err(StoreError::Io(reason.into())));
        }
        (seq <= st.settled).then_some(Ok(()))
    }

    /// Returns once the row of `seq` is committed, writing every row kept
    /// so far when no write under way holds it.
    pub(crate) async fn sync(&self, seq: u64) -> Result<(), StoreError> {
        loop {
            if let Some(outcome) = self.outcome(seq) {
                return outcome;
            }
            let turn = self.turn.clone().lock_owned().await;
            if let Some(outcome) = self.outcome(seq) {
                return outcome;
            }
            let group = std::mem::take(&mut lock(&self.state).pending);
            let (db, state) = (self.db.clone(), self.state.clone());
            let write = tokio::spawn(async move {
                let result = db.journal_insert(&group).await;
                let mut st = lock(&state);
                if let Err(e) = &result {
                    let reason = e.to_string();
                    for row in &group {
                        st.failed.insert(row.seq, reason.clone());
                    }
                }
                if let Some(last) = group.last() {
                    st.settled = st.settled.max(last.seq);
                }
                drop(st);
                drop(turn);
                result
            });
            if let Err(e) = write.await {
                return Err(StoreError::Io(Box::new(e)));
            }
        }
    }

    /// Counts a transaction read back at open as not done yet.
    pub(crate) fn retain(&self, seq: u64) {
        lock(&self.state).live.insert(seq);
    }

    /// The transaction `segment` is done: its row may go.
    pub(crate) fn release(&self, segment: u64) {
        let mut st = lock(&self.state);
        if st.live.remove(&segment) {
            st.may_delete(segment);
        }
    }

    /// A row found at open: it may go unless it was retained.
    pub(crate) fn release_old(&self, segment: u64) {
        let mut st = lock(&self.state);
        if !st.live.contains(&segment) {
            st.may_delete(segment);
        }
    }

    /// Whether handled rows have waited long enough to be retired.
    pub(crate) fn retire_due(&self) -> bool {
        lock(&self.state)
            .deletable_since
            .is_some_and(|at| at.elapsed() >= RETIRE_AFTER)
    }

    /// The handled rows, once there are enough of them or the oldest has
    /// waited long enough; else none.
    pub(crate) fn take_deletable(&self) -> Vec<(u64, u64, u64)> {
        let mut st = lock(&self.state);
        let due = st.deletable.len() >= RETIRE_BATCH
            || st
                .deletable_since
                .is_some_and(|at| at.elapsed() >= RETIRE_AFTER);
        if !due {
            return Vec::new();
        }
        st.deletable_since = None;
        std::mem::take(&mut st.deletable)
    }

    pub(crate) fn give_back_deletable(&self, segments: Vec<(u64, u64, u64)>) {
        let mut st = lock(&self.state);
        if !segments.is_empty() {
            st.deletable_since.get_or_insert_with(Instant::now);
        }
        st.deletable.extend(segments);
    }

    /// Deletes the rows of `deletable` in one statement.
    pub(crate) async fn retire(&self, deletable: Vec<(u64, u64, u64)>) -> Vec<(u64, u64)> {
        let seqs: Vec<u64> = deletable.iter().map(|&(segment, _, _)| segment).collect();
        match self.db.journal_delete(&seqs).await {
            Ok(()) => deletable.iter().map(|&(_, f, l)| (f, l)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot delete handled transactions from PostgreSQL; they are deleted later");
                self.give_back_deletable(deletable);
                Vec::new()
            }
        }
    }

    /// Transactions not done yet.
    pub(crate) fn segment_count(&self) -> usize {
        lock(&self.state).live.len()
    }
}
