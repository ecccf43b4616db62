//! The commands admins give the bridge bot in a room that is not a portal
//! (a DM with `@ircbridge`).

use std::sync::Arc;

use ghostkit::bot::{Guard, Verdict};
use ghostkit::prelude::*;

use crate::bridge::Live;
use crate::irc::{check_channel, check_nick};

/// What the bridge bot understands.
///
/// ```
/// use ghostkit::command::Command;
/// use ircbridge::BridgeCommand;
/// assert_eq!(BridgeCommand::parse("!", "!join #rust"), Some(Ok(BridgeCommand::Join { channel: "#rust".into() })));
/// assert!(BridgeCommand::help("!").contains("!part <channel>"));
/// ```
#[derive(Debug, PartialEq, Command)]
pub enum BridgeCommand {
    /// Bridges an IRC channel: joins it and invites you to its room.
    #[command(example = "#ghostkit")]
    Join {
        /// The channel (`#name`).
        channel: String,
    },
    /// Stops bridging a channel: leaves it on IRC and forgets its room.
    #[command(example = "#ghostkit")]
    Part {
        /// The channel (`#name`).
        channel: String,
    },
    /// Changes the bridge's nick on IRC.
    #[command(example = "matrixbridge")]
    Nick {
        /// The new nick.
        nick: String,
    },
    /// Lists the bridged channels and their rooms.
    List,
}

/// Who may give the bridge's commands: the configured `admins`, in a room
/// that is not a portal (in a portal, a message that looks like a command
/// is relayed to IRC as it is).
pub(crate) struct Admins(pub(crate) Arc<Live>);

#[ghostkit::async_trait]
impl Guard for Admins {
    async fn check(&self, ctx: &Context) -> Verdict {
        let live = &self.0;
        if ctx
            .room_id()
            .is_none_or(|room| live.portals.by_room(room).is_some())
        {
            return Verdict::Ignore;
        }
        if !live.config.admin_commands_enabled() {
            return Verdict::Refuse(
                "Admin commands are disabled: the bridge's config lists no `admins`.".into(),
            );
        }
        match ctx.sender() {
            Some(s) if live.config.is_admin(s.as_str()) => Verdict::Allow,
            _ => Verdict::Refuse("Only the bridge's admins may give commands.".into()),
        }
    }
}

/// Runs an admin's command and answers it in the room.
pub(crate) async fn answer(live: &Live, ctx: &Context, cmd: BridgeCommand) -> HandlerResult {
    let answer = run(live, cmd, ctx.sender()).await?;
    ctx.reply_notice(&answer).await?;
    Ok(())
}

async fn run(live: &Live, cmd: BridgeCommand, sender: Option<&UserId>) -> anyhow::Result<String> {
    Ok(match cmd {
        BridgeCommand::Join { channel } => {
            if let Err(e) = check_channel(&channel) {
                return Ok(format!("Not a channel name, e.g. `#ghostkit`: {e}."));
            }
            let room = live.ensure_portal(&channel).await?;
            if let Some(user) = sender {
                let bot = live.app.client().as_bot();
                if let Err(e) = bot.invite(&room, user, None).await {
                    tracing::debug!(error = %e, "invite into the portal (maybe already in)");
                }
            }
            format!(
                "Bridging {channel}: {} ({room}); you are invited.",
                live.names.alias(&channel)
            )
        }
        BridgeCommand::Part { channel } => match live.portals.remove(&channel).await? {
            Some(p) => {
                live.irc.part(&p.channel, "unbridged from Matrix");
                let bot = live.app.intent_for_bot()?;
                if let Err(e) = bot
                    .api()
                    .send_notice(&p.room_id, "This room is no longer bridged to IRC.")
                    .await
                {
                    tracing::debug!(error = %e, "cannot say goodbye in the portal");
                }
                format!(
                    "Left {}; its room {} is no longer bridged.",
                    p.channel, p.room_id
                )
            }
            None => format!("{channel} is not bridged."),
        },
        BridgeCommand::Nick { nick } => {
            if let Err(e) = check_nick(&nick) {
                return Ok(format!("Not a valid nick: {e}."));
            }
            live.irc.set_nick(&nick);
            format!("Asked IRC for the nick {nick} (now {}).", live.irc.nick())
        }
        BridgeCommand::List => {
            let all = live.portals.all();
            if all.is_empty() {
                "No channel is bridged.".to_owned()
            } else {
                let lines: Vec<String> = all
                    .iter()
                    .map(|p| {
                        format!(
                            "{} — {} ({})",
                            p.channel,
                            live.names.alias(&p.channel),
                            p.room_id
                        )
                    })
                    .collect();
                format!("Bridged channels:\n{}", lines.join("\n"))
            }
        }
    })
}
