//! What IRC takes as a channel name or a nick. Every channel the bridge
//! joins and every nick it asks for is checked here first, whatever asked
//! for it (a room alias, a command, the config file).

use thiserror::Error;

/// The longest channel name accepted, in bytes (RFC 2812 allows 50).
pub const CHANNEL_MAX_BYTES: usize = 50;

/// The longest nick accepted, in characters.
pub const NICK_MAX_CHARS: usize = 30;

/// Why a string is not a channel name the bridge will use.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChannelNameError {
    /// It does not start with `#`, `&`, `+` or `!`.
    #[error("`{0}` does not start with a channel prefix (`#`, `&`, `+` or `!`)")]
    NoPrefix(String),
    /// Only the prefix is there.
    #[error("`{0}` has nothing after its prefix")]
    Empty(String),
    /// Longer than [`CHANNEL_MAX_BYTES`].
    #[error("the channel name is {0} bytes long, more than {CHANNEL_MAX_BYTES}")]
    TooLong(usize),
    /// It holds a character IRC reads as a separator or a control.
    #[error("`{name}` holds {what}, which a channel name cannot")]
    BadCharacter {
        /// The name, controls shown escaped.
        name: String,
        /// The character, described.
        what: String,
    },
}

/// Why a string is not a nick the bridge will ask for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NickError {
    /// The nick is empty.
    #[error("the nick is empty")]
    Empty,
    /// Longer than [`NICK_MAX_CHARS`].
    #[error("the nick is {0} characters long, more than {NICK_MAX_CHARS}")]
    TooLong(usize),
    /// It starts with a character a nick cannot start with.
    #[error("`{name}` starts with `{first}`, which a nick cannot start with")]
    BadStart {
        /// The nick.
        name: String,
        /// Its first character.
        first: char,
    },
    /// It holds a character IRC reads as a separator or a control.
    #[error("`{name}` holds {what}, which a nick cannot")]
    BadCharacter {
        /// The nick, controls shown escaped.
        name: String,
        /// The character, described.
        what: String,
    },
}

/// How a character is named in an error: controls by their code.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

/// Checks a channel name: a prefix (`#&+!`) and at least one more
/// character, at most [`CHANNEL_MAX_BYTES`] bytes, and no space, `,`, `:`
/// or control character (C0, DEL, C1: BEL and the formatting codes among them).
///
/// ```
/// use ircbridge::irc::check_channel;
/// assert!(check_channel("#ghostkit").is_ok());
/// assert!(check_channel("#a,#b").is_err());
/// assert!(check_channel("#bell\u{7}").is_err());
/// assert!(check_channel("ghostkit").is_err());
/// ```
pub fn check_channel(name: &str) -> Result<(), ChannelNameError> {
    let mut chars = name.chars();
    match chars.next() {
        Some('#' | '&' | '+' | '!') => {}
        _ => return Err(ChannelNameError::NoPrefix(name.escape_debug().to_string())),
    }
    if chars.as_str().is_empty() {
        return Err(ChannelNameError::Empty(name.to_owned()));
    }
    if name.len() > CHANNEL_MAX_BYTES {
        return Err(ChannelNameError::TooLong(name.len()));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| matches!(c, ' ' | ',' | ':') || c.is_control())
    {
        return Err(ChannelNameError::BadCharacter {
            name: name.escape_debug().to_string(),
            what: describe(c),
        });
    }
    Ok(())
}

/// Checks a nick: 1 to [`NICK_MAX_CHARS`] characters, not starting with a
/// digit, `-`, `:`, `$` or a channel prefix, and no space, `,`, `!`, `@`,
/// `*`, `?`, `.` or control character.
///
/// ```
/// use ircbridge::irc::check_nick;
/// assert!(check_nick("matrixbridge").is_ok());
/// assert!(check_nick("[away]|bot").is_ok());
/// assert!(check_nick("a b").is_err());
/// assert!(check_nick("#chan").is_err());
/// ```
pub fn check_nick(nick: &str) -> Result<(), NickError> {
    let Some(first) = nick.chars().next() else {
        return Err(NickError::Empty);
    };
    let count = nick.chars().count();
    if count > NICK_MAX_CHARS {
        return Err(NickError::TooLong(count));
    }
    if first.is_ascii_digit() || matches!(first, '-' | ':' | '$' | '#' | '&' | '+' | '!') {
        return Err(NickError::BadStart {
            name: nick.escape_debug().to_string(),
            first,
        });
    }
    if let Some(c) = nick
        .chars()
        .find(|&c| matches!(c, ' ' | ',' | '!' | '@' | '*' | '?' | '.') || c.is_control())
    {
        return Err(NickError::BadCharacter {
            name: nick.escape_debug().to_string(),
            what: describe(c),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_with_separators_or_controls_are_refused() {
        for good in ["#rust", "&local", "+modeless", "!12345", "##double", "#é🦀"] {
            assert_eq!(check_channel(good), Ok(()), "{good}");
        }
        for bad in [
            "#a,#b",
            "#a b",
            "#a:b",
            "#bell\u{7}",
            "#bold\u{2}",
            "#nul\u{0}",
            "#cr\r",
            "#del\u{7f}",
            "#c1\u{85}",
        ] {
            assert!(
                matches!(
                    check_channel(bad),
                    Err(ChannelNameError::BadCharacter { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check_channel("rust"),
            Err(ChannelNameError::NoPrefix(_))
        ));
        assert!(matches!(
            check_channel(""),
            Err(ChannelNameError::NoPrefix(_))
        ));
        assert!(matches!(
            check_channel("#"),
            Err(ChannelNameError::Empty(_))
        ));
        let long = format!("#{}", "x".repeat(CHANNEL_MAX_BYTES));
        assert_eq!(
            check_channel(&long),
            Err(ChannelNameError::TooLong(CHANNEL_MAX_BYTES + 1))
        );
        assert!(check_channel(&long[..CHANNEL_MAX_BYTES]).is_ok());
        let err = check_channel("#a\u{7}").expect_err("refused").to_string();
        assert!(err.contains("U+0007"), "{err}");
    }

    #[test]
    fn nicks_with_separators_or_controls_are_refused() {
        for good in ["alice", "[Bob]", "a_b-c", "x|y^", "émile"] {
            assert_eq!(check_nick(good), Ok(()), "{good}");
        }
        for bad in ["a b", "a,b", "a!b", "a@b", "a*", "a.b", "a\u{1}", "a\u{3}4"] {
            assert!(
                matches!(check_nick(bad), Err(NickError::BadCharacter { .. })),
                "{bad:?}"
            );
        }
        for bad in ["1abc", "-x", ":x", "#x", "$x"] {
            assert!(
                matches!(check_nick(bad), Err(NickError::BadStart { .. })),
                "{bad}"
            );
        }
        assert_eq!(check_nick(""), Err(NickError::Empty));
        assert!(matches!(
            check_nick(&"a".repeat(NICK_MAX_CHARS + 1)),
            Err(NickError::TooLong(_))
        ));
    }
}
