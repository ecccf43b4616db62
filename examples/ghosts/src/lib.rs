//! Ghosts: `!puppet <name> <text>` makes the ghost `@_ghost_<name>` say
//! `<text>` in the room. The ghost is registered, given a display name and
//! joined on demand by an [`Intent`](ghostkit::Intent): the first puppet
//! message of a name costs a few requests, the next ones a single send.
//!
//! ```text
//! GHOSTKIT_REGISTRATION=tests/registrations/ghosts.yaml GHOSTKIT_HOMESERVER_URL=http://127.0.0.1:18008 cargo run -p ghosts
//! ```
//! Invite `@ghosts:localhost` to a room, then say `!puppet alice hello`.

use std::str::FromStr;

use ghostkit::prelude::*;

/// The command line defaults of this bot.
pub const INFO: BotInfo = bot_info!("ghosts").ghosts("_ghost_").port(9010);

/// A ghost's name: what follows `_ghost_` in its user ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhostName(pub String);

/// Why a name cannot be a ghost's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("use lowercase letters, digits and `._=-`")]
pub struct BadName;

impl FromStr for GhostName {
    type Err = BadName;

    /// ```
    /// use ghosts::GhostName;
    /// assert_eq!("alice".parse(), Ok(GhostName("alice".into())));
    /// assert!("Alice".parse::<GhostName>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, BadName> {
        let valid = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-".contains(&b));
        valid.then(|| GhostName(s.to_owned())).ok_or(BadName)
    }
}

/// The commands of the ghosts bot.
///
/// ```
/// use ghostkit::command::Command;
/// use ghosts::{GhostName, GhostsCommand};
/// assert_eq!(
///     GhostsCommand::parse("!", "!puppet alice hello there"),
///     Some(Ok(GhostsCommand::Puppet { name: GhostName("alice".into()), text: "hello there".into() })),
/// );
/// let err = GhostsCommand::parse("!", "!puppet Alice hi").unwrap().unwrap_err();
/// assert!(err.to_string().contains("use lowercase letters"));
/// ```
#[derive(Debug, PartialEq, Command)]
pub enum GhostsCommand {
    /// Makes the ghost `@_ghost_<name>` say the text.
    #[command(example = "alice hello everyone")]
    Puppet {
        /// The ghost's name: lowercase letters, digits and `._=-`.
        name: GhostName,
        /// What it says.
        #[command(rest)]
        text: String,
    },
}

/// The bot. Only the bot user joins on invite (`auto_join`); ghosts are let
/// in by their intents.
#[derive(Debug, Default)]
pub struct Ghosts;

#[ghostkit::async_trait]
impl Handler<GhostsCommand> for Ghosts {
    async fn on_command(&self, ctx: &Context, cmd: GhostsCommand) -> HandlerResult {
        let GhostsCommand::Puppet { name, text } = cmd;
        let Some(room) = ctx.event().room_id() else {
            return Ok(());
        };
        let ghost = OwnedUserId::try_from(format!("@_ghost_{}:{}", name.0, ctx.server_name()))?;
        let intent = ctx.intent(&ghost)?;
        intent
            .ensure_display_name(&format!("{} (ghost)", name.0))
            .await?;
        intent.ensure_joined(room).await?;
        intent.send_text(room, &text).await?;
        Ok(())
    }
}

/// The bot as it runs: commands after `!`, its own and its ghosts' messages ignored, invites of the bot user accepted (ghosts are let in by their intents).
pub fn handler() -> impl Handler {
    Ghosts.commands("!").ignore_own_ghosts().auto_join()
}
