//! Webhooks for Matrix rooms, as an appservice (what hookshot's generic
//! webhooks do).
//!
//! - `!webhook create <name>` makes an inbound hook; its secret URL is sent
//!   to the requester in a direct message. POST or PUT JSON
//!   `{"text": "…", "html": "…", "username": "…"}` to it and the message
//!   appears in the room (Markdown `text` rendered to HTML; with `username`,
//!   posted by the hook's own ghost under that name marked ` (webhook)`;
//!   see [`identity`]). HTML is cut down to what Matrix allows. Other JSON is
//!   posted as a code block. See [`inbound`] and [`format`](mod@format).
//! - `!webhook outbound <url> [name]` forwards the room's events as signed
//!   JSON POSTs, never to internal addresses unless the operator allows
//!   them. See [`outbound`] and [`address`].
//! - `!webhook list`, `!webhook delete <name>`.
//!
//! Hooks are kept in the appservice's store ([`hooks`]) and survive restarts.
//! See the README for deployment.

pub mod address;
pub mod bot;
pub mod config;
pub mod format;
pub mod hooks;
pub mod identity;
pub mod inbound;
pub mod outbound;
pub mod ratelimit;

pub use bot::{setup, WebhookBot, WebhookCommand, WebhooksHandle};
pub use config::WebhooksConfig;

use ghostkit::cli::BotInfo;

/// The command line defaults of this bot.
pub const INFO: BotInfo = ghostkit::bot_info!("webhooks")
    .ghosts("_webhook_")
    .port(9015);
