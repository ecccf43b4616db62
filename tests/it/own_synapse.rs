//! A Synapse of a test's own: its own port, folder and registrations
//! (`scripts/synapse.sh` with `SYNAPSE_PORT`, `SYNAPSE_DIR`, `SYNAPSE_REGS`),
//! for tests that stop, restart or replace the homeserver under a bot.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};

/// A running Synapse of the test's own, stopped when dropped.
pub struct OwnSynapse {
    port: u16,
    dir: PathBuf,
    regs: PathBuf,
}

impl OwnSynapse {
    /// Its client-server URL on `port`.
    pub fn url(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }

    fn script(&self, action: &str) -> Result<()> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/synapse.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(action)
            .env("SYNAPSE_PORT", self.port.to_string())
            .env("SYNAPSE_DIR", &self.dir)
            .env("SYNAPSE_REGS", &self.regs)
            .output()?;
        if !out.status.success() {
            bail!(
                "synapse.sh {action} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Starts a Synapse on `port` in `dir`, loading every registration of
    /// the folder `regs`.
    pub fn start(port: u16, dir: PathBuf, regs: &Path) -> Result<Self> {
        let s = OwnSynapse {
            port,
            dir,
            regs: regs.to_owned(),
        };
        s.script("start")?;
        Ok(s)
    }

    /// Stops it (its data stays).
    pub fn stop(&self) -> Result<()> {
        self.script("stop")
    }

    /// Starts it again on its data.
    pub fn start_again(&self) -> Result<()> {
        self.script("start")
    }

    /// Stops it and starts it again.
    pub fn restart(&self) -> Result<()> {
        self.stop()?;
        self.start_again()
    }
}

impl Drop for OwnSynapse {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}
