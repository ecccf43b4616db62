//! The bridge's IRC connection: connects, registers, answers PINGs, picks
//! another nick when the wanted one is taken (433), rejoins its channels,
//! paces outgoing lines with a [`TokenBucket`] and reconnects with backoff.
//!
//! Lines to send wait in an [`Outbox`] that outlives a connection: what is
//! queued while the server is away goes out after the reconnect. The
//! outbox is bounded and drains the channels in turn.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

use super::outbox::{Outbox, QueueError, QueueLimits};
use super::{casefold, Message, TokenBucket};
use ghostkit::backoff::Backoff;

/// The longest line read (IRCv3 tags included); longer lines are cut.
const MAX_READ_LINE: u64 = 8191 + 512;

/// The longest line written, CR LF not counted (IRC's 512 bytes with them).
const MAX_WRITE_LINE: usize = 510;

/// How to reach and behave on one IRC network.
#[derive(Debug, Clone)]
pub struct IrcConfig {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// TLS (most networks: port 6697), or `None` for plain TCP.
    pub tls: Option<super::Tls>,
    /// The nick wanted.
    pub nick: String,
    /// The user name (ident).
    pub username: String,
    /// The real name.
    pub realname: String,
    /// A server password (`PASS`), if any.
    pub password: Option<ghostkit::config::Secret>,
    /// Lines sent at once before flood control paces them.
    pub flood_burst: u32,
    /// Lines a second after the burst.
    pub flood_per_second: f64,
    /// The first wait before reconnecting; doubled each failure.
    pub reconnect_min: Duration,
    /// The longest wait before reconnecting.
    pub reconnect_max: Duration,
    /// Silence after which the server is PINGed; twice that, reconnect.
    pub ping_interval: Duration,
    /// How often the wanted nick is asked for again while we have another.
    pub nick_reclaim: Duration,
    /// How many lines may wait to be sent.
    pub queue: QueueLimits,
}

impl IrcConfig {
    /// Defaults for `host:port` and `nick`.
    pub fn new(host: impl Into<String>, port: u16, nick: impl Into<String>) -> Self {
        let nick = nick.into();
        IrcConfig {
            host: host.into(),
            port,
            tls: None,
            username: "ghostkit".into(),
            realname: format!("{nick} (Matrix bridge)"),
            nick,
            password: None,
            flood_burst: 10,
            flood_per_second: 2.0,
            reconnect_min: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(60),
            ping_interval: Duration::from_secs(120),
            nick_reclaim: Duration::from_secs(30),
            queue: QueueLimits::default(),
        }
    }
}

/// What the connection reports to the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IrcEvent {
    /// Registered with the server (after `001`) under this nick.
    Connected {
        /// Our nick on the server.
        nick: String,
    },
    /// The connection was lost; a reconnect follows.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A message from the server (PINGs are answered, not reported).
    Message(Message),
}

#[derive(Debug, Default)]
struct Shared {
    nick: String,
    /// The nick we want (the configured one, or the last `set_nick`).
    wanted: String,
    connected: bool,
    /// Wanted channels, by casefolded name, with their spelling.
    channels: BTreeMap<String, String>,
}

/// Closes the outbox when the last handle is gone.
#[derive(Debug)]
struct Alive(Arc<Outbox>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The bridge's side of the connection: cheap to clone.
#[derive(Debug, Clone)]
pub struct IrcHandle {
    out: Arc<Outbox>,
    shared: Arc<Mutex<Shared>>,
    task: Arc<tokio::task::JoinHandle<()>>,
    _alive: Arc<Alive>,
}

impl IrcHandle {
    /// Starts the connection task; events arrive on the returned receiver.
    pub fn spawn(config: IrcConfig) -> (IrcHandle, mpsc::UnboundedReceiver<IrcEvent>) {
        let out = Arc::new(Outbox::new(config.queue));
        let (events, events_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared {
            nick: config.nick.clone(),
            wanted: config.nick.clone(),
            ..Default::default()
        }));
        let task = tokio::spawn(run(config, shared.clone(), out.clone(), events));
        (
            IrcHandle {
                _alive: Arc::new(Alive(out.clone())),
                out,
                shared,
                task: Arc::new(task),
            },
            events_rx,
        )
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Our current nick (the wanted one until registered).
    pub fn nick(&self) -> String {
        self.shared().nick.clone()
    }

    /// Whether registered with the server now.
    pub fn is_connected(&self) -> bool {
        self.shared().connected
    }

    /// Queues a message (sent paced by flood control, after a reconnect if
    /// the server is away); refused when its queue is full.
    pub fn send(&self, msg: Message) -> Result<(), QueueError> {
        self.out.push(msg)
    }

    /// Queues the lines of one message together: all of them, or none when
    /// a queue lacks room for them.
    pub fn send_all(&self, msgs: Vec<Message>) -> Result<(), QueueError> {
        self.out.push_all(msgs)
    }

    /// Lines waiting to be said to channels.
    pub fn queued(&self) -> usize {
        self.out.queued()
    }

    /// Queues a line of the bridge's own; a full queue is logged.
    fn send_own(&self, msg: Message) {
        if let Err(e) = self.send(msg) {
            tracing::warn!(error = %e, "an IRC command was dropped");
        }
    }

    /// Queues `PRIVMSG target :text`.
    pub fn privmsg(&self, target: &str, text: &str) -> Result<(), QueueError> {
        self.send(Message::new("PRIVMSG", [target, text]))
    }

    /// Joins `channel` now and after every reconnect.
    pub fn join(&self, channel: &str) {
        let connected = {
            let mut s = self.shared();
            s.channels.insert(casefold(channel), channel.to_owned());
            s.connected
        };
        // Not registered yet: the join after `001` covers it.
        if connected {
            self.send_own(Message::new("JOIN", [channel]));
        }
    }

    /// Leaves `channel` and stops rejoining it.
    pub fn part(&self, channel: &str, reason: &str) {
        self.shared().channels.remove(&casefold(channel));
        self.send_own(Message::new("PART", [channel, reason]));
    }

    /// Asks for another nick.
    pub fn set_nick(&self, nick: &str) {
        self.shared().wanted = nick.to_owned();
        self.send_own(Message::new("NICK", [nick]));
    }

    /// Says QUIT and stops the connection task.
    pub async fn quit(&self, reason: &str) {
        self.send_own(Message::new("QUIT", [reason]));
        // Give the writer a moment to send it; the task is aborted anyway.
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while !self.task.is_finished() && self.is_connected() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        self.task.abort();
    }
}

async fn run(
    config: IrcConfig,
    shared: Arc<Mutex<Shared>>,
    out: Arc<Outbox>,
    events: mpsc::UnboundedSender<IrcEvent>,
) {
    let mut backoff = Backoff::new(config.reconnect_min, config.reconnect_max).steps();
    let mut bucket = TokenBucket::new(config.flood_burst, config.flood_per_second, Instant::now());
    loop {
        let started = Instant::now();
        let reason = match connect(&config).await {
            Ok(stream) => {
                let session = Session {
                    config: &config,
                    shared: &shared,
                    events: &events,
                    nick_tries: AtomicU32::new(0),
                    registered: Notify::new(),
                };
                session.run(stream, &out, &mut bucket).await
            }
            Err(e) => e,
        };
        let was_connected =
            std::mem::take(&mut shared.lock().unwrap_or_else(|p| p.into_inner()).connected);
        if events.is_closed() || reason == GONE {
            return;
        }
        tracing::warn!(%reason, "IRC connection lost");
        if was_connected {
            let _ = events.send(IrcEvent::Disconnected {
                reason: reason.clone(),
            });
        }
        // A session that lasted resets the backoff.
        if started.elapsed() > Duration::from_secs(60) {
            backoff.reset();
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// A byte stream to the server: plain TCP or TLS.
trait ServerStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> ServerStream for T {}

/// Connects (and does the TLS handshake, if configured); an error says why.
async fn connect(config: &IrcConfig) -> Result<Box<dyn ServerStream>, String> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", config.host, config.port))?;
    let _ = tcp.set_nodelay(true);
    match &config.tls {
        None => Ok(Box::new(tcp)),
        Some(tls) => Ok(Box::new(tls.handshake(&config.host, tcp).await?)),
    }
}

struct Session<'a> {
    config: &'a IrcConfig,
    shared: &'a Mutex<Shared>,
    events: &'a mpsc::UnboundedSender<IrcEvent>,
    nick_tries: AtomicU32,
    /// Woken at `001`, when ordinary lines may flow.
    registered: Notify,
}

impl Session<'_> {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one connection until it fails; returns why.
    async fn run(
        &self,
        stream: Box<dyn ServerStream>,
        out: &Outbox,
        bucket: &mut TokenBucket,
    ) -> String {
        let (read, mut write) = tokio::io::split(stream);
        let mut read = BufReader::new(read);
        let (urgent_tx, mut urgent) = mpsc::unbounded_channel::<Message>();
        if let Some(pass) = &self.config.password {
            let _ = urgent_tx.send(Message::new("PASS", [pass.expose()]));
        }
        let wanted = self.shared().wanted.clone();
        let _ = urgent_tx.send(Message::new("NICK", [wanted]));
        let _ = urgent_tx.send(Message::new(
            "USER",
            [
                self.config.username.as_str(),
                "0",
                "*",
                self.config.realname.as_str(),
            ],
        ));
        let writer = async {
            let period = self.config.nick_reclaim.max(Duration::from_millis(100));
            let mut reclaim =
                tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            reclaim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // Urgent lines (registration, PONG, rejoins) skip the queue;
                // ordinary ones wait for registration and a token.
                let msg = tokio::select! {
                    biased;
                    m = urgent.recv() => match m { Some(m) => m, None => return "writer closed".to_owned() },
                    _ = self.registered.notified(), if !self.connected_now() => continue,
                    _ = reclaim.tick(), if self.connected_now() => {
                        // Registered under another nick (433): ask again.
                        let (nick, wanted) = { let s = self.shared(); (s.nick.clone(), s.wanted.clone()) };
                        if casefold(&nick) == casefold(&wanted) { continue }
                        Message::new("NICK", [wanted])
                    }
                    m = out.next(), if self.shared().connected => {
                        let Some(m) = m else { return GONE.to_owned() };
                        bucket.acquire().await;
                        m
                    }
                };
                let mut line = msg.to_line();
                if line.len() > MAX_WRITE_LINE {
                    // The bridge's lines are made to fit; this one did not.
                    tracing::warn!(bytes = line.len(), command = %msg.command, "an IRC line too long was cut");
                    let mut cut = MAX_WRITE_LINE;
                    while !line.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    line.truncate(cut);
                }
                if msg.command == "PASS" {
                    // The server password stays out of the log.
                    tracing::trace!("irc >> PASS <redacted>");
                } else {
                    tracing::trace!(%line, "irc >>");
                }
                line.push_str("\r\n");
                if let Err(e) = write.write_all(line.as_bytes()).await {
                    return format!("write failed: {e}");
                }
            }
        };
        let reader = async {
            let mut buf = Vec::with_capacity(1024);
            let mut pinged = false;
            loop {
                buf.clear();
                let mut limited = (&mut read).take(MAX_READ_LINE);
                let read_line = limited.read_until(b'\n', &mut buf);
                match tokio::time::timeout(self.config.ping_interval, read_line).await {
                    Err(_) if pinged => return "ping timeout".to_owned(),
                    Err(_) => {
                        pinged = true;
                        let _ = urgent_tx.send(Message::new("PING", ["ghostkit"]));
                        continue;
                    }
                    Ok(Err(e)) => return format!("read failed: {e}"),
                    Ok(Ok(0)) => return "closed by the server".to_owned(),
                    Ok(Ok(_)) => pinged = false,
                }
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    continue;
                }
                tracing::trace!(%line, "irc <<");
                match Message::parse(line) {
                    Ok(msg) => {
                        if let Some(reason) = self.on_message(msg, &urgent_tx) {
                            return reason;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, %line, "unparseable IRC line"),
                }
            }
        };
        tokio::select! {
            r = writer => r,
            r = reader => r,
        }
    }

    /// Handles one message; `Some(reason)` ends the session.
    fn on_message(&self, msg: Message, urgent: &mpsc::UnboundedSender<Message>) -> Option<String> {
        match msg.command.as_str() {
            "PING" => {
                let _ = urgent.send(Message::new("PONG", msg.params.clone()));
                return None;
            }
            "PONG" => return None,
            "ERROR" => return Some(format!("server error: {}", msg.param(0).unwrap_or(""))),
            "001" => {
                let nick = msg.param(0).unwrap_or(&self.config.nick).to_owned();
                let channels: Vec<String> = {
                    let mut s = self.shared();
                    s.nick = nick.clone();
                    s.connected = true;
                    s.channels.values().cloned().collect()
                };
                for c in channels {
                    let _ = urgent.send(Message::new("JOIN", [c]));
                }
                self.registered.notify_one();
                let _ = self.events.send(IrcEvent::Connected { nick });
                return None;
            }
            "432"
                if !self.connected_now() && self.shared().wanted.chars().count() > MIN_NICKLEN =>
            {
                // Refused while registering: most likely too long for this
                // server. Every server takes 9 characters; want those from now on.
                let short: String = self.shared().wanted.chars().take(MIN_NICKLEN).collect();
                tracing::warn!(nick = %short, "the server refused the nick; using its first 9 characters");
                self.nick_tries.store(0, Ordering::Relaxed);
                {
                    let mut s = self.shared();
                    s.wanted = short.clone();
                    s.nick = short.clone();
                }
                let _ = urgent.send(Message::new("NICK", [short]));
                return None;
            }
            "433" | "432" | "436" if !self.connected_now() => {
                // Nick taken (or refused) while registering: try another.
                let tries = self.nick_tries.fetch_add(1, Ordering::Relaxed) + 1;
                let wanted = self.shared().wanted.clone();
                let mut nick = alternative_nick(&wanted, tries);
                if msg.command == "432" || wanted.chars().count() >= MIN_NICKLEN {
                    // Keep the alternative within 9 characters too.
                    nick = alternative_nick_within(&wanted, tries, MIN_NICKLEN);
                }
                self.shared().nick = nick.clone();
                let _ = urgent.send(Message::new("NICK", [nick]));
                return None;
            }
            "NICK" => {
                let mine = msg
                    .source_nick()
                    .is_some_and(|n| casefold(n) == casefold(&self.shared().nick));
                if mine {
                    if let Some(new) = msg.param(0) {
                        self.shared().nick = new.to_owned();
                    }
                }
            }
            _ => {}
        }
        let _ = self.events.send(IrcEvent::Message(msg));
        None
    }

    fn connected_now(&self) -> bool {
        self.shared().connected
    }
}

/// Why a session ends when every [`IrcHandle`] was dropped.
const GONE: &str = "the bridge is gone";

/// The longest nick every server accepts (RFC 1459).
const MIN_NICKLEN: usize = 9;

/// [`alternative_nick`] cut to `max` characters, the suffix kept.
///
/// ```
/// use ircbridge::irc::alternative_nick_within;
/// assert_eq!(alternative_nick_within("matrixbri", 1, 9), "matrixbr_");
/// assert_eq!(alternative_nick_within("bot", 2, 9), "bot__");
/// ```
pub fn alternative_nick_within(wanted: &str, tries: u32, max: usize) -> String {
    let suffix = alternative_nick("", tries);
    let base: String = wanted
        .chars()
        .take(max.saturating_sub(suffix.chars().count()).max(1))
        .collect();
    format!("{base}{suffix}")
}

/// The nick tried after `wanted` was refused `tries` times: `wanted_`,
/// `wanted__`, then `wanted` with a number.
///
/// ```
/// use ircbridge::irc::alternative_nick;
/// assert_eq!(alternative_nick("bridge", 1), "bridge_");
/// assert_eq!(alternative_nick("bridge", 2), "bridge__");
/// assert_eq!(alternative_nick("bridge", 3), "bridge3");
/// ```
pub fn alternative_nick(wanted: &str, tries: u32) -> String {
    match tries {
        0 => wanted.to_owned(),
        1 => format!("{wanted}_"),
        2 => format!("{wanted}__"),
        n => format!("{wanted}{n}"),
    }
}

#[cfg(test)]
mod tests;
