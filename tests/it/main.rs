//! End-to-end tests: a real Synapse (`scripts/synapse.sh start`), real
//! sockets, real sled on disk.
//!
//! The `client_*` and `intent` modules test the as_token client and intents
//! against a fault-injecting fake homeserver (`ghostkit::testing`) and the
//! real Synapse at `SYNAPSE_URL` (default `http://127.0.0.1:18008`) with the
//! registration `tests/registrations/client.yaml`.
//!
//! The `metrics` module scrapes `/metrics` after real traffic through
//! Synapse, as the `e2e` registration (one test at a time holds it).
//!
//! The `example_*` modules run the examples of `examples/` against the real
//! Synapse, each with its registration of `tests/registrations/`.

mod client_account;
mod client_directory;
mod client_fake;
mod client_ghosts_example;
mod client_media;
mod client_messages;
mod client_rooms;
mod client_support;
mod common;
mod crash;
mod create_room_once;
mod e2e;
mod echo_process;
mod effects_once;
mod example_dice;
mod example_directory;
mod example_reminder;
mod homeserver_outage;
mod homeserver_reset;
mod intent;
mod ircbridge;
mod ircbridge_bench;
mod ircbridge_security;
mod ircbridge_support;
mod logs;
mod metrics;
mod modbot;
mod modbot_fake;
mod modbot_protections;
mod modbot_security;
mod modbot_support;
mod own_synapse;
mod signals;
mod version;
mod webhooks;
mod webhooks_security;
mod webhooks_support;
