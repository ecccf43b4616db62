//! Who a webhook message appears to come from: each hook's own ghost, and
//! the display names a sender may give it.
//!
//! A hook's ghost is `@_webhook_<name>_<tag>:<server>`, where `<tag>` is 16
//! hex digits of a SHA-256 of the hook's ID. So every hook has a ghost of its
//! own (two rooms' hooks called `ci` do not share one, and one room's
//! admin cannot rename another room's ghost), the ghost lives in the
//! registration's `@_webhook_.*` namespace, and the ID, which is the secret
//! of an inbound hook, cannot be read back from it.
//!
//! A display name (`username` in the request) is refused when it holds
//! control characters, text-direction overrides or other invisible
//! formatting characters, and is capped at [`MAX_USERNAME`] characters; runs
//! of white space become one space. The name shown is then the name and
//! [`SUFFIX`], `CI (webhook)`, so a hook cannot pass for a room member or
//! an admin.

use ghostkit::prelude::{OwnedUserId, UserId};
use sha2::{Digest, Sha256};

use crate::hooks::Hook;

/// What every ghost's display name ends with.
pub const SUFFIX: &str = " (webhook)";

/// The longest `username`, in characters (before [`SUFFIX`]).
pub const MAX_USERNAME: usize = 48;

/// The localpart prefix of hook ghosts (the registration's namespace).
pub const GHOST_PREFIX: &str = "_webhook_";

/// Why a `username` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Nothing but white space.
    #[error("`username` is empty")]
    Empty,
    /// Longer than [`MAX_USERNAME`].
    #[error("`username` has {0} characters, at most {MAX_USERNAME} are allowed")]
    TooLong(usize),
    /// A control, text-direction or invisible formatting character.
    #[error("`username` has the invisible or control character U+{:04X}; remove it", u32::from(*.0))]
    Hidden(char),
}

/// Whether `c` is a control character, a text-direction mark or override,
/// or another character that formats text without showing (Unicode
/// categories Cc and Cf, line and paragraph separators, and the blank
/// fillers that render as nothing).
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{ad}'
            | '\u{34f}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

/// Checks a `username` and returns the display name to show.
///
/// ```
/// use webhooks::identity::{display_name, UsernameError};
/// assert_eq!(display_name("  CI   Bot ").unwrap(), "CI Bot (webhook)");
/// assert_eq!(display_name("Room Admin").unwrap(), "Room Admin (webhook)");
/// assert_eq!(display_name("evil\u{202e}nimda"), Err(UsernameError::Hidden('\u{202e}')));
/// assert_eq!(display_name(" "), Err(UsernameError::Empty));
/// ```
pub fn display_name(username: &str) -> Result<String, UsernameError> {
    if let Some(c) = username.chars().find(|c| is_hidden(*c)) {
        return Err(UsernameError::Hidden(c));
    }
    let name = username.split_whitespace().collect::<Vec<_>>().join(" ");
    match name.chars().count() {
        0 => Err(UsernameError::Empty),
        n if n > MAX_USERNAME => Err(UsernameError::TooLong(n)),
        _ => Ok(format!("{name}{SUFFIX}")),
    }
}

/// The ghost localpart of a hook: `_webhook_<name>_<tag>`.
///
/// ```
/// # use webhooks::hooks::{Hook, HookKind};
/// let a = Hook::new("ci", "!a:example.org", "@x:example.org", HookKind::Inbound);
/// let b = Hook::new("ci", "!b:example.org", "@x:example.org", HookKind::Inbound);
/// let la = webhooks::identity::ghost_localpart(&a);
/// assert!(la.starts_with("_webhook_ci_") && la.len() == "_webhook_ci_".len() + 16);
/// assert!(!la.contains(&a.id));
/// assert_ne!(la, webhooks::identity::ghost_localpart(&b));
/// ```
pub fn ghost_localpart(hook: &Hook) -> String {
    let mut h = Sha256::new();
    h.update(b"ghostkit-webhooks ghost\0");
    h.update(hook.id.as_bytes());
    let tag = hex::encode(&h.finalize()[..8]);
    format!("{GHOST_PREFIX}{}_{tag}", hook.name)
}

/// The ghost of a hook on `server_name`.
pub fn ghost_id(hook: &Hook, server_name: &str) -> Result<OwnedUserId, String> {
    let id = format!("@{}:{server_name}", ghost_localpart(hook));
    <&UserId>::try_from(id.as_str())
        .map(ToOwned::to_owned)
        .map_err(|e| format!("`{id}` is not a user ID: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn direction_and_invisible_characters_are_refused() {
        for c in [
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200e}',
            '\u{200f}',
            '\u{61c}',
            '\u{200b}',
            '\u{200d}',
            '\u{feff}',
            '\u{0}',
            '\n',
            '\u{7}',
            '\u{85}',
            '\u{2028}',
            '\u{3164}',
            '\u{e0041}',
        ] {
            let name = format!("Alice{c}Bob");
            assert_eq!(display_name(&name), Err(UsernameError::Hidden(c)), "{c:?}");
        }
    }

    #[test]
    fn names_are_capped_and_marked() {
        let long = "x".repeat(MAX_USERNAME + 1);
        assert_eq!(
            display_name(&long),
            Err(UsernameError::TooLong(MAX_USERNAME + 1))
        );
        let max = "é".repeat(MAX_USERNAME);
        assert_eq!(display_name(&max).unwrap(), format!("{max}{SUFFIX}"));
        assert_eq!(display_name("Ünïcödé 🚀").unwrap(), "Ünïcödé 🚀 (webhook)");
        assert_eq!(display_name("a\u{3000}b").unwrap(), "a b (webhook)");
    }

    #[test]
    fn ghosts_fit_the_registration_namespace() {
        let text = include_str!("../registration.yaml.example");
        let reg = ghostkit::Registration::from_yaml(text).unwrap();
        for name in ["ci", "ci-builds", "a.b_c"] {
            let hook = Hook::new(
                name,
                "!r:example.org",
                "@x:example.org",
                crate::hooks::HookKind::Inbound,
            );
            let id = ghost_id(&hook, "example.org").unwrap();
            assert!(
                reg.is_exclusive(ghostkit::registration::NamespaceKind::Users, id.as_str()),
                "{id}"
            );
            // Stable for the same hook.
            assert_eq!(id, ghost_id(&hook, "example.org").unwrap());
        }
    }
}
