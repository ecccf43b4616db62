//! The HTTP side: auth, bad input and size limits, routes and their answers.

mod auth;
mod body;
mod routes;

use std::sync::Arc;

use ghostkit::server::ServerConfig;

use crate::common::{self, message, txn, Options, Recorder, Stack};

/// A stack with `recorder` as the handler, on a fresh temporary store.
pub(super) async fn stack_with(
    recorder: Arc<Recorder>,
    server: ServerConfig,
) -> (tempfile::TempDir, Stack) {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::open(
        dir.path(),
        recorder,
        Options {
            server,
            ..Options::default()
        },
    )
    .await;
    (dir, stack)
}

pub(super) fn one_event(id: &str) -> Vec<u8> {
    txn(&[message(id, "!room:x.org", "hi")])
}
