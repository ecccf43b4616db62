//! What an inbound request body becomes: a Matrix message.
//!
//! `{"text": "…", "html": "…", "username": "…"}`: `text` is Markdown, sent as
//! the plain body and rendered to HTML (raw HTML in it is shown as text);
//! `html`, when given, is the formatted body as is. Any other JSON value is
//! posted as a formatted code block.

use pulldown_cmark::{html, Event, Options, Parser};
use serde_json::{json, Map, Value};

/// The largest message content the bot sends (Matrix events are at most 64 KiB).
pub const MAX_CONTENT: usize = 60 * 1024;

/// A message to post, made from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The plain-text body.
    pub body: String,
    /// The HTML body.
    pub html: String,
    /// The display name to post under, if any.
    pub username: Option<String>,
}

impl Inbound {
    /// The `m.room.message` content (an `m.notice`, so other bots keep quiet).
    pub fn content(&self) -> Value {
        json!({
            "msgtype": "m.notice",
            "body": self.body,
            "format": "org.matrix.custom.html",
            "formatted_body": self.html,
        })
    }
}

/// Reads a request body; the error says what is wrong, for the sender.
///
/// ```
/// let m = webhooks::format::parse(br#"{"text": "**hi**", "username": "CI"}"#).unwrap();
/// assert_eq!(m.body, "**hi**");
/// assert_eq!(m.html, "<p><strong>hi</strong></p>\n");
/// assert_eq!(m.username.as_deref(), Some("CI"));
/// let m = webhooks::format::parse(br#"{"build": 7}"#).unwrap();
/// assert!(m.html.starts_with("<pre><code class=\"language-json\">"));
/// assert!(webhooks::format::parse(b"not json").is_err());
/// ```
pub fn parse(body: &[u8]) -> Result<Inbound, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not JSON: {e}; send {{\"text\": \"…\"}}"))?;
    let msg = match value {
        Value::Object(obj) if obj.contains_key("text") || obj.contains_key("html") => {
            from_fields(&obj)?
        }
        other => code_block(&other),
    };
    if msg.body.len() + msg.html.len() > MAX_CONTENT {
        return Err(format!(
            "the message is too large for Matrix ({} bytes of text and HTML, at most {MAX_CONTENT})",
            msg.body.len() + msg.html.len()
        ));
    }
    Ok(msg)
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("`{key}` must be a string, got {}", kind_of(other))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn from_fields(obj: &Map<String, Value>) -> Result<Inbound, String> {
    let text = string_field(obj, "text")?.filter(|t| !t.trim().is_empty());
    let html_in = string_field(obj, "html")?.filter(|t| !t.trim().is_empty());
    let username = match string_field(obj, "username")? {
        None => None,
        Some(u) => {
            let u = u.trim().to_owned();
            if u.is_empty() || u.chars().count() > 64 {
                return Err("`username` must have 1 to 64 characters".into());
            }
            Some(u)
        }
    };
    let (body, html) = match (text, html_in) {
        (None, None) => return Err("`text` (or `html`) is empty; send {\"text\": \"…\"}".into()),
        (Some(t), None) => {
            let h = markdown(&t);
            (t, h)
        }
        (Some(t), Some(h)) => (t, h),
        (None, Some(h)) => (strip_tags(&h), h),
    };
    Ok(Inbound {
        body,
        html,
        username,
    })
}

/// Markdown to HTML (CommonMark with tables and strikethrough); HTML written
/// in the Markdown is escaped, not passed through.
pub fn markdown(text: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let events = Parser::new_ext(text, opts).map(|ev| match ev {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// Any JSON value as a pretty-printed code block.
pub fn code_block(value: &Value) -> Inbound {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    Inbound {
        body: format!("```json\n{pretty}\n```"),
        html: format!(
            "<pre><code class=\"language-json\">{}</code></pre>",
            escape(&pretty)
        ),
        username: None,
    }
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A plain-text fallback of HTML: the tags dropped, common entities read.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_raw_html() {
        assert_eq!(markdown("<b>x</b>"), "<p>&lt;b&gt;x&lt;/b&gt;</p>\n");
    }

    #[test]
    fn html_only_gets_a_plain_fallback() {
        let m = parse(br#"{"html": "<b>bold</b> &amp; more"}"#).unwrap();
        assert_eq!(m.body, "bold & more");
        assert_eq!(m.html, "<b>bold</b> &amp; more");
    }

    #[test]
    fn wrong_types_are_explained() {
        let e = parse(br#"{"text": 5}"#).unwrap_err();
        assert_eq!(e, "`text` must be a string, got a number");
        let e = parse(br#"{"text": "hi", "username": ""}"#).unwrap_err();
        assert!(e.contains("username"), "{e}");
        assert!(parse(br#"{"text": "  "}"#).is_err());
    }

    #[test]
    fn other_json_is_a_code_block() {
        let m = parse(br#"[1, "<x>"]"#).unwrap();
        assert!(m.body.starts_with("```json\n["), "{}", m.body);
        assert!(m.html.contains("&quot;&lt;x&gt;&quot;"), "{}", m.html);
    }

    #[test]
    fn too_large_is_refused() {
        let big = "a".repeat(MAX_CONTENT);
        let body = serde_json::to_vec(&json!({ "text": big })).unwrap();
        assert!(parse(&body).unwrap_err().contains("too large"));
    }
}
