//! Who may command the bot: a member's power level in the management room.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#mroompower_levels>
//! and, for room version 12, <https://spec.matrix.org/v1.16/rooms/v12/>: the
//! room's creators (the sender of `m.room.create` and its
//! `additional_creators`) have a power above every level and are not listed
//! in `users`. In older versions without `m.room.power_levels` the creator
//! has 100 and everyone else 0.

use serde_json::Value;

/// A member's power in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Power {
    /// A power level (`users`, else `users_default`).
    Level(i64),
    /// A creator of a room of version 12 or later: above every level.
    Creator,
}

impl Power {
    /// Whether this power reaches `level`.
    pub fn reaches(self, level: i64) -> bool {
        match self {
            Power::Creator => true,
            Power::Level(l) => l >= level,
        }
    }
}

impl std::fmt::Display for Power {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Power::Creator => f.write_str("creator"),
            Power::Level(l) => write!(f, "{l}"),
        }
    }
}

/// What `m.room.create` says about power: the room version and creators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Creation {
    /// `room_version` (`"1"` when absent).
    pub room_version: String,
    /// The sender of the create event, and `additional_creators`.
    pub creators: Vec<String>,
}

impl Creation {
    /// Reads a full `m.room.create` event (with its `sender`).
    pub fn from_event(event: &Value) -> Creation {
        let content = &event["content"];
        let mut creators: Vec<String> = event["sender"]
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect();
        // Versions before 11 name the creator in the content.
        if let Some(c) = content["creator"].as_str() {
            creators.push(c.to_owned());
        }
        if let Some(more) = content["additional_creators"].as_array() {
            creators.extend(more.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Creation {
            room_version: content["room_version"].as_str().unwrap_or("1").to_owned(),
            creators,
        }
    }

    /// Whether creators are above every power level (room version 12 and
    /// later, and its unstable name `org.matrix.hydra.11`).
    pub fn creators_outrank_all(&self) -> bool {
        self.room_version == "org.matrix.hydra.11"
            || self.room_version.parse::<u32>().is_ok_and(|v| v >= 12)
    }
}

/// `user`'s power in a room with this `m.room.power_levels` content (if
/// any) and creation.
///
/// ```
/// use modbot::power::{power_of, Creation, Power};
/// use serde_json::json;
/// let pl = json!({"users": {"@mod:x": 50}, "users_default": 10});
/// let old = Creation { room_version: "10".into(), creators: vec!["@owner:x".into()] };
/// assert_eq!(power_of("@mod:x", Some(&pl), &old), Power::Level(50));
/// assert_eq!(power_of("@anyone:x", Some(&pl), &old), Power::Level(10));
/// let v12 = Creation { room_version: "12".into(), ..old };
/// assert_eq!(power_of("@owner:x", Some(&pl), &v12), Power::Creator);
/// ```
pub fn power_of(user: &str, power_levels: Option<&Value>, creation: &Creation) -> Power {
    let is_creator = creation.creators.iter().any(|c| c == user);
    if is_creator && creation.creators_outrank_all() {
        return Power::Creator;
    }
    let Some(pl) = power_levels else {
        return Power::Level(if is_creator { 100 } else { 0 });
    };
    let level = |v: &Value| {
        // Older rooms may hold levels as strings ("50").
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    Power::Level(
        level(&pl["users"][user])
            .or_else(|| level(&pl["users_default"]))
            .unwrap_or(0),
    )
}

impl crate::engine::Engine {
    /// `user`'s power in the management room, read from its state (one
    /// request: the create event and the power levels).
    pub async fn management_power(&self, user: &str) -> Result<Power, String> {
        let client = self.client().ok_or("not started yet")?;
        let room = self
            .log
            .room()
            .ok_or("the management room is not known yet")?;
        let id = <&ghostkit::prelude::RoomId>::try_from(room.as_str())
            .map_err(|e| format!("management room {room}: {e}"))?;
        let state = client
            .as_bot()
            .state(id)
            .await
            .map_err(|e| format!("cannot read the power levels of the management room: {e}"))?;
        let find = |ty: &str| {
            state
                .iter()
                .find(|ev| ev.event_type == ty && ev.state_key.as_deref() == Some(""))
        };
        let creation = find("m.room.create")
            .map(|ev| {
                Creation::from_event(&serde_json::json!({
                    "sender": ev.sender.as_str(),
                    "content": ev.content,
                }))
            })
            .unwrap_or_default();
        let power_levels = find("m.room.power_levels").map(|ev| &ev.content);
        Ok(power_of(user, power_levels, &creation))
    }

    /// Whether `user` may give commands: their power in the management room
    /// reaches `command_power_level`. `Err` holds the refusal to say.
    pub async fn may_command(&self, user: &str) -> Result<(), String> {
        let need = self.config.command_power_level;
        match self.management_power(user).await {
            Ok(p) if p.reaches(need) => Ok(()),
            Ok(p) => Err(format!(
                "{user}: commands need power level {need} in this room, you have {p}"
            )),
            Err(e) => Err(format!("{user}: not obeyed, {e}")),
        }
    }
}

#[cfg(test)]
mod tests;
