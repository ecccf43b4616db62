//! What an inbound request body becomes: a Matrix message.
//!
//! `{"text": "…", "html": "…", "username": "…"}`: `text` is Markdown, sent as
//! the plain body and rendered to HTML (raw HTML in it is shown as text);
//! `html`, when given, is the formatted body. Any other JSON value is
//! posted as a formatted code block. `username` is checked by
//! [`crate::identity::display_name`].
//!
//! All HTML the bot sends goes through [`sanitize`]: only the tags,
//! attributes and URL schemes the Matrix specification allows in
//! `formatted_body` are kept (links to `http`, `https`, `ftp`, `mailto` and
//! `magnet`; images from `mxc` only), so neither a caller's `html` nor a
//! Markdown link can carry a script or a `javascript:` URL.

use pulldown_cmark::{html, Event, Options, Parser};
use ruma_html::{Html, NodeRef, SanitizerConfig};
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
/// assert_eq!(m.username.as_deref(), Some("CI (webhook)"));
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
        Some(u) => Some(crate::identity::display_name(&u).map_err(|e| e.to_string())?),
    };
    let (body, html) = match (text, html_in) {
        (None, None) => return Err("`text` (or `html`) is empty; send {\"text\": \"…\"}".into()),
        (Some(t), None) => {
            let h = markdown(&t);
            (t, h)
        }
        (Some(t), Some(h)) => (t, sanitize(&h)),
        (None, Some(h)) => {
            let h = sanitize(&h);
            (strip_tags(&h), h)
        }
    };
    Ok(Inbound {
        body,
        html,
        username,
    })
}

/// HTML cut down to what the Matrix specification allows in a
/// `formatted_body` (ruma-html's strict sanitizer, reply fallbacks removed):
/// other elements are dropped (their text kept, except for `script`,
/// `style` and the like), other attributes removed, a link or image whose
/// URL scheme is not allowed loses its element.
///
/// ```
/// use webhooks::format::sanitize;
/// assert_eq!(sanitize(r#"<b onclick="x()">hi</b><script>alert(1)</script>"#), "<b>hi</b>");
/// assert_eq!(sanitize(r#"<a href="javascript:alert(1)">x</a>"#), "x");
/// assert_eq!(sanitize(r#"<a href="https://example.org">x</a>"#), r#"<a href="https://example.org">x</a>"#);
/// ```
pub fn sanitize(html: &str) -> String {
    let doc = Html::parse(html);
    let config = SanitizerConfig::strict()
        .remove_reply_fallback()
        .remove_elements(NOT_SHOWN);
    doc.sanitize_with(&config);
    // ruma-html 0.9 stops checking an element's URL schemes at the first
    // of its attributes (in name order) that has no scheme rule, so
    // `<img alt=… src=https://…>` or `<a data-x=… href=javascript:…>` would
    // keep their URL: the schemes are enforced again here, on what is left.
    for node in doc.children() {
        enforce_schemes(&node);
    }
    doc.to_string()
}

/// Elements dropped with their content (other elements outside the
/// specification's list are dropped but keep their text).
const NOT_SHOWN: [&str; 11] = [
    "script", "style", "noscript", "template", "iframe", "object", "embed", "textarea", "select",
    "svg", "math",
];

/// The URL schemes a link may have.
const LINK_SCHEMES: &[&str] = &["http", "https", "ftp", "mailto", "magnet"];

/// Removes a link's `href` or an image's `src` whose scheme is not allowed,
/// in `node` and below.
fn enforce_schemes(node: &NodeRef) {
    if let Some(el) = node.as_element() {
        let rule = match el.name.local.as_ref() {
            "a" => Some(("href", LINK_SCHEMES)),
            "img" => Some(("src", &["mxc"][..])),
            _ => None,
        };
        if let Some((attr, schemes)) = rule {
            el.attrs
                .borrow_mut()
                .retain(|a| a.name.local.as_ref() != attr || scheme_allowed(&a.value, schemes));
        }
    }
    for child in node.children() {
        enforce_schemes(&child);
    }
}

/// Whether `url` starts with one of `schemes` and a colon (the scheme in
/// any case; a relative URL or one with leading space has none).
fn scheme_allowed(url: &str, schemes: &[&str]) -> bool {
    url.split_once(':')
        .is_some_and(|(scheme, _)| schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)))
}

/// Markdown to HTML (CommonMark with tables and strikethrough); HTML written
/// in the Markdown is escaped, not passed through, and the result is
/// [`sanitize`]d (a `[x](javascript:…)` link loses its element).
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
    sanitize(&out)
}

/// Any JSON value as a pretty-printed code block.
pub fn code_block(value: &Value) -> Inbound {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    Inbound {
        body: format!("```json\n{pretty}\n```"),
        html: sanitize(&format!(
            "<pre><code class=\"language-json\">{}</code></pre>",
            escape(&pretty)
        )),
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
    fn caller_html_is_sanitized() {
        let m = parse(br#"{"html": "<img src=x onerror=alert(1)>ok"}"#).unwrap();
        assert_eq!(m.html, "<img>ok");
        let m = parse(br#"{"html": "<img alt=a src=\"https://tracker.example/p.gif\">"}"#).unwrap();
        assert_eq!(m.html, r#"<img alt="a">"#);
        let m =
            parse(br#"{"html": "<a data-x=\"1\" href=\"javascript:alert(1)\">y</a>"}"#).unwrap();
        assert_eq!(m.html, "<a>y</a>");
        let m = parse(
            br#"{"html": "<img src=\"mxc://example.org/abc\" onerror=\"alert(1)\" alt=\"pic\">"}"#,
        )
        .unwrap();
        assert_eq!(m.html, r#"<img alt="pic" src="mxc://example.org/abc">"#);
        let m = parse(br#"{"html": "<a href=\"javascript:alert(1)\">click</a>"}"#).unwrap();
        assert_eq!(m.html, "click");
        let m = parse(br#"{"html": "<A HREF=\" JaVaScRiPt:alert(1)\">click</A>"}"#).unwrap();
        assert!(!m.html.to_lowercase().contains("javascript"), "{}", m.html);
        let m = parse(br#"{"text": "t", "html": "<script>alert(1)</script><b>b</b>"}"#).unwrap();
        assert_eq!(m.html, "<b>b</b>");
        assert!(!m.body.contains("script"));
        let m = parse(br#"{"html": "<style>*{}</style><iframe src=\"https://x\"></iframe><p style=\"x\">p</p>"}"#)
            .unwrap();
        assert_eq!(m.html, "<p>p</p>");
        let m = parse(br#"{"html": "<mx-reply><a href=\"https://matrix.to/#/x\">In reply</a></mx-reply>real"}"#)
            .unwrap();
        assert_eq!(m.html, "real");
        let m = parse(br#"{"html": "<a href=\"mailto:a@example.org\" target=\"_blank\" onmouseover=\"x\">m</a>"}"#)
            .unwrap();
        assert_eq!(
            m.html,
            r#"<a href="mailto:a@example.org" target="_blank">m</a>"#
        );
    }

    #[test]
    fn markdown_links_keep_only_allowed_schemes() {
        assert_eq!(markdown("[x](javascript:alert(1))"), "<p>x</p>\n");
        assert_eq!(markdown("[x](data:text/html,hi)"), "<p>x</p>\n");
        assert_eq!(
            markdown("![i](https://example.org/i.png)"),
            "<p><img alt=\"i\"></p>\n"
        );
        assert_eq!(
            markdown("[x](https://example.org)"),
            "<p><a href=\"https://example.org\">x</a></p>\n"
        );
        assert_eq!(
            markdown("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
    }

    #[test]
    fn usernames_are_checked_and_marked() {
        let m = parse(br#"{"text": "t", "username": "Room Admin"}"#).unwrap();
        assert_eq!(m.username.as_deref(), Some("Room Admin (webhook)"));
        let e = parse("{\"text\": \"t\", \"username\": \"ad\u{202e}nim\"}".as_bytes()).unwrap_err();
        assert!(e.contains("U+202E"), "{e}");
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
        assert!(m.html.contains("\"&lt;x&gt;\""), "{}", m.html);
    }

    #[test]
    fn too_large_is_refused() {
        let big = "a".repeat(MAX_CONTENT);
        let body = serde_json::to_vec(&json!({ "text": big })).unwrap();
        assert!(parse(&body).unwrap_err().contains("too large"));
    }
}
