//! The ban commands: `ban` (held for `confirm` when it reaches far) and
//! `confirm`.

use ghostkit::prelude::*;

use super::Reply;
use crate::commands::Command;
use crate::engine::{lock, Engine};
use crate::glob::has_wildcard;
use crate::rules::{EntityKind, Rule, RuleKey};

impl Engine {
    /// `confirm [entity]`: the sender's held ban, or the held list rules.
    pub(super) async fn confirm(
        &self,
        app: &AppContext,
        sender: &str,
        entity: Option<String>,
    ) -> Reply {
        let pending = {
            let mut pending = lock(&self.pending);
            let mine = match (pending.get(sender), entity.as_deref()) {
                (Some(Command::Ban { entity: e, .. }), Some(asked)) => e == asked,
                (Some(_), None) => true,
                _ => false,
            };
            if mine {
                pending.remove(sender)
            } else {
                None
            }
        };
        match pending {
            Some(Command::Ban {
                entity,
                list,
                reason,
            }) => self.ban(app, &entity, &list, reason).await,
            _ => self.confirm_held(entity.as_deref()).await,
        }
    }

    /// `ban <entity> <list> [reason]`: applied, or held for `confirm` when
    /// it is a wildcard or reaches many members.
    pub(super) async fn ban_command(
        &self,
        app: &AppContext,
        sender: &str,
        entity: String,
        list: String,
        reason: Option<String>,
    ) -> Reply {
        let probe = Rule {
            key: RuleKey {
                list: String::new(),
                event_type: String::new(),
                state_key: String::new(),
            },
            kind: EntityKind::of_entity(&entity),
            entity: entity.clone(),
            reason: String::new(),
        };
        let reach = self.reach(&probe);
        let wildcard = has_wildcard(&entity);
        if wildcard || reach.members > self.config.confirm_above_members {
            lock(&self.pending).insert(
                sender.to_owned(),
                Command::Ban {
                    entity: entity.clone(),
                    list,
                    reason,
                },
            );
            let what = if wildcard {
                "is a wildcard ban"
            } else {
                "reaches many members"
            };
            return Ok(format!(
                "`{entity}` {what}: it would reach {} member(s) in {} room(s) now; say `{} confirm` to apply it",
                reach.members, reach.rooms, self.config.command_prefix
            ));
        }
        self.ban(app, &entity, &list, reason).await
    }
}
