//! `m.room.server_acl` built from the server rules in force.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#server-access-control-lists-acls-for-rooms>.
//! `allow` is always `["*"]`; `deny` holds every server rule's entity except
//! those that would deny our own server; IP literals are denied.

use std::collections::HashSet;

use ghostkit::prelude::*;
use ghostkit::ruma::events::room::server_acl::RoomServerAclEventContent;
use serde::Deserialize as _;
use serde_json::Value;

use crate::glob::Glob;

/// The ACL content for `server_rules`, never denying `own_server`. The
/// `deny` list is sorted and deduplicated so equal rule sets give equal
/// content (the ACL is written only when it changes).
///
/// ```
/// let acl = modbot::acl::build_acl(["evil.org", "*.bad.net", "*"], "good.org");
/// assert_eq!(acl.deny, ["*.bad.net", "evil.org"]);
/// assert_eq!(acl.allow, ["*"]);
/// assert!(!acl.allow_ip_literals);
/// ```
pub fn build_acl<'a>(
    server_rules: impl IntoIterator<Item = &'a str>,
    own_server: &str,
) -> RoomServerAclEventContent {
    let mut deny: Vec<String> = server_rules
        .into_iter()
        .filter(|e| !e.is_empty() && !Glob::new(e).matches(own_server))
        .map(str::to_owned)
        .collect();
    deny.sort_unstable();
    deny.dedup();
    RoomServerAclEventContent::new(false, vec!["*".to_owned()], deny)
}

/// Whether two ACL contents are the same for enforcement purposes (same
/// allow, deny and IP-literal flag, whatever their order).
pub fn same_acl(a: &RoomServerAclEventContent, b: &RoomServerAclEventContent) -> bool {
    let sorted = |l: &[String]| {
        let mut l = l.to_vec();
        l.sort();
        l
    };
    sorted(&a.allow) == sorted(&b.allow)
        && sorted(&a.deny) == sorted(&b.deny)
        && a.allow_ip_literals == b.allow_ip_literals
}

/// A stored ACL as ruma reads it; `None` when it does not parse (it is
/// then written again).
fn parsed(stored: &Value) -> Option<RoomServerAclEventContent> {
    RoomServerAclEventContent::deserialize(stored).ok()
}

impl crate::engine::Engine {
    /// Reads `room`'s current `m.room.server_acl` (one request) when the
    /// bot wrote one before, so that a change made by someone else since is
    /// noticed and corrected by the next enforcement. An ACL the bot never
    /// wrote is left alone until there is a server rule to enforce.
    pub async fn read_current_acl(&self, room: &str) {
        let app = self.app();
        let Ok(id) = <&RoomId>::try_from(room) else {
            return;
        };
        if !self.model().acl_written.contains_key(room) {
            return;
        }
        self.stats.requests.inc();
        match app
            .client()
            .as_bot()
            .state_event_opt::<Value>(id, "m.room.server_acl", "")
            .await
        {
            Ok(Some(acl)) => {
                self.model().acl_written.insert(room.to_owned(), acl);
            }
            Ok(None) => {
                self.model().acl_written.remove(room);
            }
            Err(e) => tracing::warn!("cannot read the server ACL of {room}: {e}"),
        }
    }

    /// Writes the server ACL in every protected room where it changed.
    pub async fn apply_acl_everywhere(&self) {
        let app = self.app();
        let acl = build_acl(
            self.rules_read().server_entities(),
            app.server_name().as_str(),
        );
        let rooms: Vec<String> = {
            let m = self.model();
            m.protected_rooms
                .iter()
                .filter(|r| {
                    !m.acl_written
                        .get(*r)
                        .and_then(parsed)
                        .is_some_and(|w| same_acl(&w, &acl))
                })
                .cloned()
                .collect()
        };
        let no_rule_yet = acl.deny.is_empty();
        let mut written = HashSet::new();
        for room in rooms {
            let never_written = !self.model().acl_written.contains_key(&room);
            if no_rule_yet && never_written {
                // Nothing to deny and nothing written before: leave the room alone.
                continue;
            }
            if self.config.dry_run {
                self.say(&format!("[dry-run] would set the server ACL of {room}"))
                    .await;
                continue;
            }
            let Ok(id) = <&RoomId>::try_from(room.as_str()) else {
                continue;
            };
            self.stats.requests.inc();
            let res = app
                .client()
                .as_bot()
                .send_state(id, "m.room.server_acl", "", &acl)
                .await;
            match res {
                Ok(_) => {
                    written.insert(room.clone());
                    let stored = serde_json::to_value(&acl).unwrap_or_default();
                    self.model().acl_written.insert(room, stored);
                }
                Err(e) => {
                    self.report(
                        &format!("acl:{room}:{}", e.errcode().unwrap_or("")),
                        &format!("cannot set the server ACL of {room}: {e}"),
                    )
                    .await
                }
            }
        }
        if !written.is_empty() {
            self.save().await;
            self.say(&format!(
                "server ACL updated in {} room(s): deny {:?}",
                written.len(),
                acl.deny
            ))
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_denies_our_own_server() {
        let acl = build_acl(["good.org", "*.org", "g??d.org", "evil.com"], "good.org");
        assert_eq!(acl.deny, ["evil.com"]);
    }

    #[test]
    fn empty_rules_allow_everyone() {
        let acl = build_acl([], "good.org");
        assert!(acl.deny.is_empty());
        assert_eq!(acl.allow, ["*"]);
        assert!(!acl.allow_ip_literals);
        // As the homeserver is given it, and reads back.
        let stored = serde_json::to_value(&acl).expect("serializes");
        assert_eq!(stored["allow_ip_literals"], false);
        assert!(parsed(&stored).is_some_and(|p| same_acl(&p, &acl)));
    }

    #[test]
    fn duplicates_and_order_do_not_matter() {
        let a = build_acl(["b.org", "a.org", "b.org"], "x.org");
        let b = build_acl(["a.org", "b.org"], "x.org");
        assert!(same_acl(&a, &b));
        assert!(!same_acl(&a, &build_acl(["a.org"], "x.org")));
        let reordered = RoomServerAclEventContent::new(
            false,
            vec!["*".into()],
            vec!["b.org".into(), "a.org".into()],
        );
        assert!(same_acl(&a, &reordered));
    }
}
