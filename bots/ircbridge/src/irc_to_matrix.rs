//! IRC -> Matrix: messages, memberships, nick changes and topics of the
//! bridged channels, each by the ghost of the nick it comes from.

use ghostkit::prelude::*;
use ghostkit::Intent;

use crate::bridge::Live;
use crate::irc::{casefold, ctcp, is_channel, IrcEvent, Message};

impl Live {
    /// Bridges one event of the IRC connection.
    pub(crate) async fn on_irc(&self, event: IrcEvent) -> anyhow::Result<()> {
        let IrcEvent::Message(msg) = event else {
            return Ok(());
        };
        match msg.command.as_str() {
            "PRIVMSG" | "NOTICE" => self.irc_message(&msg).await,
            "JOIN" => {
                let (Some(nick), Some(channel)) = (msg.source_nick(), msg.param(0)) else {
                    return Ok(());
                };
                self.ghost_joins(nick, channel).await
            }
            "PART" => {
                let (Some(nick), Some(channel)) = (msg.source_nick(), msg.param(0)) else {
                    return Ok(());
                };
                let reason = msg.param(1).unwrap_or("left IRC channel");
                self.ghost_leaves(nick, channel, reason).await
            }
            "KICK" => {
                let (Some(channel), Some(victim)) = (msg.param(0), msg.param(1)) else {
                    return Ok(());
                };
                if self.is_me(victim) {
                    tracing::warn!(%channel, "kicked from the channel; rejoining");
                    if let Some(portal) = self.portals.by_channel(channel) {
                        self.irc.join(&portal.channel);
                    }
                    return Ok(());
                }
                let by = msg.source_nick().unwrap_or("the server");
                let reason = format!("kicked by {by}: {}", msg.param(2).unwrap_or(""));
                self.ghost_leaves(victim, channel, &reason).await
            }
            "QUIT" => {
                let Some(nick) = msg.source_nick() else {
                    return Ok(());
                };
                let reason = format!("quit: {}", msg.param(0).unwrap_or(""));
                for portal in self.portals.all() {
                    self.ghost_leaves(nick, &portal.channel, &reason).await?;
                }
                Ok(())
            }
            "NICK" => {
                let (Some(old), Some(new)) = (msg.source_nick(), msg.param(0)) else {
                    return Ok(());
                };
                self.nick_change(old, new).await
            }
            "TOPIC" => {
                let (Some(channel), Some(topic)) = (msg.param(0), msg.param(1)) else {
                    return Ok(());
                };
                self.set_topic(channel, topic).await
            }
            // RPL_TOPIC: the topic on joining.
            "332" => {
                let (Some(channel), Some(topic)) = (msg.param(1), msg.param(2)) else {
                    return Ok(());
                };
                self.set_topic(channel, topic).await
            }
            // RPL_NAMREPLY: who is in the channel on joining.
            "353" => {
                let (Some(channel), Some(names)) = (msg.param(2), msg.param(3)) else {
                    return Ok(());
                };
                for nick in names.split_whitespace() {
                    let nick = nick.trim_start_matches(['@', '+', '%', '&', '~', '!']);
                    if !nick.is_empty() {
                        self.names_seen
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry(casefold(channel))
                            .or_default()
                            .insert(casefold(nick));
                        self.ghost_joins(nick, channel).await?;
                    }
                }
                Ok(())
            }
            // RPL_ENDOFNAMES: ghosts of nicks no longer there leave (they
            // left while the bridge was away).
            "366" => {
                let Some(channel) = msg.param(1) else {
                    return Ok(());
                };
                let seen = self
                    .names_seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&casefold(channel))
                    .unwrap_or_default();
                self.leave_ghosts_not_in(channel, &seen).await
            }
            "433" => {
                tracing::debug!(nick = msg.param(1).unwrap_or(""), "nick in use on IRC");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn is_me(&self, nick: &str) -> bool {
        casefold(nick) == casefold(&self.irc.nick())
    }

    /// The intent of `nick`'s ghost, display name set.
    async fn ghost(&self, nick: &str) -> anyhow::Result<Intent> {
        let user = OwnedUserId::try_from(self.names.ghost(nick))?;
        let intent = self.app.intent(&user)?;
        intent.ensure_display_name(nick).await?;
        Ok(intent)
    }

    fn ghost_intent(&self, nick: &str) -> anyhow::Result<Intent> {
        let user = OwnedUserId::try_from(self.names.ghost(nick))?;
        Ok(self.app.intent(&user)?)
    }

    async fn irc_message(&self, msg: &Message) -> anyhow::Result<()> {
        let (Some(nick), Some(target), Some(text)) =
            (msg.source_nick(), msg.param(0), msg.param(1))
        else {
            return Ok(());
        };
        if !is_channel(target) || self.is_me(nick) {
            return Ok(());
        }
        let Some(portal) = self.portals.by_channel(target) else {
            return Ok(());
        };
        let ghost = self.ghost(nick).await?;
        ghost.ensure_joined(&portal.room_id).await?;
        let text = strip_formatting(text);
        match (ctcp(&text), msg.command.as_str()) {
            (Some(("ACTION", action)), _) => {
                ghost.send_emote(&portal.room_id, action).await?;
            }
            (Some(_), _) => return Ok(()), // other CTCP (VERSION, PING…) are not chat
            (None, "NOTICE") => {
                ghost.send_notice(&portal.room_id, &text).await?;
            }
            (None, _) => {
                ghost.send_text(&portal.room_id, &text).await?;
            }
        }
        self.counters.irc_to_matrix.inc();
        Ok(())
    }

    async fn ghost_joins(&self, nick: &str, channel: &str) -> anyhow::Result<()> {
        if self.is_me(nick) {
            return Ok(());
        }
        let Some(portal) = self.portals.by_channel(channel) else {
            return Ok(());
        };
        self.ghost(nick)
            .await?
            .ensure_joined(&portal.room_id)
            .await?;
        Ok(())
    }

    /// The ghost of `nick` leaves the portal of `channel` if it is in it.
    async fn ghost_leaves(&self, nick: &str, channel: &str, reason: &str) -> anyhow::Result<()> {
        if self.is_me(nick) {
            return Ok(());
        }
        let Some(portal) = self.portals.by_channel(channel) else {
            return Ok(());
        };
        let ghost = self.ghost_intent(nick)?;
        let joined = ghost
            .cache()
            .membership(&portal.room_id, ghost.user_id())
            .await?;
        if joined == Some(MembershipState::Join) {
            ghost.leave(&portal.room_id, Some(reason)).await?;
        }
        Ok(())
    }

    async fn leave_ghosts_not_in(
        &self,
        channel: &str,
        present: &std::collections::HashSet<String>,
    ) -> anyhow::Result<()> {
        let Some(portal) = self.portals.by_channel(channel) else {
            return Ok(());
        };
        let members = self
            .app
            .client()
            .as_bot()
            .joined_members(&portal.room_id)
            .await?;
        for user in members.keys() {
            let Some(nick) = self.names.nick_of(user.localpart()) else {
                continue;
            };
            if !present.contains(&nick) && !self.is_me(&nick) {
                let ghost = self.app.intent(user)?;
                ghost
                    .leave(&portal.room_id, Some("no longer in the IRC channel"))
                    .await?;
            }
        }
        Ok(())
    }

    async fn nick_change(&self, old: &str, new: &str) -> anyhow::Result<()> {
        if self.is_me(new) || self.is_me(old) {
            return Ok(());
        }
        if casefold(old) == casefold(new) {
            // One ghost: only the spelling changes.
            self.ghost(new).await?;
            return Ok(());
        }
        let old_ghost = self.ghost_intent(old)?;
        let mut rooms = Vec::new();
        for portal in self.portals.all() {
            if old_ghost
                .cache()
                .membership(&portal.room_id, old_ghost.user_id())
                .await?
                == Some(MembershipState::Join)
            {
                old_ghost
                    .leave(&portal.room_id, Some(&format!("now known as {new}")))
                    .await?;
                rooms.push(portal.room_id);
            }
        }
        let new_ghost = self.ghost(new).await?;
        for room in rooms {
            new_ghost.ensure_joined(&room).await?;
        }
        Ok(())
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> anyhow::Result<()> {
        let Some(portal) = self.portals.by_channel(channel) else {
            return Ok(());
        };
        let bot = self.app.client().as_bot();
        let current: Option<serde_json::Value> = bot
            .state_event_opt(&portal.room_id, "m.room.topic", "")
            .await?;
        if current.as_ref().and_then(|c| c["topic"].as_str()) != Some(topic) {
            bot.set_topic(&portal.room_id, topic).await?;
        }
        Ok(())
    }
}

/// IRC text without its formatting codes (bold, colours, hex colours,
/// italics…).
///
/// ```
/// assert_eq!(ircbridge::irc_to_matrix::strip_formatting("\u{2}bold\u{2} \u{3}04,12red\u{3} \u{1d}it"), "bold red it");
/// assert_eq!(ircbridge::irc_to_matrix::strip_formatting("\u{4}ff0000,00ff00hex\u{4}"), "hex");
/// ```
pub fn strip_formatting(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{2}' | '\u{f}' | '\u{16}' | '\u{1d}' | '\u{1e}' | '\u{1f}' | '\u{11}' => {}
            '\u{3}' => {
                // Colour: up to two digits, then optionally `,` and two more.
                for _ in 0..2 {
                    if chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                }
                let mut ahead = chars.clone();
                if ahead.next() == Some(',') && ahead.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                    for _ in 0..2 {
                        if chars.peek().is_some_and(char::is_ascii_digit) {
                            chars.next();
                        }
                    }
                }
            }
            '\u{4}' => {
                // Hex colour: six hex digits, then optionally `,` and six more.
                let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut ahead = chars.clone();
                    if (0..6).all(|_| ahead.next().is_some_and(|c| c.is_ascii_hexdigit())) {
                        *chars = ahead;
                        true
                    } else {
                        false
                    }
                };
                if hex(&mut chars) {
                    let mut ahead = chars.clone();
                    if ahead.next() == Some(',') && hex(&mut ahead) {
                        chars = ahead;
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}
