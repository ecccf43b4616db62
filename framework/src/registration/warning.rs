//! Things a registration may legally say but probably should not.
//!
//! Synapse loads every registration these describe; Ghostkit loads it too,
//! keeps the list in [`Registration::warnings`](super::Registration::warnings)
//! and logs each one at start-up.

use std::fmt;

use super::NamespaceKind;

/// Which namespace entry a warning is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRef {
    /// `users`, `aliases` or `rooms`.
    pub kind: NamespaceKind,
    /// Position in that list, from 0.
    pub index: usize,
    /// The regex as written.
    pub regex: String,
}

impl fmt::Display for NamespaceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`namespaces.{}[{}].regex` (`{}`)",
            self.kind, self.index, self.regex
        )
    }
}

/// A legal but risky registration: Synapse accepts it, and so does Ghostkit.
///
/// ```
/// use ghostkit::registration::{Registration, RegistrationWarning};
/// let reg = Registration::from_yaml(
///     "id: x\nurl: null\nas_token: same\nhs_token: same\nsender_localpart: x\nnamespaces: {}\n",
/// )?;
/// assert_eq!(reg.warnings(), &[RegistrationWarning::EqualTokens]);
/// assert!(reg.warnings()[0].to_string().contains("as_token"));
/// # Ok::<(), ghostkit::RegistrationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationWarning {
    /// `as_token` and `hs_token` are the same secret.
    EqualTokens,
    /// A string field that should identify or authenticate something is empty.
    EmptyField {
        /// `id`, `as_token`, `hs_token` or `sender_localpart`.
        field: &'static str,
    },
    /// The sender localpart uses characters (uppercase, `~`) that Synapse
    /// accepts here but that new Matrix user IDs may not contain.
    SenderLocalpartNotStrict {
        /// The localpart.
        localpart: String,
    },
    /// `url` is a string the homeserver cannot send transactions to.
    UrlNotHttp {
        /// The URL as written.
        url: String,
    },
    /// A flag Synapse reads as a bool holds something else.
    NotBool {
        /// The key.
        field: String,
        /// The value, as YAML.
        value: String,
        /// What Synapse makes of it.
        read_as: bool,
    },
    /// A users or aliases regex has no `:`, so it matches IDs of every
    /// server, not only this homeserver's.
    NoServerPart(NamespaceRef),
    /// A namespace is not exclusive: anyone may register IDs in it.
    NotExclusive(NamespaceRef),
    /// Dendrite and Conduit match namespace regexes anywhere in an ID, Synapse
    /// only from its start, and all of them accept IDs that merely begin with
    /// a match: without `^…$` the homeservers disagree.
    Unanchored {
        /// The namespace entry.
        namespace: NamespaceRef,
        /// The regex does not start with `^`.
        start: bool,
        /// The regex does not end with `$` (and does not end with `.*`).
        end: bool,
    },
    /// The regex needs look-around or backreferences: Ghostkit runs it with
    /// `fancy-regex` (slower), and homeservers using Go's or Rust's `regex`
    /// (Dendrite, Conduit) refuse it.
    FancyRegex(NamespaceRef),
    /// A key nobody reads that looks like a typo of one that is read
    /// (`namespace:` for `namespaces:`). It is kept in the file's extra keys
    /// and written back; the key meant is not set by it.
    LikelyTypo {
        /// Where the key is: `namespace`, `namespaces.user`,
        /// `namespaces.users[0].exclusiv`.
        field: String,
        /// The key it is probably meant to be.
        meant: &'static str,
    },
}

impl fmt::Display for RegistrationWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrationWarning::EqualTokens => f.write_str(
                "`as_token` and `hs_token` are the same: one leaked token gives both directions away; use two different random secrets",
            ),
            RegistrationWarning::EmptyField { field } => write!(
                f,
                "`{field}` is empty; Synapse accepts it, but it identifies nothing: set a real value"
            ),
            RegistrationWarning::SenderLocalpartNotStrict { localpart } => write!(
                f,
                "`sender_localpart` `{localpart}` has characters new user IDs may not use (only `a-z 0-9 . _ = - / +`); Synapse accepts it, other homeservers may not"
            ),
            RegistrationWarning::UrlNotHttp { url } => write!(
                f,
                "`url` `{url}` is not an http(s) URL: the homeserver cannot deliver transactions there; write where the appservice listens, or `url: null`"
            ),
            RegistrationWarning::NotBool {
                field,
                value,
                read_as,
            } => write!(
                f,
                "`{field}` is `{value}`, not `true` or `false`; Synapse reads it as {read_as}"
            ),
            RegistrationWarning::NoServerPart(ns) => write!(
                f,
                "{ns} has no `:server` part, so it also claims IDs of other servers; end it with `:your\\.server$`"
            ),
            RegistrationWarning::NotExclusive(ns) => write!(
                f,
                "{ns} is not exclusive: other users and appservices may take IDs in it"
            ),
            RegistrationWarning::Unanchored {
                namespace,
                start,
                end,
            } => {
                write!(f, "{namespace} ")?;
                if *start {
                    f.write_str("has no leading `^`: Synapse matches it at the start of an ID, Dendrite and Conduit anywhere in it")?;
                }
                if *start && *end {
                    f.write_str("; it also ")?;
                }
                if *end {
                    f.write_str("has no trailing `$`: every homeserver also takes IDs that only begin with a match (`…:example.org.evil.com`)")?;
                }
                f.write_str("; write it as `^…$`")
            }
            RegistrationWarning::FancyRegex(ns) => write!(
                f,
                "{ns} needs look-around or backreferences: Synapse reads it, but homeservers using Go's or Rust's regex (Dendrite, Conduit) refuse it"
            ),
            RegistrationWarning::LikelyTypo { field, meant } => write!(
                f,
                "`{field}` is not a key Synapse reads, so it is ignored (and kept); did you mean `{meant}`?"
            ),
        }
    }
}

/// One [`RegistrationWarning::LikelyTypo`] for every key of `extra` (at
/// `prefix`, e.g. `namespaces.`) that is not in `known` but near one of them.
pub(crate) fn typos<'a>(
    prefix: &str,
    extra: impl IntoIterator<Item = &'a String>,
    known: &[&'static str],
) -> Vec<RegistrationWarning> {
    extra
        .into_iter()
        .filter(|key| !known.contains(&key.as_str()))
        .filter_map(|key| {
            crate::config::nearest(key, known).map(|meant| RegistrationWarning::LikelyTypo {
                field: format!("{prefix}{key}"),
                meant,
            })
        })
        .collect()
}

/// Whether `pattern` ends in a way that makes a trailing `$` pointless.
pub(crate) fn ends_open(pattern: &str) -> bool {
    let escaped_dot = pattern.ends_with("\\.*") && !pattern.ends_with("\\\\.*");
    (pattern.ends_with(".*") || pattern.ends_with(".+")) && !escaped_dot
}

/// Whether `pattern` ends with an end anchor (`$`, `\Z`, `\z`).
pub(crate) fn ends_anchored(pattern: &str) -> bool {
    let unescaped = |tail: &str| {
        pattern
            .strip_suffix(tail)
            .is_some_and(|rest| rest.chars().rev().take_while(|&c| c == '\\').count() % 2 == 0)
    };
    unescaped("$") || pattern.ends_with("\\Z")
}
