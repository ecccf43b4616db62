//! Enforcement: the in-memory rule index and member cache, and the work
//! they produce (bans across protected rooms, server ACLs, redactions).
//!
//! Members of every protected room are read once (at start, on `rooms add`
//! and on `sync`) and then kept up to date from the `m.room.member` events
//! of transactions, so applying a new rule reads nothing from the
//! homeserver: an exact user rule is one hash lookup per room, a glob one
//! match per cached member. Bans are sorted busiest room first and run with
//! at most `max_concurrent_requests` in flight; the client retries on 429.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use ghostkit::client::members::MembersQuery;
use ghostkit::metrics::prometheus_client::metrics::counter::Counter;
use ghostkit::metrics::{Metrics, MetricsError};
use ghostkit::prelude::*;
use ghostkit::ruma::events::room::member::MembershipState;
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};

use crate::config::ModConfig;
use crate::glob::Glob;
use crate::intake::Held;
use crate::log::ManagementLog;
use crate::model::{self, Model};
use crate::protections::Runtime;
use crate::rules::{EntityKind, PolicyChange, Rule, RuleIndex, RuleKey};

/// A user's membership as last seen.
pub type MemberCache = HashMap<String, HashMap<String, MembershipState>>;

/// One ban to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The room.
    pub room: String,
    /// The user.
    pub user: String,
    /// The reason given with the ban.
    pub reason: String,
}

/// Counters, for `status`, the benchmark and `/metrics` (as
/// `modbot_requests_total`, `modbot_bans_total`, `modbot_redactions_total`
/// and `modbot_errors_total`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests made to the homeserver for moderation (reads and writes).
    pub requests: Counter,
    /// Bans made.
    pub bans: Counter,
    /// Events redacted.
    pub redactions: Counter,
    /// Errors reported.
    pub errors: Counter,
}

impl Stats {
    /// Adds the counters to the appservice's metrics.
    pub fn register(&self, metrics: &Metrics) -> Result<(), MetricsError> {
        metrics.register(
            "modbot_requests",
            "Requests made to the homeserver for moderation",
            self.requests.clone(),
        )?;
        metrics.register("modbot_bans", "Bans made", self.bans.clone())?;
        metrics.register(
            "modbot_redactions",
            "Events redacted",
            self.redactions.clone(),
        )?;
        metrics.register(
            "modbot_errors",
            "Errors reported in the management room",
            self.errors.clone(),
        )
    }
}

/// Everything the bot knows and does.
#[derive(Debug)]
pub struct Engine {
    /// The configuration.
    pub(crate) config: ModConfig,
    app: AppContext,
    init: OnceCell<()>,
    /// The rules in force.
    pub(crate) rules: RwLock<RuleIndex>,
    /// Memberships of protected rooms and of the management room.
    pub(crate) members: Mutex<MemberCache>,
    /// The durable model.
    pub(crate) model: Mutex<Model>,
    /// The management-room log.
    pub(crate) log: ManagementLog,
    pub(crate) throttle: Semaphore,
    /// Counters.
    pub(crate) stats: Stats,
    /// Wildcard bans waiting for `confirm`, by moderator.
    pub(crate) pending: Mutex<HashMap<String, crate::commands::Command>>,
    /// Rules from lists waiting for `confirm` (see `intake.rs`).
    pub(crate) held: Mutex<BTreeMap<RuleKey, Held>>,
    /// Protections' short-term memory.
    pub(crate) runtime: Mutex<Runtime>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Engine {
    /// A new engine with `config` for the running `app`; nothing is read
    /// until [`Engine::init`].
    pub fn new(config: ModConfig, app: &AppContext) -> Self {
        let permits = config.max_concurrent_requests.max(1);
        Engine {
            config,
            app: app.clone(),
            init: OnceCell::new(),
            rules: RwLock::new(RuleIndex::new()),
            members: Mutex::new(HashMap::new()),
            model: Mutex::new(Model::default()),
            log: ManagementLog::new(Duration::from_secs(600)),
            throttle: Semaphore::new(permits),
            stats: Stats::default(),
            pending: Mutex::new(HashMap::new()),
            held: Mutex::new(BTreeMap::new()),
            runtime: Mutex::new(Runtime::default()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ModConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// How many rules are in force.
    pub fn rule_count(&self) -> usize {
        self.rules_read().len()
    }

    /// The appservice's shared parts.
    pub fn app(&self) -> &AppContext {
        &self.app
    }

    pub(crate) fn client(&self) -> &Client {
        self.app.client()
    }

    /// The model, locked.
    pub fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        lock(&self.model)
    }

    pub(crate) fn member_cache(&self) -> std::sync::MutexGuard<'_, MemberCache> {
        lock(&self.members)
    }

    pub(crate) fn rules_read(&self) -> std::sync::RwLockReadGuard<'_, RuleIndex> {
        self.rules.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn rules_write(&self) -> std::sync::RwLockWriteGuard<'_, RuleIndex> {
        self.rules.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves the model; a failure is reported, not fatal.
    pub async fn save(&self) {
        let app = self.app();
        let snapshot = self.model().clone();
        if let Err(e) = model::save_model(app.store(), &snapshot).await {
            self.report("store", &format!("cannot save state: {e}"))
                .await;
        }
    }

    /// Says something in the management room.
    pub async fn say(&self, text: &str) {
        self.log.info(self.client(), text).await;
    }

    /// Reports an error in the management room (once per quiet period per key).
    pub async fn report(&self, key: &str, text: &str) {
        self.stats.errors.inc();
        self.log.error(self.client(), key, text).await;
    }

    /// Loads the state and reads the homeserver once; later calls wait for
    /// the first and return.
    pub async fn init(&self) {
        self.init.get_or_init(|| self.start()).await;
    }

    async fn start(&self) {
        let app = self.app();
        match model::load_model(app.store()).await {
            Ok(m) => *self.model() = m,
            Err(e) => tracing::error!("cannot read the stored model: {e}"),
        }
        match model::load_rules(app.store()).await {
            Ok(rules) => {
                let mut idx = self.rules_write();
                for r in rules {
                    idx.apply(PolicyChange::Set(r));
                }
            }
            Err(e) => tracing::error!("cannot read the stored rules: {e}"),
        }
        let mgmt = self.resolve(&self.config.management_room).await;
        match mgmt {
            Ok(room) => {
                self.log.set_room(&room);
                let bot = app.client().as_bot();
                if let Ok(id) = <&RoomId>::try_from(room.as_str()) {
                    if let Err(e) = bot.join_room(id.into(), &[]).await {
                        tracing::warn!("cannot join the management room {room} yet: {e}");
                    }
                }
                self.refresh_members(&room).await;
            }
            Err(e) => tracing::error!(
                "cannot resolve the management room {}: {e}",
                self.config.management_room
            ),
        }
        let (rooms, lists): (Vec<String>, Vec<String>) = {
            let m = self.model();
            (
                m.protected_rooms.iter().cloned().collect(),
                m.lists.keys().cloned().collect(),
            )
        };
        stream::iter(rooms.iter())
            .for_each_concurrent(self.config.max_concurrent_requests.max(1), |r| {
                self.refresh_members(r)
            })
            .await;
        for list in &lists {
            self.sync_list(list).await;
        }
        self.enforce_everything().await;
        let n_rules = self.rules_read().len();
        self.say(&format!(
            "modbot started{}: {} protected rooms, {} policy lists, {} rules",
            if self.config.dry_run {
                " in dry-run mode"
            } else {
                ""
            },
            rooms.len(),
            lists.len(),
            n_rules
        ))
        .await;
    }

    /// A room ID for a room ID or alias.
    pub async fn resolve(&self, room: &str) -> Result<String, ClientError> {
        if !room.starts_with('#') {
            return Ok(room.to_owned());
        }
        let client = self.client();
        let alias = <&ghostkit::ruma::common::RoomAliasId>::try_from(room)
            .map_err(|e| ClientError::InvalidArgument(format!("alias {room}: {e}")))?;
        Ok(client
            .as_bot()
            .resolve_alias(alias)
            .await?
            .room_id
            .to_string())
    }

    /// Reads every membership of `room` into the cache (one request).
    pub async fn refresh_members(&self, room: &str) {
        let client = self.client();
        let Ok(id) = <&RoomId>::try_from(room) else {
            return;
        };
        self.stats.requests.inc();
        match client.as_bot().members(id, &MembersQuery::default()).await {
            Ok(events) => {
                let mut map = HashMap::with_capacity(events.len());
                for ev in events {
                    if let (Some(user), Some(m)) = (
                        ev.state_key.clone(),
                        ev.content.get("membership").and_then(Value::as_str),
                    ) {
                        map.insert(user, MembershipState::from(m));
                    }
                }
                self.member_cache().insert(room.to_owned(), map);
            }
            Err(e) => {
                self.report(
                    &format!("members:{room}:{}", e.errcode().unwrap_or("")),
                    &format!("cannot read the members of {room}: {e}"),
                )
                .await
            }
        }
    }

    /// Notes a membership change seen in a transaction; returns the previous one.
    pub fn note_membership(
        &self,
        room: &str,
        user: &str,
        membership: MembershipState,
    ) -> Option<MembershipState> {
        let mut cache = self.member_cache();
        let room_members = cache.get_mut(room)?;
        room_members.insert(user.to_owned(), membership)
    }

    /// Users the bot must never ban: itself and management-room members.
    pub fn is_untouchable(&self, user: &str) -> bool {
        if <&UserId>::try_from(user).is_ok_and(|u| self.app().is_ours(u)) {
            return true;
        }
        let Some(mgmt) = self.log.room() else {
            return false;
        };
        self.member_cache()
            .get(&mgmt)
            .and_then(|m| m.get(user))
            .is_some_and(|m| matches!(m, MembershipState::Join | MembershipState::Invite))
    }

    /// Whether `room` is protected.
    pub fn is_protected(&self, room: &str) -> bool {
        self.model().protected_rooms.contains(room)
    }

    /// Whether `room` is a policy list the bot reads.
    pub fn is_list(&self, room: &str) -> bool {
        self.model().lists.contains_key(room)
    }

    /// Puts a rule change in force, as it is: stores it and enforces it.
    /// Changes from lists go through [`Engine::apply_change`], which holds
    /// the rules that need confirming.
    pub(crate) async fn enforce_change(&self, change: PolicyChange) {
        let app = self.app();
        let (added, server_changed) = {
            let mut idx = self.rules_write();
            let key = match &change {
                PolicyChange::Remove(k) => k,
                PolicyChange::Set(r) => &r.key,
            };
            let before = idx.get(key).map(|r| r.kind);
            let added = idx.apply(change.clone());
            let server = (before == Some(EntityKind::Server)
                && idx.get(key).map(|r| r.kind) != before)
                || added.as_ref().is_some_and(|r| r.kind == EntityKind::Server);
            (added, server)
        };
        let stored = match &change {
            PolicyChange::Set(r) => model::save_rule(app.store(), r).await,
            PolicyChange::Remove(k) => model::remove_rule(app.store(), k).await,
        };
        if let Err(e) = stored {
            tracing::error!("cannot store a rule change: {e}");
        }
        if let Some(rule) = &added {
            self.enforce_rule(rule).await;
        }
        if server_changed {
            self.apply_acl_everywhere().await;
        }
    }

    /// Enforces one new rule across every protected room.
    pub async fn enforce_rule(&self, rule: &Rule) {
        match rule.kind {
            EntityKind::User => {
                let targets = self.targets_for_rule(rule);
                self.ban_all(targets).await;
            }
            EntityKind::Room => {
                let g = Glob::new(&rule.entity);
                let hit: Vec<String> = self
                    .model()
                    .protected_rooms
                    .iter()
                    .filter(|r| g.matches(r))
                    .cloned()
                    .collect();
                for r in hit {
                    self.say(&format!(
                        "protected room {r} matches the room rule {} ({}); consider `rooms remove {r}`",
                        rule.entity, rule.reason
                    ))
                    .await;
                }
            }
            EntityKind::Server => {}
        }
    }

    /// Who a new user rule bans: cached members of protected rooms who are
    /// joined, invited or knocking (not already banned), never untouchables.
    pub fn targets_for_rule(&self, rule: &Rule) -> Vec<Target> {
        let rooms: Vec<String> = self.model().protected_rooms.iter().cloned().collect();
        let glob = Glob::new(&rule.entity);
        let mut out = Vec::new();
        {
            let cache = self.member_cache();
            for room in &rooms {
                let Some(members) = cache.get(room) else {
                    continue;
                };
                let mut push = |user: &str| {
                    out.push(Target {
                        room: room.clone(),
                        user: user.to_owned(),
                        reason: rule.reason.clone(),
                    })
                };
                if glob.is_literal() {
                    if members.get(&rule.entity).is_some_and(bannable) {
                        push(&rule.entity);
                    }
                } else {
                    for (user, m) in members {
                        if bannable(m) && glob.matches(user) {
                            push(user);
                        }
                    }
                }
            }
        }
        out.retain(|t| !self.is_untouchable(&t.user));
        out
    }

    /// Every cached member of protected rooms that some user rule bans.
    pub fn targets_for_everything(&self) -> Vec<Target> {
        let rooms: Vec<String> = self.model().protected_rooms.iter().cloned().collect();
        let idx = self.rules_read();
        let mut out = Vec::new();
        {
            let cache = self.member_cache();
            for room in &rooms {
                for (user, m) in cache.get(room).into_iter().flatten() {
                    if !bannable(m) {
                        continue;
                    }
                    if let Some(rule) = idx.find(EntityKind::User, user) {
                        out.push(Target {
                            room: room.clone(),
                            user: user.clone(),
                            reason: rule.reason.clone(),
                        });
                    }
                }
            }
        }
        drop(idx);
        out.retain(|t| !self.is_untouchable(&t.user));
        out
    }

    /// Bans every user a rule matches, and writes ACLs where they changed.
    pub async fn enforce_everything(&self) {
        let targets = self.targets_for_everything();
        self.ban_all(targets).await;
        self.apply_acl_everywhere().await;
    }

    /// Makes the bans, busiest rooms first, throttled; errors are reported
    /// per room and do not stop the others.
    pub async fn ban_all(&self, mut targets: Vec<Target>) {
        if targets.is_empty() {
            return;
        }
        let sizes: HashMap<String, usize> = {
            let cache = self.member_cache();
            targets
                .iter()
                .map(|t| (t.room.clone(), cache.get(&t.room).map_or(0, HashMap::len)))
                .collect()
        };
        targets.sort_by(|a, b| sizes[&b.room].cmp(&sizes[&a.room]));
        let done: Vec<(Target, bool)> = stream::iter(targets)
            .map(|t| async move {
                let ok = self.ban_one(&t).await;
                (t, ok)
            })
            .buffer_unordered(self.config.max_concurrent_requests.max(1))
            .collect()
            .await;
        let mut by_user: HashMap<String, (Vec<String>, String)> = HashMap::new();
        for (t, ok) in done {
            if ok {
                let e = by_user.entry(t.user).or_default();
                e.0.push(t.room);
                e.1 = t.reason;
            }
        }
        for (user, (rooms, reason)) in by_user {
            let verb = if self.config.dry_run {
                "[dry-run] would ban"
            } else {
                "banned"
            };
            self.say(&format!(
                "{verb} {user} in {} room(s) ({reason})",
                rooms.len()
            ))
            .await;
            if self.config.reason_wants_redaction(&reason) {
                self.redact_user(&user, &rooms, self.config.redact_limit)
                    .await;
            }
        }
    }

    async fn ban_one(&self, t: &Target) -> bool {
        let client = self.client();
        if self.config.dry_run {
            return true;
        }
        let (Ok(room), Ok(user)) = (
            <&RoomId>::try_from(t.room.as_str()),
            <&UserId>::try_from(t.user.as_str()),
        ) else {
            return false;
        };
        let _permit = self.throttle.acquire().await;
        self.stats.requests.inc();
        let reason = (!t.reason.is_empty()).then_some(t.reason.as_str());
        match client.as_bot().ban(room, user, reason).await {
            Ok(()) => {
                self.stats.bans.inc();
                self.note_membership(&t.room, &t.user, MembershipState::Ban);
                true
            }
            Err(e) => {
                self.report(
                    &format!("ban:{}:{}", t.room, e.errcode().unwrap_or("")),
                    &format!("cannot ban {} in {}: {e}", t.user, t.room),
                )
                .await;
                false
            }
        }
    }
}

/// Whether a member with `membership` can be banned (is in, or on the way in).
pub(crate) fn bannable(membership: &MembershipState) -> bool {
    matches!(
        membership,
        MembershipState::Join | MembershipState::Invite | MembershipState::Knock
    )
}
