//! Ghosts: `!puppet <name> <text>` makes the ghost `@_ghost_<name>` say
//! `<text>` in the room. The ghost is registered, given a display name and
//! joined on demand by an [`Intent`](ghostkit::Intent): the first puppet
//! message of a name costs a few requests, the next ones a single send.
//!
//! ```text
//! REGISTRATION=tests/registrations/ghosts.yaml HOMESERVER_URL=http://127.0.0.1:18008 cargo run -p ghosts
//! ```
//! Invite `@ghosts:localhost` to a room, then say `!puppet alice hello`.

use ghostkit::prelude::*;

/// The command line defaults of this bot.
pub const INFO: BotInfo = BotInfo {
    id: "ghosts",
    sender_localpart: "ghosts",
    user_prefix: Some("_ghost_"),
    alias_prefix: None,
    port: 9010,
};

/// Why a `!puppet` command was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PuppetError {
    /// No name or no text.
    #[error("usage: !puppet <name> <text>")]
    Usage,
    /// The name cannot be part of a user ID.
    #[error("`{0}` cannot be a ghost name: use lowercase letters, digits and `._=-`")]
    BadName(String),
}

/// Parses what follows `!puppet `: a name and the text to say.
///
/// ```
/// assert_eq!(ghosts::parse_puppet("alice hello there"), Ok(("alice", "hello there")));
/// assert!(ghosts::parse_puppet("Alice hi").is_err());
/// assert!(ghosts::parse_puppet("alice").is_err());
/// ```
pub fn parse_puppet(rest: &str) -> Result<(&str, &str), PuppetError> {
    let (name, text) = rest
        .trim_start()
        .split_once(' ')
        .ok_or(PuppetError::Usage)?;
    let text = text.trim();
    if name.is_empty() || text.is_empty() {
        return Err(PuppetError::Usage);
    }
    let valid = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-".contains(&b));
    if !valid {
        return Err(PuppetError::BadName(name.to_owned()));
    }
    Ok((name, text))
}

/// The bot.
#[derive(Debug, Default)]
pub struct Ghosts;

#[ghostkit::async_trait]
impl Handler for Ghosts {
    async fn on_invite(&self, ctx: &Context, invitee: &UserId) -> HandlerResult {
        // Ghosts are let in by their intents; only the bot answers invites.
        if invitee.as_str() != ctx.bot_user_id() {
            return Ok(());
        }
        if let Some(room) = ctx.event().room_id() {
            ctx.intent_for_bot()?.join_room(room.into(), &[]).await?;
        }
        Ok(())
    }

    async fn on_message(&self, ctx: &Context, msg: RoomMessageEventContent) -> HandlerResult {
        let ev = ctx.event();
        let (Some(room), Some(sender)) = (ev.room_id(), ev.sender()) else {
            return Ok(());
        };
        if ctx.is_ours(sender.as_str()) {
            return Ok(());
        }
        let Some(rest) = msg.body().strip_prefix("!puppet ") else {
            return Ok(());
        };
        let (name, text) = match parse_puppet(rest) {
            Ok(parsed) => parsed,
            Err(e) => {
                ctx.intent_for_bot()?
                    .send_notice(room, &e.to_string())
                    .await?;
                return Ok(());
            }
        };
        let ghost = OwnedUserId::try_from(format!("@_ghost_{name}:{}", ctx.server_name()))?;
        let intent = ctx.intent(&ghost)?;
        intent
            .ensure_display_name(&format!("{name} (ghost)"))
            .await?;
        intent.ensure_joined(room).await?;
        intent.send_text(room, text).await?;
        Ok(())
    }
}
