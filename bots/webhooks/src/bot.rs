//! The bot: `!webhook` commands, the webhook server started with the
//! appservice, and every room event offered to the room's outbound hooks.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use ghostkit::client::rooms::{CreateRoom, RoomPreset};
use ghostkit::prelude::*;

use crate::config::WebhooksConfig;
use crate::hooks::{check_name, random_hex, Hook, HookKind, Hooks};
use crate::inbound::{InboundServer, InboundState};
use crate::outbound::{Outbound, SIGNATURE_HEADER};

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

/// What runs between `on_start` and `on_stop`.
#[derive(Debug)]
struct Live {
    hooks: Hooks,
    inbound: Arc<InboundState>,
    server: InboundServer,
    outbound: Outbound,
    base_url: String,
}

/// A view of a running bot from outside (tests, benchmarks).
#[derive(Debug, Clone, Default)]
pub struct WebhooksHandle(Arc<Mutex<Option<Arc<Live>>>>);

impl WebhooksHandle {
    fn get(&self) -> Option<Arc<Live>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Where the webhook server listens, once started.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.get().map(|l| l.server.addr)
    }

    /// The base of the secret URLs, once started.
    pub fn base_url(&self) -> Option<String> {
        self.get().map(|l| l.base_url.clone())
    }
}

/// The webhooks bot.
#[derive(Debug, Bot)]
#[bot(prefix = "!", command = WebhookCommand, ignore_own_ghosts, auto_join)]
pub struct WebhookBot {
    config: WebhooksConfig,
    live: WebhooksHandle,
}

impl WebhookBot {
    /// A bot with these settings.
    pub fn new(config: WebhooksConfig) -> Self {
        WebhookBot {
            config,
            live: WebhooksHandle::default(),
        }
    }

    /// A handle that sees the running bot's webhook server.
    pub fn handle(&self) -> WebhooksHandle {
        self.live.clone()
    }

    fn live(&self) -> anyhow::Result<Arc<Live>> {
        self.live
            .get()
            .ok_or_else(|| anyhow::anyhow!("the webhooks bot is not started"))
    }

    /// Offers a room event to the room's outbound hooks.
    fn forward(&self, ctx: &Context) -> HandlerResult {
        let Some(room) = ctx.event().room_id() else {
            return Ok(());
        };
        let Some(live) = self.live.get() else {
            return Ok(());
        };
        for hook in live.hooks.outbound_in(room.as_str()) {
            live.outbound.enqueue(&hook, ctx.event().raw());
        }
        Ok(())
    }
}

#[ghostkit::async_trait]
impl Bot for WebhookBot {
    async fn on_start(&self, app: &AppContext) -> HandlerResult {
        self.config.validate()?;
        let hooks = Hooks::load(app.store())?;
        let inbound = Arc::new(InboundState::new(app.clone(), hooks.clone(), &self.config));
        let server = InboundServer::start(inbound.clone(), &self.config)?;
        let outbound = Outbound::start(&self.config, app.store(), &hooks)?;
        let base_url = self
            .config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", server.addr));
        let live = Arc::new(Live {
            hooks,
            inbound,
            server,
            outbound,
            base_url,
        });
        *self.live.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(live);
        Ok(())
    }

    async fn on_stop(&self, _app: &AppContext) {
        let live = self.live.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(live) = live {
            live.server.stop().await;
            live.outbound.stop();
        }
    }

    async fn on_message(&self, ctx: &Context, _content: RoomMessageEventContent) -> HandlerResult {
        self.forward(ctx)
    }

    async fn on_membership(
        &self,
        ctx: &Context,
        _content: RoomMemberEventContent,
    ) -> HandlerResult {
        self.forward(ctx)
    }

    async fn on_state(&self, ctx: &Context) -> HandlerResult {
        self.forward(ctx)
    }

    async fn on_redaction(&self, ctx: &Context) -> HandlerResult {
        self.forward(ctx)
    }

    async fn on_reaction(&self, ctx: &Context, _content: ReactionEventContent) -> HandlerResult {
        self.forward(ctx)
    }

    async fn on_other(&self, ctx: &Context) -> HandlerResult {
        self.forward(ctx)
    }
}

#[ghostkit::async_trait]
impl Commands<WebhookCommand> for WebhookBot {
    async fn on_command(&self, ctx: &Context, cmd: WebhookCommand) -> HandlerResult {
        let WebhookCommand::Webhook { action, args } = cmd;
        let ev = ctx.event();
        let (Some(room), Some(sender)) = (ev.room_id(), ev.sender()) else {
            return Ok(());
        };
        let live = self.live()?;
        let words: Vec<&str> = args.as_deref().unwrap_or("").split_whitespace().collect();
        if action != Action::List && !may_manage(ctx, room, sender).await? {
            ctx.reply_notice(
                "Only users who may change this room's settings can manage its webhooks.",
            )
            .await?;
            return Ok(());
        }
        match action {
            Action::List => list(ctx, &live, room).await,
            Action::Create => create(ctx, &live, room, sender, &words).await,
            Action::Outbound => outbound(ctx, &live, room, sender, &words).await,
            Action::Delete => delete(ctx, &live, room, &words).await,
        }
    }
}

/// Whether `user` may change `room`'s state (its level reaches `state_default`,
/// or it created a room of version 12 or later).
async fn may_manage(ctx: &Context, room: &RoomId, user: &UserId) -> anyhow::Result<bool> {
    let state = ctx.client().as_bot().state(room).await?;
    let create = state.iter().find(|e| e.event_type == "m.room.create");
    if let Some(create) = create {
        let v12_creator = create.content["room_version"]
            .as_str()
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|v| v >= 12)
            && (create.sender == user
                || create.content["additional_creators"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|c| c == user.as_str())));
        if v12_creator {
            return Ok(true);
        }
    }
    let pl = state
        .iter()
        .find(|e| e.event_type == "m.room.power_levels")
        .map(|e| e.content.clone())
        .unwrap_or_default();
    let level = pl["users"][user.as_str()]
        .as_i64()
        .or_else(|| pl["users_default"].as_i64())
        .unwrap_or(0);
    let needed = pl["state_default"].as_i64().unwrap_or(50);
    Ok(level >= needed)
}

async fn list(ctx: &Context, live: &Live, room: &RoomId) -> HandlerResult {
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
    live: &Live,
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
    live: &Live,
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

async fn delete(ctx: &Context, live: &Live, room: &RoomId, words: &[&str]) -> HandlerResult {
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
    if let Some(room) = ctx.store().get_json::<String>(DM_TREE, user.as_str())? {
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
        .put_json(DM_TREE, user.as_str(), &room.to_string())?;
    ctx.store().flush().await?;
    bot.send_notice(&room, text).await?;
    Ok(())
}
