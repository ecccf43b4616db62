//! Matrix -> IRC, relay mode: every Matrix message in a portal goes out
//! through the bridge's own connection as `<display name> text`.

use ghostkit::prelude::*;
use serde_json::Value;

use crate::bridge::Live;
use crate::text::{html_to_text, split_lines, text_budget};

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
        let Some(portal) = self.portals.by_room(room) else {
            if let Some(body) = content["body"].as_str() {
                crate::commands::handle(self, ctx, body).await?;
            }
            return Ok(());
        };
        let name = self.display_name(sender).await;
        for line in irc_lines(
            &content,
            &name,
            &portal.channel,
            self.app.client().homeserver_url(),
        ) {
            self.irc.send(line);
        }
        Ok(())
    }
}

/// The IRC lines one Matrix message content becomes in `channel`.
///
/// ```
/// use serde_json::json;
/// let lines = ircbridge::relay::irc_lines(&json!({"msgtype": "m.emote", "body": "waves"}), "Alice", "#rust", "https://hs");
/// assert_eq!(lines[0].to_line(), "PRIVMSG #rust :\u{1}ACTION Alice waves\u{1}");
/// ```
pub fn irc_lines(
    content: &Value,
    name: &str,
    channel: &str,
    homeserver: &str,
) -> Vec<crate::irc::Message> {
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
    let text = if edit { format!("* {text}") } else { text };
    let (command, lead, wrap) = match kind {
        Kind::Text => ("PRIVMSG", format!("<{name}> "), false),
        Kind::Notice => ("NOTICE", format!("<{name}> "), false),
        Kind::Emote => ("PRIVMSG", format!("{name} "), true),
    };
    let overhead = lead.len() + if wrap { "\u{1}ACTION \u{1}".len() } else { 0 };
    let budget = text_budget(command, channel).saturating_sub(overhead);
    split_lines(&text, budget)
        .into_iter()
        .map(|piece| {
            let line = if wrap {
                format!("\u{1}ACTION {lead}{piece}\u{1}")
            } else {
                format!("{lead}{piece}")
            };
            crate::irc::Message::new(command, [channel, line.as_str()])
        })
        .collect()
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

    fn lines(content: Value) -> Vec<String> {
        irc_lines(&content, "Alice", "#rust", "https://hs")
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
            "Alice",
            "#rust",
            "",
        );
        assert!(out.len() > 3);
        for m in &out {
            assert!(
                m.to_line().len() + 2 + crate::text::PREFIX_RESERVE <= crate::text::IRC_LINE_MAX
            );
        }
    }
}
