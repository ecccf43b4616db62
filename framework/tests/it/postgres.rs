//! The PostgreSQL cases' database: [`postgres_database`] makes a fresh one
//! on the server `GHOSTKIT_TEST_POSTGRES` names, or skips the case.

use ghostkit::store::{PostgresBackend, PostgresOptions, Store};
use ghostkit::testing::postgres_database;

/// Options for a database made for the caller alone.
pub async fn database() -> Option<PostgresOptions> {
    postgres_database().await.unwrap_or_else(|e| panic!("{e}"))
}

/// A store on a database of its own, its files in `dir`.
pub async fn store(dir: &std::path::Path) -> Option<Store> {
    let options = database().await?;
    let backend = PostgresBackend::connect(&options)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test database: {e}"));
    Some(Store::with_backend(dir, backend))
}
