//! A registration explained in words: what `check-registration` prints.
//!
//! ```
//! use ghostkit::registration::check::{report, Ids};
//! use ghostkit::Registration;
//! let reg = Registration::from_yaml(r#"
//! id: irc
//! url: http://127.0.0.1:9000
//! as_token: a
//! hs_token: h
//! sender_localpart: ircbot
//! namespaces:
//!   users: [{regex: '@irc_.*', exclusive: true}]
//! "#)?;
//! let ids = Ids {
//!     users: vec!["@irc_alice:example.org".into(), "@ircbot:example.org".into(), "@bob:example.org".into()],
//!     ..Ids::default()
//! };
//! let text = report(&reg, &ids, Some("example.org"));
//! assert!(text.contains("users: `@irc_.*` — any user whose ID starts with `@irc_`"));
//! assert!(text.contains("user @irc_alice:example.org: in namespace (exclusive)\n"));
//! assert!(text.contains("user @ircbot:example.org: the appservice's own user\n"));
//! assert!(text.contains("user @bob:example.org: not ours\n"));
//! # Ok::<(), ghostkit::RegistrationError>(())
//! ```

use std::fmt::Write as _;

use super::{NamespaceKind, Registration};

/// The IDs to check against a registration.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    /// User IDs (`@alice:example.org`).
    pub users: Vec<String>,
    /// Room aliases (`#room:example.org`).
    pub aliases: Vec<String>,
    /// Room IDs (`!abc:example.org`, or `!abc` in room version 12).
    pub rooms: Vec<String>,
}

/// What the homeserver makes of one ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The appservice's own user (`@<sender_localpart>:<server>`).
    OwnUser,
    /// In a namespace; `true` when the first matching entry is exclusive.
    InNamespace(bool),
    /// Not the appservice's.
    NotOurs,
}

impl Verdict {
    /// The words `check-registration` prints after the ID.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::OwnUser => "the appservice's own user",
            Verdict::InNamespace(true) => "in namespace (exclusive)",
            Verdict::InNamespace(false) => "in namespace (not exclusive)",
            Verdict::NotOurs => "not ours",
        }
    }
}

/// How the homeserver classifies `id` of `kind`, like Synapse: the own user
/// first (`is_interested_in_user`), then the first matching namespace entry
/// and its `exclusive` flag (`_is_exclusive`).
///
/// Without `server_name`, the sender localpart on any server is the own user.
pub fn verdict(
    reg: &Registration,
    kind: NamespaceKind,
    id: &str,
    server_name: Option<&str>,
) -> Verdict {
    if kind == NamespaceKind::Users && reg.is_own_user(id, server_name) {
        return Verdict::OwnUser;
    }
    match reg.namespace_for(kind, id) {
        Some(ns) => Verdict::InNamespace(ns.exclusive),
        None => Verdict::NotOurs,
    }
}

/// The whole report: a summary, each warning, each namespace in words, and
/// one line per ID (`user @x:y: in namespace (exclusive)`).
pub fn report(reg: &Registration, ids: &Ids, server_name: Option<&str>) -> String {
    let mut out = String::new();
    let own = match server_name {
        Some(s) => format!("@{}:{s}", reg.sender_localpart),
        None => format!("@{}:<server>", reg.sender_localpart),
    };
    let _ = writeln!(
        out,
        "registration `{}` loads; the appservice's own user is {own}",
        reg.id
    );
    match &reg.url {
        Some(url) => {
            let _ = writeln!(out, "the homeserver sends transactions to {url}");
        }
        None => {
            let _ = writeln!(out, "`url: null`: the homeserver sends no transactions");
        }
    }
    for w in reg.warnings() {
        let _ = writeln!(out, "warning: {w}");
    }
    for kind in NamespaceKind::ALL {
        let list = reg.namespaces.of(kind);
        if list.is_empty() {
            let _ = writeln!(out, "{kind}: none claimed");
        }
        for ns in list {
            let excl = if ns.exclusive {
                "exclusive"
            } else {
                "not exclusive"
            };
            let _ = writeln!(
                out,
                "{kind}: `{}` — {} ({excl})",
                ns.regex,
                describe(kind, &ns.regex)
            );
        }
    }
    if server_name.is_none() && !ids.users.is_empty() {
        let _ = writeln!(
            out,
            "note: no --homeserver-domain given, so @{}:<any server> counts as the appservice's own user",
            reg.sender_localpart
        );
    }
    for (kind, list) in [
        (NamespaceKind::Users, &ids.users),
        (NamespaceKind::Aliases, &ids.aliases),
        (NamespaceKind::Rooms, &ids.rooms),
    ] {
        for id in list {
            let v = verdict(reg, kind, id, server_name);
            let _ = writeln!(out, "{} {id}: {}", kind.noun(), v.words());
        }
    }
    out
}

/// One namespace regex in plain words, for the common shapes: a literal
/// prefix, then `.*`/`.+`/`[^:]*`/`[^:]+`, then an optional `:server`,
/// optionally anchored. Anything else is described as the regex itself.
///
/// ```
/// use ghostkit::registration::{check::describe, NamespaceKind::Users};
/// assert_eq!(describe(Users, "@irc_.*"), "any user whose ID starts with `@irc_`");
/// assert_eq!(describe(Users, r"^@bot:example\.org$"), "exactly `@bot:example.org`");
/// assert_eq!(
///     describe(Users, r"^@tg_.+:example\.org$"),
///     "any user whose ID starts with `@tg_` and ends with `:example.org`, with at least one character between"
/// );
/// assert_eq!(describe(Users, "@(?!admin)x"), "any user ID that matches the regex `@(?!admin)x` from its start");
/// ```
pub fn describe(kind: NamespaceKind, regex: &str) -> String {
    let noun = match kind {
        NamespaceKind::Users => "user",
        NamespaceKind::Aliases => "alias",
        NamespaceKind::Rooms => "room",
    };
    let what = match kind {
        NamespaceKind::Users => "user ID",
        NamespaceKind::Aliases => "room alias",
        NamespaceKind::Rooms => "room ID",
    };
    let fallback = || format!("any {what} that matches the regex `{regex}` from its start");
    let Some(shape) = Shape::parse(regex) else {
        return fallback();
    };
    let whose = format!("any {noun} whose ID");
    match shape {
        Shape {
            prefix,
            gap: None,
            suffix: None,
            end: true,
        } => format!("exactly `{prefix}`"),
        Shape {
            prefix,
            gap: None,
            suffix: None,
            end: false,
        } => format!("{whose} starts with `{prefix}` (add `$` to claim only `{prefix}` itself)"),
        Shape {
            prefix,
            gap: Some(gap),
            suffix: None,
            ..
        } => format!("{whose} starts with `{prefix}`{}", gap.after_prefix()),
        Shape {
            prefix,
            gap: Some(gap),
            suffix: Some(suffix),
            end: true,
        } => format!(
            "{whose} starts with `{prefix}` and ends with `{suffix}`{}",
            gap.between()
        ),
        Shape {
            prefix,
            gap: Some(gap),
            suffix: Some(suffix),
            end: false,
        } => format!(
            "{whose} starts with `{prefix}` and has `{suffix}` later{} (so `{suffix}.evil.com` too: add `$`)",
            gap.between()
        ),
        Shape {
            gap: None,
            suffix: Some(_),
            ..
        } => fallback(),
    }
}

/// What may stand between a literal prefix and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// `.*`
    Any,
    /// `.+`
    AtLeastOne,
    /// `[^:]*`
    NoColon,
    /// `[^:]+`
    NoColonAtLeastOne,
}

impl Gap {
    fn after_prefix(self) -> &'static str {
        match self {
            Gap::Any => "",
            Gap::AtLeastOne => " followed by at least one character",
            Gap::NoColon => " followed by no `:` at all (so only IDs without a server part)",
            Gap::NoColonAtLeastOne => {
                " followed by at least one character that is not `:`, then anything"
            }
        }
    }

    fn between(self) -> &'static str {
        match self {
            Gap::Any => "",
            Gap::AtLeastOne => ", with at least one character between",
            Gap::NoColon => ", with no `:` between",
            Gap::NoColonAtLeastOne => ", with at least one character and no `:` between",
        }
    }
}

/// `^? prefix gap? suffix? $?` with literal prefix and suffix.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    prefix: String,
    gap: Option<Gap>,
    suffix: Option<String>,
    end: bool,
}

impl Shape {
    fn parse(regex: &str) -> Option<Shape> {
        let mut rest = regex.strip_prefix('^').unwrap_or(regex);
        let mut end = false;
        for anchor in ["\\Z", "$"] {
            if let Some(r) = rest.strip_suffix(anchor) {
                // `\$` is a literal dollar, not an anchor.
                if anchor == "$" && r.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
                    continue;
                }
                rest = r;
                end = true;
                break;
            }
        }
        let (prefix, after) = literal(rest)?;
        if after.is_empty() {
            return (!prefix.is_empty()).then_some(Shape {
                prefix,
                gap: None,
                suffix: None,
                end,
            });
        }
        let gaps = [
            ("[^:]+", Gap::NoColonAtLeastOne),
            ("[^:]*", Gap::NoColon),
            (".+", Gap::AtLeastOne),
            (".*", Gap::Any),
        ];
        let (gap, after) = gaps
            .iter()
            .find_map(|(text, g)| after.strip_prefix(text).map(|a| (*g, a)))?;
        if prefix.is_empty() {
            return None;
        }
        if after.is_empty() {
            return Some(Shape {
                prefix,
                gap: Some(gap),
                suffix: None,
                end,
            });
        }
        let (suffix, tail) = literal(after)?;
        if !tail.is_empty() || suffix.is_empty() {
            return None;
        }
        Some(Shape {
            prefix,
            gap: Some(gap),
            suffix: Some(suffix),
            end,
        })
    }
}

/// The longest literal at the start of `s` (metacharacters end it, escaped
/// punctuation is itself), and what follows it. `None` if a metacharacter
/// makes the literal's end ambiguous (a quantifier applies to its last char).
fn literal(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, n)) if !n.is_ascii_alphanumeric() => out.push(n),
                _ => return None,
            },
            '.' | '[' | '(' | ')' | '|' | '^' | '$' => return Some((out, &s[i..])),
            '*' | '+' | '?' | '{' => return None,
            _ => out.push(c),
        }
        if let Some((_, '*' | '+' | '?' | '{')) = chars.peek() {
            return None;
        }
    }
    Some((out, ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use NamespaceKind::*;

    #[test]
    fn common_shapes_in_words() {
        assert_eq!(
            describe(Users, "@_irc_.*:example\\.org"),
            "any user whose ID starts with `@_irc_` and has `:example.org` later (so `:example.org.evil.com` too: add `$`)"
        );
        assert_eq!(
            describe(Aliases, "^#irc_.*:example\\.org$"),
            "any alias whose ID starts with `#irc_` and ends with `:example.org`"
        );
        assert_eq!(
            describe(Users, "@bot:x"),
            "any user whose ID starts with `@bot:x` (add `$` to claim only `@bot:x` itself)"
        );
        assert_eq!(
            describe(Users, "@irc_*"),
            "any user ID that matches the regex `@irc_*` from its start"
        );
        assert_eq!(
            describe(Rooms, "!abc:x\\.org"),
            "any room whose ID starts with `!abc:x.org` (add `$` to claim only `!abc:x.org` itself)"
        );
        assert_eq!(
            describe(Users, "\\@x\\-y.+"),
            "any user whose ID starts with `@x-y` followed by at least one character"
        );
        assert_eq!(
            describe(Users, ".*"),
            "any user ID that matches the regex `.*` from its start"
        );
        assert_eq!(
            describe(Users, "@a\\d"),
            "any user ID that matches the regex `@a\\d` from its start"
        );
    }
}
