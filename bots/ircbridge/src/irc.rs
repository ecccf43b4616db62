//! A small IRC client on tokio: message parsing and writing, flood control,
//! a bounded fair queue of outgoing lines, channel and nick syntax, TLS,
//! and the reconnecting connection the bridge talks through.

mod connection;
mod flood;
mod message;
mod outbox;
mod syntax;
mod tls;

pub use connection::{alternative_nick, alternative_nick_within, IrcConfig, IrcEvent, IrcHandle};
pub use flood::TokenBucket;
pub use message::{ctcp, Message, ParseError, Prefix};
pub use outbox::{Outbox, QueueError, QueueLimits};
pub use syntax::{
    check_channel, check_nick, ChannelNameError, NickError, CHANNEL_MAX_BYTES, NICK_MAX_CHARS,
};
pub use tls::Tls;

/// A nick or channel name as IRC compares them (the `rfc1459` casemapping:
/// ASCII letters and `[]\~` fold to lowercase and `{}|^`).
///
/// ```
/// assert_eq!(ircbridge::irc::casefold("Alice[m]"), "alice{m}");
/// assert_eq!(ircbridge::irc::casefold("#Rust"), "#rust");
/// ```
pub fn casefold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '[' => '{',
            ']' => '}',
            '\\' => '|',
            '~' => '^',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether `target` names a channel (starts with `#`, `&`, `+` or `!`).
///
/// ```
/// assert!(ircbridge::irc::is_channel("#rust"));
/// assert!(!ircbridge::irc::is_channel("alice"));
/// ```
pub fn is_channel(target: &str) -> bool {
    target.starts_with(['#', '&', '+', '!'])
}
