//! Matrix names of IRC things: ghosts of nicks (`@_irc_<network>_<nick>`)
//! and aliases of channels (`#_irc_<network>_<channel>`).
//!
//! Names are casefolded the way IRC compares them (so `Alice` and `alice`
//! are one ghost, whose display name keeps the case), then escaped to the
//! characters a Matrix localpart allows: `a-z 0-9 . _ -` stay, every other
//! byte becomes `=xx` (lowercase hex). The escaping is reversible.

use crate::irc::casefold;

/// Escapes `name` (already casefolded) into localpart characters.
///
/// ```
/// assert_eq!(ircbridge::names::escape("alice{m}"), "alice=7bm=7d");
/// assert_eq!(ircbridge::names::escape("a=b"), "a=3db");
/// ```
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02x}"));
        }
    }
    out
}

/// Reverses [`escape`]; `None` when `s` is not an escaped name.
///
/// ```
/// assert_eq!(ircbridge::names::unescape("alice=7bm=7d").as_deref(), Some("alice{m}"));
/// assert_eq!(ircbridge::names::unescape("bad=zz"), None);
/// ```
pub fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'=' {
            let hex = s.get(i + 1..i + 3)?;
            if hex.bytes().any(|h| h.is_ascii_uppercase()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

/// The naming scheme of one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    network: String,
    server_name: String,
}

impl Names {
    /// Names on `network` (lowercase letters and digits) for homeserver `server_name`.
    pub fn new(network: &str, server_name: &str) -> Self {
        Names {
            network: network.to_owned(),
            server_name: server_name.to_owned(),
        }
    }

    /// What ghost localparts and alias localparts start with: `_irc_<network>_`.
    pub fn prefix(&self) -> String {
        format!("_irc_{}_", self.network)
    }

    /// The ghost's user ID of `nick`.
    ///
    /// ```
    /// let n = ircbridge::names::Names::new("libera", "example.org");
    /// assert_eq!(n.ghost("Alice"), "@_irc_libera_alice:example.org");
    /// assert_eq!(n.ghost("[Bob]"), "@_irc_libera_=7bbob=7d:example.org");
    /// ```
    pub fn ghost(&self, nick: &str) -> String {
        format!(
            "@{}{}:{}",
            self.prefix(),
            escape(&casefold(nick)),
            self.server_name
        )
    }

    /// The casefolded nick of a ghost's localpart, if it is one of this network.
    ///
    /// ```
    /// let n = ircbridge::names::Names::new("libera", "example.org");
    /// assert_eq!(n.nick_of("_irc_libera_=7bbob=7d").as_deref(), Some("{bob}"));
    /// assert_eq!(n.nick_of("_irc_other_bob"), None);
    /// ```
    pub fn nick_of(&self, localpart: &str) -> Option<String> {
        let rest = localpart.strip_prefix(&self.prefix())?;
        unescape(rest).filter(|n| !n.is_empty())
    }

    /// The alias localpart of `channel`: `#rust` gives `_irc_<network>_rust`;
    /// channels of other kinds keep their escaped sigil (`&x` gives `=26x`).
    pub fn alias_localpart(&self, channel: &str) -> String {
        let folded = casefold(channel);
        // `#rust` loses its `#`, unless what follows could be read as a sigil.
        let name = match folded.strip_prefix('#') {
            Some(rest) if !rest.is_empty() && !crate::irc::is_channel(rest) => rest,
            _ => &folded,
        };
        format!("{}{}", self.prefix(), escape(name))
    }

    /// The full alias of `channel`.
    ///
    /// ```
    /// let n = ircbridge::names::Names::new("libera", "example.org");
    /// assert_eq!(n.alias("#Rust"), "#_irc_libera_rust:example.org");
    /// ```
    pub fn alias(&self, channel: &str) -> String {
        format!("#{}:{}", self.alias_localpart(channel), self.server_name)
    }

    /// The channel (casefolded) of an alias localpart of this network.
    ///
    /// ```
    /// let n = ircbridge::names::Names::new("libera", "example.org");
    /// assert_eq!(n.channel_of("_irc_libera_rust").as_deref(), Some("#rust"));
    /// assert_eq!(n.channel_of("_irc_libera_=26local").as_deref(), Some("&local"));
    /// assert_eq!(n.channel_of("_irc_libera_"), None);
    /// ```
    pub fn channel_of(&self, localpart: &str) -> Option<String> {
        let name = self.nick_of(localpart)?;
        if crate::irc::is_channel(&name) {
            Some(name)
        } else {
            Some(format!("#{name}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_stays_in_localpart_characters() {
        for nick in [
            "alice",
            "a=b",
            "{x}|^",
            "nick_with-dash.dot",
            "émile",
            "a b",
            "\u{1}",
        ] {
            let e = escape(nick);
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-=".contains(&b)),
                "{e}"
            );
            assert_eq!(unescape(&e).as_deref(), Some(nick));
        }
        assert_eq!(unescape("=4"), None);
        assert_eq!(unescape("=4A"), None, "uppercase hex is not ours");
        assert_eq!(unescape("A"), None);
        assert_eq!(unescape("=ff"), None, "not UTF-8");
    }

    #[test]
    fn case_only_different_nicks_are_one_ghost() {
        let n = Names::new("net", "hs");
        assert_eq!(n.ghost("ALICE[away]"), n.ghost("alice{away}"));
        assert_ne!(n.ghost("alice"), n.ghost("alice_"));
        let local = n.ghost("Bob|2");
        let local = local
            .trim_start_matches('@')
            .split(':')
            .next()
            .unwrap_or_default();
        assert_eq!(n.nick_of(local).as_deref(), Some("bob|2"));
    }

    #[test]
    fn channels_and_aliases_round_trip() {
        let n = Names::new("net", "hs");
        for ch in [
            "#rust",
            "&local",
            "#a.b-c",
            "##double",
            "+modeless",
            "#&x",
            "&x",
            "#",
        ] {
            assert_eq!(n.channel_of(&n.alias_localpart(ch)).as_deref(), Some(ch));
        }
    }
}
