//! A setting that must not show: its `Debug` and `Display` hide it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A secret setting (a password, a URL with credentials): read and
/// written as a plain string, shown as `<redacted>`.
///
/// ```
/// use ghostkit::config::Secret;
/// let password = Secret::new("hunter2");
/// assert_eq!(password.expose(), "hunter2");
/// assert_eq!(format!("{password:?} {password}"), "<redacted> <redacted>");
/// let read: Secret = serde_yaml::from_str("hunter2").unwrap();
/// assert_eq!(read, password);
/// ```
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
