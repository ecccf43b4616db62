//! The bot as it runs: its hooks, the webhook server and the outbound
//! queue, built once the app is up. Its commands are in `bot/commands.rs`,
//! the forwarding of room events to outbound hooks in `bot/forward.rs`.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use ghostkit::prelude::*;

mod commands;
mod forward;

pub use commands::{Action, WebhookCommand};

use crate::config::WebhooksConfig;
use crate::hooks::Hooks;
use crate::inbound::{InboundServer, InboundState};
use crate::outbound::Outbound;

/// Where a running bot's webhook server is, seen from outside (tests,
/// benchmarks): filled once the bot is built.
#[derive(Debug, Clone, Default)]
pub struct WebhooksHandle(Arc<OnceLock<(SocketAddr, String)>>);

impl WebhooksHandle {
    /// Where the webhook server listens, once started.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.0.get().map(|(addr, _)| *addr)
    }

    /// The base of the secret URLs, once started.
    pub fn base_url(&self) -> Option<String> {
        self.0.get().map(|(_, url)| url.clone())
    }
}

/// The webhooks bot, running: its hooks, the webhook server and the
/// outbound queue.
#[derive(Debug)]
pub struct WebhookBot {
    hooks: Hooks,
    inbound: Arc<InboundState>,
    server: InboundServer,
    outbound: Outbound,
    base_url: String,
}

/// What [`ghostkit::cli::run`] and [`Appservice::start`] take: the bot,
/// built once the app is up, and a handle that sees where it listens.
pub fn setup(config: WebhooksConfig) -> (impl ghostkit::bot::Setup<Config = ()>, WebhooksHandle) {
    let handle = WebhooksHandle::default();
    let seen = handle.clone();
    let setup = ghostkit::bot::build(move |app: AppContext| async move {
        let bot = WebhookBot::start(&config, &app).await?;
        let _ = seen.0.set((bot.server.addr, bot.base_url.clone()));
        Ok(bot.handler())
    });
    (setup, handle)
}

impl WebhookBot {
    /// Checks `config`, loads the hooks and starts the webhook server and
    /// the outbound queue.
    pub async fn start(config: &WebhooksConfig, app: &AppContext) -> anyhow::Result<Self> {
        config.validate()?;
        let hooks = Hooks::load(app.store()).await?;
        let inbound = Arc::new(InboundState::new(app.clone(), hooks.clone(), config));
        let server = InboundServer::start(inbound.clone(), config)?;
        let outbound = Outbound::start(config, app.store(), &hooks).await?;
        outbound.register_metrics(app.metrics())?;
        let base_url = config.base_url(server.addr);
        Ok(WebhookBot {
            hooks,
            inbound,
            server,
            outbound,
            base_url,
        })
    }

    /// The bot as it runs: `!webhook` commands, its own and its ghosts'
    /// events ignored, invites accepted.
    pub fn handler(self) -> impl Handler {
        self.commands("!").ignore_own_ghosts().auto_join()
    }
}

#[ghostkit::async_trait]
impl Handler<WebhookCommand> for WebhookBot {
    async fn on_stop(&self, _app: &AppContext) {
        self.server.stop().await;
        self.outbound.stop();
    }

    /// Every room event that is not a command goes to the room's outbound
    /// hooks.
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        if ctx.event().kind() == EventKind::Timeline {
            self.forward(ctx).await;
        }
        Ok(())
    }

    async fn on_command(&self, ctx: &Context, cmd: WebhookCommand) -> HandlerResult {
        commands::run(self, ctx, cmd).await
    }
}
