//! Who may do what in a room: its power levels and creators
//! ([`RoomPower`]), on ruma's `RoomPowerLevels` with the room version's
//! rules (room version 12's creators above every level included), cached in
//! the store beside the intents' memberships and kept fresh from the
//! transactions ([`AppContext::room_power`](crate::AppContext::room_power)).
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#mroompower_levels>,
//! <https://spec.matrix.org/v1.16/rooms/v12/>.

use ruma_common::room_version_rules::RoomVersionRules;
use ruma_common::{OwnedUserId, RoomId, RoomVersionId, UserId};
use ruma_events::room::power_levels::{
    RoomPowerLevels, RoomPowerLevelsEventContent, RoomPowerLevelsSource, UserPowerLevel,
};
use ruma_events::StateEventType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::ClientError;
use crate::event::{Event, EventKind};
use crate::intent::IntentCache;
use crate::store::StoreError;

/// Why a room's power could not be known.
#[derive(Debug, thiserror::Error)]
pub enum PowerError {
    /// The room's state could not be read from the homeserver.
    #[error("cannot read the room's power levels: {0}")]
    Client(#[from] ClientError),
    /// The cache could not be read or written.
    #[error("cannot use the power cache: {0}")]
    Store(#[from] StoreError),
}

/// A room's power: who has which level, and what each action needs.
///
/// ```
/// use ghostkit::power::RoomPower;
/// use ghostkit::ruma::common::user_id;
/// use serde_json::json;
///
/// let create = json!({"room_version": "12"});
/// let pl = json!({"users": {"@mod:x": 50}, "users_default": 0, "state_default": 50});
/// let power = RoomPower::from_state(Some((user_id!("@owner:x"), &create)), Some(&pl));
/// assert!(power.may_send_state(user_id!("@mod:x"), "m.room.topic"));
/// assert!(!power.may_send_state(user_id!("@anyone:x"), "m.room.topic"));
/// // In room version 12 the creator is above every level, listed or not.
/// assert!(power.reaches(user_id!("@owner:x"), 1_000_000));
/// assert_eq!(power.level_text(user_id!("@owner:x")), "creator");
/// ```
#[derive(Debug, Clone)]
pub struct RoomPower {
    levels: RoomPowerLevels,
}

impl RoomPower {
    /// The power of a room whose `m.room.create` was sent by `create.0`
    /// with the content `create.1`, and whose `m.room.power_levels` content
    /// is `power_levels` (`None`: the room has none, and the spec's defaults
    /// hold). Levels written as strings (`"50"`, as old rooms hold them) are
    /// read; content that does not parse counts as no power levels, the
    /// strict defaults, and is logged.
    pub fn from_state(create: Option<(&UserId, &Value)>, power_levels: Option<&Value>) -> Self {
        let version = create
            .and_then(|(_, c)| c["room_version"].as_str())
            .unwrap_or("1");
        let rules = rules_of(version);
        let mut creators: Vec<OwnedUserId> = Vec::new();
        if let Some((sender, content)) = create {
            creators.push(sender.to_owned());
            let named = content["creator"].as_str().into_iter();
            let more = content["additional_creators"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str);
            for id in named.chain(more) {
                if let Ok(id) = OwnedUserId::try_from(id) {
                    if !creators.contains(&id) {
                        creators.push(id);
                    }
                }
            }
        }
        let source = match power_levels {
            None => RoomPowerLevelsSource::None,
            Some(v) => match RoomPowerLevelsEventContent::deserialize(v) {
                Ok(content) => RoomPowerLevelsSource::Original(content),
                Err(e) => {
                    tracing::warn!(error = %e, "power levels that do not parse; the strict defaults hold");
                    RoomPowerLevelsSource::None
                }
            },
        };
        RoomPower {
            levels: RoomPowerLevels::new(source, &rules.authorization, creators),
        }
    }

    /// `user`'s level (`Infinite` for a creator of a room of version 12 or
    /// later).
    pub fn level_of(&self, user: &UserId) -> UserPowerLevel {
        self.levels.for_user(user)
    }

    /// `user`'s level in words: the number, or `creator`.
    pub fn level_text(&self, user: &UserId) -> String {
        match self.level_of(user) {
            UserPowerLevel::Int(i) => i.to_string(),
            _ => "creator".to_owned(),
        }
    }

    /// Whether `user`'s level reaches `level`.
    pub fn reaches(&self, user: &UserId, level: i64) -> bool {
        match self.level_of(user) {
            UserPowerLevel::Int(i) => i64::from(i) >= level,
            _ => true,
        }
    }

    /// Whether `user` may send the state event `event_type`.
    pub fn may_send_state(&self, user: &UserId, event_type: &str) -> bool {
        self.levels
            .user_can_send_state(user, StateEventType::from(event_type))
    }

    /// The levels, as ruma holds them.
    pub fn levels(&self) -> &RoomPowerLevels {
        &self.levels
    }
}

/// The rules of a room version; an unknown one is taken by its number
/// (12 and later as 12), else as version 1.
fn rules_of(version: &str) -> RoomVersionRules {
    if let Some(rules) = RoomVersionId::try_from(version)
        .ok()
        .and_then(|v| v.rules())
    {
        return rules;
    }
    match version.parse::<u32>() {
        Ok(v) if v >= 12 => RoomVersionRules::V12,
        _ if version == "org.matrix.hydra.11" => RoomVersionRules::V12,
        _ => RoomVersionRules::V1,
    }
}

/// What the cache holds of a room: its creation and power levels, as the
/// homeserver gave them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StoredPower {
    create: Option<(OwnedUserId, Value)>,
    power_levels: Option<Value>,
}

impl StoredPower {
    /// The power this record describes.
    pub(crate) fn power(&self) -> RoomPower {
        RoomPower::from_state(
            self.create.as_ref().map(|(s, c)| (s.as_ref(), c)),
            self.power_levels.as_ref(),
        )
    }
}

impl IntentCache {
    /// The cached power of `room`, if it was read before.
    pub async fn room_power(&self, room: &RoomId) -> Result<Option<RoomPower>, StoreError> {
        Ok(self.stored_power(room).await?.map(|s| s.power()))
    }

    async fn stored_power(&self, room: &RoomId) -> Result<Option<StoredPower>, StoreError> {
        match self.power.get(room.as_str()).await? {
            None => Ok(None),
            // A record that no longer parses is read again from the homeserver.
            Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        }
    }

    pub(crate) async fn set_power(
        &self,
        room: &RoomId,
        stored: &StoredPower,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(stored).map_err(|source| StoreError::Value {
            key: room.as_str().to_owned(),
            source,
        })?;
        self.power.insert(room.as_str(), bytes).await?;
        Ok(())
    }

    /// Learns a change of a cached room's `m.room.power_levels` or
    /// `m.room.create` from a received event. A room never asked about is
    /// not cached: it is read whole when first asked.
    pub(crate) async fn observe_power(&self, event: &Event) -> Result<(), StoreError> {
        if event.kind() != EventKind::Timeline || event.state_key() != Some("") {
            return Ok(());
        }
        let ty = event.event_type();
        if ty != "m.room.power_levels" && ty != "m.room.create" {
            return Ok(());
        }
        let Some(room) = event.room_id() else {
            return Ok(());
        };
        let Some(mut stored) = self.stored_power(room).await? else {
            return Ok(());
        };
        let Ok(content) = event.content::<Value>() else {
            return Ok(());
        };
        if ty == "m.room.power_levels" {
            stored.power_levels = Some(content);
        } else if let Some(sender) = event.sender() {
            stored.create = Some((sender.to_owned(), content));
        }
        self.set_power(room, &stored).await
    }
}

/// Reads `room`'s creation and power levels from the homeserver, as the bot.
pub(crate) async fn fetch(
    client: &crate::Client,
    room: &RoomId,
) -> Result<StoredPower, ClientError> {
    let state = client.as_bot().state(room).await?;
    let mut stored = StoredPower::default();
    for ev in state {
        if ev.state_key.as_deref() != Some("") {
            continue;
        }
        match ev.event_type.as_str() {
            "m.room.create" => stored.create = Some((ev.sender, ev.content)),
            "m.room.power_levels" => stored.power_levels = Some(ev.content),
            _ => {}
        }
    }
    Ok(stored)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
