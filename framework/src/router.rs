//! From the durable log to the handler: lanes, bounded concurrency.
//!
//! The items of one *lane* are handled strictly one after another, in log
//! order; different lanes run concurrently. What a lane is for timeline
//! events is the bot's [`DispatchOrder`]: a room (the default), a sender in
//! a room, or no lane at all (each event runs as soon as a handler slot is
//! free). At most [`DispatchConfig::max_concurrent_rooms`] handler calls run
//! at once, whatever the order. An item leaves the log only after its
//! handler finished (or gave up after its retries). The number of items
//! acknowledged but not yet handled is bounded by
//! [`DispatchConfig::max_backlog`]: past it, [`Router::admit`] waits, which
//! delays the acknowledgement of the next transaction (back-pressure).
//!
//! A handler that fails because the homeserver is unavailable (its error is,
//! or wraps, a [`ClientError`](crate::client::ClientError) that
//! [`is_unavailable`](crate::client::ClientError::is_unavailable), or its
//! last homeserver call failed so) is not marked done: its lane pauses and
//! the call is made again, with the same transaction IDs, until it works
//! (see [`DispatchConfig::unavailable_pause`]). Other failures are logged
//! and retried [`DispatchConfig::handler_retries`] times.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::bot::{AppContext, Context, Handler};
use crate::metrics::EventTypeLabel;
use crate::transaction::log::LogItem;
use crate::transaction::TransactionLog;

mod order;

use order::{lane_of, Lane};
pub use order::{DispatchOrder, DispatchOrderError};

/// How events are dispatched to handlers.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// How many handler calls run at the same time: with an ordered
    /// [`DispatchOrder`], how many lanes (rooms, or senders in rooms) are
    /// handled at once; with [`DispatchOrder::Unordered`], how many events.
    /// (The name is kept from when every lane was a room.)
    pub max_concurrent_rooms: usize,
    /// How many acknowledged events may wait for their handler before the
    /// next transaction's acknowledgement is delayed.
    pub max_backlog: usize,
    /// How many times a failed handler call is tried again (0: never).
    /// Failures because the homeserver is unavailable are not counted: see
    /// [`DispatchConfig::unavailable_pause`].
    pub handler_retries: u32,
    /// Wait before the first retry; doubles each time.
    pub retry_backoff: Duration,
    /// How many events a busy lane handles before letting another lane run.
    pub fairness_batch: usize,
    /// The order of a room's events, overriding the handler's choice
    /// ([`Handler::dispatch_order`]); `None`: the handler's choice.
    pub order: Option<DispatchOrder>,
    /// Longest pause of a lane whose handler failed because the homeserver
    /// is unavailable ([`ClientError::is_unavailable`](crate::client::ClientError::is_unavailable)):
    /// the call is made again after a pause that starts at a second and
    /// doubles up to this, for as long as the homeserver stays away. The
    /// event is not marked done meanwhile, and the lane's later events wait.
    pub unavailable_pause: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            max_concurrent_rooms: 64,
            max_backlog: 20_000,
            handler_retries: 0,
            retry_backoff: Duration::from_millis(500),
            fairness_batch: 64,
            order: None,
            unavailable_pause: Duration::from_secs(30),
        }
    }
}

/// Counters of the dispatcher.
#[derive(Debug, Default)]
pub struct DispatchStats {
    /// Items handled successfully.
    pub handled: AtomicU64,
    /// Items whose handler failed or panicked after all retries.
    pub failed: AtomicU64,
}

struct Job {
    item: LogItem,
    holds_permit: bool,
}

/// Routes logged items to the handler; cheap to clone.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

/// Room IDs are chosen by the homeserver, not by the senders of events, so a
/// fast hash without flood protection is fine here.
type Lanes = HashMap<Box<str>, VecDeque<Job>, rustc_hash::FxBuildHasher>;

/// The events without a lane ([`DispatchOrder::Unordered`]), taken by up to
/// `max_concurrent_rooms` runners.
#[derive(Default)]
struct Free {
    queue: VecDeque<Job>,
    /// Runner tasks alive; one stops when it finds the queue empty.
    runners: usize,
}

struct Inner {
    handler: Arc<dyn Handler>,
    app: AppContext,
    log: Arc<TransactionLog>,
    /// Per room: the jobs waiting; an entry exists while its lane task runs.
    lanes: Mutex<Lanes>,
    free: Mutex<Free>,
    order: DispatchOrder,
    workers: Semaphore,
    backlog: Semaphore,
    config: DispatchConfig,
    stats: DispatchStats,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Permits for admitted items; given to [`Router::dispatch`].
#[derive(Debug)]
#[must_use = "admitted permits are released only by dispatching"]
pub struct Admission {
    permits: usize,
}

impl Router {
    /// A router calling `handler`; its tasks run on the current tokio runtime.
    /// The order is `config.order`, else the handler's
    /// [`Handler::dispatch_order`].
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub fn new(
        handler: Arc<dyn Handler>,
        app: AppContext,
        log: Arc<TransactionLog>,
        config: DispatchConfig,
    ) -> Self {
        let order = config.order.unwrap_or_else(|| handler.dispatch_order());
        let config = DispatchConfig {
            max_concurrent_rooms: config.max_concurrent_rooms.max(1),
            max_backlog: config.max_backlog.max(1),
            fairness_batch: config.fairness_batch.max(1),
            order: Some(order),
            ..config
        };
        Router {
            inner: Arc::new(Inner {
                handler,
                app,
                log,
                lanes: Mutex::new(Lanes::default()),
                free: Mutex::new(Free::default()),
                order,
                workers: Semaphore::new(config.max_concurrent_rooms),
                backlog: Semaphore::new(config.max_backlog),
                config,
                stats: DispatchStats::default(),
                runtime: tokio::runtime::Handle::current(),
            }),
        }
    }

    /// Waits until `count` more events fit in the backlog.
    pub async fn admit(&self, count: usize) -> Admission {
        let n = count.min(self.inner.config.max_backlog);
        match self.inner.backlog.acquire_many(n as u32).await {
            Ok(p) => p.forget(),
            Err(_) => return Admission { permits: 0 },
        }
        Admission { permits: n }
    }

    /// Queues items on their lanes (see [`DispatchOrder`]).
    pub fn dispatch(&self, items: Vec<LogItem>, admission: Admission) {
        let mut permits = admission.permits;
        let mut start = Vec::new();
        let mut free = Vec::new();
        {
            let mut lanes = lock(&self.inner.lanes);
            let mut key = String::new();
            for item in items {
                let job = Job {
                    item,
                    holds_permit: permits > 0,
                };
                permits = permits.saturating_sub(1);
                let lane = match lane_of(self.inner.order, &job.item.event, &mut key) {
                    Lane::Key(lane) => lane,
                    Lane::Free => {
                        free.push(job);
                        continue;
                    }
                };
                match lanes.get_mut(lane) {
                    Some(queue) => queue.push_back(job),
                    None => {
                        let lane: Box<str> = lane.into();
                        lanes.insert(lane.clone(), VecDeque::new());
                        start.push((lane, job));
                    }
                }
            }
        }
        // Permits admitted for items that were not given (should not happen).
        if permits > 0 {
            self.inner.backlog.add_permits(permits);
        }
        for (lane, job) in start {
            let inner = self.inner.clone();
            self.inner.runtime.spawn(run_lane(inner, lane, job));
        }
        if !free.is_empty() {
            let new_runners = {
                let mut f = lock(&self.inner.free);
                f.queue.extend(free);
                // Runners alive may all be busy: one more per new job, up
                // to the bound (a spare one finds the queue empty and stops).
                let room = self
                    .inner
                    .config
                    .max_concurrent_rooms
                    .saturating_sub(f.runners);
                let new = f.queue.len().min(room);
                f.runners += new;
                new
            };
            for _ in 0..new_runners {
                let inner = self.inner.clone();
                self.inner.runtime.spawn(run_free(inner));
            }
        }
    }

    /// Waits until no event is queued or running, for at most `limit`;
    /// true when idle.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if lock(&self.inner.lanes).is_empty() && lock(&self.inner.free).runners == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Events acknowledged but not handled yet.
    pub fn backlog(&self) -> usize {
        self.inner.config.max_backlog - self.inner.backlog.available_permits()
    }

    /// Lanes with events queued or running, and the runners taking
    /// events without a lane ([`DispatchOrder::Unordered`]).
    pub fn active_lanes(&self) -> usize {
        lock(&self.inner.lanes).len() + lock(&self.inner.free).runners
    }

    /// Dispatcher counters.
    pub fn stats(&self) -> &DispatchStats {
        &self.inner.stats
    }

    /// The configuration in force (its `order` is the one in force too).
    pub fn config(&self) -> &DispatchConfig {
        &self.inner.config
    }

    /// The order in force: [`DispatchConfig::order`], else the handler's.
    pub fn order(&self) -> DispatchOrder {
        self.inner.order
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn run_lane(inner: Arc<Inner>, lane: Box<str>, first: Job) {
    // Jobs taken from the lane's queue in one go: one lock per batch.
    let mut batch = VecDeque::from([first]);
    loop {
        let Ok(_worker) = inner.workers.acquire().await else {
            return;
        };
        let mut budget = inner.config.fairness_batch;
        while budget > 0 {
            while let Some(job) = batch.pop_front() {
                handle(&inner, job).await;
                budget = budget.saturating_sub(1);
            }
            let mut lanes = lock(&inner.lanes);
            let Some(queue) = lanes.get_mut(&lane) else {
                return;
            };
            if queue.is_empty() {
                lanes.remove(&lane);
                return;
            }
            let take = queue.len().min(budget.max(1));
            batch.extend(queue.drain(..take));
        }
        // A busy room lets the others run before it goes on.
        drop(_worker);
        tokio::task::yield_now().await;
    }
}

/// Takes events without a lane until none is left, holding a worker for at
/// most `fairness_batch` of them at a time, as a lane does.
async fn run_free(inner: Arc<Inner>) {
    loop {
        let Ok(_worker) = inner.workers.acquire().await else {
            lock(&inner.free).runners -= 1;
            return;
        };
        for _ in 0..inner.config.fairness_batch {
            let job = {
                let mut free = lock(&inner.free);
                match free.queue.pop_front() {
                    Some(job) => job,
                    None => {
                        free.runners -= 1;
                        return;
                    }
                }
            };
            handle(&inner, job).await;
        }
        drop(_worker);
        tokio::task::yield_now().await;
    }
}

/// Whether a handler's error comes from a homeserver call, or a store
/// operation, that may work later as it is.
fn unavailable(err: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(err), |e| e.source()).any(|e| {
        e.downcast_ref::<crate::client::ClientError>()
            .is_some_and(|e| e.is_unavailable())
            || e.downcast_ref::<crate::store::StoreError>()
                .is_some_and(|e| e.is_unavailable())
    })
}

async fn handle(inner: &Inner, job: Job) {
    let Job { item, holds_permit } = job;
    let (seq, idx) = (item.seq, item.idx);
    let ctx = Context::new(inner.app.clone(), item.event);
    // Everything logged while the handler runs carries the event's room,
    // ID and type.
    let ev = ctx.event();
    let span = tracing::info_span!(
        "handler",
        room_id = ev.room_id().map(|r| r.as_str()),
        event_id = ev.event_id_str(),
        event_type = ev.event_type(),
    );
    call_handler(inner, &ctx, seq, idx).instrument(span).await;
    inner.log.item_done(seq, idx);
    if holds_permit {
        inner.backlog.add_permits(1);
    }
}

/// Runs the handler on one event until it succeeds, fails for good (after
/// the retries configured) or panics; waits while the homeserver or the
/// store is unavailable.
async fn call_handler(inner: &Inner, ctx: &Context, seq: u64, idx: u32) {
    inner.app.observe(ctx.event()).await;
    // Sends made by the handler get txnIds derived from the event, so a
    // call replayed (a retry, or after a crash) makes no second event.
    let origin = match ctx.event().event_id_str() {
        Some(id) => id.to_owned(),
        None => format!("log:{seq}:{idx}"),
    };
    let mut attempt = 0;
    let mut pauses = Backoff::new(Duration::from_secs(1), inner.config.unavailable_pause).steps();
    let retries = Backoff::new(inner.config.retry_backoff, Duration::MAX);
    let metrics = inner.app.metrics();
    let label = EventTypeLabel::of(ctx.event().event_type());
    let started = std::time::Instant::now();
    // The first call starts at `started`; one after a pause or a backoff
    // takes its own start.
    let mut call_started = started;
    loop {
        let call = AssertUnwindSafe(inner.handler.on_event(ctx)).catch_unwind();
        let (outcome, last_call_unavailable) =
            crate::client::txn::scope_reporting(&origin, call).await;
        metrics.handler_called(label, call_started.elapsed());
        let err = match outcome {
            Ok(Ok(())) => {
                inner.stats.handled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "handled");
                break;
            }
            Ok(Err(e)) if last_call_unavailable || unavailable(&*e) => {
                let ev = ctx.event();
                let pause = pauses.next_delay();
                tracing::warn!(
                    room = ev.room_id().map(|r| r.as_str()).unwrap_or("-"),
                    event_id = ev.event_id().map(|r| r.as_str()).unwrap_or("-"),
                    pause_ms = pause.as_millis() as u64,
                    error = %e,
                    "the homeserver or the store is unavailable; this event and the rest of its lane wait"
                );
                tokio::time::sleep(pause).await;
                call_started = std::time::Instant::now();
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                format!("handler panicked: {msg}")
            }
        };
        let ev = ctx.event();
        let room = ev.room_id().map(|r| r.as_str()).unwrap_or("-");
        let event_id = ev.event_id().map(|r| r.as_str()).unwrap_or("-");
        if attempt < inner.config.handler_retries {
            attempt += 1;
            tracing::warn!(room, event_id, attempt, error = %err, "handler failed; retrying");
            tokio::time::sleep(retries.nominal(attempt)).await;
            call_started = std::time::Instant::now();
            continue;
        }
        tracing::error!(room, event_id, event_type = ev.event_type(), error = %err, "handler failed");
        inner.stats.failed.fetch_add(1, Ordering::Relaxed);
        metrics.handler_failed(label);
        break;
    }
}
