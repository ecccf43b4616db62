//! Leading the database: an instance whose store is in PostgreSQL runs
//! only while it holds the leader's lock; a second instance waits for it,
//! as a standby, before it builds its handler or listens.

use crate::store::{Leadership, PostgresBackend, StoreError};

/// The leader's lock, and the watch that ends the process when it is lost.
/// Dropped at the end of a stop: the watch first, then the lock.
#[derive(Debug)]
pub(super) struct LeaderGuard {
    watch: tokio::task::JoinHandle<()>,
    _leadership: Leadership,
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

/// Waits to lead `db`, then watches the lock: should its connection go,
/// another instance may be leading, so this process exits at once (status
/// 1) rather than handle events beside it.
pub(super) async fn lead(db: &PostgresBackend) -> Result<LeaderGuard, StoreError> {
    let database = db.database().to_owned();
    let leadership = db
        .lead(|| {
            tracing::info!(%database, "another instance leads this database; waiting as its standby");
        })
        .await?;
    tracing::info!(database = %db.database(), "leading the database");
    let lost = leadership.lost_signal();
    let watch = tokio::spawn(async move {
        lost.await;
        tracing::error!(
            "lost the connection that holds the leader's lock: another instance may lead now; exiting"
        );
        std::process::exit(1);
    });
    Ok(LeaderGuard {
        watch,
        _leadership: leadership,
    })
}
