//! The commands admins give the bridge bot in a room that is not a portal
//! (a DM with `@ircbridge`).

use ghostkit::command::{Command as _, Outcome};
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

/// Answers a command said in `room`; `false` when the text is not one.
pub(crate) async fn handle(live: &Live, ctx: &Context, body: &str) -> anyhow::Result<bool> {
    let Some(outcome) = BridgeCommand::outcome("!", body) else {
        return Ok(false);
    };
    if !live.config.admin_commands_enabled() {
        ctx.reply_notice("Admin commands are disabled: the bridge's config lists no `admins`.")
            .await?;
        return Ok(true);
    }
    let sender = ctx.event().sender().map(|s| s.to_owned());
    let allowed = sender
        .as_ref()
        .is_some_and(|s| live.config.is_admin(s.as_str()));
    if !allowed {
        ctx.reply_notice("Only the bridge's admins may give commands.")
            .await?;
        return Ok(true);
    }
    let answer = match outcome {
        Outcome::Help(h) => h,
        Outcome::Error(e) => e.to_string(),
        Outcome::Command(cmd) => run(live, cmd, sender.as_deref()).await?,
    };
    ctx.reply_notice(&answer).await?;
    Ok(true)
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
