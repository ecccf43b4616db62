//! The protections' settings: shown, and set.

use std::collections::BTreeMap;

use super::Reply;
use crate::engine::Engine;
use crate::protections::{validate_setting, PROTECTIONS};

impl Engine {
    /// `protections`: each protection, on or off, with its settings.
    pub(super) fn protections_text(&self) -> String {
        let m = self.model();
        let mut out = String::from("protections:\n");
        for (name, defaults) in PROTECTIONS {
            let p = m.protection(name);
            let mut settings: BTreeMap<&str, String> = defaults
                .iter()
                .map(|(k, v)| (*k, (*v).to_owned()))
                .collect();
            for (k, v) in &p.settings {
                settings.insert(k, v.clone());
            }
            let per_room = if p.room_settings.is_empty() {
                String::new()
            } else {
                format!(" per room: {:?}", p.room_settings)
            };
            out.push_str(&format!(
                "- {name}: {}{} {:?}{per_room}\n",
                if p.enabled { "on" } else { "off" },
                if p.enabled_rooms.is_empty() && p.disabled_rooms.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (on in {:?}, off in {:?})",
                        p.enabled_rooms, p.disabled_rooms
                    )
                },
                settings
            ));
        }
        out
    }

    /// `config set <protection> <key> <value> [--room <room>]`.
    pub(super) async fn config_set(
        &self,
        room: Option<String>,
        protection: &str,
        key: &str,
        value: &str,
    ) -> Reply {
        validate_setting(protection, key, value)?;
        let room = match room {
            Some(r) => Some(self.resolve(&r).await?),
            None => None,
        };
        {
            let mut m = self.model();
            let p = m.protections.entry(protection.to_owned()).or_default();
            let settings = match &room {
                Some(r) => p.room_settings.entry(r.clone()).or_default(),
                None => &mut p.settings,
            };
            settings.insert(key.to_owned(), value.to_owned());
        }
        self.save().await;
        Ok(match room {
            Some(r) => format!("{protection}.{key} = {value} in {r}"),
            None => format!("{protection}.{key} = {value}"),
        })
    }
}
