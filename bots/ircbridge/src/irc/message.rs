//! One IRC message: `@tags :prefix COMMAND params :trailing` (RFC 1459,
//! RFC 2812 and IRCv3 message tags), parsed and written.

use std::fmt;

/// Why a line is not an IRC message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// The line is empty (or only tags and prefix).
    #[error("no command in the line")]
    NoCommand,
    /// The command is neither letters nor a three-digit numeric.
    #[error("`{0}` is not an IRC command")]
    BadCommand(String),
}

/// Where a message comes from: `nick!user@host` or a server name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// The nick (or the server name when there is no `!`/`@`).
    pub nick: String,
    /// The user (ident), if given.
    pub user: Option<String>,
    /// The host, if given.
    pub host: Option<String>,
}

impl Prefix {
    /// Parses `nick!user@host`, `nick@host` or `server.name`.
    ///
    /// ```
    /// let p = ircbridge::irc::Prefix::parse("alice!al@example.org");
    /// assert_eq!((p.nick.as_str(), p.user.as_deref(), p.host.as_deref()), ("alice", Some("al"), Some("example.org")));
    /// ```
    pub fn parse(s: &str) -> Prefix {
        let (rest, host) = match s.split_once('@') {
            Some((r, h)) => (r, Some(h.to_owned())),
            None => (s, None),
        };
        let (nick, user) = match rest.split_once('!') {
            Some((n, u)) => (n, Some(u.to_owned())),
            None => (rest, None),
        };
        Prefix {
            nick: nick.to_owned(),
            user,
            host,
        }
    }

    /// Whether the prefix names a server (no user, no host, a dot in the name).
    pub fn is_server(&self) -> bool {
        self.user.is_none() && self.host.is_none() && self.nick.contains('.')
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.nick)?;
        if let Some(u) = &self.user {
            write!(f, "!{u}")?;
        }
        if let Some(h) = &self.host {
            write!(f, "@{h}")?;
        }
        Ok(())
    }
}

/// One IRC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// IRCv3 tags, values unescaped.
    pub tags: Vec<(String, Option<String>)>,
    /// The source, if given.
    pub prefix: Option<Prefix>,
    /// The command, upper-cased (`PRIVMSG`, `001`).
    pub command: String,
    /// The parameters, the trailing one included without its `:`.
    pub params: Vec<String>,
}

impl Message {
    /// A message without tags or prefix.
    ///
    /// ```
    /// use ircbridge::irc::Message;
    /// assert_eq!(Message::new("PRIVMSG", ["#rust", "hello there"]).to_line(), "PRIVMSG #rust :hello there");
    /// ```
    pub fn new<I, S>(command: &str, params: I) -> Message
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Message {
            tags: Vec::new(),
            prefix: None,
            command: command.to_owned(),
            params: params.into_iter().map(Into::into).collect(),
        }
    }

    /// Parses one line (without its CR LF; stray CR/LF at the end are ignored).
    pub fn parse(line: &str) -> Result<Message, ParseError> {
        let mut rest = line.trim_end_matches(['\r', '\n']).trim_start_matches(' ');
        let mut tags = Vec::new();
        if let Some(r) = rest.strip_prefix('@') {
            let (raw, after) = r.split_once(' ').unwrap_or((r, ""));
            for tag in raw.split(';').filter(|t| !t.is_empty()) {
                match tag.split_once('=') {
                    Some((k, v)) => tags.push((k.to_owned(), Some(unescape_tag(v)))),
                    None => tags.push((tag.to_owned(), None)),
                }
            }
            rest = after.trim_start_matches(' ');
        }
        let mut prefix = None;
        if let Some(r) = rest.strip_prefix(':') {
            let (raw, after) = r.split_once(' ').unwrap_or((r, ""));
            prefix = Some(Prefix::parse(raw));
            rest = after.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
        if !numeric && !command.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ParseError::BadCommand(command.to_owned()));
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            let (p, after) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(p.to_owned());
            rest = after;
        }
        Ok(Message {
            tags,
            prefix,
            command: command.to_ascii_uppercase(),
            params,
        })
    }

    /// The line to send, without CR LF. CR, LF and NUL in parameters are
    /// replaced by spaces (they would end or corrupt the line); the last
    /// parameter gets a `:` when it needs one.
    pub fn to_line(&self) -> String {
        let mut out = String::new();
        if !self.tags.is_empty() {
            out.push('@');
            for (i, (k, v)) in self.tags.iter().enumerate() {
                if i > 0 {
                    out.push(';');
                }
                out.push_str(k);
                if let Some(v) = v {
                    out.push('=');
                    out.push_str(&escape_tag(v));
                }
            }
            out.push(' ');
        }
        if let Some(p) = &self.prefix {
            out.push(':');
            out.push_str(&p.to_string());
            out.push(' ');
        }
        out.push_str(&self.command);
        let last = self.params.len().saturating_sub(1);
        for (i, p) in self.params.iter().enumerate() {
            let p: String = p
                .chars()
                .map(|c| {
                    if matches!(c, '\r' | '\n' | '\0') {
                        ' '
                    } else {
                        c
                    }
                })
                .collect();
            out.push(' ');
            let plain = !p.is_empty() && !p.contains(' ') && !p.starts_with(':');
            if plain {
                out.push_str(&p);
            } else if i == last {
                out.push(':');
                out.push_str(&p);
            } else {
                // A middle parameter cannot hold these; keep the line parseable.
                let p = if p.is_empty() {
                    "*".to_owned()
                } else {
                    p.replace(' ', "_")
                };
                out.push_str(&p.replacen(':', "_", 1));
            }
        }
        out
    }

    /// The nick of the sender, when the prefix names a user.
    pub fn source_nick(&self) -> Option<&str> {
        self.prefix
            .as_ref()
            .filter(|p| !p.is_server())
            .map(|p| p.nick.as_str())
    }

    /// The `i`-th parameter.
    pub fn param(&self, i: usize) -> Option<&str> {
        self.params.get(i).map(String::as_str)
    }

    /// The value of tag `key`, if present with a value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_line())
    }
}

/// A CTCP request in a PRIVMSG/NOTICE text: `\x01ACTION waves\x01` gives
/// `("ACTION", "waves")`.
///
/// ```
/// assert_eq!(ircbridge::irc::ctcp("\u{1}ACTION waves\u{1}"), Some(("ACTION", "waves")));
/// assert_eq!(ircbridge::irc::ctcp("\u{1}VERSION"), Some(("VERSION", "")));
/// assert_eq!(ircbridge::irc::ctcp("hello"), None);
/// ```
pub fn ctcp(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('\u{1}')?;
    let inner = inner.strip_suffix('\u{1}').unwrap_or(inner);
    Some(inner.split_once(' ').unwrap_or((inner, "")))
}

fn unescape_tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn escape_tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Message {
        Message::parse(line).expect("parses")
    }

    #[test]
    fn a_privmsg_with_prefix_and_trailing() {
        let m = parse(":alice!al@host.example PRIVMSG #rust :hello there :)\r\n");
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.source_nick(), Some("alice"));
        assert_eq!(m.params, ["#rust", "hello there :)"]);
    }

    #[test]
    fn tags_are_unescaped() {
        let m =
            parse("@time=2023-01-01T00:00:00Z;msgid=a\\sb\\:c\\\\;+draft/x :n!u@h PRIVMSG #c :x");
        assert_eq!(m.tag("time"), Some("2023-01-01T00:00:00Z"));
        assert_eq!(m.tag("msgid"), Some("a b;c\\"));
        assert_eq!(m.tags[2], ("+draft/x".to_owned(), None));
        assert_eq!(parse(&m.to_line()), m);
    }

    #[test]
    fn numerics_servers_and_middle_params() {
        let m = parse(":irc.test 433 * alice :Nickname already in use");
        assert_eq!(m.command, "433");
        assert_eq!(m.source_nick(), None);
        assert_eq!(m.params, ["*", "alice", "Nickname already in use"]);
        let m = parse("PING irc.test");
        assert_eq!((m.command.as_str(), m.param(0)), ("PING", Some("irc.test")));
        let m = parse(":a!b@c JOIN #x");
        assert_eq!(m.params, ["#x"]);
        let m = parse(":a!b@c MODE #x +o  bob");
        assert_eq!(m.params, ["#x", "+o", "bob"]);
        assert_eq!(parse("privmsg #a :b").command, "PRIVMSG");
        assert_eq!(parse(":a!b@c PRIVMSG #x :").params, ["#x", ""]);
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        assert_eq!(Message::parse(""), Err(ParseError::NoCommand));
        assert_eq!(Message::parse(":only.prefix"), Err(ParseError::NoCommand));
        assert_eq!(Message::parse("@a=b"), Err(ParseError::NoCommand));
        assert!(matches!(
            Message::parse("PRIV-MSG x"),
            Err(ParseError::BadCommand(_))
        ));
        assert!(matches!(
            Message::parse("12 x"),
            Err(ParseError::BadCommand(_))
        ));
        for junk in ["@", ":", " ", "@;;; :", "\u{1}\u{0}", ":é ñ"] {
            let _ = Message::parse(junk);
        }
    }

    #[test]
    fn writing_adds_the_colon_only_when_needed_and_strips_line_breaks() {
        assert_eq!(Message::new("JOIN", ["#rust"]).to_line(), "JOIN #rust");
        assert_eq!(
            Message::new("PRIVMSG", ["#a", ":)"]).to_line(),
            "PRIVMSG #a ::)"
        );
        assert_eq!(
            Message::new("PRIVMSG", ["#a", ""]).to_line(),
            "PRIVMSG #a :"
        );
        assert_eq!(
            Message::new("PRIVMSG", ["#a", "one\r\nQUIT :x"]).to_line(),
            "PRIVMSG #a :one  QUIT :x"
        );
        let m = parse(":n!u@h PRIVMSG #a :x y");
        assert_eq!(m.to_line(), ":n!u@h PRIVMSG #a :x y");
        // Middle parameters that cannot be written as they are are made safe.
        assert_eq!(
            Message::new("MODE", ["#a b", "", "x"]).to_line(),
            "MODE #a_b * x"
        );
    }
}
