//! The bridge's configuration: a YAML file (`IRCBRIDGE_CONFIG`, default
//! `ircbridge.yaml`).
//!
//! ```yaml
//! network: libera            # lowercase letters and digits; in ghost IDs and aliases
//! host: irc.libera.chat
//! port: 6697
//! tls: true                  # false: plain TCP (port 6667 on most networks)
//! # tls_ca_file: ca.pem      # PEM certificates trusted besides the public CAs
//! nick: matrixbridge
//! channels: ["#ghostkit"]    # portals made and joined at start
//! admins: ["@me:example.org"] # who may use the bot's commands; empty: anyone
//! flood_burst: 10
//! flood_per_second: 2.0
//! nick_reclaim_seconds: 30   # asks for `nick` again when it was taken
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::irc::IrcConfig;

/// The bridge's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BridgeConfig {
    /// The network's name in ghost IDs and aliases (lowercase letters, digits).
    pub network: String,
    /// IRC server host.
    pub host: String,
    /// IRC server port.
    pub port: u16,
    /// Whether to connect with TLS.
    pub tls: bool,
    /// A PEM file of certificates to trust besides the public authorities
    /// (a private network's CA, a self-signed server); needs `tls: true`.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// The bridge's nick on IRC.
    pub nick: String,
    /// A server password, if any.
    pub password: Option<String>,
    /// Channels bridged from the start.
    pub channels: Vec<String>,
    /// Matrix users allowed to give commands; empty allows everyone.
    pub admins: Vec<String>,
    /// Lines sent at once before flood control paces them.
    pub flood_burst: u32,
    /// Lines a second after the burst.
    pub flood_per_second: f64,
    /// Seconds between attempts to get the configured nick back when the
    /// server gave us another (it was taken).
    pub nick_reclaim_seconds: u64,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            network: "irc".into(),
            host: "127.0.0.1".into(),
            port: 6667,
            tls: false,
            tls_ca_file: None,
            nick: "matrixbridge".into(),
            password: None,
            channels: Vec::new(),
            admins: Vec::new(),
            flood_burst: 10,
            flood_per_second: 2.0,
            nick_reclaim_seconds: 30,
        }
    }
}

impl BridgeConfig {
    /// Reads `path` and checks it.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the config file {}: {e}", path.display()))?;
        let config: BridgeConfig = serde_yaml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("config file {} is not valid: {e}", path.display()))?;
        config.check()?;
        Ok(config)
    }

    /// Reads the file named by `IRCBRIDGE_CONFIG` (default `ircbridge.yaml`).
    pub fn from_env() -> anyhow::Result<Self> {
        let path = std::env::var("IRCBRIDGE_CONFIG").unwrap_or_else(|_| "ircbridge.yaml".into());
        Self::load(Path::new(&path))
    }

    /// Refuses a network name that would make ambiguous Matrix IDs.
    pub fn check(&self) -> anyhow::Result<()> {
        let ok = !self.network.is_empty()
            && self
                .network
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        anyhow::ensure!(
            ok,
            "network `{}`: use lowercase letters and digits only",
            self.network
        );
        anyhow::ensure!(!self.nick.is_empty(), "no nick configured");
        if let Some(ca) = &self.tls_ca_file {
            anyhow::ensure!(
                self.tls,
                "tls_ca_file is set but tls is false: add `tls: true` (or remove tls_ca_file)"
            );
            anyhow::ensure!(
                ca.is_file(),
                "tls_ca_file {} is not a readable file",
                ca.display()
            );
        }
        if self.tls {
            // Fails early on a CA file that is not PEM certificates.
            crate::irc::Tls {
                ca_file: self.tls_ca_file.clone(),
            }
            .connector()
            .map_err(|e| anyhow::anyhow!(e))?;
        }
        Ok(())
    }

    /// Whether `user_id` may give commands.
    pub fn is_admin(&self, user_id: &str) -> bool {
        self.admins.is_empty() || self.admins.iter().any(|a| a == user_id)
    }

    /// The IRC connection's settings.
    pub fn irc(&self) -> IrcConfig {
        let mut c = IrcConfig::new(&self.host, self.port, &self.nick);
        c.tls = self.tls.then(|| crate::irc::Tls {
            ca_file: self.tls_ca_file.clone(),
        });
        c.password = self.password.clone();
        c.flood_burst = self.flood_burst;
        c.flood_per_second = self.flood_per_second;
        c.nick_reclaim = std::time::Duration::from_secs(self.nick_reclaim_seconds.max(1));
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_needs_tls_and_must_be_certificates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "nothing").expect("writes");
        let mut c = BridgeConfig {
            tls_ca_file: Some(ca),
            ..BridgeConfig::default()
        };
        let err = c.check().expect_err("refused").to_string();
        assert!(err.contains("add `tls: true`"), "{err}");
        c.tls = true;
        let err = c.check().expect_err("refused").to_string();
        assert!(err.contains("holds no certificate"), "{err}");
        c.tls_ca_file = Some(dir.path().join("missing.pem"));
        let err = c.check().expect_err("refused").to_string();
        assert!(err.contains("not a readable file"), "{err}");
        c.tls_ca_file = None;
        c.check().expect("TLS with the public authorities");
        assert!(c.irc().tls.is_some());
    }
}
