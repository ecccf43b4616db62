//! The registration file: what the homeserver knows about the appservice.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/#registration>
//!
//! [`Registration::load`] reads a YAML file and accepts exactly what Synapse
//! accepts (the reference: `_load_appservice` in synapse/config/appservice.py
//! and `ApplicationService` in synapse/appservice/__init__.py); a file
//! Synapse would refuse is refused with the field named and the fix.
//! Namespace regexes are read the way Python's `re.match` reads them:
//! anchored at the **start** of the ID only, never at its end. Legal but
//! risky choices (equal tokens, unanchored or server-less regexes…) load with
//! a [`RegistrationWarning`] each. [`Registration::generate`] makes a new
//! file with fresh random tokens. Keys this crate does not know are kept in
//! [`Registration::extra`] and written back by [`Registration::to_yaml`].
//! [`check::report`] explains a registration in words (the
//! `check-registration` command).

pub mod check;
mod namespace;
mod parse;
mod pattern;
mod warning;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};

pub use namespace::{Namespace, NamespaceKind, Namespaces};
use pattern::Matcher;
pub use warning::{NamespaceRef, RegistrationWarning};

/// Everything that can be wrong with a registration file.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The file could not be read or written.
    #[error("cannot access registration file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML, or not a mapping of keys.
    #[error(
        "registration file is not valid: {message}; compare it with registration.yaml.example"
    )]
    Syntax {
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field is missing or holds a value Synapse refuses.
    #[error("registration field `{field}` {problem}; fix: {fix}")]
    Invalid {
        /// The field, as a path (`namespaces.users[0].regex`).
        field: String,
        /// What is wrong with it.
        problem: String,
        /// What to do about it.
        fix: String,
    },
}

fn invalid(
    field: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> RegistrationError {
    RegistrationError::Invalid {
        field: field.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The registration file's content.
///
/// ```
/// let yaml = r#"
/// id: echo
/// url: http://127.0.0.1:9000
/// as_token: "as-secret"
/// hs_token: "hs-secret"
/// sender_localpart: echo
/// namespaces:
///   users:
///     - {regex: '^@_echo_.*:example\.org$', exclusive: true}
/// "#;
/// let reg = ghostkit::Registration::from_yaml(yaml).unwrap();
/// assert!(reg.is_user_in_namespace("@_echo_bob:example.org"));
/// assert!(!reg.is_user_in_namespace("@_echo_bob:example.org.evil"));
/// // The sender is the appservice's own user, in a namespace or not.
/// assert!(reg.may_act_as("@echo:example.org", Some("example.org")));
/// assert!(reg.warnings().is_empty());
/// // Its `Debug` form (what a log shows) hides both tokens.
/// let shown = format!("{reg:?}");
/// assert!(!shown.contains("as-secret") && !shown.contains("hs-secret"));
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "serde_yaml::Value")]
pub struct Registration {
    /// Unique ID of the appservice on this homeserver (no `|`).
    pub id: String,
    /// Where the homeserver sends transactions; `None` (`url: null`) when it
    /// sends none. The key itself is required.
    pub url: Option<String>,
    /// Token the appservice uses towards the homeserver.
    pub as_token: String,
    /// Token the homeserver uses towards the appservice.
    pub hs_token: String,
    /// Localpart of the appservice's own user, `@<sender_localpart>:<server>`.
    pub sender_localpart: String,
    /// The user, alias and room namespaces.
    pub namespaces: Namespaces,
    /// Whether the homeserver rate-limits the appservice's users (Synapse:
    /// anything but `false` means true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limited: Option<bool>,
    /// Third-party protocols the appservice bridges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocols: Vec<String>,
    /// Whether the homeserver pushes ephemeral events (typing, receipts, presence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_ephemeral: Option<bool>,
    /// The unstable (MSC2409) name of `receive_ephemeral`, still read by Synapse.
    #[serde(
        rename = "de.sorunome.msc2409.push_ephemeral",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub push_ephemeral_unstable: Option<bool>,
    /// MSC3202: device lists, one-time-key counts and masquerading devices.
    #[serde(
        rename = "org.matrix.msc3202",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub msc3202: Option<bool>,
    /// MSC4190: device management for appservices.
    #[serde(
        rename = "io.element.msc4190",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub msc4190: Option<bool>,
    /// Keys we do not know, kept when re-writing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
    #[serde(skip)]
    scratch: Scratch,
}

/// Every field but the two tokens, which are secrets: a `{:?}` in a log
/// line or a panic message must not give them away.
impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("as_token", &"<redacted>")
            .field("hs_token", &"<redacted>")
            .field("sender_localpart", &self.sender_localpart)
            .field("namespaces", &self.namespaces)
            .field("rate_limited", &self.rate_limited)
            .field("protocols", &self.protocols)
            .field("receive_ephemeral", &self.receive_ephemeral)
            .field("push_ephemeral_unstable", &self.push_ephemeral_unstable)
            .field("msc3202", &self.msc3202)
            .field("msc4190", &self.msc4190)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What [`Registration::validate`] computes: compiled regexes and warnings.
#[derive(Debug, Clone, Default)]
struct Scratch {
    users: Vec<Matcher>,
    aliases: Vec<Matcher>,
    rooms: Vec<Matcher>,
    warnings: Vec<RegistrationWarning>,
}

impl Scratch {
    fn of(&self, kind: NamespaceKind) -> &[Matcher] {
        match kind {
            NamespaceKind::Users => &self.users,
            NamespaceKind::Aliases => &self.aliases,
            NamespaceKind::Rooms => &self.rooms,
        }
    }
}

impl TryFrom<serde_yaml::Value> for Registration {
    type Error = RegistrationError;

    fn try_from(doc: serde_yaml::Value) -> Result<Self, RegistrationError> {
        parse::registration(doc)
    }
}

/// What [`Registration::generate`] needs to know.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The appservice ID.
    pub id: String,
    /// Where the appservice listens (`http://127.0.0.1:9000`).
    pub url: String,
    /// The bot user's localpart.
    pub sender_localpart: String,
    /// The homeserver's server name, used to scope the namespaces.
    pub server_name: String,
    /// Prefix of ghost localparts (`_echo_`); `None` claims no ghosts.
    pub user_prefix: Option<String>,
    /// Prefix of alias localparts (`_echo_`); `None` claims no aliases.
    pub alias_prefix: Option<String>,
}

impl Registration {
    /// Reads and validates a registration file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RegistrationError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RegistrationError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// Parses and validates a registration from YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, RegistrationError> {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| RegistrationError::Syntax {
                message: e.to_string(),
            })?;
        parse::registration(doc)
    }

    /// Writes the registration as YAML, unknown keys included.
    pub fn to_yaml(&self) -> String {
        // Serializing plain strings, bools and maps cannot fail.
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// Writes the registration to a file (mode 0600 on Unix, it holds secrets).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), RegistrationError> {
        let path = path.as_ref();
        let io = |source| RegistrationError::Io {
            path: path.to_owned(),
            source,
        };
        // Created 0600 and tightened before the secrets are written, so they
        // are never readable by others, not even for a moment.
        #[cfg(unix)]
        {
            use std::io::Write;
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
            file.write_all(self.to_yaml().as_bytes()).map_err(io)?;
        }
        #[cfg(not(unix))]
        std::fs::write(path, self.to_yaml()).map_err(io)?;
        Ok(())
    }

    /// Makes a new registration with fresh random 64-character tokens.
    ///
    /// Every regex is written `^…$`, so Synapse (start-anchored), Dendrite
    /// and Conduit (unanchored) all read it the same way.
    ///
    /// ```
    /// use ghostkit::registration::{GenerateOptions, Registration};
    /// let reg = Registration::generate(GenerateOptions {
    ///     id: "echo".into(),
    ///     url: "http://127.0.0.1:9000".into(),
    ///     sender_localpart: "echo".into(),
    ///     server_name: "example.org".into(),
    ///     user_prefix: Some("_echo_".into()),
    ///     alias_prefix: None,
    /// }).unwrap();
    /// assert_ne!(reg.as_token, reg.hs_token);
    /// assert_eq!(reg.namespaces.users[0].regex, r"^@_echo_.*:example\.org$");
    /// assert!(reg.is_user_in_namespace("@_echo_alice:example.org"));
    /// assert!(reg.is_user_in_namespace("@echo:example.org"));
    /// assert!(reg.warnings().is_empty());
    /// ```
    pub fn generate(opts: GenerateOptions) -> Result<Self, RegistrationError> {
        let server = regex::escape(&opts.server_name);
        let entry = |regex: String| Namespace {
            regex,
            exclusive: true,
            extra: BTreeMap::new(),
        };
        let ns = |prefix: &Option<String>, sigil: &str| {
            prefix
                .iter()
                .map(|p| entry(format!("^{sigil}{}.*:{server}$", regex::escape(p))))
                .collect::<Vec<_>>()
        };
        let mut users = ns(&opts.user_prefix, "@");
        // Synapse needs no namespace for the sender; other homeservers and
        // tools are happier with one.
        users.push(entry(format!(
            "^@{}:{server}$",
            regex::escape(&opts.sender_localpart)
        )));
        let mut reg = Registration {
            id: opts.id,
            url: Some(opts.url),
            as_token: random_token(),
            hs_token: random_token(),
            sender_localpart: opts.sender_localpart,
            namespaces: Namespaces {
                users,
                aliases: ns(&opts.alias_prefix, "#"),
                rooms: Vec::new(),
                extra: BTreeMap::new(),
            },
            rate_limited: Some(false),
            protocols: Vec::new(),
            receive_ephemeral: Some(true),
            push_ephemeral_unstable: Some(true),
            msc3202: None,
            msc4190: None,
            extra: BTreeMap::new(),
            scratch: Scratch::default(),
        };
        reg.validate()?;
        Ok(reg)
    }

    /// Checks the typed fields the way Synapse does, compiles the namespace
    /// regexes and recomputes [`warnings`](Self::warnings). Call it after
    /// changing a field by hand.
    pub fn validate(&mut self) -> Result<(), RegistrationError> {
        // __init__.py: "application service ID cannot contain '|' character".
        if self.id.contains('|') {
            return Err(invalid(
                "id",
                format!("`{}` contains `|`, which Synapse refuses", self.id),
                "pick an id without `|`, e.g. `id: my-bridge`",
            ));
        }
        // appservice.py: `if urlparse.quote(localpart) != localpart`.
        if !parse::survives_url_quote(&self.sender_localpart) {
            return Err(invalid(
                "sender_localpart",
                format!(
                    "`{}` has characters that would be URL-encoded, which Synapse refuses",
                    self.sender_localpart
                ),
                "use only letters, digits and `_ . - ~ /`, e.g. `sender_localpart: mybot`",
            ));
        }
        // __init__.py `_check_namespaces`: `re.compile(regex)` for each entry.
        let mut compiled: [Vec<Matcher>; 3] = Default::default();
        for (slot, kind) in compiled.iter_mut().zip(NamespaceKind::ALL) {
            for (i, ns) in self.namespaces.of(kind).iter().enumerate() {
                let m = Matcher::compile(&ns.regex).map_err(|problem| {
                    invalid(
                        format!("namespaces.{kind}[{i}].regex"),
                        problem,
                        "escape dots as `\\.` and check brackets; in YAML put the regex in single quotes",
                    )
                })?;
                slot.push(m);
            }
        }
        let [users, aliases, rooms] = compiled;
        self.scratch = Scratch {
            users,
            aliases,
            rooms,
            warnings: Vec::new(),
        };
        self.scratch.warnings = self.compute_warnings();
        Ok(())
    }

    fn compute_warnings(&self) -> Vec<RegistrationWarning> {
        use RegistrationWarning as W;
        let mut out = Vec::new();
        for (field, value) in [
            ("id", &self.id),
            ("as_token", &self.as_token),
            ("hs_token", &self.hs_token),
            ("sender_localpart", &self.sender_localpart),
        ] {
            if value.is_empty() {
                out.push(W::EmptyField { field });
            }
        }
        if self.as_token == self.hs_token && !self.as_token.is_empty() {
            out.push(W::EqualTokens);
        }
        if !self.sender_localpart.is_empty()
            && !self
                .sender_localpart
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-/+".contains(&b))
        {
            out.push(W::SenderLocalpartNotStrict {
                localpart: self.sender_localpart.clone(),
            });
        }
        if let Some(url) = &self.url {
            let http = url::Url::parse(url)
                .map(|u| u.scheme() == "http" || u.scheme() == "https")
                .unwrap_or(false);
            if !http {
                out.push(W::UrlNotHttp { url: url.clone() });
            }
        }
        out.extend(warning::typos("", self.extra.keys(), parse::TOP_LEVEL_KEYS));
        out.extend(warning::typos(
            "namespaces.",
            self.namespaces.extra.keys(),
            parse::NAMESPACE_KEYS,
        ));
        for kind in NamespaceKind::ALL {
            for (i, ns) in self.namespaces.of(kind).iter().enumerate() {
                let prefix = format!("namespaces.{kind}[{i}].");
                out.extend(warning::typos(&prefix, ns.extra.keys(), parse::ENTRY_KEYS));
            }
            for (index, (ns, m)) in self
                .namespaces
                .of(kind)
                .iter()
                .zip(self.scratch.of(kind))
                .enumerate()
            {
                let at = || NamespaceRef {
                    kind,
                    index,
                    regex: ns.regex.clone(),
                };
                if kind != NamespaceKind::Rooms && !ns.regex.contains(':') {
                    out.push(W::NoServerPart(at()));
                }
                if !ns.exclusive {
                    out.push(W::NotExclusive(at()));
                }
                let start = !(ns.regex.starts_with('^') || ns.regex.starts_with("\\A"));
                let end = !warning::ends_anchored(&ns.regex) && !warning::ends_open(&ns.regex);
                if start || end {
                    out.push(W::Unanchored {
                        namespace: at(),
                        start,
                        end,
                    });
                }
                if m.is_fancy() {
                    out.push(W::FancyRegex(at()));
                }
            }
        }
        out
    }

    /// Legal but risky things in this registration, found when it was loaded
    /// or last [validated](Self::validate). The bot logs them at start-up.
    pub fn warnings(&self) -> &[RegistrationWarning] {
        &self.scratch.warnings
    }

    /// The first namespace entry of `kind` whose regex matches `id` from its
    /// start (Synapse's `_matches_regex`), if any.
    ///
    /// ```
    /// use ghostkit::registration::{NamespaceKind, Registration};
    /// let reg = Registration::from_yaml("id: x\nurl: null\nas_token: a\nhs_token: h\n\
    ///     sender_localpart: x\nnamespaces:\n  aliases: [{regex: '#irc_', exclusive: false}]\n")?;
    /// let ns = reg.namespace_for(NamespaceKind::Aliases, "#irc_chat:example.org").unwrap();
    /// assert!(!ns.exclusive);
    /// assert!(reg.namespace_for(NamespaceKind::Aliases, "#chat:example.org").is_none());
    /// # Ok::<(), ghostkit::RegistrationError>(())
    /// ```
    pub fn namespace_for(&self, kind: NamespaceKind, id: &str) -> Option<&Namespace> {
        self.scratch
            .of(kind)
            .iter()
            .position(|m| m.is_match(id))
            .and_then(|i| self.namespaces.of(kind).get(i))
    }

    /// Whether `id` is exclusively ours: the first matching entry of `kind`
    /// is exclusive (Synapse's `_is_exclusive`: a later exclusive entry does
    /// not count when an earlier non-exclusive one matched).
    pub fn is_exclusive(&self, kind: NamespaceKind, id: &str) -> bool {
        self.namespace_for(kind, id).is_some_and(|ns| ns.exclusive)
    }

    /// Whether `user_id` is in one of the users namespaces (the sender is
    /// not, unless a regex says so: see [`may_act_as`](Self::may_act_as)).
    pub fn is_user_in_namespace(&self, user_id: &str) -> bool {
        self.namespace_for(NamespaceKind::Users, user_id).is_some()
    }

    /// Whether `alias` is in one of the aliases namespaces.
    pub fn is_alias_in_namespace(&self, alias: &str) -> bool {
        self.namespace_for(NamespaceKind::Aliases, alias).is_some()
    }

    /// Whether `room_id` is in one of the rooms namespaces.
    pub fn is_room_in_namespace(&self, room_id: &str) -> bool {
        self.namespace_for(NamespaceKind::Rooms, room_id).is_some()
    }

    /// Whether `user_id` is the appservice's own user,
    /// `@<sender_localpart>:<server_name>`. With no server name known, the
    /// sender localpart on any server counts.
    ///
    /// ```
    /// # let reg = ghostkit::Registration::from_yaml("id: x\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: bot\nnamespaces: {}\n")?;
    /// assert!(reg.is_own_user("@bot:example.org", Some("example.org")));
    /// assert!(!reg.is_own_user("@bot:other.org", Some("example.org")));
    /// assert!(reg.is_own_user("@bot:other.org", None));
    /// # Ok::<(), ghostkit::RegistrationError>(())
    /// ```
    pub fn is_own_user(&self, user_id: &str, server_name: Option<&str>) -> bool {
        let Some((local, server)) = user_id.strip_prefix('@').and_then(|r| r.split_once(':'))
        else {
            return false;
        };
        local == self.sender_localpart && server_name.is_none_or(|s| s == server)
    }

    /// Whether the appservice may act as `user_id`: its own user, or a user
    /// in a users namespace (Synapse's `is_interested_in_user`, which decides
    /// masquerading with `?user_id=`).
    pub fn may_act_as(&self, user_id: &str, server_name: Option<&str>) -> bool {
        self.is_own_user(user_id, server_name) || self.is_user_in_namespace(user_id)
    }

    /// Whether the homeserver was asked to push ephemeral events (stable or unstable flag).
    pub fn wants_ephemeral(&self) -> bool {
        self.receive_ephemeral.unwrap_or(false) || self.push_ephemeral_unstable.unwrap_or(false)
    }

    /// The bot user's full ID on `server_name`; an error when
    /// `sender_localpart` is no user ID's localpart.
    ///
    /// ```
    /// # let reg = ghostkit::Registration::from_yaml("id: t\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: bot\nnamespaces: {}\n").unwrap();
    /// let server = ghostkit::ruma::common::server_name!("example.org");
    /// assert_eq!(reg.bot_user_id(server).unwrap(), "@bot:example.org");
    /// ```
    pub fn bot_user_id(
        &self,
        server_name: &ruma_common::ServerName,
    ) -> Result<ruma_common::OwnedUserId, ruma_common::IdParseError> {
        let id = ruma_common::UserId::parse(format!("@{}:{server_name}", self.sender_localpart))?;
        // A `:` in the localpart would move the server name.
        if id.localpart() != self.sender_localpart {
            return Err(ruma_common::IdParseError::InvalidCharacters);
        }
        Ok(id)
    }
}

fn random_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect()
}
