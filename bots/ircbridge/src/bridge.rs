//! The bridge: the appservice handler, and what lives while it runs.

use std::sync::{Arc, Mutex};

use ghostkit::client::directory::Visibility;
use ghostkit::client::rooms::{CreateRoom, InitialStateEvent, RoomPreset};
use ghostkit::metrics::prometheus_client::metrics::counter::Counter;
use ghostkit::metrics::{Metrics, MetricsError};
use ghostkit::prelude::*;
use ghostkit::ruma::common::RoomAliasId;
use serde_json::json;

use crate::commands::BridgeCommand;
use crate::config::BridgeConfig;
use crate::irc::{check_channel, IrcEvent, IrcHandle};
use crate::names::Names;
use crate::portal::{AliasPolicy, Portal, Portals};
use ghostkit::ErrorCode;

/// The bridge, running: built by [`IrcBridge::start`] once the app is up.
#[derive(Debug, Clone)]
pub struct IrcBridge(Arc<Live>);

/// What exists while the bridge runs: the IRC connection, the portals.
#[derive(Debug)]
pub struct Live {
    /// The configuration.
    pub config: BridgeConfig,
    /// The appservice's shared parts.
    pub app: AppContext,
    /// The IRC connection.
    pub irc: IrcHandle,
    /// The bridged channels.
    pub portals: Portals,
    /// Ghost and alias names.
    pub names: Names,
    /// Held while a portal room is made, so one channel gets one room.
    creating: tokio::sync::Mutex<()>,
    /// Matrix users' display names, as last seen.
    pub(crate) display_names: Mutex<std::collections::HashMap<String, String>>,
    /// Nicks of the names list being received, by casefolded channel.
    pub(crate) names_seen:
        Mutex<std::collections::HashMap<String, std::collections::HashSet<String>>>,
    /// Which aliases may make portals, and how many an hour.
    pub alias_policy: AliasPolicy,
    /// When each room was last told that the IRC queue is full, by room ID.
    pub(crate) full_notices: Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// IRC's events, until `on_start` hands them to the pump.
    events: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<IrcEvent>>>,
    /// The task feeding IRC events to Matrix.
    pump: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// What `/metrics` shows of the bridge.
    pub(crate) counters: Counters,
}

/// The bridge's metrics: `ircbridge_connections_total` (registrations on
/// IRC, reconnections included), `ircbridge_irc_to_matrix_total` and
/// `ircbridge_matrix_to_irc_total` (messages bridged each way).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub(crate) connections: Counter,
    pub(crate) irc_to_matrix: Counter,
    pub(crate) matrix_to_irc: Counter,
}

impl Counters {
    fn register(&self, metrics: &Metrics) -> Result<(), MetricsError> {
        metrics.register(
            "ircbridge_connections",
            "Registrations on the IRC server, reconnections included",
            self.connections.clone(),
        )?;
        metrics.register(
            "ircbridge_irc_to_matrix",
            "IRC messages bridged to Matrix",
            self.irc_to_matrix.clone(),
        )?;
        metrics.register(
            "ircbridge_matrix_to_irc",
            "Matrix messages bridged to IRC",
            self.matrix_to_irc.clone(),
        )
    }
}

impl Live {
    /// The portal room of `channel`, made (with its alias and bridge state)
    /// and joined on IRC when there is none yet. A channel name IRC would
    /// misread (`#a,#b`, a control character) is refused, whoever asks.
    pub async fn ensure_portal(&self, channel: &str) -> anyhow::Result<OwnedRoomId> {
        check_channel(channel)?;
        if let Some(p) = self.portals.by_channel(channel) {
            return Ok(p.room_id);
        }
        let _guard = self.creating.lock().await;
        if let Some(p) = self.portals.by_channel(channel) {
            return Ok(p.room_id);
        }
        let bot = self.app.client().as_bot();
        let bridge_state = json!({
            "bridgebot": self.app.bot_user_id(),
            "protocol": { "id": "irc", "displayname": "IRC" },
            "network": { "id": self.config.network, "displayname": self.config.host },
            "channel": { "id": channel, "displayname": channel },
        });
        let state_key = format!("ghostkit://irc/{}/{}", self.config.network, channel);
        let created = bot
            .create_room(&CreateRoom {
                preset: Some(RoomPreset::PublicChat),
                room_alias_name: Some(self.names.alias_localpart(channel)),
                name: Some(channel.to_owned()),
                topic: Some(format!("{channel} on {}, bridged", self.config.network)),
                initial_state: vec![
                    InitialStateEvent::new("m.bridge", &state_key, bridge_state.clone()),
                    InitialStateEvent::new("uk.half-shot.bridge", &state_key, bridge_state),
                ],
                ..Default::default()
            })
            .await;
        let room_id = match created {
            Ok(room) => room,
            // The alias exists already (a portal forgotten by `!part`): reuse its room.
            Err(e) if e.kind() == Some(ErrorCode::RoomInUse) => {
                let alias = RoomAliasId::parse(self.names.alias(channel))?;
                bot.resolve_alias(&alias).await?.room_id
            }
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = bot
            .publish_to_network(&self.config.network, &room_id, Visibility::Public)
            .await
        {
            tracing::debug!(error = %e, "cannot publish the portal in the network directory");
        }
        self.portals
            .insert(Portal {
                channel: channel.to_owned(),
                room_id: room_id.clone(),
            })
            .await?;
        self.irc.join(channel);
        tracing::info!(%channel, room = %room_id, "portal made");
        Ok(room_id)
    }
}

/// What [`ghostkit::cli::run`] and [`Appservice::start`] take: the bridge,
/// started with `config` once the app is up.
pub fn setup(config: BridgeConfig) -> impl ghostkit::bot::Setup<Config = ()> {
    ghostkit::bot::build(move |app: AppContext| async move {
        Ok(IrcBridge::start(config, &app)?.handler())
    })
}

impl IrcBridge {
    /// Checks `config` and connects to IRC; the handler's `on_start` reads
    /// the stored portals, joins their channels and starts bridging IRC's
    /// events to Matrix.
    pub fn start(config: BridgeConfig, app: &AppContext) -> anyhow::Result<IrcBridge> {
        let config = &config;
        config.validate()?;
        if !config.admin_commands_enabled() {
            tracing::warn!(
                "no `bot.admins` configured: the bot's commands (!join, !part, !nick, !list) are off"
            );
        }
        if config.alias_channels.is_empty() {
            tracing::info!(
                "no `bot.alias_channels` configured: only the aliases of `channels` make portals"
            );
        }
        let (irc, events) = IrcHandle::spawn(config.irc());
        let live = Arc::new(Live {
            config: config.clone(),
            app: app.clone(),
            irc,
            portals: Portals::new(app.store()),
            names: Names::new(&config.network, app.server_name().as_str()),
            // The operator's own channels are reachable by their alias too
            // (their portals may be made a moment after the start).
            alias_policy: AliasPolicy::new(
                &[&config.alias_channels[..], &config.channels[..]].concat(),
                config.alias_portals_per_hour,
            ),
            full_notices: Mutex::default(),
            creating: tokio::sync::Mutex::new(()),
            display_names: Mutex::default(),
            names_seen: Mutex::default(),
            events: Mutex::new(Some(events)),
            pump: Mutex::new(None),
            counters: Counters::default(),
        });
        live.counters.register(app.metrics())?;
        Ok(IrcBridge(live))
    }

    /// The running parts.
    pub fn live(&self) -> &Arc<Live> {
        &self.0
    }

    /// The bridge as it runs: the admins' commands after the configured
    /// prefix outside the portals, its own and its ghosts' events ignored,
    /// invites accepted.
    pub fn handler(self) -> impl Handler {
        let prefix = self.0.config.command_prefix.clone();
        let admins = crate::commands::Admins(self.0.clone());
        self.commands(prefix)
            .guard(admins)
            .ignore_own_ghosts()
            .auto_join()
    }
}

#[ghostkit::async_trait]
impl Handler<BridgeCommand> for IrcBridge {
    async fn on_command(&self, ctx: &Context, cmd: BridgeCommand) -> HandlerResult {
        crate::commands::answer(&self.0, ctx, cmd).await
    }

    async fn on_start(&self, _app: &AppContext) -> HandlerResult {
        let live = &self.0;
        live.portals.load().await?;
        for p in live.portals.all() {
            live.irc.join(&p.channel);
        }
        let Some(mut events) = live.events.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Ok(());
        };
        let weak = Arc::downgrade(live);
        let pump = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(live) = weak.upgrade() else { return };
                if let IrcEvent::Connected { nick } = &event {
                    tracing::info!(%nick, "registered on IRC");
                    live.counters.connections.inc();
                    for channel in live.config.channels.clone() {
                        if let Err(e) = live.ensure_portal(&channel).await {
                            tracing::warn!(%channel, error = %e, "cannot make the portal");
                        }
                    }
                }
                if let Err(e) = live.on_irc(event).await {
                    tracing::warn!(error = %e, "an IRC event could not be bridged");
                }
            }
        });
        *live.pump.lock().unwrap_or_else(|p| p.into_inner()) = Some(pump);
        Ok(())
    }

    async fn on_stop(&self, _app: &AppContext) {
        let live = &self.0;
        if let Some(pump) = live.pump.lock().unwrap_or_else(|p| p.into_inner()).take() {
            pump.abort();
        }
        live.irc.quit("bridge stopping").await;
    }

    async fn query_room_alias(
        &self,
        _app: &AppContext,
        alias: &RoomAliasId,
    ) -> Result<bool, HandlerError> {
        let live = &self.0;
        let Some(channel) = live.names.channel_of(alias.alias()) else {
            return Ok(false);
        };
        if live.portals.by_channel(&channel).is_none() {
            // Anyone who resolves an alias of the namespace makes the
            // homeserver ask: only the operator's channels, so many an hour.
            if let Err(refusal) = live.alias_policy.admit(&channel, std::time::Instant::now()) {
                tracing::info!(alias = %alias, reason = %refusal, "no portal made for an alias");
                return Ok(false);
            }
        }
        live.ensure_portal(&channel).await?;
        Ok(true)
    }

    async fn query_user(&self, app: &AppContext, user_id: &UserId) -> Result<bool, HandlerError> {
        let live = &self.0;
        if live.names.nick_of(user_id.localpart()).is_none() {
            return Ok(false);
        }
        app.intent(user_id)?.ensure_registered().await?;
        Ok(true)
    }

    async fn on_message(&self, ctx: &Context, _content: RoomMessageEventContent) -> HandlerResult {
        let live = &self.0;
        live.on_matrix_message(ctx).await?;
        Ok(())
    }

    async fn on_membership(&self, ctx: &Context, content: RoomMemberEventContent) -> HandlerResult {
        // Keep the display names used on IRC fresh.
        if let Some(user) = ctx.event().state_key() {
            self.0
                .remember_display_name(user, content.displayname.as_deref());
        }
        Ok(())
    }
}
