//! What a bot says about itself, used as defaults by the command line.

/// What a bot says about itself, used as defaults by the command line:
/// made with [`bot_info!`](crate::bot_info) and the setters.
///
/// ```
/// use ghostkit::prelude::*;
///
/// const INFO: BotInfo = bot_info!("bridge").ghosts("_bridge_").port(9010);
/// assert_eq!(INFO.sender_localpart, "bridge");
/// assert_eq!(INFO.user_prefix, Some("_bridge_"));
/// assert_eq!(INFO.version, env!("CARGO_PKG_VERSION"));
/// ```
#[derive(Debug, Clone)]
pub struct BotInfo {
    /// Appservice ID and default file names (`echo`).
    pub id: &'static str,
    /// The bot user's localpart (`echo`).
    pub sender_localpart: &'static str,
    /// Prefix of ghost localparts (`_echo_`), if the bot has ghosts.
    pub user_prefix: Option<&'static str>,
    /// Prefix of aliases (`_echo_`), if the bot manages aliases.
    pub alias_prefix: Option<&'static str>,
    /// Default port to listen on.
    pub port: u16,
    /// The bot's version, shown by `--version`: its crate's,
    /// `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
}

/// The [`BotInfo`] of the bot `id`, with the calling crate's version:
/// `bot_info!("echo")` is `BotInfo::new("echo", env!("CARGO_PKG_VERSION"))`.
///
/// ```
/// const INFO: ghostkit::cli::BotInfo = ghostkit::bot_info!("echo");
/// assert_eq!(INFO.id, "echo");
/// ```
#[macro_export]
macro_rules! bot_info {
    ($id:expr) => {
        $crate::cli::BotInfo::new($id, ::core::env!("CARGO_PKG_VERSION"))
    };
}

impl BotInfo {
    /// The bot `id` at `version`: its bot user has the localpart `id`, it
    /// has no ghosts nor aliases, and listens on port 9000.
    pub const fn new(id: &'static str, version: &'static str) -> Self {
        BotInfo {
            id,
            sender_localpart: id,
            user_prefix: None,
            alias_prefix: None,
            port: 9000,
            version,
        }
    }

    /// The bot user's localpart, when it is not the id.
    pub const fn sender_localpart(mut self, localpart: &'static str) -> Self {
        self.sender_localpart = localpart;
        self
    }

    /// The bot has ghosts, whose localparts start with `prefix`.
    pub const fn ghosts(mut self, prefix: &'static str) -> Self {
        self.user_prefix = Some(prefix);
        self
    }

    /// The bot manages aliases, whose localparts start with `prefix`.
    pub const fn aliases(mut self, prefix: &'static str) -> Self {
        self.alias_prefix = Some(prefix);
        self
    }

    /// The port a generated registration says the bot listens on.
    pub const fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// What `--version` prints: the bot's id and version, then ghostkit's.
    ///
    /// ```
    /// use ghostkit::cli::BotInfo;
    /// let info = BotInfo::new("echo", "1.2.3");
    /// assert_eq!(
    ///     info.version_line(),
    ///     format!("echo 1.2.3 (ghostkit {})", env!("CARGO_PKG_VERSION"))
    /// );
    /// ```
    pub fn version_line(&self) -> String {
        format!("{} {}", self.id, self.version_text())
    }

    /// The version text clap prints after the name.
    pub(super) fn version_text(&self) -> String {
        format!("{} (ghostkit {})", self.version, env!("CARGO_PKG_VERSION"))
    }
}
