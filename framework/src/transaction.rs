//! Transactions from the homeserver: parsing, and the durable log.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/#put_matrixappv1transactionstxnid>
//!
//! [`parse`] turns a request body into [`Event`]s, skipping (and logging) any
//! single malformed item. [`TransactionLog`] writes each new transaction to
//! disk before it is acknowledged, remembers which txnIds and event IDs it has
//! seen (bounded), and tracks which items the handlers have finished so a
//! restart dispatches exactly the unfinished ones again.

mod journal;
pub mod log;
mod seen;
mod wal;

use bytes::Bytes;
use bytestring::ByteString;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{Event, EventKind};

pub use log::{AcceptError, Accepted, LogConfig, LogItem, TransactionLog};

/// Why a transaction body was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransactionError {
    /// The body is not JSON at all (answered `400 M_NOT_JSON`).
    #[error("request body is not valid JSON: {0}")]
    NotJson(String),
    /// The body is JSON but not a transaction (answered `400 M_BAD_JSON`).
    #[error("request body is not a transaction: {0}")]
    BadJson(String),
}

#[derive(Deserialize)]
struct RawTransaction<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    ephemeral: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow, rename = "de.sorunome.msc2409.ephemeral")]
    ephemeral_unstable: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    to_device: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow, rename = "de.sorunome.msc2409.to_device")]
    to_device_unstable: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    device_lists: Option<&'a RawValue>,
    #[serde(default, borrow, rename = "org.matrix.msc3202.device_lists")]
    device_lists_unstable: Option<&'a RawValue>,
    #[serde(default, borrow, rename = "device_one_time_keys_count")]
    otk_counts: Option<&'a RawValue>,
    #[serde(
        default,
        borrow,
        rename = "org.matrix.msc3202.device_one_time_keys_count"
    )]
    otk_counts_unstable: Option<&'a RawValue>,
    #[serde(
        default,
        borrow,
        rename = "org.matrix.msc3202.device_one_time_key_counts"
    )]
    otk_counts_unstable2: Option<&'a RawValue>,
    #[serde(default, borrow, rename = "device_unused_fallback_key_types")]
    fallback: Option<&'a RawValue>,
    #[serde(
        default,
        borrow,
        rename = "org.matrix.msc3202.device_unused_fallback_key_types"
    )]
    fallback_unstable: Option<&'a RawValue>,
}

/// A parsed transaction: its items in order, and how many were skipped.
#[derive(Debug, Default)]
pub struct ParsedTransaction {
    /// Timeline events first, then ephemeral, to-device and device data, as sent.
    pub events: Vec<Event>,
    /// Items that were malformed and left out (each was logged).
    pub skipped: usize,
}

/// Parses a transaction body.
///
/// The body must be a JSON object with an `events` array; anything else is a
/// [`TransactionError`]. A malformed item inside is skipped with a warning.
///
/// ```
/// let body = br#"{"events":[{"type":"m.room.message","event_id":"$1","room_id":"!r",
///   "sender":"@a:x","content":{}}, 42],
///   "de.sorunome.msc2409.ephemeral":[{"type":"m.typing","room_id":"!r","content":{}}]}"#;
/// let txn = ghostkit::transaction::parse(body).unwrap();
/// assert_eq!(txn.events.len(), 2);
/// assert_eq!(txn.skipped, 1);
/// ```
pub fn parse(body: &[u8]) -> Result<ParsedTransaction, TransactionError> {
    parse_shared(Bytes::copy_from_slice(body))
}

/// [`parse`], with events that share `body` instead of copying their JSON.
pub(crate) fn parse_shared(body: Bytes) -> Result<ParsedTransaction, TransactionError> {
    let text = ByteString::try_from(body)
        .map_err(|e| TransactionError::NotJson(format!("the body is not UTF-8: {e}")))?;
    let raw: RawTransaction<'_> = serde_json::from_str(&text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => TransactionError::BadJson(e.to_string()),
        _ => TransactionError::NotJson(e.to_string()),
    })?;
    // serde also fills a struct from an array (`[[…]]`); a transaction is an object.
    if !text.trim_start().starts_with('{') {
        return Err(TransactionError::BadJson(
            "a transaction is a JSON object, not an array".into(),
        ));
    }
    let mut out = ParsedTransaction {
        events: Vec::with_capacity(raw.events.len()),
        skipped: 0,
    };
    // One warning per transaction, however many items are malformed.
    let mut first_error = None;
    let mut push = |kind: EventKind, item: &RawValue| match Event::from_shared(
        kind,
        text.slice_ref(item.get()),
    ) {
        Ok(ev) => out.events.push(ev),
        Err(e) => {
            first_error.get_or_insert(e);
            out.skipped += 1;
        }
    };
    let lists = [
        (EventKind::Timeline, Some(raw.events)),
        (
            EventKind::Ephemeral,
            raw.ephemeral.or(raw.ephemeral_unstable),
        ),
        (
            EventKind::ToDevice,
            raw.to_device.or(raw.to_device_unstable),
        ),
    ];
    for (kind, list) in lists {
        for item in list.into_iter().flatten() {
            push(kind, item);
        }
    }
    let singles = [
        (
            EventKind::DeviceLists,
            raw.device_lists.or(raw.device_lists_unstable),
        ),
        (
            EventKind::OneTimeKeyCounts,
            raw.otk_counts
                .or(raw.otk_counts_unstable)
                .or(raw.otk_counts_unstable2),
        ),
        (
            EventKind::FallbackKeyTypes,
            raw.fallback.or(raw.fallback_unstable),
        ),
    ];
    for (kind, item) in singles {
        if let Some(item) = item {
            push(kind, item);
        }
    }
    if let Some(e) = first_error {
        tracing::warn!(
            skipped = out.skipped,
            first = %e,
            "skipping malformed items in a transaction"
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tracing_subscriber::layer::SubscriberExt;

    /// Counts the warnings logged.
    struct Warnings(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn many_malformed_items_make_one_warning() {
        let count = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry().with(Warnings(count.clone()));
        let items = vec!["{}"; 10_000].join(",");
        let body = format!("{{\"events\":[{items}]}}");
        let parsed = tracing::subscriber::with_default(subscriber, || {
            super::parse(body.as_bytes()).expect("parses")
        });
        assert_eq!(parsed.skipped, 10_000);
        assert_eq!(count.load(Ordering::Relaxed), 1);
    }
}
