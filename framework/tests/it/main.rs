//! Integration tests of the framework: no homeserver, a real sled store on
//! disk in temporary folders, actix test services and loopback sockets.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

mod bot;

mod lenient;
mod log_postgres;
mod metrics;
mod parse;
mod postgres;
mod recovery;
mod registration;
mod registration_interop;
mod router;
mod server;
mod store;
mod tmpfs;
mod transaction;
