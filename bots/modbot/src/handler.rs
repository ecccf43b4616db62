//! The bot as ghostkit sees it: [`ModBot`] and its [`Handler`] impl, which
//! routes invites, memberships, list events and messages to the [`Engine`].

use std::sync::Arc;

use ghostkit::prelude::*;
use serde_json::Value;

use crate::config::ModConfig;
use crate::engine::{self, Engine};
use crate::{commands, rules};
use ghostkit::bot::{Guard, Prefix, Verdict};
use ghostkit::ruma::events::room::member::MembershipState;

/// The bot: a handle on its [`Engine`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct ModBot {
    engine: Arc<Engine>,
}

impl ModBot {
    /// A bot with `config` for the running `app`.
    pub fn new(config: ModConfig, app: &AppContext) -> Self {
        ModBot {
            engine: Arc::new(Engine::new(config, app)),
        }
    }

    /// The engine (state, counters, enforcement).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Loads the stored state and reads the homeserver; done by
    /// [`Handler::on_start`], before any event (once: a second call does
    /// nothing).
    pub async fn init(&self) {
        self.engine.init().await;
    }
}

fn origin_ts(ctx: &Context) -> u64 {
    ctx.event()
        .origin_server_ts()
        .map(|t| u64::from(t.get()))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default()
        })
}

impl ModBot {
    fn is_moderator(&self, user: &str) -> bool {
        let e = &self.engine;
        let Some(mgmt) = e.log.room() else {
            return false;
        };
        e.member_cache()
            .get(&mgmt)
            .and_then(|m| m.get(user))
            .is_some_and(|m| *m == MembershipState::Join)
    }

    async fn invited(&self, ctx: &Context, room: &RoomId) -> HandlerResult {
        let e = &self.engine;
        let sender = ctx
            .event()
            .sender()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let bot = ctx.client().as_bot();
        let is_mgmt = e.log.room().as_deref() == Some(room.as_str());
        if !is_mgmt {
            let refusal = if !e.config.invites_from_management_only {
                None
            } else if !self.is_moderator(&sender) {
                Some("who is not in the management room".to_owned())
            } else {
                e.may_command(&sender)
                    .await
                    .err()
                    .map(|why| format!("who may not command me ({why})"))
            };
            if let Some(why) = refusal {
                e.say(&format!("ignored an invite to {room} from {sender}, {why}"))
                    .await;
                bot.leave(room, Some("invites are accepted from moderators only"))
                    .await?;
                return Ok(());
            }
            let hit = e
                .rules_read()
                .find(rules::EntityKind::Room, room.as_str())
                .map(|r| (r.entity.clone(), r.reason.clone()));
            if let Some((entity, reason)) = hit {
                e.say(&format!(
                    "refused to join {room}: banned by the room rule {entity} ({reason})"
                ))
                .await;
                bot.leave(room, Some("this room is banned by a policy list"))
                    .await?;
                return Ok(());
            }
        }
        bot.join_room(room.into(), &[]).await?;
        if is_mgmt {
            e.refresh_members(room.as_str()).await;
            e.say("joined the management room; say `!mod help`").await;
        } else {
            e.say(&format!(
                "joined {room} (invited by {sender}); protect it with `{} rooms add {room}`",
                e.config.command_prefix
            ))
            .await;
        }
        Ok(())
    }
}

/// Who may command the bot: a member of the management room whose power
/// there reaches `command_power_level`. Outside the management room a
/// message that looks like a command is an ordinary one (the protections
/// see it).
struct Moderators(Arc<Engine>);

#[ghostkit::async_trait]
impl Guard for Moderators {
    async fn check(&self, ctx: &Context) -> Verdict {
        let e = &self.0;
        let in_management = ctx
            .room_id()
            .is_some_and(|r| e.log.room().as_deref() == Some(r.as_str()));
        let Some(sender) = ctx.sender() else {
            return Verdict::Ignore;
        };
        if !in_management || ctx.is_ours(sender) {
            return Verdict::Ignore;
        }
        // Power first: who may not command hears nothing of the commands,
        // not even the help or a syntax error.
        match e.may_command(sender.as_str()).await {
            Ok(()) => Verdict::Allow,
            Err(refusal) => Verdict::Refuse(format!("✗ {refusal}")),
        }
    }
}

impl ModBot {
    /// The bot as it runs: its commands after the configured prefix (a word:
    /// `!mod ban …`) or a mention of the bot (`modbot: ban …`), in the
    /// management room and for moderators only.
    pub fn handler(self) -> impl Handler {
        let prefix = Prefix::word(self.engine.config.command_prefix.clone()).or_mention();
        let guard = Moderators(self.engine.clone());
        self.commands(prefix).guard(guard)
    }
}

#[ghostkit::async_trait]
impl Handler<commands::Command> for ModBot {
    async fn on_command(&self, ctx: &Context, cmd: commands::Command) -> HandlerResult {
        if let Some(sender) = ctx.sender() {
            self.engine.run_command(sender.as_str(), cmd).await;
        }
        Ok(())
    }

    async fn on_command_error(&self, _ctx: &Context, error: CommandError) -> HandlerResult {
        self.engine.say(&format!("✗ {error}")).await;
        Ok(())
    }

    async fn on_start(&self, app: &AppContext) -> HandlerResult {
        self.engine.stats().register(app.metrics())?;
        self.engine.init().await;
        Ok(())
    }

    async fn on_invite(&self, ctx: &Context, invitee: &UserId) -> HandlerResult {
        if invitee != ctx.bot_user_id() {
            return Ok(());
        }
        match ctx.event().room_id() {
            Some(room) => self.invited(ctx, room).await,
            None => Ok(()),
        }
    }

    async fn on_membership(&self, ctx: &Context, content: RoomMemberEventContent) -> HandlerResult {
        let e = &self.engine;
        let (Some(room), Some(user)) = (ctx.event().room_id(), ctx.event().state_key()) else {
            return Ok(());
        };
        let (room, user) = (room.as_str(), user.to_owned());
        let membership = content.membership;
        let before = e.note_membership(room, &user, membership.clone());
        if membership != MembershipState::Join
            || before == Some(MembershipState::Join)
            || !e.is_protected(room)
        {
            return Ok(());
        }
        if e.is_untouchable(&user) {
            return Ok(());
        }
        let rule = e
            .rules_read()
            .find(rules::EntityKind::User, &user)
            .map(|r| r.reason.clone());
        if let Some(reason) = rule {
            e.ban_all(vec![engine::Target {
                room: room.to_owned(),
                user,
                reason,
            }])
            .await;
            return Ok(());
        }
        let actions = {
            let model = e.model();
            let mut rt = e.runtime.lock().unwrap_or_else(|p| p.into_inner());
            rt.on_join(&model, room, &user, origin_ts(ctx))
        };
        e.carry_out(actions).await;
        Ok(())
    }

    async fn on_state(&self, ctx: &Context) -> HandlerResult {
        let e = &self.engine;
        let ev = ctx.event();
        let (Some(room), Some(key)) = (ev.room_id(), ev.state_key()) else {
            return Ok(());
        };
        if rules::kind_of_event_type(ev.event_type()).is_none() || !e.is_list(room.as_str()) {
            return Ok(());
        }
        let content: Value = ev.content()?;
        if let Some(change) =
            rules::parse_policy_event(room.as_str(), ev.event_type(), key, &content)
        {
            e.apply_change(change).await;
        }
        Ok(())
    }

    async fn on_message(&self, ctx: &Context, _msg: RoomMessageEventContent) -> HandlerResult {
        let e = &self.engine;
        let ev = ctx.event();
        let (Some(room), Some(sender)) = (ev.room_id(), ev.sender()) else {
            return Ok(());
        };
        if ctx.is_ours(sender) {
            return Ok(());
        }
        // The management room's commands are taken by the command layer
        // (`ModBot::handler`); its other messages are talk among moderators.
        if e.log.room().as_deref() == Some(room.as_str()) {
            return Ok(());
        }
        if !e.is_protected(room.as_str()) || e.is_untouchable(sender.as_str()) {
            return Ok(());
        }
        let Some(event_id) = ev.event_id() else {
            return Ok(());
        };
        let content: Value = ev.content()?;
        let actions = {
            let model = e.model();
            let mut rt = e.runtime.lock().unwrap_or_else(|p| p.into_inner());
            rt.on_message(
                &model,
                room.as_str(),
                sender.as_str(),
                event_id.as_str(),
                origin_ts(ctx),
                &content,
            )
        };
        e.carry_out(actions).await;
        Ok(())
    }
}
