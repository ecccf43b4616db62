//! End-to-end tests: a real Synapse (`scripts/synapse.sh start`), real
//! sockets, real sled on disk.
//!
//! The `client` and `intent` modules test the as_token client and intents
//! against a fault-injecting fake homeserver (`ghostkit::testing`) and the
//! real Synapse at `SYNAPSE_URL` (default `http://127.0.0.1:18008`) with the
//! registration `tests/registrations/client.yaml`.
//!
//! The `metrics` module scrapes `/metrics` after real traffic through
//! Synapse, as the `e2e` registration (one test at a time holds it).
//!
//! The `examples` modules run the examples of `examples/` against the real
//! Synapse, each with its registration of `tests/registrations/`.

mod client;
mod common;
mod crash;
mod create_room_once;
mod e2e;
mod echo_process;
mod effects_once;
mod examples;
mod failover;
mod homeserver_outage;
mod homeserver_reset;
mod intent;
mod ircbridge;
mod logs;
mod metrics;
mod modbot;
mod own_synapse;
mod signals;
mod version;
mod webhooks;
