#![doc = include_str!("../README.md")]

pub mod appservice;
pub mod bot;
pub mod cli;
pub mod client;
pub mod event;
pub mod intent;
pub mod prelude;
pub mod registration;
pub mod router;
pub mod server;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transaction;

pub use appservice::{Appservice, Config, Running};
pub use async_trait::async_trait;
pub use bot::{AppContext, Context, Handler, HandlerError, HandlerResult};
pub use client::{AsUser, Client, ClientError, MatrixError};
pub use event::{Event, EventKind};
pub use intent::{Intent, IntentError};
pub use registration::{Registration, RegistrationError};
pub use store::Store;

/// Re-exports of the ruma crates whose types appear in handler signatures.
pub mod ruma {
    pub use ruma_common as common;
    pub use ruma_events as events;
}
