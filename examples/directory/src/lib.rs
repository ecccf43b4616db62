//! Directory: rooms that exist as soon as someone asks for them.
//!
//! - Joining `#_dir_<name>:<server>` (any alias of the namespace) makes the
//!   homeserver ask the appservice whether it exists (the room-alias query);
//!   the bot creates a public room with that alias, publishes it in the
//!   appservice's network directory (`directory`), and says yes, so the join
//!   goes through.
//! - Looking up or inviting `@_dir_<name>:<server>` makes the homeserver ask
//!   about the user (the user query); the bot registers that ghost with the
//!   display name `<name>` and says yes.
//!
//! ```text
//! GHOSTKIT_REGISTRATION=tests/registrations/directory.yaml GHOSTKIT_HOMESERVER_URL=http://127.0.0.1:18008 cargo run -p directory
//! ```
//! Then join `#_dir_rust:localhost` from any client.

use ghostkit::client::directory::Visibility;
use ghostkit::client::rooms::{CreateRoom, RoomPreset};
use ghostkit::prelude::*;
use ghostkit::ruma::common::RoomAliasId;
use ghostkit::ErrorCode;

/// The command line defaults of this bot.
pub const INFO: BotInfo = bot_info!("directory")
    .sender_localpart("_dir_bot")
    .ghosts("_dir_")
    .aliases("_dir_")
    .port(9013);

/// Localparts of aliases and ghosts start with this.
pub const PREFIX: &str = "_dir_";

/// The third-party network the rooms are published under.
pub const NETWORK: &str = "directory";

/// The name after the prefix, if `localpart` is one of ours.
///
/// ```
/// assert_eq!(directory::name_of("_dir_rust"), Some("rust"));
/// assert_eq!(directory::name_of("_dir_"), None);
/// assert_eq!(directory::name_of("rust"), None);
/// ```
pub fn name_of(localpart: &str) -> Option<&str> {
    localpart.strip_prefix(PREFIX).filter(|n| !n.is_empty())
}

/// The bot.
#[derive(Debug, Default)]
pub struct Directory;

#[ghostkit::async_trait]
impl Handler for Directory {
    async fn query_room_alias(
        &self,
        app: &AppContext,
        alias: &RoomAliasId,
    ) -> Result<bool, HandlerError> {
        let Some(name) = name_of(alias.alias()) else {
            return Ok(false);
        };
        let bot = app.client().as_bot();
        let created = bot
            .create_room(&CreateRoom {
                preset: Some(RoomPreset::PublicChat),
                room_alias_name: Some(alias.alias().to_owned()),
                name: Some(name.to_owned()),
                topic: Some(format!("#{name}, made on demand by the directory example")),
                ..Default::default()
            })
            .await;
        let room = match created {
            Ok(room) => room,
            // Asked twice at once: the other query made it.
            Err(e) if e.kind() == Some(ErrorCode::RoomInUse) => return Ok(true),
            Err(e) => return Err(e.into()),
        };
        bot.publish_to_network(NETWORK, &room, Visibility::Public)
            .await?;
        tracing::info!(%alias, %room, "made a room on demand");
        Ok(true)
    }

    async fn query_user(&self, app: &AppContext, user_id: &UserId) -> Result<bool, HandlerError> {
        let Some(name) = name_of(user_id.localpart()) else {
            return Ok(false);
        };
        let intent = app.intent(user_id)?;
        intent.ensure_display_name(name).await?;
        Ok(true)
    }
}

/// The bot as it runs: its own and its ghosts' events ignored.
pub fn handler() -> impl Handler {
    Directory.ignore_own_ghosts()
}
