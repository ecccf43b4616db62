//! Ircbridge: Matrix <-> IRC, as a Matrix appservice.
//!
//! - Every IRC nick seen in a bridged channel is a ghost
//!   `@_irc_<network>_<nick>` (see [`names`]), registered, named and joined
//!   lazily through intents.
//! - Every bridged channel is a portal room with the alias
//!   `#_irc_<network>_<channel>`, made when someone joins that alias (for
//!   the channels the operator allows, so many an hour) or when an admin
//!   says `!join #channel` to the bot (see [`portal`]).
//! - Matrix messages go to IRC through the bridge's own connection (relay
//!   mode) as `<display name [m]> text`, the name cleaned and marked, split
//!   to IRC's line limit, a bounded number of lines (see [`matrix_to_irc`]);
//!   IRC messages, joins, nick changes and topics come to Matrix by the
//!   ghost of each nick (see [`irc_to_matrix`]).
//!
//! See `README.md` for deployment and its Security section for who can do what.

pub mod bridge;
pub mod commands;
pub mod config;
pub mod irc;
pub mod irc_to_matrix;
pub mod matrix_to_irc;
pub mod names;
pub mod portal;
pub mod text;

use ghostkit::prelude::BotInfo;

pub use bridge::{setup, IrcBridge};
pub use commands::BridgeCommand;
pub use config::BridgeConfig;

/// What the command line needs to know about the bridge.
pub const INFO: BotInfo = ghostkit::bot_info!("ircbridge")
    .ghosts("_irc_")
    .aliases("_irc_")
    .port(9017);
