//! What the management-room commands do (their syntax is in `commands.rs`).

use anyhow::anyhow;
use ghostkit::client::rooms::{CreateRoom, RoomPreset};
use ghostkit::prelude::*;
use ghostkit::ruma::common::RoomOrAliasId;
use ghostkit::ruma::events::TimelineEventType;
use serde_json::json;

use crate::commands::Command;
use crate::engine::lock;
use crate::engine::Engine;
use crate::glob::Glob;
use crate::model::ListMeta;
use crate::protections::{is_protection, PROTECTIONS};
use crate::rules::{parse_policy_event, EntityKind, RuleKey};
use ghostkit::ruma::events::room::member::MembershipState;

mod bans;
mod lists;
mod moderation;
mod rooms;
mod settings;

pub use moderation::parse_permalink;

/// A command's answer, or why it failed (said with a `✗`).
type Reply = anyhow::Result<String>;

impl Engine {
    /// Runs a command from `sender`; the answer goes to the management room.
    pub async fn run_command(&self, sender: &str, cmd: Command) {
        let answer = match self.execute(sender, cmd).await {
            Ok(text) => text,
            Err(e) => format!("✗ {e}"),
        };
        if !answer.is_empty() {
            self.say(&answer).await;
        }
    }

    async fn execute(&self, sender: &str, cmd: Command) -> Reply {
        let app = self.app().clone();
        match cmd {
            Command::Confirm { entity } => self.confirm(&app, sender, entity).await,
            Command::Ban {
                entity,
                list,
                reason,
            } => self.ban_command(&app, sender, entity, list, reason).await,
            Command::Unban { entity, invite } => self.unban(&app, &entity, invite).await,
            Command::Kick {
                target,
                room,
                reason,
            } => self.kick(&app, &target, room, reason).await,
            Command::Redact {
                target,
                room,
                limit,
            } => self.redact_command(&app, &target, room, limit).await,
            Command::Rooms => Ok(self.rooms_text()),
            Command::RoomsAdd { room } => self.protect(&app, &room).await,
            Command::RoomsRemove { room } => self.unprotect(&room).await,
            Command::ListCreate { shortcode, alias } => {
                self.create_list(&app, &shortcode, &alias).await
            }
            Command::Watch { room } => self.watch(&app, &room).await,
            Command::Unwatch { room } => self.unwatch(&app, &room).await,
            Command::Rules => Ok(self.rules_text(None)),
            Command::RulesMatching { entity } => Ok(self.rules_text(Some(&entity))),
            Command::Sync => Ok(self.sync_all().await),
            Command::Status => Ok(self.status()),
            Command::Protections => Ok(self.protections_text()),
            Command::Enable { name, room } => self.toggle(&name, room, true).await,
            Command::Disable { name, room } => self.toggle(&name, room, false).await,
            Command::ConfigSet {
                room,
                protection,
                key,
                value,
            } => self.config_set(room, &protection, &key, &value).await,
        }
    }

    fn status(&self) -> String {
        let m = self.model();
        let stats = &self.stats;
        format!(
            "modbot{}: {} protected room(s), {} list(s) ({}), {} rule(s) ({} waiting for confirmation); {} ban(s), {} redaction(s), {} error(s) so far",
            if self.config.dry_run { " (dry-run)" } else { "" },
            m.protected_rooms.len(),
            m.lists.len(),
            m.lists
                .iter()
                .map(|(id, l)| format!(
                    "{}{}",
                    l.shortcode.as_deref().or(l.alias.as_deref()).unwrap_or(id),
                    if l.owned { "" } else { " watched" }
                ))
                .collect::<Vec<_>>()
                .join(", "),
            self.rules_read().len(),
            lock(&self.held).len(),
            stats.bans.get(),
            stats.redactions.get(),
            stats.errors.get(),
        )
    }

    async fn toggle(&self, name: &str, room: Option<String>, on: bool) -> Reply {
        if !is_protection(name) {
            let names: Vec<&str> = PROTECTIONS.iter().map(|(n, _)| *n).collect();
            return Err(anyhow!(
                "no protection `{name}`; expected one of: {}",
                names.join(", ")
            ));
        }
        let room = match room {
            Some(r) => Some(self.resolve(&r).await?),
            None => None,
        };
        {
            let mut m = self.model();
            let p = m.protections.entry(name.to_owned()).or_default();
            match &room {
                None => {
                    p.enabled = on;
                    p.enabled_rooms.clear();
                    p.disabled_rooms.clear();
                }
                Some(r) if on => {
                    p.disabled_rooms.remove(r);
                    p.enabled_rooms.insert(r.clone());
                }
                Some(r) => {
                    p.enabled_rooms.remove(r);
                    p.disabled_rooms.insert(r.clone());
                }
            }
        }
        self.save().await;
        Ok(format!(
            "{name} {} {}",
            if on { "enabled" } else { "disabled" },
            room.map(|r| format!("in {r}"))
                .unwrap_or_else(|| "everywhere".into())
        ))
    }

    /// Joins a room (ID or alias) as the bot; returns its ID.
    async fn join(&self, app: &AppContext, room: &str) -> anyhow::Result<String> {
        let r = <&RoomOrAliasId>::try_from(room).map_err(|e| anyhow!("`{room}`: {e}"))?;
        app.client()
            .as_bot()
            .join_room(r, &[])
            .await
            .map(|id| id.to_string())
            .map_err(|e| anyhow!("cannot join {room}: {e}"))
    }

    async fn protect(&self, app: &AppContext, room: &str) -> Reply {
        let id = self.resolve(room).await?;
        for name in [room, id.as_str()] {
            if let Some(rule) = self.rules_read().find(EntityKind::Room, name) {
                return Err(anyhow!(
                    "{room} is banned by a room rule ({}: {}); not protecting it",
                    rule.entity,
                    rule.reason
                ));
            }
        }
        let id = self.join(app, &id).await?;
        self.model().protected_rooms.insert(id.clone());
        self.save().await;
        self.refresh_members(&id).await;
        self.read_current_acl(&id).await;
        self.enforce_everything().await;
        let warning = self.power_warning(app, &id).await;
        Ok(format!("protecting {id}{warning}"))
    }

    /// A warning when the bot's power in `room` is too low to moderate
    /// (the framework's power view: room version 12's creators included).
    async fn power_warning(&self, app: &AppContext, room: &str) -> String {
        let Ok(id) = <&RoomId>::try_from(room) else {
            return String::new();
        };
        let bot = app.bot_user_id();
        let Ok(power) = app.room_power(id).await else {
            return String::new();
        };
        let l = power.levels();
        let acl = l
            .events
            .get(&TimelineEventType::RoomServerAcl)
            .copied()
            .unwrap_or(l.state_default);
        let need = [l.ban, l.kick, l.redact, acl]
            .into_iter()
            .max()
            .map_or(50, i64::from);
        if power.reaches(bot, need) {
            String::new()
        } else {
            format!(
                " — warning: my power level here is {}, I need {need} to ban, kick, redact and set the server ACL",
                power.level_text(bot)
            )
        }
    }

    async fn create_list(&self, app: &AppContext, shortcode: &str, alias: &str) -> Reply {
        if self.model().list_by_name(shortcode).is_some() {
            return Err(anyhow!("a list `{shortcode}` exists already"));
        }
        let _localpart = alias
            .strip_prefix('#')
            .and_then(|a| a.split(':').next())
            .filter(|l| !l.is_empty())
            .ok_or_else(|| anyhow!("`{alias}` is not an alias like #name:server"))?;
        let body = CreateRoom {
            preset: Some(RoomPreset::PublicChat),
            name: Some(format!("Policy list {shortcode}")),
            topic: Some("Moderation policy list (m.policy.rule.*) managed by modbot".into()),
            // The creator (the bot) keeps its power; in room v12 it may not
            // even be listed in `users`.
            power_level_content_override: Some(json!({
                "events_default": 50,
                "state_default": 50,
            })),
            ..Default::default()
        };
        let bot = app.client().as_bot();
        let room = bot
            .create_room(&body)
            .await
            .map_err(|e| anyhow!("cannot create the list: {e}"))?;
        let id = room.to_string();
        // Homeservers refuse aliases outside the registration's aliases
        // namespace: the list works without one.
        let alias_note = match <&ghostkit::ruma::common::RoomAliasId>::try_from(alias) {
            Ok(a) => match bot.create_alias(a, &room).await {
                Ok(()) => String::new(),
                Err(e) => format!(
                    " (alias not created: {e}; add it to the registration's aliases namespace)"
                ),
            },
            Err(e) => format!(" (alias not created: {e})"),
        };
        self.model().lists.insert(
            id.clone(),
            ListMeta {
                shortcode: Some(shortcode.to_owned()),
                alias: Some(alias.to_owned()),
                owned: true,
            },
        );
        self.save().await;
        Ok(format!(
            "created policy list `{shortcode}`: {alias} ({id}){alias_note}"
        ))
    }

    async fn ban(
        &self,
        app: &AppContext,
        entity: &str,
        list: &str,
        reason: Option<String>,
    ) -> Reply {
        let list_id = self
            .model()
            .list_by_name(list)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no list `{list}`; create one with `list create`"))?;
        let kind = EntityKind::of_entity(entity);
        let glob = Glob::new(entity);
        match kind {
            EntityKind::User => {
                if glob.matches(app.bot_user_id().as_str()) {
                    return Err(anyhow!("refusing to ban myself"));
                }
                let mgmt = self.log.room().unwrap_or_default();
                let hit = self.member_cache().get(&mgmt).and_then(|m| {
                    m.iter()
                        .find(|(u, s)| {
                            matches!(s, MembershipState::Join | MembershipState::Invite)
                                && glob.matches(u)
                        })
                        .map(|(u, _)| u.clone())
                });
                if let Some(u) = hit {
                    return Err(anyhow!(
                        "refusing: {entity} matches {u}, a member of the management room"
                    ));
                }
            }
            EntityKind::Server if glob.matches(app.server_name().as_str()) => {
                return Err(anyhow!("refusing: {entity} matches my own server"));
            }
            _ => {}
        }
        let reason = reason.unwrap_or_default();
        let content = json!({"entity": entity, "recommendation": "m.ban", "reason": reason});
        let state_key = format!("rule:{entity}");
        // Typed (and, when needed, confirmed) by a moderator: the rule is
        // not held when it comes back from the list.
        let key = RuleKey {
            list: list_id.clone(),
            event_type: kind.event_type().to_owned(),
            state_key: state_key.clone(),
        };
        self.model()
            .confirmed_rules
            .insert(key.store_key(), entity.to_owned());
        self.save().await;
        let room = <&RoomId>::try_from(list_id.as_str())?;
        app.client()
            .as_bot()
            .send_state(room, kind.event_type(), &state_key, &content)
            .await
            .map_err(|e| anyhow!("cannot write the rule to {list}: {e}"))?;
        // Enforce now rather than wait for the event to come back (it will be a no-op).
        if let Some(change) = parse_policy_event(&list_id, kind.event_type(), &state_key, &content)
        {
            self.apply_change(change).await;
        }
        Ok(format!("rule added to {list}: ban {entity}"))
    }
}

impl Engine {
    /// The rules in force (the first 50), or those matching `matching`.
    fn rules_text(&self, matching: Option<&str>) -> String {
        let idx = self.rules_read();
        let rules = match matching {
            Some(e) => idx.matching(e),
            None => idx.all(),
        };
        let total = rules.len();
        let lines: Vec<String> = rules
            .iter()
            .take(50)
            .map(|r| {
                format!(
                    "- {:?} {} ({}) in {}",
                    r.kind, r.entity, r.reason, r.key.list
                )
            })
            .collect();
        let more = if total > 50 { "\n…" } else { "" };
        format!("{total} rule(s)\n{}{more}", lines.join("\n"))
    }
}
