//! A bot's one config file: every framework setting and the bot's own
//! (under `bot`), in YAML, each with a documented default.
//!
//! ```yaml
//! homeserver_url: http://127.0.0.1:8008
//! registration: modbot-registration.yaml
//! dispatch:
//!   max_backlog: 20000
//! bot:
//!   management_room: "#moderators:example.org"
//! ```
//!
//! Where a value comes from, the last one winning: the default, the file
//! (`--config`, `GHOSTKIT_CONFIG`, or `<bot>.yaml` when it exists), the
//! environment, the command-line flags. Every key has a variable:
//! `GHOSTKIT_` and the key with its parents in capitals
//! (`GHOSTKIT_BOT_MANAGEMENT_ROOM` for `bot.management_room`), and a
//! `_FILE` variant that reads the value from a file, for secrets
//! (`GHOSTKIT_BOT_PASSWORD_FILE=/run/secrets/irc`). `generate-config` writes
//! the file with every key, its default and its description.
//!
//! Reading fails closed: an unknown key or `GHOSTKIT_` variable is an error
//! that names it and the known one nearest to it ([`nearest`]), a value of
//! the wrong type names its key, and a value out of range is refused, not
//! clamped. The registration stays a file of its own, as the homeserver
//! reads it too.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ghostkit::config::{Settings, Sources};
//!
//! let vars = BTreeMap::from([
//!     ("GHOSTKIT_DISPATCH_MAX_BACKLOG".to_owned(), "500".to_owned()),
//! ]);
//! let sources = Sources::new("mybot", None, vars);
//! let settings: Settings = Settings::load(&sources).unwrap();
//! assert_eq!(settings.dispatch.max_backlog, 500);
//!
//! let typo = BTreeMap::from([("GHOSTKIT_DISPATCH_MAX_BACKLGO".to_owned(), "5".to_owned())]);
//! let e = Settings::<()>::load(&Sources::new("mybot", None, typo)).unwrap_err();
//! assert_eq!(
//!     e.to_string(),
//!     "unknown environment variable GHOSTKIT_DISPATCH_MAX_BACKLGO; did you mean `GHOSTKIT_DISPATCH_MAX_BACKLOG`?"
//! );
//! ```

mod error;
mod load;
mod nearest;
mod schema;
mod secret;
mod settings;
mod template;

use std::path::Path;

use schemars::JsonSchema;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

pub use error::ConfigError;
pub use load::{Sources, CONFIG_VAR, ENV_PREFIX, TEST_PREFIX};
pub use nearest::{did_you_mean, nearest};
pub use secret::Secret;
pub use settings::{
    ClientSettings, DispatchSettings, LogSettings, PostgresSettings, RetrySettings, ServerSettings,
    Settings,
};

use schema::Node;

impl<B: DeserializeOwned + JsonSchema + Default + Serialize> Settings<B> {
    /// Reads the settings, the bot's included, from `sources`.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        sources.read(&Node::of::<Settings<B>>(), true)
    }
}

impl Settings<IgnoredAny> {
    /// Reads the framework's settings from `sources`, leaving the bot's
    /// alone: what the registration commands need, which must work where
    /// the bot's settings are missing or wrong.
    pub fn load_framework(sources: &Sources) -> Result<Self, ConfigError> {
        sources.read(&Node::of::<Settings<()>>(), false)
    }
}

impl<B: Serialize + JsonSchema + Default> Settings<B> {
    /// The defaults of the bot `id`, with its registration file and store
    /// folder named.
    pub fn defaults_for(id: &str) -> Self {
        Settings {
            registration: Some(format!("{id}-registration.yaml").into()),
            store: Some(format!("{id}.store").into()),
            ..Settings::default()
        }
    }

    /// The commented file `generate-config` writes: every key with its
    /// default ([`Settings::defaults_for`]) after its description.
    ///
    /// ```
    /// use ghostkit::config::Settings;
    /// let text = Settings::<()>::template("mybot");
    /// assert!(text.contains("\nregistration: mybot-registration.yaml\n"), "{text}");
    /// assert!(text.contains("# (GHOSTKIT_DISPATCH_MAX_BACKLOG)\n  max_backlog: 20000\n"), "{text}");
    /// let back: Settings = serde_yaml::from_str(&text).unwrap();
    /// assert_eq!(back, Settings::defaults_for("mybot"));
    /// ```
    pub fn template(id: &str) -> String {
        let value = serde_yaml::to_value(Self::defaults_for(id)).unwrap_or_default();
        template::render(id, &value, &Node::of::<Settings<B>>())
    }

    /// Writes [`Settings::template`] to `path`; an existing file is
    /// replaced only when `force`.
    pub fn write_template(id: &str, path: &Path, force: bool) -> Result<(), ConfigError> {
        if path.exists() && !force {
            return Err(ConfigError::Exists(path.to_owned()));
        }
        std::fs::write(path, Self::template(id)).map_err(|source| ConfigError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
