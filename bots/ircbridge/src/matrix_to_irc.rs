//! Matrix -> IRC, relay mode: every Matrix message in a portal goes out
//! through the bridge's own connection as `<display name [m]> text`.
//!
//! What a Matrix user controls is made harmless first: the display name is
//! cut to [`NAME_MAX_CHARS`], loses control characters, IRC formatting
//! codes and `<` `>`, and gets the configured marker, so that it reads
//! neither as an IRC nick nor as a second `<name>`; the text loses control
//! characters (a `\x01` would end an emote's CTCP); one message becomes at
//! most `max_lines_per_message` lines.

use std::time::{Duration, Instant};

use ghostkit::prelude::*;
use serde_json::Value;

use crate::bridge::Live;
use crate::irc::{Message, QueueError};
use crate::text::{html_to_text, split_lines, text_budget};

/// The most characters of a display name relayed (the marker not counted).
pub const NAME_MAX_CHARS: usize = 32;

/// The shortest wait between two notices about a full queue in one room.
const FULL_NOTICE_EVERY: Duration = Duration::from_secs(60);

/// `name` made safe to relay: controls and IRC formatting codes (`\x03`
/// with its colour digits) and `<` `>` dropped, runs of spaces made one,
/// cut to [`NAME_MAX_CHARS`] characters, then `marker` added. When nothing
/// is left, `fallback` (a user ID's localpart) is used the same way.
///
/// ```
/// use ircbridge::matrix_to_irc::relayed_name;
/// assert_eq!(relayed_name("bob> <alice", "bob", " [m]"), "bob alice [m]");
/// assert_eq!(relayed_name("\u{3}04red\u{3}\u{1}", "bob", " [m]"), "red [m]");
/// assert_eq!(relayed_name("<>", "bob", " [m]"), "bob [m]");
/// ```
pub fn relayed_name(name: &str, fallback: &str, marker: &str) -> String {
    let clean = |s: &str| -> String {
        let stripped = crate::irc_to_matrix::strip_formatting(s);
        let kept: String = stripped
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .filter(|&c| !c.is_control() && !matches!(c, '<' | '>'))
            .collect();
        kept.split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(NAME_MAX_CHARS)
            .collect::<String>()
            .trim_end()
            .to_owned()
    };
    let mut out = clean(name);
    if out.is_empty() {
        out = clean(fallback);
    }
    if out.is_empty() {
        out = "someone".to_owned();
    }
    out.push_str(marker);
    out
}

/// Message text made safe for IRC: control characters other than line
/// breaks dropped (tabs become spaces).
fn clean_text(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// How one Matrix message is relayed.
#[derive(Debug, Clone)]
pub struct Relay<'a> {
    /// The sender's name, as [`relayed_name`] made it.
    pub name: &'a str,
    /// The channel.
    pub channel: &'a str,
    /// The homeserver's URL, for links to files.
    pub homeserver: &'a str,
    /// The most lines of text the message becomes.
    pub max_lines: usize,
    /// A link to the event, given in the note of a cut message.
    pub event_link: Option<String>,
}

/// How a Matrix message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Notice,
    Emote,
}

impl Live {
    /// Remembers (or forgets) the display name of `user`.
    pub(crate) fn remember_display_name(&self, user: &str, name: Option<&str>) {
        let mut names = self.display_names.lock().unwrap_or_else(|p| p.into_inner());
        match name.filter(|n| !n.trim().is_empty()) {
            Some(n) => names.insert(user.to_owned(), n.to_owned()),
            None => names.remove(user),
        };
    }

    /// The display name of `user`, as last seen or asked for.
    async fn display_name(&self, user: &UserId) -> String {
        let known = self
            .display_names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user.as_str())
            .cloned();
        if let Some(n) = known {
            return n;
        }
        let name = match self.app.client().as_bot().display_name(user).await {
            Ok(Some(n)) if !n.trim().is_empty() => n,
            _ => user.localpart().to_owned(),
        };
        self.remember_display_name(user.as_str(), Some(&name));
        name
    }

    /// A message in a portal goes to IRC; elsewhere it may be a command.
    pub(crate) async fn on_matrix_message(&self, ctx: &Context) -> anyhow::Result<()> {
        let (Some(room), Some(sender)) = (ctx.event().room_id(), ctx.event().sender()) else {
            return Ok(());
        };
        let content: Value = ctx.event().content()?;
        // Outside the portals, the bot's commands are all it hears
        // (`commands::Admins`).
        let Some(portal) = self.portals.by_room(room) else {
            return Ok(());
        };
        let name = relayed_name(
            &self.display_name(sender).await,
            sender.localpart(),
            &self.config.name_marker,
        );
        let event_link = ctx
            .event()
            .event_id()
            .map(|id| format!("https://matrix.to/#/{room}/{id}"));
        let lines = irc_lines(
            &content,
            &Relay {
                name: &name,
                channel: &portal.channel,
                homeserver: self.app.client().homeserver_url(),
                max_lines: self.config.max_lines_per_message,
                event_link,
            },
        );
        match self.irc.send_all(lines) {
            Ok(()) => {
                self.counters.matrix_to_irc.inc();
            }
            Err(e) => self.queue_full(room, &e).await,
        }
        Ok(())
    }

    /// A message was dropped for a full queue: logged, and said in the room
    /// (at most once a minute per room).
    async fn queue_full(&self, room: &RoomId, error: &QueueError) {
        tracing::warn!(%room, error = %error, "a Matrix message was not relayed to IRC");
        let now = Instant::now();
        {
            let mut said = self.full_notices.lock().unwrap_or_else(|p| p.into_inner());
            let last = said.get(room.as_str()).copied();
            if last.is_some_and(|t| now.saturating_duration_since(t) < FULL_NOTICE_EVERY) {
                return;
            }
            said.insert(room.as_str().to_owned(), now);
        }
        let notice = format!(
            "Messages are not reaching IRC for now: {error}. IRC takes lines slowly; wait a little."
        );
        if let Err(e) = self.app.client().as_bot().send_notice(room, &notice).await {
            tracing::debug!(error = %e, "cannot say that the IRC queue is full");
        }
    }
}

/// The IRC lines one Matrix message content becomes: at most
/// `relay.max_lines` of text, and when there was more, a line that says
/// how much was left out.
///
/// ```
/// use serde_json::json;
/// use ircbridge::matrix_to_irc::{irc_lines, Relay};
/// let relay = Relay { name: "Alice [m]", channel: "#rust", homeserver: "https://hs", max_lines: 5, event_link: None };
/// let lines = irc_lines(&json!({"msgtype": "m.emote", "body": "waves"}), &relay);
/// assert_eq!(lines[0].to_line(), "PRIVMSG #rust :\u{1}ACTION Alice [m] waves\u{1}");
/// ```
pub fn irc_lines(content: &Value, relay: &Relay<'_>) -> Vec<Message> {
    let (name, channel, homeserver) = (relay.name, relay.channel, relay.homeserver);
    let relates = &content["m.relates_to"];
    let edit = relates["rel_type"] == "m.replace" && content["m.new_content"].is_object();
    let reply = relates["m.in_reply_to"].is_object();
    let body_of = if edit {
        &content["m.new_content"]
    } else {
        content
    };
    let msgtype = body_of["msgtype"].as_str().unwrap_or("m.text");
    let (kind, text) = match msgtype {
        "m.text" | "m.notice" | "m.emote" => {
            let kind = match msgtype {
                "m.notice" => Kind::Notice,
                "m.emote" => Kind::Emote,
                _ => Kind::Text,
            };
            (kind, plain_text(body_of, reply))
        }
        "m.image" | "m.file" | "m.video" | "m.audio" => {
            let body = body_of["body"].as_str().unwrap_or("a file");
            let url = body_of["url"]
                .as_str()
                .and_then(|u| u.strip_prefix("mxc://"))
                .map(|u| {
                    format!(
                        " ({}/_matrix/media/v3/download/{u})",
                        homeserver.trim_end_matches('/')
                    )
                })
                .unwrap_or_default();
            (Kind::Text, format!("sent {body}{url}"))
        }
        _ => (
            Kind::Text,
            body_of["body"].as_str().unwrap_or("").to_owned(),
        ),
    };
    let text = clean_text(&text);
    let text = if edit { format!("* {text}") } else { text };
    let (command, lead, wrap) = match kind {
        Kind::Text => ("PRIVMSG", format!("<{name}> "), false),
        Kind::Notice => ("NOTICE", format!("<{name}> "), false),
        Kind::Emote => ("PRIVMSG", format!("{name} "), true),
    };
    let overhead = lead.len() + if wrap { "\u{1}ACTION \u{1}".len() } else { 0 };
    let budget = text_budget(command, channel).saturating_sub(overhead);
    let mut pieces = split_lines(&text, budget);
    let max = relay.max_lines.max(1);
    let left_out = pieces.len().saturating_sub(max);
    pieces.truncate(max);
    let mut lines: Vec<Message> = pieces
        .into_iter()
        .map(|piece| {
            let line = if wrap {
                format!("\u{1}ACTION {lead}{piece}\u{1}")
            } else {
                format!("{lead}{piece}")
            };
            Message::new(command, [channel, line.as_str()])
        })
        .collect();
    if left_out > 0 {
        let plural = if left_out == 1 { "line" } else { "lines" };
        let short = format!("… (message truncated, {left_out} more {plural})");
        let note = match &relay.event_link {
            Some(link) => format!("… (message truncated, {left_out} more {plural}: {link})"),
            None => short.clone(),
        };
        let budget = text_budget("NOTICE", channel).saturating_sub(lead.len());
        let note = if note.len() <= budget { note } else { short };
        lines.push(Message::new(
            "NOTICE",
            [channel, format!("{lead}{note}").as_str()],
        ));
    }
    lines
}

/// The plain text of a text/notice/emote content: HTML converted when
/// there is some, reply fallbacks left out.
fn plain_text(content: &Value, reply: bool) -> String {
    let html = (content["format"] == "org.matrix.custom.html")
        .then(|| content["formatted_body"].as_str())
        .flatten();
    if let Some(html) = html {
        let html = match (html.find("<mx-reply>"), html.find("</mx-reply>")) {
            (Some(a), Some(b)) if a < b => {
                format!("{}{}", &html[..a], &html[b + "</mx-reply>".len()..])
            }
            _ => html.to_owned(),
        };
        return html_to_text(&html);
    }
    let body = content["body"].as_str().unwrap_or("");
    if !reply {
        return body.to_owned();
    }
    // Reply fallback: `> <@user> quoted` lines, a blank line, the reply.
    let mut lines = body.lines().peekable();
    while lines.peek().is_some_and(|l| l.starts_with('>')) {
        lines.next();
    }
    while lines.peek().is_some_and(|l| l.trim().is_empty()) {
        lines.next();
    }
    lines.collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn relay(name: &str) -> Relay<'_> {
        Relay {
            name,
            channel: "#rust",
            homeserver: "https://hs",
            max_lines: 100,
            event_link: None,
        }
    }

    fn lines(content: Value) -> Vec<String> {
        irc_lines(&content, &relay("Alice"))
            .iter()
            .map(|m| m.to_line())
            .collect()
    }

    #[test]
    fn text_notice_emote_and_edit() {
        assert_eq!(
            lines(json!({"msgtype": "m.text", "body": "hi\nthere"})),
            ["PRIVMSG #rust :<Alice> hi", "PRIVMSG #rust :<Alice> there"]
        );
        assert_eq!(
            lines(json!({"msgtype": "m.notice", "body": "n"})),
            ["NOTICE #rust :<Alice> n"]
        );
        assert_eq!(
            lines(json!({"msgtype": "m.emote", "body": "waves"})),
            ["PRIVMSG #rust :\u{1}ACTION Alice waves\u{1}"]
        );
        let edit = json!({"msgtype": "m.text", "body": "* fixed", "m.new_content": {"msgtype": "m.text", "body": "fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}});
        assert_eq!(lines(edit), ["PRIVMSG #rust :<Alice> * fixed"]);
    }

    #[test]
    fn html_replies_and_files() {
        let html = json!({"msgtype": "m.text", "body": "**b**", "format": "org.matrix.custom.html",
            "formatted_body": "<mx-reply><blockquote>old</blockquote></mx-reply><b>bold</b> &amp; more"});
        assert_eq!(lines(html), ["PRIVMSG #rust :<Alice> bold & more"]);
        let reply = json!({"msgtype": "m.text", "body": "> <@bob:hs> old\n> more\n\nnew",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$x"}}});
        assert_eq!(lines(reply), ["PRIVMSG #rust :<Alice> new"]);
        let file = json!({"msgtype": "m.image", "body": "cat.png", "url": "mxc://hs/abc"});
        assert_eq!(
            lines(file),
            ["PRIVMSG #rust :<Alice> sent cat.png (https://hs/_matrix/media/v3/download/hs/abc)"]
        );
    }

    #[test]
    fn long_messages_fit_the_line_limit() {
        let long = "ü".repeat(1000);
        let out = irc_lines(
            &json!({"msgtype": "m.emote", "body": long}),
            &relay("Alice"),
        );
        assert!(out.len() > 3);
        for m in &out {
            assert!(
                m.to_line().len() + 2 + crate::text::PREFIX_RESERVE <= crate::text::IRC_LINE_MAX
            );
        }
    }
}

#[cfg(test)]
mod hardening {
    use super::*;
    use serde_json::json;

    const MARK: &str = " [m]";

    fn fits(m: &Message) -> bool {
        m.to_line().len() + 2 + crate::text::PREFIX_RESERVE <= crate::text::IRC_LINE_MAX
    }

    #[test]
    fn names_cannot_pass_for_an_irc_nick_or_a_second_speaker() {
        assert_eq!(relayed_name("alice", "x", MARK), "alice [m]");
        assert_eq!(relayed_name("bob> <alice", "x", MARK), "bob alice [m]");
        // A \x01 would end the emote's CTCP and open another.
        let name = relayed_name("eve\u{1}\u{1}PING x", "x", MARK);
        assert_eq!(name, "evePING x [m]");
        let emote = irc_lines(
            &json!({"msgtype": "m.emote", "body": "waves\u{1}\u{1}VERSION"}),
            &Relay {
                name: &name,
                channel: "#rust",
                homeserver: "",
                max_lines: 5,
                event_link: None,
            },
        );
        let text = emote[0].param(1).unwrap_or_default();
        assert_eq!(text.matches('\u{1}').count(), 2, "{text:?}");
        assert!(text.starts_with("\u{1}ACTION ") && text.ends_with('\u{1}'));
        // Formatting codes, BEL, line breaks and C1 controls go; the colour's digits too.
        assert_eq!(
            relayed_name(
                "\u{2}b\u{2}\u{3}04,12c\u{f}\u{16}\u{1d}\u{1e}\u{1f}\u{4}\u{7}\n\u{85}d",
                "x",
                MARK
            ),
            "bc d [m]"
        );
        assert_eq!(relayed_name("  \u{7} ", "@bob", MARK), "@bob [m]");
    }

    #[test]
    fn a_long_display_name_is_cut_on_a_character_boundary() {
        let name = relayed_name(&"🦀".repeat(400), "x", MARK);
        assert_eq!(name.chars().count(), NAME_MAX_CHARS + MARK.chars().count());
        // 2,000 bytes of text stay a handful of lines, each within the limit.
        let out = irc_lines(
            &json!({"msgtype": "m.text", "body": "word ".repeat(400)}),
            &Relay {
                name: &name,
                channel: &format!("#{}", "c".repeat(49)),
                homeserver: "",
                max_lines: 100,
                event_link: None,
            },
        );
        assert!(out.len() <= 15, "{} lines", out.len());
        assert!(out.iter().all(fits));
    }

    #[test]
    fn one_message_becomes_at_most_max_lines_and_a_note() {
        let body: Vec<String> = (1..=20).map(|i| format!("line {i}")).collect();
        let link = "https://matrix.to/#/!room:hs/$event".to_owned();
        let out = irc_lines(
            &json!({"msgtype": "m.text", "body": body.join("\n")}),
            &Relay {
                name: "Alice [m]",
                channel: "#rust",
                homeserver: "",
                max_lines: 5,
                event_link: Some(link.clone()),
            },
        );
        assert_eq!(out.len(), 6);
        assert_eq!(out[4].param(1), Some("<Alice [m]> line 5"));
        assert_eq!(
            out[5].to_line(),
            format!("NOTICE #rust :<Alice [m]> … (message truncated, 15 more lines: {link})")
        );
        // Without a link, or when the link does not fit, the note says the count only.
        let worst_name = relayed_name(&"🦀".repeat(40), "x", " !!!!!!!!!!!!!!!");
        let long_link = format!("https://matrix.to/#/{}", "x".repeat(400));
        let out = irc_lines(
            &json!({"msgtype": "m.emote", "body": "a\nb\nc"}),
            &Relay {
                name: &worst_name,
                channel: &format!("#{}", "c".repeat(49)),
                homeserver: "",
                max_lines: 1,
                event_link: Some(long_link),
            },
        );
        assert_eq!(out.len(), 2);
        assert!(out[1]
            .to_line()
            .ends_with("… (message truncated, 2 more lines)"));
        assert!(out.iter().all(fits));
    }
}
