//! The `!webhook` commands: their syntax and what each does.

use std::str::FromStr;

use ghostkit::bot::InRoom;
use ghostkit::client::rooms::{CreateRoom, RoomPreset};
use ghostkit::prelude::*;

use super::WebhookBot;
use crate::hooks::{check_name, random_hex, Hook, HookKind};
use crate::outbound::SIGNATURE_HEADER;

/// The store tree of each user's direct-message room with the bot.
const DM_TREE: &str = "webhooks.dm";

/// What `!webhook` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `create <name>`: a new inbound hook.
    Create,
    /// `outbound <url> [name]`: a new outbound hook.
    Outbound,
    /// `list`: the room's hooks.
    List,
    /// `delete <name>`: removes a hook.
    Delete,
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "create" | "new" => Ok(Action::Create),
            "outbound" => Ok(Action::Outbound),
            "list" | "ls" => Ok(Action::List),
            "delete" | "remove" | "rm" => Ok(Action::Delete),
            _ => Err("say create, outbound, list or delete".into()),
        }
    }
}

/// The webhooks bot's commands.
#[derive(Debug, PartialEq, Command)]
pub enum WebhookCommand {
    /// Manages this room's webhooks: create <name>, outbound <url> [name], list, delete <name>.
    ///
    /// `create` makes an inbound hook: its secret URL comes to you in a direct
    /// message. `outbound` forwards this room's events to a URL, signed with a
    /// secret that also comes in a direct message. Needs the power to change
    /// the room's state.
    #[command(example = "create ci-builds")]
    Webhook {
        /// create, outbound, list or delete.
        action: Action,
        /// The hook's name, or for outbound the URL and optionally a name.
        #[command(rest)]
        args: Option<String>,
    },
}

/// Runs `cmd`, said in a room by someone who may (for all but `list`,
/// whoever may change the room's settings).
pub(super) async fn run(bot: &WebhookBot, ctx: &Context, cmd: WebhookCommand) -> HandlerResult {
    let WebhookCommand::Webhook { action, args } = cmd;
    let Some(InRoom {
        id: room, sender, ..
    }) = ctx.room()
    else {
        return Ok(());
    };
    let words: Vec<&str> = args.as_deref().unwrap_or("").split_whitespace().collect();
    if action != Action::List && !may_manage(ctx, room, sender).await? {
        ctx.reply_notice("Only users who may change this room's settings can manage its webhooks.")
            .await?;
        return Ok(());
    }
    match action {
        Action::List => list(ctx, bot, room).await,
        Action::Create => create(ctx, bot, room, sender, &words).await,
        Action::Outbound => outbound(ctx, bot, room, sender, &words).await,
        Action::Delete => delete(ctx, bot, room, &words).await,
    }
}

/// The state type that stands for "the room's settings": no room gives it a
/// level of its own, so sending it needs `state_default`.
const SETTINGS_STATE: &str = "org.ghostkit.webhooks.settings";

/// Whether `user` may change `room`'s state: their level reaches
/// `state_default`, or they created a room of version 12 or later.
async fn may_manage(ctx: &Context, room: &RoomId, user: &UserId) -> anyhow::Result<bool> {
    Ok(ctx.may_send_state(room, user, SETTINGS_STATE).await?)
}

async fn list(ctx: &Context, live: &WebhookBot, room: &RoomId) -> HandlerResult {
    let hooks = live.hooks.in_room(room.as_str());
    if hooks.is_empty() {
        ctx.reply_notice("This room has no webhooks. Make one with `!webhook create <name>`.")
            .await?;
        return Ok(());
    }
    let mut text = String::from("Webhooks of this room:");
    for h in hooks {
        match &h.kind {
            HookKind::Inbound => {
                text.push_str(&format!("\n- {} (inbound, by {})", h.name, h.creator));
            }
            HookKind::Outbound { url, .. } => {
                let host = url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "\n- {} (outbound to {host}, by {})",
                    h.name, h.creator
                ));
                if let Some(why) = live.outbound.last_failure(&h.id) {
                    text.push_str(&format!(": last delivery failed, {why}"));
                }
            }
        }
    }
    ctx.reply_notice(&text).await?;
    Ok(())
}

async fn create(
    ctx: &Context,
    live: &WebhookBot,
    room: &RoomId,
    sender: &UserId,
    words: &[&str],
) -> HandlerResult {
    let [name] = words else {
        ctx.reply_notice("Say `!webhook create <name>`, e.g. `!webhook create ci-builds`.")
            .await?;
        return Ok(());
    };
    let name = match check_name(name) {
        Ok(n) => n,
        Err(e) => {
            ctx.reply_notice(&e).await?;
            return Ok(());
        }
    };
    if live.hooks.find(room.as_str(), &name).is_some() {
        ctx.reply_notice(&format!("This room already has a webhook `{name}`."))
            .await?;
        return Ok(());
    }
    let hook = Hook::new(&name, room.as_str(), sender.as_str(), HookKind::Inbound);
    let url = format!("{}/webhook/{}", live.base_url, hook.id);
    live.hooks.insert(hook).await?;
    let dm = format!(
        "Webhook `{name}` of room {room} is ready. Its secret URL:\n{url}\n\
         POST or PUT JSON like {{\"text\": \"**Markdown** here\", \"username\": \"CI\"}} to it. \
         Keep the URL secret: anyone who has it can post in the room."
    );
    send_privately(ctx, sender, &dm).await?;
    ctx.reply_notice(&format!(
        "Created webhook `{name}`; I sent you its URL in a direct message."
    ))
    .await?;
    Ok(())
}

async fn outbound(
    ctx: &Context,
    live: &WebhookBot,
    room: &RoomId,
    sender: &UserId,
    words: &[&str],
) -> HandlerResult {
    let (url, name) = match words {
        [url] => (*url, format!("out-{}", random_hex(3))),
        [url, name] => match check_name(name) {
            Ok(n) => (*url, n),
            Err(e) => {
                ctx.reply_notice(&e).await?;
                return Ok(());
            }
        },
        _ => {
            ctx.reply_notice("Say `!webhook outbound <url> [name]`, e.g. `!webhook outbound https://example.org/hook`.")
                .await?;
            return Ok(());
        }
    };
    let url = match live.outbound.guard().check_new(url).await {
        Ok(u) => u.to_string(),
        Err(e) => {
            ctx.reply_notice(&format!("Cannot forward to `{url}`: {e}."))
                .await?;
            return Ok(());
        }
    };
    if live.hooks.find(room.as_str(), &name).is_some() {
        ctx.reply_notice(&format!("This room already has a webhook `{name}`."))
            .await?;
        return Ok(());
    }
    let secret = random_hex(32);
    let kind = HookKind::Outbound {
        url: url.clone(),
        secret: secret.clone(),
    };
    let hook = Hook::new(&name, room.as_str(), sender.as_str(), kind);
    live.hooks.insert(hook).await?;
    let dm = format!(
        "Outbound webhook `{name}` of room {room} POSTs the room's events to {url}.\n\
         Each request has the header {SIGNATURE_HEADER}: sha256=<hex of HMAC-SHA256 of the body>, keyed with this secret:\n{secret}"
    );
    send_privately(ctx, sender, &dm).await?;
    ctx.reply_notice(&format!(
        "Forwarding this room's events as webhook `{name}`; I sent you the signing secret in a direct message."
    ))
    .await?;
    Ok(())
}

async fn delete(ctx: &Context, live: &WebhookBot, room: &RoomId, words: &[&str]) -> HandlerResult {
    let [name] = words else {
        ctx.reply_notice("Say `!webhook delete <name>`.").await?;
        return Ok(());
    };
    let name = name.to_ascii_lowercase();
    let Some(hook) = live.hooks.find(room.as_str(), &name) else {
        ctx.reply_notice(&format!(
            "This room has no webhook `{name}`; see `!webhook list`."
        ))
        .await?;
        return Ok(());
    };
    live.hooks.remove(&hook.id).await?;
    live.inbound.forget(&hook.id);
    ctx.reply_notice(&format!("Deleted webhook `{name}`."))
        .await?;
    Ok(())
}

/// Sends `text` to `user` in the bot's direct-message room with them, made
/// (and remembered) the first time.
async fn send_privately(ctx: &Context, user: &UserId, text: &str) -> anyhow::Result<()> {
    let bot = ctx.client().as_bot();
    if let Some(room) = ctx
        .store()
        .get_json::<String>(DM_TREE, user.as_str())
        .await?
    {
        if let Ok(room) = OwnedRoomId::try_from(room) {
            match bot.send_notice(&room, text).await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    tracing::info!(error = %e, "direct-message room unusable; making a new one")
                }
            }
        }
    }
    let room = bot
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::TrustedPrivateChat),
            name: Some("Webhooks".into()),
            invite: vec![user.to_owned()],
            is_direct: true,
            ..CreateRoom::default()
        })
        .await?;
    ctx.store()
        .put_json(DM_TREE, user.as_str(), &room.to_string())
        .await?;
    ctx.store().flush().await?;
    bot.send_notice(&room, text).await?;
    Ok(())
}
