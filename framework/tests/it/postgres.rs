//! A fresh PostgreSQL database for each test that asks, on the server that
//! `GHOSTKIT_TEST_POSTGRES` names (a connection string without `dbname`,
//! e.g. `host=127.0.0.1 port=15432 user=postgres`; `scripts/postgres.sh`
//! starts one and prints it). Without it the PostgreSQL cases are skipped
//! with a notice, unless `GHOSTKIT_REQUIRE_POSTGRES=1` (set by
//! `scripts/test.sh`) makes that a failure.

use ghostkit::store::{PostgresBackend, PostgresOptions, Store};
use rand::Rng;

/// The server's connection string, or `None` (with a notice) when the
/// PostgreSQL cases are to be skipped.
fn server() -> Option<String> {
    match std::env::var("GHOSTKIT_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("GHOSTKIT_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "GHOSTKIT_REQUIRE_POSTGRES=1 but GHOSTKIT_TEST_POSTGRES is not set: \
                 run `scripts/postgres.sh start` and export what it prints"
            );
            eprintln!("GHOSTKIT_TEST_POSTGRES is not set: skipping the PostgreSQL case");
            None
        }
    }
}

/// Options for a database made for the caller alone.
pub async fn database() -> Option<PostgresOptions> {
    let server = server()?;
    let name = format!("gk_test_{:016x}", rand::thread_rng().gen::<u64>());
    let admin = format!("{server} dbname=postgres");
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at `{server}`: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("cannot make the test database {name}: {e}"));
    drop(client);
    let _ = task.await;
    Some(PostgresOptions::new(format!("{server} dbname={name}")))
}

/// A store on a database of its own, its files in `dir`.
pub async fn store(dir: &std::path::Path) -> Option<Store> {
    let options = database().await?;
    let backend = PostgresBackend::connect(&options)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test database: {e}"));
    Some(Store::with_backend(dir, backend))
}
