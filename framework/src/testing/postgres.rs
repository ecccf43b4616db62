//! A fresh PostgreSQL database per test, on the server the environment
//! names.
//!
//! `GHOSTKIT_TEST_POSTGRES` is a connection string without `dbname`
//! (`host=127.0.0.1 port=15432 user=ghostkit`; `scripts/postgres.sh start`
//! runs such a server and `scripts/postgres.sh url` prints it). Without it,
//! [`postgres_database`] gives `Ok(None)` and says so on standard error, so
//! a test can skip its PostgreSQL case; `GHOSTKIT_TEST_REQUIRE_POSTGRES=1` makes
//! that an error instead (`scripts/test.sh` sets it).

use rand::Rng;

use crate::store::PostgresOptions;

/// The variable naming the test server.
pub const SERVER_VAR: &str = "GHOSTKIT_TEST_POSTGRES";

/// The variable that makes a missing test server an error.
pub const REQUIRE_VAR: &str = "GHOSTKIT_TEST_REQUIRE_POSTGRES";

/// Why no test database could be made.
#[derive(Debug, thiserror::Error)]
pub enum TestDatabaseError {
    /// A server is required and none is named.
    #[error("{REQUIRE_VAR}=1 but {SERVER_VAR} is not set: run `scripts/postgres.sh start` and set {SERVER_VAR} to what `scripts/postgres.sh url` prints")]
    NotConfigured,
    /// The server did not answer.
    #[error("cannot reach the test PostgreSQL server at `{server}`: {source}")]
    Unreachable {
        /// The server's connection string.
        server: String,
        /// What the client said.
        source: tokio_postgres::Error,
    },
    /// The server refused the new database.
    #[error("cannot make the test database {name}: {source}")]
    Create {
        /// The database's name.
        name: String,
        /// What the server said.
        source: tokio_postgres::Error,
    },
}

/// Makes an empty database named `gk_test_<random>` on the test server
/// and gives the options to reach it; `Ok(None)` when no server is named
/// and none is required.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ghostkit::store::{PostgresBackend, Store};
/// use ghostkit::testing::postgres_database;
/// let Some(options) = postgres_database().await? else {
///     return Ok(()); // skipped: no test server
/// };
/// let store = Store::with_backend("test.store", PostgresBackend::connect(&options).await?);
/// store.put_json("t", "k", &1).await?;
/// # Ok(()) }
/// ```
pub async fn postgres_database() -> Result<Option<PostgresOptions>, TestDatabaseError> {
    let server = match std::env::var(SERVER_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") => {
            return Err(TestDatabaseError::NotConfigured)
        }
        _ => {
            eprintln!("{SERVER_VAR} is not set: skipping the PostgreSQL case");
            return Ok(None);
        }
    };
    let name = format!("gk_test_{:016x}", rand::thread_rng().gen::<u64>());
    let admin = format!("{server} dbname=postgres");
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .map_err(|source| TestDatabaseError::Unreachable {
            server: server.clone(),
            source,
        })?;
    let task = tokio::spawn(connection);
    let made = client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|source| TestDatabaseError::Create {
            name: name.clone(),
            source,
        });
    drop(client);
    let _ = task.await;
    made?;
    Ok(Some(PostgresOptions::new(format!(
        "{server} dbname={name}"
    ))))
}
