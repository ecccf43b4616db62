//! Modbot: a moderation bot on policy lists, as a Matrix appservice (the
//! job of Draupnir/Mjolnir).
//!
//! Moderators talk to it in a management room (`!mod help`). It reads policy
//! lists (rooms of `m.policy.rule.user|room|server` state events, and the
//! legacy `m.room.rule.*` and `org.matrix.mjolnir.rule.*`), bans matching
//! users in every protected room (when a rule arrives and when a member
//! joins), keeps each protected room's `m.room.server_acl` in line with the
//! server rules, and runs optional protections (flooding, join waves, word
//! lists, first messages). Everything it is told persists in the
//! appservice's sled store. See `README.md` for deployment.

pub mod acl;
pub mod commands;
pub mod config;
pub mod engine;
pub mod glob;
pub mod handler;
pub mod intake;
pub mod log;
pub mod manage;
pub mod model;
pub mod power;
pub mod protections;
pub mod redaction;
pub mod rules;

use ghostkit::prelude::BotInfo;

pub use config::{ConfigError, ModConfig};
pub use engine::Engine;
pub use handler::ModBot;

/// What the command line needs to know about the bot.
pub const INFO: BotInfo = ghostkit::bot_info!("modbot").port(9014);
