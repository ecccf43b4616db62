//! The registration file: what the homeserver knows about the appservice.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/#registration>
//!
//! [`Registration::load`] reads and validates a YAML file, compiling every
//! namespace regex once, anchored at both ends the way homeservers match them.
//! [`Registration::generate`] makes a new one with fresh random tokens.
//! Keys this crate does not know are kept in [`Registration::extra`] and
//! written back unchanged by [`Registration::to_yaml`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::distributions::Alphanumeric;
use rand::Rng;
use regex::Regex;
use serde::{Deserialize, Serialize};

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
    /// The file is not valid YAML or misses a required key.
    #[error(
        "registration file is not valid: {message}; compare it with registration.yaml.example"
    )]
    Syntax {
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field holds a value that cannot work.
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

/// One namespace entry: a regex and whether the appservice claims it exclusively.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Namespace {
    /// Regex matched against the whole ID (`@_irc_.*:example.org`).
    pub regex: String,
    /// Whether other users may not create IDs in this namespace.
    #[serde(default)]
    pub exclusive: bool,
    /// Keys we do not know, kept when re-writing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

/// The three kinds of namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Namespaces {
    /// User IDs the appservice acts as.
    #[serde(default)]
    pub users: Vec<Namespace>,
    /// Room aliases the appservice manages.
    #[serde(default)]
    pub aliases: Vec<Namespace>,
    /// Room IDs the appservice wants events for.
    #[serde(default)]
    pub rooms: Vec<Namespace>,
    /// Keys we do not know, kept when re-writing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
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
///     - {regex: '@echo:example\.org', exclusive: true}
///     - {regex: '@_echo_.*:example\.org', exclusive: true}
/// "#;
/// let reg = ghostkit::Registration::from_yaml(yaml).unwrap();
/// assert!(reg.is_user_in_namespace("@_echo_bob:example.org"));
/// assert!(!reg.is_user_in_namespace("@_echo_bob:example.org.evil"));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    /// Unique ID of the appservice on this homeserver.
    pub id: String,
    /// Where the homeserver sends transactions; `None` when it sends none.
    pub url: Option<String>,
    /// Token the appservice uses towards the homeserver.
    pub as_token: String,
    /// Token the homeserver uses towards the appservice.
    pub hs_token: String,
    /// Localpart of the appservice's own bot user.
    pub sender_localpart: String,
    /// The user, alias and room namespaces.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// Whether the homeserver rate-limits the appservice's users (default true).
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
    compiled: Compiled,
}

#[derive(Debug, Clone, Default)]
struct Compiled {
    users: Vec<Regex>,
    aliases: Vec<Regex>,
    rooms: Vec<Regex>,
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
        let mut reg: Registration =
            serde_yaml::from_str(text).map_err(|e| RegistrationError::Syntax {
                message: e.to_string(),
            })?;
        reg.validate()?;
        Ok(reg)
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
    /// assert!(reg.is_user_in_namespace("@_echo_alice:example.org"));
    /// assert!(reg.is_user_in_namespace("@echo:example.org"));
    /// ```
    pub fn generate(opts: GenerateOptions) -> Result<Self, RegistrationError> {
        let server = regex::escape(&opts.server_name);
        let ns = |prefix: &Option<String>, sigil: &str| {
            prefix
                .iter()
                .map(|p| Namespace {
                    regex: format!("{sigil}{}.*:{server}", regex::escape(p)),
                    exclusive: true,
                    extra: BTreeMap::new(),
                })
                .collect::<Vec<_>>()
        };
        let mut users = ns(&opts.user_prefix, "@");
        users.push(Namespace {
            regex: format!("@{}:{server}", regex::escape(&opts.sender_localpart)),
            exclusive: true,
            extra: BTreeMap::new(),
        });
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
            compiled: Compiled::default(),
        };
        reg.validate()?;
        Ok(reg)
    }

    /// Checks every field and compiles the namespace regexes.
    pub fn validate(&mut self) -> Result<(), RegistrationError> {
        if self.id.trim().is_empty() {
            return Err(invalid(
                "id",
                "is empty",
                "give the appservice a unique id, e.g. `id: my-bridge`",
            ));
        }
        for (field, token) in [("as_token", &self.as_token), ("hs_token", &self.hs_token)] {
            if token.trim().is_empty() {
                return Err(invalid(
                    field,
                    "is empty",
                    "set a long random secret, or run the `generate-registration` command",
                ));
            }
        }
        if self.as_token == self.hs_token {
            return Err(invalid(
                "hs_token",
                "is the same as `as_token`",
                "use two different random secrets so one leaked token does not give both directions away",
            ));
        }
        if let Some(url) = &self.url {
            if url::Url::parse(url)
                .map(|u| u.scheme() != "http" && u.scheme() != "https")
                .unwrap_or(true)
            {
                return Err(invalid(
                    "url",
                    format!("`{url}` is not an http(s) URL"),
                    "write where the appservice listens, e.g. `url: http://127.0.0.1:9000`, or `url: null`",
                ));
            }
        }
        if self.sender_localpart.is_empty()
            || !self
                .sender_localpart
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-/+".contains(&b))
        {
            return Err(invalid(
                "sender_localpart",
                format!("`{}` is not a valid user localpart", self.sender_localpart),
                "use lowercase letters, digits and `._=-/+` only, e.g. `sender_localpart: mybot`",
            ));
        }
        let compile = |kind: &str, list: &[Namespace]| -> Result<Vec<Regex>, RegistrationError> {
            list.iter()
                .enumerate()
                .map(|(i, ns)| {
                    Regex::new(&format!("^(?:{})$", ns.regex)).map_err(|e| {
                        invalid(
                            format!("namespaces.{kind}[{i}].regex"),
                            format!("is not a valid regex: {e}"),
                            "escape dots as `\\.` and check brackets; in YAML put the regex in single quotes",
                        )
                    })
                })
                .collect()
        };
        self.compiled = Compiled {
            users: compile("users", &self.namespaces.users)?,
            aliases: compile("aliases", &self.namespaces.aliases)?,
            rooms: compile("rooms", &self.namespaces.rooms)?,
        };
        // A sender outside its own users namespace is allowed by the spec only
        // when no users namespace is declared at all; when there is one, the bot
        // user must be in it, or homeservers refuse to let it act.
        if !self.compiled.users.is_empty() {
            let suffixes: Vec<&str> = self
                .namespaces
                .users
                .iter()
                .filter_map(|ns| ns.regex.rsplit_once(':').map(|(_, s)| s))
                .collect();
            let fits_some = suffixes.iter().any(|server| {
                let candidate = format!("@{}:{}", self.sender_localpart, server.replace('\\', ""));
                self.is_user_in_namespace(&candidate)
            });
            if !fits_some {
                return Err(invalid(
                    "sender_localpart",
                    format!(
                        "`{}` is not matched by any `namespaces.users` regex",
                        self.sender_localpart
                    ),
                    format!(
                        "add `- regex: '@{}:your\\.server'` to namespaces.users, or rename the bot to fit a namespace",
                        regex::escape(&self.sender_localpart)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether `user_id` is in one of the users namespaces.
    pub fn is_user_in_namespace(&self, user_id: &str) -> bool {
        self.compiled.users.iter().any(|r| r.is_match(user_id))
    }

    /// Whether `alias` is in one of the aliases namespaces.
    pub fn is_alias_in_namespace(&self, alias: &str) -> bool {
        self.compiled.aliases.iter().any(|r| r.is_match(alias))
    }

    /// Whether `room_id` is in one of the rooms namespaces.
    pub fn is_room_in_namespace(&self, room_id: &str) -> bool {
        self.compiled.rooms.iter().any(|r| r.is_match(room_id))
    }

    /// Whether the homeserver was asked to push ephemeral events (stable or unstable flag).
    pub fn wants_ephemeral(&self) -> bool {
        self.receive_ephemeral.unwrap_or(false) || self.push_ephemeral_unstable.unwrap_or(false)
    }

    /// The bot user's full ID on `server_name`.
    pub fn bot_user_id(&self, server_name: &str) -> String {
        format!("@{}:{server_name}", self.sender_localpart)
    }
}

fn random_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect()
}
