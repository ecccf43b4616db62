#![doc = include_str!("../README.md")]

pub mod app;
pub mod appservice;
pub mod backoff;
pub mod bot;
pub mod cli;
pub mod client;
pub mod command;
pub mod config;
pub mod errcode;
pub mod event;
pub mod intent;
pub mod metrics;
pub mod power;
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
pub use bot::{AppContext, Context, Handler, HandlerError, HandlerExt, HandlerResult};
pub use cli::main;
pub use client::{AsUser, Client, ClientError, MatrixError};
pub use command::{Command, CommandError};
pub use errcode::ErrorCode;
pub use event::{Event, EventKind};
pub use intent::{Intent, IntentError};
pub use registration::{Registration, RegistrationError};
pub use store::Store;

/// Re-exports of the ruma crates whose types appear in handler signatures.
pub mod ruma {
    pub use ruma_common as common;
    pub use ruma_events as events;
}

#[doc = include_str!("../docs/derive_command.md")]
pub use ghostkit_macros::Command;

/// What the derives' generated code names, by absolute path. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::command::{
        match_name, split_command, ArgKind, ArgSpec, Args, Command, CommandError, CommandSpec,
    };
    pub use std::option::Option;
    pub use std::result::Result;
    pub use std::string::String;
}

/// The root README's examples, compiled as doc-tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
