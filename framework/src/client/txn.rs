//! Transaction IDs of the client's `PUT …/{txnId}` calls (sends, redactions):
//! the same effect gets the same ID, so a replay is one event, not two.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#transaction-identifiers>
//!
//! While a handler runs, the router puts it in a *scope* named after the
//! event it handles ([`scope`]). Every txnId asked for inside it is derived
//! from four things: the appservice ID, the scope's origin (the event ID),
//! the acting user, and the ordinal of the request within the call (0 for
//! the first send, 1 for the second …). A handler replayed after a crash
//! makes the same requests in the same order, so it sends the same txnIds and
//! the homeserver answers with the events it made the first time.
//!
//! Outside a scope (a task the handler spawned, a timer, start-up code) each
//! txnId is fresh and random. Code that acts on something other than a
//! Matrix event (a bridge relaying a remote message) can open a scope of its
//! own with the remote message's ID as origin.
//!
//! The window is the homeserver's: Synapse keeps txnIds in memory for 30
//! minutes, per request path and appservice (not per user, hence the user in
//! the derivation), and forgets them when it restarts. A replay later than
//! that, or across a Synapse restart, sends the event again.
//!
//! ```
//! use ghostkit::client::txn;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let first = txn::scope("$event:example.org", async {
//!     (txn::derive("echo", "@echo:example.org"), txn::derive("echo", "@echo:example.org"))
//! })
//! .await;
//! let again = txn::scope("$event:example.org", async {
//!     (txn::derive("echo", "@echo:example.org"), txn::derive("echo", "@echo:example.org"))
//! })
//! .await;
//! assert_eq!(first, again); // a replay asks for the same IDs
//! assert_ne!(first.0, first.1); // two sends of one call differ
//! // Outside a scope, every ID is new.
//! assert_ne!(txn::derive("echo", "@echo:example.org"), txn::derive("echo", "@echo:example.org"));
//! # }
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::Rng;
use sha2::{Digest, Sha256};

tokio::task_local! {
    static SCOPE: Scope;
}

struct Scope {
    origin: Box<str>,
    ordinal: AtomicU64,
    /// The last homeserver call made in the scope failed because the
    /// homeserver was unavailable.
    unavailable: AtomicBool,
}

/// Runs `fut` in a scope whose txnIds derive from `origin` (an event ID, or
/// any ID stable across replays of the same work).
pub async fn scope<F: Future>(origin: &str, fut: F) -> F::Output {
    scope_reporting(origin, fut).await.0
}

/// [`scope`], also saying whether the last homeserver call made in it
/// failed because the homeserver was unavailable
/// ([`super::ClientError::is_unavailable`]); seen this way whatever error
/// type the work wrapped that failure in.
pub(crate) async fn scope_reporting<F: Future>(origin: &str, fut: F) -> (F::Output, bool) {
    let scope = Scope {
        origin: origin.into(),
        ordinal: AtomicU64::new(0),
        unavailable: AtomicBool::new(false),
    };
    SCOPE
        .scope(scope, async {
            let out = fut.await;
            let unavailable = SCOPE.with(|s| s.unavailable.load(Ordering::Relaxed));
            (out, unavailable)
        })
        .await
}

/// Notes how a homeserver call made in the current scope ended.
pub(crate) fn note_call(unavailable: bool) {
    let _ = SCOPE.try_with(|s| s.unavailable.store(unavailable, Ordering::Relaxed));
}

/// Whether the current task runs in a [`scope`].
pub fn in_scope() -> bool {
    SCOPE.try_with(|_| ()).is_ok()
}

/// The next txnId for a request of `appservice_id` acting as `user_id`:
/// derived inside a [`scope`], random outside one.
pub fn derive(appservice_id: &str, user_id: &str) -> String {
    SCOPE
        .try_with(|s| {
            let n = s.ordinal.fetch_add(1, Ordering::Relaxed);
            derived(appservice_id, &s.origin, user_id, n)
        })
        .unwrap_or_else(|_| fresh())
}

/// `gk1` and 128 bits of SHA-256 over the length-prefixed parts.
fn derived(appservice_id: &str, origin: &str, user_id: &str, ordinal: u64) -> String {
    let mut h = Sha256::new();
    for part in [appservice_id, origin, user_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.update(ordinal.to_be_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(3 + 32);
    out.push_str("gk1");
    for b in &digest[..16] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A txnId that was never used: `gk0` and 128 random bits.
pub fn fresh() -> String {
    let n: u128 = rand::thread_rng().gen();
    format!("gk0{n:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_changes_the_id() {
        let base = derived("as", "$e", "@u:x", 0);
        assert_eq!(base, derived("as", "$e", "@u:x", 0));
        assert_eq!(base.len(), 35);
        for other in [
            derived("as2", "$e", "@u:x", 0),
            derived("as", "$f", "@u:x", 0),
            derived("as", "$e", "@v:x", 0),
            derived("as", "$e", "@u:x", 1),
            // Length prefixes: moving a character between parts is another ID.
            derived("a", "s$e", "@u:x", 0),
        ] {
            assert_ne!(base, other);
        }
    }

    #[tokio::test]
    async fn spawned_tasks_leave_the_scope() {
        let inner = scope("$e", async { tokio::spawn(async { in_scope() }).await }).await;
        assert!(!inner.expect("task ran"));
        assert!(scope("$e", async { in_scope() }).await);
    }
}
