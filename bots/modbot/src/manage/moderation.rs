//! Commands that act on members and events: unban, kick, redact.

use anyhow::anyhow;
use ghostkit::prelude::*;
use serde_json::json;

use crate::engine::Engine;
use crate::glob::{has_wildcard, Glob};
use crate::rules::{EntityKind, PolicyChange};

use super::Reply;
use ghostkit::ruma::events::room::member::MembershipState;

impl Engine {
    pub(super) async fn unban(&self, app: &AppContext, entity: &str, invite: bool) -> Reply {
        let keys: Vec<_> = self
            .rules_read()
            .all()
            .into_iter()
            .filter(|r| r.entity == entity)
            .map(|r| r.key.clone())
            .collect();
        let mut removed = 0;
        for key in keys {
            let Ok(room) = <&RoomId>::try_from(key.list.as_str()) else {
                continue;
            };
            match app
                .client()
                .as_bot()
                .send_state(room, &key.event_type, &key.state_key, &json!({}))
                .await
            {
                Ok(_) => {
                    removed += 1;
                    self.apply_change(PolicyChange::Remove(key)).await;
                }
                Err(e) => {
                    self.report(
                        &format!("unrule:{}", key.list),
                        &format!("cannot remove the rule from {}: {e}", key.list),
                    )
                    .await
                }
            }
        }
        let mut unbanned = Vec::new();
        if EntityKind::of_entity(entity) == EntityKind::User && !has_wildcard(entity) {
            let rooms: Vec<String> = {
                let cache = self.member_cache();
                self.model()
                    .protected_rooms
                    .iter()
                    .filter(|r| {
                        cache
                            .get(*r)
                            .and_then(|m| m.get(entity))
                            .is_some_and(|m| *m == MembershipState::Ban)
                    })
                    .cloned()
                    .collect()
            };
            let user = <&UserId>::try_from(entity)?;
            for r in rooms {
                let Ok(room) = <&RoomId>::try_from(r.as_str()) else {
                    continue;
                };
                let bot = app.client().as_bot();
                if let Err(e) = bot.unban(room, user, None).await {
                    self.report(&format!("unban:{r}"), &format!("cannot unban in {r}: {e}"))
                        .await;
                    continue;
                }
                self.note_membership(&r, entity, MembershipState::Leave);
                if invite {
                    if let Err(e) = bot.invite(room, user, None).await {
                        self.report(
                            &format!("invite:{r}"),
                            &format!("cannot invite to {r}: {e}"),
                        )
                        .await;
                    }
                }
                unbanned.push(r);
            }
        }
        Ok(format!(
            "removed {removed} rule(s) for {entity}; unbanned in {} room(s){}",
            unbanned.len(),
            if invite { " and invited back" } else { "" }
        ))
    }

    pub(super) async fn kick(
        &self,
        app: &AppContext,
        target: &str,
        room: Option<String>,
        reason: Option<String>,
    ) -> Reply {
        let rooms = self.rooms_or(room).await?;
        let glob = Glob::new(target);
        let victims: Vec<(String, String)> = {
            let cache = self.member_cache();
            rooms
                .iter()
                .flat_map(|r| {
                    cache
                        .get(r)
                        .into_iter()
                        .flatten()
                        .filter(|(u, m)| **m == MembershipState::Join && glob.matches(u))
                        .map(move |(u, _)| (r.clone(), u.clone()))
                })
                .collect()
        };
        let mut n = 0;
        for (r, u) in victims {
            if self.is_untouchable(&u) {
                continue;
            }
            if self.config.dry_run {
                n += 1;
                continue;
            }
            let (Ok(room), Ok(user)) = (
                <&RoomId>::try_from(r.as_str()),
                <&UserId>::try_from(u.as_str()),
            ) else {
                continue;
            };
            match app
                .client()
                .as_bot()
                .kick(room, user, reason.as_deref())
                .await
            {
                Ok(()) => n += 1,
                Err(e) => {
                    self.report(
                        &format!("kick:{r}"),
                        &format!("cannot kick {u} from {r}: {e}"),
                    )
                    .await
                }
            }
        }
        Ok(format!("kicked {n} member(s) matching {target}"))
    }

    async fn rooms_or(&self, room: Option<String>) -> anyhow::Result<Vec<String>> {
        Ok(match room {
            Some(r) => vec![self.resolve(&r).await?],
            None => self.model().protected_rooms.iter().cloned().collect(),
        })
    }

    pub(super) async fn redact_command(
        &self,
        _app: &AppContext,
        target: &str,
        room: Option<String>,
        limit: Option<u32>,
    ) -> Reply {
        if let Some((r, ev)) = parse_permalink(target) {
            let r = self.resolve(&r).await?;
            let n = self.redact_events(&r, &[ev]).await;
            return Ok(format!("redacted {n} event(s)"));
        }
        if !target.starts_with('@') {
            return Err(anyhow!(
                "give a user ID or an event permalink (https://matrix.to/#/!room/$event)"
            ));
        }
        let rooms = self.rooms_or(room).await?;
        let n = self
            .redact_user(target, &rooms, limit.unwrap_or(self.config.redact_limit))
            .await;
        Ok(format!("redacted {n} event(s) of {target}"))
    }
}

/// The room and event of a `matrix.to` permalink (`https://matrix.to/#/!r:x/$e?via=x`).
pub fn parse_permalink(link: &str) -> Option<(String, String)> {
    let rest = link.split_once("/#/")?.1;
    let rest = rest.split('?').next()?;
    let (room, event) = rest.split_once('/')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (room, event) = (dec(room)?, dec(event)?);
    event.starts_with('$').then_some((room, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permalinks() {
        assert_eq!(
            parse_permalink("https://matrix.to/#/!abc:x.org/$ev1?via=x.org"),
            Some(("!abc:x.org".into(), "$ev1".into()))
        );
        assert_eq!(
            parse_permalink("https://matrix.to/#/%23room%3Ax/%24ev"),
            Some(("#room:x".into(), "$ev".into()))
        );
        assert_eq!(parse_permalink("https://matrix.to/#/@user:x"), None);
    }
}
