//! The transaction log's table, for the log kept in PostgreSQL
//! (`ghostkit_txnlog`): one row per accepted transaction, by its sequence
//! number, deleted once the transaction is handled and its done marks are
//! held.

use std::time::Duration;

use super::{PostgresBackend, StoreError};

/// The table of the transaction log.
pub(super) const JOURNAL_TABLE: &str = "ghostkit_txnlog";

/// The statement that makes the table.
pub(super) fn create_journal() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} (
            seq BIGINT PRIMARY KEY,
            txn_id TEXT NOT NULL,
            body BYTEA NOT NULL,
            written TIMESTAMPTZ NOT NULL DEFAULT now()
        )"
    )
}

/// A transaction as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalRow {
    /// Its sequence number.
    pub(crate) seq: u64,
    /// The homeserver's txnId.
    pub(crate) txn_id: String,
    /// The body as received.
    pub(crate) body: Vec<u8>,
}

fn to_db(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|e| StoreError::Io(Box::new(e)))
}

impl PostgresBackend {
    /// Every transaction in the table, oldest first, each with how long ago
    /// it was written (by the server's clock).
    pub(crate) async fn journal_rows(&self) -> Result<Vec<(JournalRow, Duration)>, StoreError> {
        let sql = format!(
            "SELECT seq, txn_id, body, GREATEST(EXTRACT(EPOCH FROM now() - written), 0)::float8
             FROM {JOURNAL_TABLE} ORDER BY seq"
        );
        let mut out = Vec::new();
        for row in self.inner.query(&sql, &[]).await? {
            let io = |e: tokio_postgres::Error| StoreError::Io(Box::new(e));
            let seq: i64 = row.try_get(0).map_err(io)?;
            let age: f64 = row.try_get(3).map_err(io)?;
            out.push((
                JournalRow {
                    seq: u64::try_from(seq).map_err(|e| StoreError::Io(Box::new(e)))?,
                    txn_id: row.try_get(1).map_err(io)?,
                    body: row.try_get(2).map_err(io)?,
                },
                Duration::try_from_secs_f64(age).unwrap_or_default(),
            ));
        }
        Ok(out)
    }

    /// Writes `rows` in one transaction; they are durable when this
    /// returns `Ok`. A row already there (the same sequence number) is
    /// left as it is.
    pub(crate) async fn journal_insert(&self, rows: &[JournalRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut seqs = Vec::with_capacity(rows.len());
        for row in rows {
            seqs.push(to_db(row.seq)?);
        }
        let txn_ids: Vec<&str> = rows.iter().map(|r| r.txn_id.as_str()).collect();
        let bodies: Vec<&[u8]> = rows.iter().map(|r| r.body.as_slice()).collect();
        let sql = format!(
            "INSERT INTO {JOURNAL_TABLE} (seq, txn_id, body)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bytea[])
             ON CONFLICT (seq) DO NOTHING"
        );
        self.inner.query(&sql, &[&seqs, &txn_ids, &bodies]).await?;
        Ok(())
    }

    /// Deletes the transactions numbered `seqs`.
    pub(crate) async fn journal_delete(&self, seqs: &[u64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let seqs = seqs
            .iter()
            .map(|&s| to_db(s))
            .collect::<Result<Vec<i64>, _>>()?;
        let sql = format!("DELETE FROM {JOURNAL_TABLE} WHERE seq = ANY($1)");
        self.inner.query(&sql, &[&seqs]).await?;
        Ok(())
    }
}
