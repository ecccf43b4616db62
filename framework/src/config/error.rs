//! Why a config file, or the environment over it, cannot be used.

use std::path::PathBuf;

use super::did_you_mean;

/// Why the settings cannot be used; each message names the file, key or
/// variable and says the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--config` or `GHOSTKIT_CONFIG` does not exist.
    #[error("the config file {} does not exist; fix --config (or GHOSTKIT_CONFIG), or write one with `generate-config`", .0.display())]
    Missing(PathBuf),
    /// The file could not be read.
    #[error("cannot read the config file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("the config file {} is not valid YAML: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the YAML parser said, with the line.
        message: String,
    },
    /// The file is not a mapping of keys to values.
    #[error("the config file {} must be a mapping of `key: value` lines", .0.display())]
    NotAMapping(PathBuf),
    /// A key the settings do not have.
    #[error("unknown key `{key}` in {}{}", .path.display(), did_you_mean(.suggestion.as_deref()))]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key, with its parents (`dispatch.max_backlog`).
        key: String,
        /// The known key nearest to it, with its parents, if one is near.
        suggestion: Option<String>,
    },
    /// A `GHOSTKIT_` environment variable that sets no key.
    #[error("unknown environment variable {name}{}", did_you_mean(.suggestion.as_deref()))]
    UnknownVariable {
        /// The variable.
        name: String,
        /// The known variable nearest to it, if one is near.
        suggestion: Option<String>,
    },
    /// Both a variable and its `_FILE` variant are set.
    #[error("both {name} and {name}_FILE are set; keep one")]
    BothSet {
        /// The variable without `_FILE`.
        name: String,
    },
    /// The file a `_FILE` variable names cannot be read.
    #[error("cannot read {}, named by {name}: {source}", .path.display())]
    SecretFile {
        /// The variable.
        name: String,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A value of the wrong type (`dispatch.max_backlog: invalid type: …`).
    #[error("`{key}` ({}): {message}", super::load::variable_of(.key))]
    Value {
        /// The key, with its parents.
        key: String,
        /// What was wrong.
        message: String,
    },
    /// A value that is refused; the message names the key and its
    /// variable.
    #[error("`{key}` ({}) is `{value}`: {fix}", super::load::variable_of(.key))]
    Invalid {
        /// The key, with its parents.
        key: String,
        /// The value as given.
        value: String,
        /// What would do.
        fix: String,
    },
    /// The file `generate-config` would write exists already.
    #[error("{} exists already; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    /// The file `generate-config` writes could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}
