//! End-to-end tests: a real Synapse (`scripts/synapse.sh start`), real
//! sockets, real sled on disk.

mod common;
mod crash;
mod e2e;
