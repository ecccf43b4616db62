//! Group sync: many appends, one `fdatasync`.
//!
//! Each caller of [`GroupSync::wait`] takes a ticket after its append. A
//! sync covers every ticket given out before it started. When callers come
//! together, a dedicated thread runs the syncs, one after the other, and the
//! callers' threads serve other requests meanwhile; the next group fills
//! while a sync runs. A caller alone runs the sync on its own thread, which
//! would only wait anyway (a hand-off there costs two wake-ups per
//! transaction).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::watch;

use super::{lock, Current, Faults};

/// Where the syncs stand.
#[derive(Default)]
struct SyncState {
    /// Every ticket up to this one is durable.
    synced: u64,
    /// Every ticket above `synced` up to this one failed to sync.
    failed: u64,
    /// Why the last sync failed.
    error: String,
}

/// What appenders, waiters and the sync thread share.
pub(super) struct GroupSync {
    /// The file being appended to (the one a sync must cover).
    pub(super) current: Mutex<Current>,
    /// Faults injected under the file operations (tests only).
    pub(super) faults: Faults,
    /// Tickets given out: one per `wait` call, after its append.
    requested: AtomicU64,
    state: watch::Sender<SyncState>,
    /// Held during an `fdatasync`: one at a time.
    running: Mutex<()>,
    /// (a sync is wanted, the log is closing), for the sync thread.
    wake: Mutex<(bool, bool)>,
    wake_cv: Condvar,
}

/// The sync thread; stops it when dropped.
pub(super) struct SyncThread {
    shared: Arc<GroupSync>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SyncThread {
    fn drop(&mut self) {
        lock(&self.shared.wake).1 = true;
        self.shared.wake_cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl GroupSync {
    /// Shares `current` and starts the sync thread.
    pub(super) fn start(current: Current) -> std::io::Result<(Arc<GroupSync>, SyncThread)> {
        let (state, _) = watch::channel(SyncState::default());
        let shared = Arc::new(GroupSync {
            current: Mutex::new(current),
            faults: Faults::none(),
            requested: AtomicU64::new(0),
            state,
            running: Mutex::new(()),
            wake: Mutex::new((false, false)),
            wake_cv: Condvar::new(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ghostkit-txnlog-sync".into())
            .spawn(move || s.run())?;
        Ok((
            shared.clone(),
            SyncThread {
                shared,
                thread: Some(thread),
            },
        ))
    }

    /// Makes every append made before this call durable; see the module docs
    /// for `alone`.
    pub(super) async fn wait(&self, alone: bool) -> std::io::Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = self.state.subscribe();
        if alone {
            if let Ok(_running) = self.running.try_lock() {
                return self.sync_now();
            }
        }
        lock(&self.wake).0 = true;
        self.wake_cv.notify_one();
        loop {
            {
                let state = rx.borrow_and_update();
                if state.synced >= ticket {
                    return Ok(());
                }
                if state.failed >= ticket {
                    return Err(std::io::Error::other(state.error.clone()));
                }
            }
            if rx.changed().await.is_err() {
                return Err(std::io::Error::other("the transaction log is closed"));
            }
        }
    }

    /// Syncs the current file for every ticket given out so far; call with
    /// `running` held.
    fn sync_now(&self) -> std::io::Result<()> {
        // Tickets first, then the file: an append covered by a ticket is in
        // this file or in an older one, which was synced when it was retired.
        let covered = self.requested.load(Ordering::SeqCst);
        if self.state.borrow().synced >= covered {
            return Ok(());
        }
        let file = lock(&self.current).file.clone();
        match self.faults.before_sync().and_then(|()| file.sync_data()) {
            Ok(()) => {
                self.state.send_modify(|s| s.synced = s.synced.max(covered));
                Ok(())
            }
            Err(e) => {
                // Linux reports a failed writeback once and may drop the
                // pages: no later sync of this file can vouch for them, so
                // appends go on in a new segment.
                let mut cur = lock(&self.current);
                if Arc::ptr_eq(&cur.file, &file) {
                    cur.broken = true;
                }
                drop(cur);
                self.state.send_modify(|s| {
                    s.failed = s.failed.max(covered);
                    s.error = e.to_string();
                });
                Err(e)
            }
        }
    }

    /// The sync thread: syncs whenever asked, until the log closes.
    fn run(&self) {
        loop {
            {
                let mut wake = lock(&self.wake);
                while !wake.0 && !wake.1 {
                    wake = self.wake_cv.wait(wake).unwrap_or_else(|p| p.into_inner());
                }
                if !wake.0 {
                    return;
                }
                wake.0 = false;
            }
            let _running = lock(&self.running);
            if let Err(e) = self.sync_now() {
                tracing::error!(error = %e, "cannot sync the transaction log");
            }
        }
    }

    /// How many tickets the syncs have covered so far.
    #[cfg(test)]
    pub(super) fn synced(&self) -> (u64, u64) {
        let s = self.state.borrow();
        (s.synced, s.failed)
    }
}
