//! What the ircbridge tests share: a real IRC server (ngircd) of their own,
//! an IRC client written for the tests, and the bridge started against both.

mod bench;
mod relay;
mod security;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use ircbridge::irc::Message;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use ghostkit::{Appservice, Config, Registration};

use crate::common::{ping_until_ok, registration_path, synapse_url};

/// The tests of the ircbridge share the registration's port: one at a time.
pub static PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An ngircd of this test, on a free port; killed when dropped.
pub struct Ngircd {
    pub port: u16,
    /// With [`Ngircd::start_tls`]: the TLS port, and the certificate of the
    /// test CA that signed the server's (for `localhost`).
    pub tls: Option<(u16, PathBuf)>,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn ngircd_binary() -> PathBuf {
    for p in ["/usr/sbin/ngircd", "/usr/local/sbin/ngircd"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    "ngircd".into()
}

impl Ngircd {
    /// Starts ngircd with a generated config: 127.0.0.1 only, no PAM, DNS
    /// or ident, and no connection, join or flood limits.
    pub async fn start() -> Result<Ngircd> {
        Self::start_on(free_port()?).await
    }

    /// Starts ngircd on `port` (to stand in for one that was stopped).
    pub async fn start_on(port: u16) -> Result<Ngircd> {
        Self::launch(port, false).await
    }

    /// Starts ngircd with a TLS port too, its certificate for `localhost`
    /// signed by a test CA made with `openssl`.
    pub async fn start_tls() -> Result<Ngircd> {
        Self::launch(free_port()?, true).await
    }

    async fn launch(port: u16, with_tls: bool) -> Result<Ngircd> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("ngircd.conf");
        let mut text = format!(
            "[Global]\nName = irc.test\nInfo = ghostkit test\nAdminInfo1 = test\nAdminInfo2 = test\n\
             AdminEMail = test@localhost\nListen = 127.0.0.1\nPorts = {port}\nMotdPhrase = test\n\
             [Limits]\nMaxConnections = 0\nMaxConnectionsIP = 0\nMaxJoins = 0\nMaxNickLength = 30\n\
             MaxPenaltyTime = 0\nPingTimeout = 300\nPongTimeout = 60\n\
             [Options]\nDNS = no\nIdent = no\nPAM = no\n"
        );
        let mut tls = None;
        if with_tls {
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            let ca = dir.path().join("ca.pem");
            let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
            std::fs::write(
                dir.path().join("ext.cnf"),
                "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
            )?;
            // A test CA, and the server's certificate for `localhost` signed by it.
            let steps: [Vec<String>; 3] = [
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ]
                .map(String::from)
                .into_iter()
                .chain(["-subj", "/CN=ghostkit test CA"].map(String::from))
                .chain(["-keyout".into(), d("ca.key"), "-out".into(), d("ca.pem")])
                .collect(),
                [
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    "/CN=localhost",
                ]
                .map(String::from)
                .into_iter()
                .chain([
                    "-keyout".into(),
                    d("key.pem"),
                    "-out".into(),
                    d("server.csr"),
                ])
                .collect(),
                ["x509", "-req", "-days", "2", "-CAcreateserial"]
                    .map(String::from)
                    .into_iter()
                    .chain(["-in".into(), d("server.csr"), "-CA".into(), d("ca.pem")])
                    .chain(["-CAkey".into(), d("ca.key"), "-out".into(), d("cert.pem")])
                    .chain(["-extfile".into(), d("ext.cnf")])
                    .collect(),
            ];
            for args in steps {
                let made = std::process::Command::new("openssl")
                    .args(&args)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .context(
                        "running openssl (apt-get install openssl, or scripts/synapse.sh install)",
                    )?;
                anyhow::ensure!(made.success(), "openssl {} failed", args.join(" "));
            }
            let tls_port = free_port()?;
            text.push_str(&format!(
                "[SSL]\nCertFile = {}\nKeyFile = {}\nPorts = {tls_port}\n",
                cert.display(),
                key.display()
            ));
            tls = Some((tls_port, ca));
        }
        std::fs::write(&config, text)?;
        let child = tokio::process::Command::new(ngircd_binary())
            .arg("-n")
            .arg("-f")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting ngircd (apt-get install ngircd, or scripts/synapse.sh install)")?;
        let server = Ngircd {
            port,
            tls,
            _child: child,
            _dir: dir,
        };
        let last_port = server.tls.as_ref().map_or(port, |t| t.0);
        for p in [port, last_port] {
            crate::common::eventually(Duration::from_secs(10), "ngircd to listen", || async {
                Ok(TcpStream::connect(("127.0.0.1", p)).await.ok().map(drop))
            })
            .await?;
        }
        Ok(server)
    }
}

/// A plain IRC client for the tests.
pub struct IrcClient {
    pub nick: String,
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl IrcClient {
    /// Connects and registers as `nick`.
    pub async fn connect(port: u16, nick: &str) -> Result<IrcClient> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let (read, write) = stream.into_split();
        let mut c = IrcClient {
            nick: nick.to_owned(),
            read: BufReader::new(read),
            write,
        };
        c.send(&format!("NICK {nick}")).await?;
        c.send(&format!("USER {nick} 0 * :test user")).await?;
        c.expect("the welcome", |m| m.command == "001").await?;
        Ok(c)
    }

    /// Sends one raw line.
    pub async fn send(&mut self, line: &str) -> Result<()> {
        self.write
            .write_all(format!("{line}\r\n").as_bytes())
            .await?;
        Ok(())
    }

    /// Joins `channel` and waits for the end of its names list.
    pub async fn join(&mut self, channel: &str) -> Result<()> {
        self.send(&format!("JOIN {channel}")).await?;
        self.expect("the names list", |m| m.command == "366")
            .await?;
        Ok(())
    }

    /// Reads messages (answering PINGs) until one matches, for up to 30 s.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&Message) -> bool) -> Result<Message> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout_at(deadline, self.read.read_line(&mut line))
                .await
                .map_err(|_| anyhow!("{}: timed out waiting for {what}", self.nick))??;
            if n == 0 {
                bail!("{}: connection closed waiting for {what}", self.nick);
            }
            let Ok(msg) = Message::parse(&line) else {
                continue;
            };
            if msg.command == "PING" {
                self.send(&format!("PONG :{}", msg.param(0).unwrap_or("")))
                    .await?;
                continue;
            }
            if pred(&msg) {
                return Ok(msg);
            }
        }
    }

    /// Waits for a PRIVMSG to `channel` whose text contains `needle`; returns the text.
    pub async fn expect_privmsg(&mut self, channel: &str, needle: &str) -> Result<String> {
        let m = self
            .expect(&format!("a PRIVMSG with `{needle}`"), |m| {
                m.command == "PRIVMSG"
                    && m.param(0) == Some(channel)
                    && m.param(1).is_some_and(|t| t.contains(needle))
            })
            .await?;
        Ok(m.param(1).unwrap_or("").to_owned())
    }
}

/// The bridge's config for the test server: every channel's alias makes
/// a portal, up to 1000 an hour, and a message may be 20 lines long.
pub fn bridge_config(port: u16) -> ircbridge::BridgeConfig {
    ircbridge::BridgeConfig {
        network: "test".into(),
        host: "127.0.0.1".into(),
        port,
        nick: "bridge".into(),
        alias_channels: vec!["#*".into()],
        alias_portals_per_hour: 1000,
        max_lines_per_message: 20,
        flood_burst: 1000,
        flood_per_second: 1000.0,
        nick_reclaim_seconds: 1,
        ..Default::default()
    }
}

/// Starts the bridge with [`bridge_config`].
pub async fn start_bridge(port: u16, store: &Path) -> Result<ghostkit::Running> {
    start_bridge_with(bridge_config(port), store).await
}

/// Starts the bridge with `bridge_config` against Synapse and the IRC
/// server, and has Synapse ping it until that gets through (a ping can
/// fail on a Synapse restarted a moment ago).
pub async fn start_bridge_with(
    bridge_config: ircbridge::BridgeConfig,
    store: &Path,
) -> Result<ghostkit::Running> {
    let start = std::time::Instant::now();
    let running = loop {
        let reg = Registration::load(registration_path("ircbridge"))?;
        let mut config = Config::new(synapse_url(), store);
        config.server_name = Some("localhost".into());
        let bridge = ircbridge::setup(bridge_config.clone());
        match Appservice::new(reg, config).start(bridge).await {
            // A bridge just stopped in this process may hold the store a moment.
            Err(e)
                if start.elapsed() < Duration::from_secs(10) && e.to_string().contains("lock") =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other?,
        }
    };
    if let Err(e) = ping_until_ok(running.app().client()).await {
        running.stop().await;
        return Err(e);
    }
    Ok(running)
}

/// The ghost user ID of `nick` on the test network.
pub fn ghost(nick: &str) -> String {
    ircbridge::names::Names::new("test", "localhost").ghost(nick)
}

/// The room of `channel`, from the bridge's store.
pub async fn portal_room(running: &ghostkit::Running, channel: &str) -> Result<Option<String>> {
    let portals = ircbridge::portal::Portals::new(running.app().store());
    portals.load().await?;
    Ok(portals.by_channel(channel).map(|p| p.room_id.to_string()))
}
