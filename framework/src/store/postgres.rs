//! PostgreSQL as a backend: for deployments whose store must outlive one
//! machine's disk, or be shared by a standby.
//!
//! Every tree lives in one table, `ghostkit_store (tree, key, value)`, with
//! `(tree, key)` as its primary key; keys and values are `bytea`, which
//! PostgreSQL orders byte by byte, as the [`Tree`](super::Tree) contract
//! wants. The transaction log, when it is kept here too, is the table
//! `ghostkit_txnlog` (`postgres/journal.rs`). The tables are created at
//! connect when missing (under an advisory lock, so two instances
//! starting together do not race).
//!
//! Each operation is one statement, committed when it returns, so
//! [`Backend::flush`] has nothing left to do: a write is durable as soon as
//! PostgreSQL answers, provided the server keeps its default
//! `synchronous_commit = on`. [`Tree::apply`](super::Tree::apply) sends a
//! batch as one transaction of a few array statements.
//!
//! Connections come from a pool (deadpool). A connection that fails or a
//! server that cannot be reached makes the operation answer
//! [`StoreError::Unavailable`], which the dispatcher treats like a sled
//! database waiting to be reopened: the handler waits and tries again.
//! Connections are made without TLS; reach a remote server through a
//! local socket, a tunnel or a trusted network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::{Backend, Entry, StoreError, TreeBackend, Write};

mod journal;
mod leader;
pub(crate) use journal::JournalRow;
pub use leader::Leadership;

/// The table every tree lives in.
const TABLE: &str = "ghostkit_store";
/// The advisory lock key taken while the table is created ("ghostkit").
const SCHEMA_LOCK: i64 = 0x6768_6f73_746b_6974;
/// How long an operation waits for a free pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// How to reach the database. Its `Debug` names the database and server,
/// never the URL's password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// A connection URL (`postgresql://user:password@host:port/dbname`) or
    /// a key-value string (`host=/run/postgresql dbname=ghostkit`).
    pub url: String,
    /// Connections kept in the pool, at most (default 8).
    pub pool_size: usize,
}

impl PostgresOptions {
    /// Options for `url`, with the default pool size.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            pool_size: 8,
        }
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = match self.url.parse::<tokio_postgres::Config>() {
            Ok(config) => describe(&config),
            Err(_) => "(unparsable URL)".to_owned(),
        };
        f.debug_struct("PostgresOptions")
            .field("database", &database)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// PostgreSQL as a [`Backend`]; cheap to clone.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ghostkit::store::StoreError> {
/// use ghostkit::store::{PostgresBackend, PostgresOptions, Store};
/// let backend = PostgresBackend::connect(&PostgresOptions::new("postgresql://ghostkit@localhost/ghostkit")).await?;
/// let store = Store::with_backend("modbot.store", backend);
/// store.put_json("notes", "n1", &"kept in PostgreSQL").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresBackend {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// How to connect, for the leader's connection of its own.
    config: tokio_postgres::Config,
    /// The database and server, without credentials, for messages.
    name: String,
    failed: AtomicBool,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("database", &self.inner.name)
            .field("healthy", &self.healthy())
            .finish_non_exhaustive()
    }
}

/// The database and server of `config`, never its password.
fn describe(config: &tokio_postgres::Config) -> String {
    let db = config.get_dbname().unwrap_or("(the user's)");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    match config.get_ports().first() {
        Some(port) => format!("database {db} on {host}:{port}"),
        None => format!("database {db} on {host}"),
    }
}

impl PostgresBackend {
    /// Connects, checks the server answers, and creates the table when
    /// missing.
    pub async fn connect(options: &PostgresOptions) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config =
            options.url.parse().map_err(|e| StoreError::Connect {
                database: "(unparsable URL)".to_owned(),
                source: Box::new(e),
            })?;
        let name = describe(&config);
        let connect = |source: super::BackendError| StoreError::Connect {
            database: name.clone(),
            source,
        };
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| connect(Box::new(e)))?;
        let mut client = pool.get().await.map_err(|e| connect(Box::new(e)))?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| connect(Box::new(e)))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await
            .map_err(|e| connect(Box::new(e)))?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                tree TEXT NOT NULL,
                key BYTEA NOT NULL,
                value BYTEA NOT NULL,
                PRIMARY KEY (tree, key)
            )"
        ))
        .await
        .map_err(|e| connect(Box::new(e)))?;
        tx.batch_execute(&journal::create_journal())
            .await
            .map_err(|e| connect(Box::new(e)))?;
        tx.commit().await.map_err(|e| connect(Box::new(e)))?;
        drop(client);
        Ok(PostgresBackend {
            inner: Arc::new(Inner {
                pool,
                config,
                name,
                failed: AtomicBool::new(false),
            }),
        })
    }

    /// The database and server, without credentials.
    pub fn database(&self) -> &str {
        &self.inner.name
    }
}

impl Inner {
    fn unavailable(&self, source: super::BackendError) -> StoreError {
        self.failed.store(true, Ordering::Release);
        StoreError::Unavailable {
            path: self.name.clone(),
            source,
        }
    }

    /// A failed statement: refused by the server (the statement's own
    /// fault), or the connection lost (which may pass).
    fn failure(&self, e: tokio_postgres::Error) -> StoreError {
        if e.as_db_error().is_some() {
            StoreError::Io(Box::new(e))
        } else {
            self.unavailable(Box::new(e))
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| self.unavailable(Box::new(e)))
    }

    /// Runs one statement and returns its rows.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.failure(e))?;
        let rows = client
            .query(&statement, params)
            .await
            .map_err(|e| self.failure(e))?;
        self.failed.store(false, Ordering::Release);
        Ok(rows)
    }
}

/// Column `idx` of `row`, as bytes.
fn bytes(row: &Row, idx: usize) -> Result<Vec<u8>, StoreError> {
    row.try_get::<_, Vec<u8>>(idx)
        .map_err(|e| StoreError::Io(Box::new(e)))
}

/// The first column of the first row, if any.
fn first_value(rows: &[Row]) -> Result<Option<Vec<u8>>, StoreError> {
    rows.first().map(|r| bytes(r, 0)).transpose()
}

/// The smallest key greater than every key starting with `prefix`; `None`
/// when there is none (the prefix is all `0xff`).
fn after_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[async_trait]
impl Backend for PostgresBackend {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn TreeBackend>, StoreError> {
        Ok(Arc::new(PostgresTree {
            name: name.to_owned(),
            inner: self.inner.clone(),
        }))
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn healthy(&self) -> bool {
        !self.inner.failed.load(Ordering::Acquire)
    }

    async fn recover(&self) -> bool {
        self.inner.query("SELECT 1", &[]).await.is_ok()
    }
}

/// One tree: the rows of the table whose `tree` is its name.
struct PostgresTree {
    name: String,
    inner: Arc<Inner>,
}

#[async_trait]
impl TreeBackend for PostgresTree {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT value FROM {TABLE} WHERE tree = $1 AND key = $2");
        first_value(&self.inner.query(&sql, &[&self.name, &key]).await?)
    }

    async fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!(
            "WITH old AS (SELECT value FROM {TABLE} WHERE tree = $1 AND key = $2),
             up AS (INSERT INTO {TABLE} (tree, key, value) VALUES ($1, $2, $3)
                    ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value)
             SELECT value FROM old"
        );
        first_value(&self.inner.query(&sql, &[&self.name, &key, &value]).await?)
    }

    async fn insert_if_absent(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let insert = format!(
            "INSERT INTO {TABLE} (tree, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (tree, key) DO NOTHING RETURNING 1"
        );
        loop {
            if !self
                .inner
                .query(&insert, &[&self.name, &key, &value])
                .await?
                .is_empty()
            {
                return Ok(None);
            }
            // Present: read it in a statement of its own, which sees a
            // value committed by another connection after the insert began.
            if let Some(current) = self.get(key).await? {
                return Ok(Some(current));
            }
            // Removed in between: try the insert again.
        }
    }

    async fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("DELETE FROM {TABLE} WHERE tree = $1 AND key = $2 RETURNING value");
        first_value(&self.inner.query(&sql, &[&self.name, &key]).await?)
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        let rows = match after_prefix(prefix) {
            Some(end) => {
                let sql = format!(
                    "SELECT key, value FROM {TABLE}
                     WHERE tree = $1 AND key >= $2 AND key < $3 ORDER BY key"
                );
                self.inner.query(&sql, &[&self.name, &prefix, &end]).await?
            }
            None => {
                let sql = format!(
                    "SELECT key, value FROM {TABLE} WHERE tree = $1 AND key >= $2 ORDER BY key"
                );
                self.inner.query(&sql, &[&self.name, &prefix]).await?
            }
        };
        rows.iter()
            .map(|r| Ok((bytes(r, 0)?, bytes(r, 1)?)))
            .collect()
    }

    async fn first(&self) -> Result<Option<Entry>, StoreError> {
        let sql = format!("SELECT key, value FROM {TABLE} WHERE tree = $1 ORDER BY key LIMIT 1");
        let rows = self.inner.query(&sql, &[&self.name]).await?;
        rows.first()
            .map(|r| Ok((bytes(r, 0)?, bytes(r, 1)?)))
            .transpose()
    }

    async fn len(&self) -> Result<usize, StoreError> {
        let sql = format!("SELECT count(*) FROM {TABLE} WHERE tree = $1");
        let rows = self.inner.query(&sql, &[&self.name]).await?;
        let count: i64 = rows
            .first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(|e| StoreError::Io(Box::new(e)))?
            .unwrap_or(0);
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn clear(&self) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {TABLE} WHERE tree = $1");
        self.inner.query(&sql, &[&self.name]).await?;
        Ok(())
    }

    async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let mut client = inner.client().await?;
        let tx = client.transaction().await.map_err(|e| inner.failure(e))?;
        let upsert = format!(
            "INSERT INTO {TABLE} (tree, key, value)
             SELECT $1, k, v FROM UNNEST($2::bytea[], $3::bytea[]) AS t(k, v)
             ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value"
        );
        let delete = format!("DELETE FROM {TABLE} WHERE tree = $1 AND key = ANY($2)");
        for run in runs(writes) {
            let done = match run {
                Run::Insert(keys, values) => {
                    tx.execute(upsert.as_str(), &[&self.name, &keys, &values])
                        .await
                }
                Run::Remove(keys) => tx.execute(delete.as_str(), &[&self.name, &keys]).await,
            };
            done.map_err(|e| inner.failure(e))?;
        }
        tx.commit().await.map_err(|e| inner.failure(e))?;
        inner.failed.store(false, Ordering::Release);
        Ok(())
    }
}

/// Consecutive writes of one kind, sent as one statement.
#[derive(Debug, PartialEq, Eq)]
enum Run {
    /// Keys and their values, each key once (the last value given wins).
    Insert(Vec<Vec<u8>>, Vec<Vec<u8>>),
    /// Keys to remove.
    Remove(Vec<Vec<u8>>),
}

/// Groups `writes` into runs; the runs applied in order do what the writes
/// applied in order do.
fn runs(writes: Vec<Write>) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    for write in writes {
        match write {
            Write::Insert(k, v) => {
                if !matches!(out.last(), Some(Run::Insert(..))) {
                    out.push(Run::Insert(Vec::new(), Vec::new()));
                    index.clear();
                }
                if let Some(Run::Insert(keys, values)) = out.last_mut() {
                    match index.get(&k) {
                        Some(&i) => values[i] = v,
                        None => {
                            index.insert(k.clone(), keys.len());
                            keys.push(k);
                            values.push(v);
                        }
                    }
                }
            }
            Write::Remove(k) => match out.last_mut() {
                Some(Run::Remove(keys)) => keys.push(k),
                _ => out.push(Run::Remove(vec![k])),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_before_the_next_byte_string() {
        assert_eq!(after_prefix(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(after_prefix(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(after_prefix(b"\xff\xff"), None);
        assert_eq!(after_prefix(b""), None);
    }

    #[test]
    fn writes_group_into_runs_that_keep_their_order_and_last_values() {
        let ins = |k: &str, v: &str| Write::Insert(k.into(), v.into());
        let rm = |k: &str| Write::Remove(k.into());
        let got = runs(vec![
            ins("a", "1"),
            ins("b", "2"),
            ins("a", "3"),
            rm("a"),
            rm("b"),
            ins("a", "4"),
        ]);
        assert_eq!(
            got,
            vec![
                Run::Insert(
                    vec![b"a".to_vec(), b"b".to_vec()],
                    vec![b"3".to_vec(), b"2".to_vec()]
                ),
                Run::Remove(vec![b"a".to_vec(), b"b".to_vec()]),
                Run::Insert(vec![b"a".to_vec()], vec![b"4".to_vec()]),
            ]
        );
    }

    #[test]
    fn the_description_of_a_database_leaves_out_the_password() {
        let config: tokio_postgres::Config =
            "postgresql://bot:hunter2@db.example.org:5433/ghostkit"
                .parse()
                .expect("a valid URL");
        let text = describe(&config);
        assert_eq!(text, "database ghostkit on db.example.org:5433");
        assert!(!text.contains("hunter2"));
    }
}
