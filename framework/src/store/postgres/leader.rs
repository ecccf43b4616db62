//! One instance at a time on a database: the leader holds a session
//! advisory lock on a connection of its own; a standby waits for it. When
//! the leader dies, its connection closes, PostgreSQL lets the lock go and
//! the standby that waited gets it.

use tokio::sync::watch;
use tokio_postgres::NoTls;

use super::{PostgresBackend, StoreError};

/// The advisory lock key of the leader ("ghostlea").
const LEADER_LOCK: i64 = 0x6768_6f73_746c_6561;

/// The lock of the leader, held while this lives and its connection does.
pub struct Leadership {
    _client: tokio_postgres::Client,
    lost: watch::Receiver<bool>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("held", &!*self.lost.borrow())
            .finish()
    }
}

impl Leadership {
    /// Returns once the lock's connection is gone: another instance may
    /// lead from then on, so this one must stop at once.
    pub async fn lost(&self) {
        self.lost_signal().await;
    }

    /// [`Leadership::lost`] as a future of its own, which does not hold
    /// the lock.
    pub fn lost_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut lost = self.lost.clone();
        async move {
            let _ = lost.wait_for(|gone| *gone).await;
        }
    }
}

impl PostgresBackend {
    /// Takes the leader's lock of this database, waiting as long as
    /// another instance holds it (`waiting` is called once, when it does).
    pub async fn lead(&self, waiting: impl FnOnce()) -> Result<Leadership, StoreError> {
        let fail = |e: tokio_postgres::Error| StoreError::Connect {
            database: self.inner.name.clone(),
            source: Box::new(e),
        };
        let (client, connection) = self.inner.config.connect(NoTls).await.map_err(fail)?;
        let (tx, lost) = watch::channel(false);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::error!(error = %e, "the connection that holds the leader's lock failed");
            }
            let _ = tx.send(true);
        });
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
            .await
            .map_err(fail)?
            .get(0);
        if !got {
            waiting();
            client
                .execute("SELECT pg_advisory_lock($1)", &[&LEADER_LOCK])
                .await
                .map_err(fail)?;
        }
        Ok(Leadership {
            _client: client,
            lost,
        })
    }
}
