//! Putting it together: store, log, router, HTTP server, start-up checks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer};

use crate::bot::{AppContext, Handler, Setup};
use crate::client::{Client, ClientConfig, ClientError};
use crate::metrics::MetricsConfig;
use crate::registration::Registration;
use crate::router::{DispatchConfig, Router};
use crate::server::{self, MetricsListener, ServerConfig, ServerState};
use crate::store::{IfDamaged, PostgresBackend, PostgresOptions, Store, StoreError};
use crate::transaction::{LogConfig, TransactionLog};

/// Everything the appservice needs besides the registration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The homeserver's client-server API base URL (`http://127.0.0.1:8008`).
    pub homeserver_url: String,
    /// The homeserver's server name; asked of the homeserver (`whoami`) when
    /// `None`. Must be a server name ([`check_server_name`]).
    pub server_name: Option<String>,
    /// Folder of the on-disk store: the sled database (with
    /// [`Database::Sled`]) and the transaction log's files.
    pub store_path: PathBuf,
    /// Where the store keeps its data: sled in `store_path` (the default)
    /// or a PostgreSQL database.
    pub database: Database,
    /// With [`Database::Postgres`]: keep the transaction log in the
    /// database too (table `ghostkit_txnlog`), so that an acknowledgement
    /// follows a committed write there rather than an `fdatasync` in the
    /// store folder. Refused at start with [`Database::Sled`].
    pub log_in_database: bool,
    /// What to do when the store's database lost flushed writes: refuse
    /// to start (the default) or start with an empty one.
    pub if_damaged: IfDamaged,
    /// Where to listen; from the registration's `url` when `None` (see
    /// [`bind_address`]). The command line sets it with `--bind` /
    /// `GHOSTKIT_BIND`.
    pub bind: Option<SocketAddr>,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Ask the homeserver to ping us once listening, and log the outcome.
    pub self_check: bool,
    /// How long a stop waits for the HTTP requests in flight, and then
    /// again for the handlers still running (default 10 s). A handler that
    /// takes longer is cut off and its event dispatched again at the next
    /// start.
    pub drain_timeout: Duration,
    /// HTTP options.
    pub server: ServerConfig,
    /// Dispatch options.
    pub dispatch: DispatchConfig,
    /// Transaction log options.
    pub log: LogConfig,
    /// The as_token client's timeouts and retries.
    pub client: ClientConfig,
    /// Where `GET /metrics` is served (see [`crate::metrics`]): on the
    /// appservice's own listener, without the hs_token check
    /// ([`MetricsConfig::AppListener`], the default); on a listener of its
    /// own ([`MetricsConfig::Listener`]), and then not on the appservice's;
    /// or nowhere ([`MetricsConfig::Off`]: `404 M_UNRECOGNIZED`).
    pub metrics: MetricsConfig,
}

/// Where the store keeps its data ([`Config::database`]).
///
/// ```
/// use ghostkit::appservice::{Config, Database};
/// use ghostkit::store::PostgresOptions;
/// let mut config = Config::new("http://127.0.0.1:8008", "modbot.store");
/// assert_eq!(config.database, Database::Sled);
/// config.database = Database::Postgres(PostgresOptions::new("host=/run/postgresql dbname=modbot"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Database {
    /// sled, embedded, in the store folder: nothing to set up.
    #[default]
    Sled,
    /// A PostgreSQL database (tables `ghostkit_store` and
    /// `ghostkit_txnlog`, created when missing); the transaction log's
    /// files stay in the store folder unless [`Config::log_in_database`].
    ///
    /// One instance runs on a database at a time: it holds an advisory
    /// lock on a connection of its own, and a second one started on the
    /// same database waits, as a standby, before it builds its handler or
    /// listens, until the lock is free (the first stopped or died). An
    /// instance that loses the lock's connection exits at once (status 1),
    /// since the standby may be leading by then.
    Postgres(PostgresOptions),
}

impl Config {
    /// Defaults for a homeserver URL and a store folder.
    pub fn new(homeserver_url: impl Into<String>, store_path: impl Into<PathBuf>) -> Self {
        Config {
            homeserver_url: homeserver_url.into(),
            server_name: None,
            store_path: store_path.into(),
            database: Database::default(),
            log_in_database: false,
            if_damaged: IfDamaged::default(),
            bind: None,
            http_workers: 2,
            self_check: true,
            drain_timeout: DRAIN_TIMEOUT,
            server: ServerConfig::default(),
            dispatch: DispatchConfig::default(),
            log: LogConfig::default(),
            client: ClientConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// Why the appservice could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppserviceError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// [`Config::log_in_database`] is set without a database.
    #[error("the transaction log can be kept in PostgreSQL only when the store is: set postgres.url (Config::database), or keep the log in the store folder")]
    LogNeedsDatabase,
    /// The homeserver could not be asked who we are.
    #[error("cannot learn the server name from the homeserver ({source}); {hint}")]
    WhoAmI {
        /// What went wrong.
        #[source]
        source: ClientError,
        /// What to do.
        hint: &'static str,
    },
    /// The client could not be built.
    #[error(transparent)]
    Client(ClientError),
    /// There is nowhere to listen.
    #[error("no address to listen on: the registration's `url` is `{0}`; set it to e.g. `http://127.0.0.1:9000` or pass a bind address")]
    NoBind(String),
    /// The HTTP server stopped with an error.
    #[error("the HTTP server on {addr} failed: {source}")]
    Server {
        /// The address.
        addr: SocketAddr,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The handler could not be built ([`Setup::build`]): the bot's own
    /// config or state is wrong.
    #[error("the bot could not be built: {0}")]
    Build(#[source] crate::bot::HandlerError),
    /// The handler's [`Handler::on_start`] failed.
    #[error("the bot's on_start failed: {0}")]
    OnStart(#[source] crate::bot::HandlerError),
    /// The server name given (`GHOSTKIT_HOMESERVER_DOMAIN`, `--homeserver-domain`,
    /// [`Config::server_name`]) is empty or not a server name: the bot
    /// would be `@bot:` or worse.
    #[error("the homeserver domain `{0}` is not a server name: set GHOSTKIT_HOMESERVER_DOMAIN (or --homeserver-domain) to the homeserver's server name, e.g. `example.org`, or leave it unset to ask the homeserver")]
    BadServerName(String),
    /// The registration's `sender_localpart` makes no user ID.
    #[error("the registration's sender_localpart makes no user ID ({0}): use lower-case letters, digits and `._=-/`")]
    BadBotUserId(String),
    /// Listening failed.
    #[error("cannot listen on {addr}: {source}; is another process using the port?")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// An appservice about to start.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ghostkit::prelude::*;
/// struct Quiet;
/// impl Handler for Quiet {}
/// let reg = Registration::load("registration.yaml")?;
/// let running = Appservice::new(reg, Config::new("http://127.0.0.1:8008", "quiet.store"))
///     .start(Quiet)
///     .await?;
/// running.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Appservice {
    registration: Arc<Registration>,
    config: Config,
}

/// A started appservice.
#[derive(Debug)]
pub struct Running {
    state: Arc<ServerState>,
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    progress: tokio::task::JoinHandle<()>,
    drain: Duration,
    /// `/metrics` on its own listener, when so configured.
    metrics: Option<MetricsListener>,
    metrics_addr: Option<SocketAddr>,
    /// The leader's lock of the database, when the store is in PostgreSQL.
    _leader: Option<leader::LeaderGuard>,
}

impl Appservice {
    /// An appservice for `registration` with `config`.
    pub fn new(registration: Registration, config: Config) -> Self {
        Appservice {
            registration: Arc::new(registration),
            config,
        }
    }

    /// Starts the appservice and runs it until SIGTERM or SIGINT (Ctrl-C):
    /// [`Appservice::start`] then [`Running::wait`].
    ///
    /// The signals are caught from the first moment: one that comes while
    /// the appservice is still starting (opening the store, asking the
    /// homeserver its name, the bot's `on_start`) ends the start and
    /// returns `Ok` at once. Left to their default action instead, they
    /// would be ignored by a process that is PID 1, as in a container.
    pub async fn serve<S: Setup<Config = ()>>(self, setup: S) -> Result<(), AppserviceError> {
        let mut signals = signals::StopSignals::listen();
        let running = tokio::select! {
            started = self.start(setup) => started?,
            signal = signals.next() => {
                tracing::info!(signal = signal.name(), "stopped while starting");
                return Ok(());
            }
        };
        let addr = running.addr();
        running
            .wait_with(signals)
            .await
            .map_err(|source| AppserviceError::Server { addr, source })
    }

    /// Opens the store, builds the handler ([`Setup`]: a handler, or
    /// [`bot::build`](crate::bot::build) for one made from the app), calls
    /// its [`Handler::on_start`], replays unfinished events, starts
    /// listening and (optionally) asks the homeserver to ping us.
    pub async fn start<S: Setup<Config = ()>>(self, setup: S) -> Result<Running, AppserviceError> {
        let Appservice {
            registration,
            config,
        } = self;
        for warning in registration.warnings() {
            tracing::warn!(id = %registration.id, "registration: {warning}");
        }
        if let Some(name) = &config.server_name {
            check_server_name(name)?;
        }
        // The store; the database the log goes to, if it is not in files;
        // and the leader's lock, held while this runs.
        let (store, log_database, leader) = match &config.database {
            Database::Sled if config.log_in_database => {
                return Err(AppserviceError::LogNeedsDatabase)
            }
            Database::Sled => (
                Store::open_with(&config.store_path, config.if_damaged)?,
                None,
                None,
            ),
            Database::Postgres(options) => {
                let backend = PostgresBackend::connect(options).await?;
                tracing::info!(database = ?options, log_too = config.log_in_database, "the store is in PostgreSQL");
                let guard = leader::lead(&backend).await?;
                let store = Store::with_backend(&config.store_path, backend.clone());
                (
                    store,
                    config.log_in_database.then_some(backend),
                    Some(guard),
                )
            }
        };
        let client = Client::with_config(
            &config.homeserver_url,
            registration.clone(),
            config.client.clone(),
        )
        .map_err(AppserviceError::Client)?;
        let server_name = match &config.server_name {
            Some(s) => s.clone(),
            None => learn_server_name(&client).await?,
        };
        let server_name = ruma_common::OwnedServerName::try_from(server_name.as_str())
            .map_err(|_| AppserviceError::BadServerName(server_name.clone()))?;
        client.set_server_name(&server_name);
        let app = AppContext::new(
            client.clone(),
            store.clone(),
            registration.clone(),
            server_name,
        )
        .map_err(|e| AppserviceError::BadBotUserId(e.to_string()))?;
        let handler = setup
            .build((), &app)
            .await
            .map_err(AppserviceError::Build)?;
        let handler: Arc<dyn Handler> = Arc::new(handler);
        handler
            .on_start(&app)
            .await
            .map_err(AppserviceError::OnStart)?;
        let log = match &log_database {
            None => TransactionLog::open(&store, config.log.clone()).await?,
            Some(db) => TransactionLog::open_in_postgres(&store, db, config.log.clone()).await?,
        };
        let log = Arc::new(log);
        let router = Router::new(
            handler.clone(),
            app.clone(),
            log.clone(),
            config.dispatch.clone(),
        );
        tracing::info!(order = %router.order(), "dispatch order in force");

        let recovered = log.recover()?;
        if !recovered.is_empty() {
            app.metrics().replaying(&recovered);
            tracing::info!(
                events = recovered.len(),
                "dispatching events left unfinished by the last run"
            );
            let r = router.clone();
            tokio::spawn(async move {
                let admission = r.admit(recovered.len()).await;
                r.dispatch(recovered, admission);
            });
        }
        let progress = {
            let log = log.clone();
            let store = store.clone();
            let every = config.log.progress_interval;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut failing = false;
                let mut last_recovery = std::time::Instant::now();
                loop {
                    tick.tick().await;
                    // A failed store is reopened even when nothing uses it.
                    if !store.healthy() && last_recovery.elapsed() >= Duration::from_secs(1) {
                        last_recovery = std::time::Instant::now();
                        store.recover().await;
                    }
                    match log.persist_progress().await {
                        Ok(()) if failing => {
                            failing = false;
                            tracing::info!("dispatch progress is written again");
                        }
                        Ok(()) => {}
                        // Logged once per outage; the marks wait in memory.
                        Err(e) if !failing => {
                            failing = true;
                            tracing::error!(error = %e, "cannot persist dispatch progress; retrying");
                        }
                        Err(_) => {}
                    }
                }
            })
        };

        let addr = match config.bind {
            Some(a) => a,
            None => {
                let bind = bind_address(registration.url.as_deref())?;
                if let Some(host) = &bind.host_name {
                    tracing::warn!(
                        addr = %bind.addr,
                        "the registration's url names the host `{host}`, not an IP address, so the appservice listens on all interfaces; set the address to listen on with --bind or GHOSTKIT_BIND (Config::bind), e.g. 127.0.0.1:{}",
                        bind.addr.port()
                    );
                }
                bind.addr
            }
        };
        let state = ServerState::new(app, handler, log, router, config.server.clone());
        let st = state.clone();
        let metrics_here = config.metrics == MetricsConfig::AppListener;
        let server = HttpServer::new(move || {
            let metrics = server::configure_metrics(st.clone());
            App::new()
                .configure(server::configure(st.clone()))
                .configure(move |cfg| {
                    if metrics_here {
                        metrics(cfg)
                    }
                })
                .default_service(actix_web::web::to(server::unrecognized))
        })
        .workers(config.http_workers.max(1))
        // actix leaves Nagle on; an answer written in two segments would wait
        // for the homeserver's delayed ACK (up to 40 ms) before its second.
        .tcp_nodelay(true)
        .disable_signals()
        .shutdown_timeout(config.drain_timeout.as_secs().max(1))
        .bind(addr)
        .map_err(|source| AppserviceError::Bind { addr, source })?;
        let addr = server.addrs().first().copied().unwrap_or(addr);
        let (metrics, metrics_addr) = match config.metrics {
            MetricsConfig::Listener(at) => {
                let own = MetricsListener::start(state.clone(), at)
                    .map_err(|source| AppserviceError::Bind { addr: at, source })?;
                let at = own.addr();
                (Some(own), Some(at))
            }
            MetricsConfig::AppListener => (None, Some(addr)),
            MetricsConfig::Off => (None, None),
        };
        let server = server.run();
        let handle = server.handle();
        let server = tokio::spawn(server);
        tracing::info!(%addr, "appservice listening");

        if config.self_check && registration.url.is_some() {
            let client = client.clone();
            tokio::spawn(async move { self_check(&client).await });
        }
        Ok(Running {
            state,
            addr,
            handle,
            server,
            progress,
            drain: config.drain_timeout,
            metrics,
            metrics_addr,
            _leader: leader,
        })
    }
}

impl Running {
    /// Where the appservice listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `GET /metrics` is served: [`Running::addr`] by default, the
    /// address of its own listener ([`MetricsConfig::Listener`], with the
    /// port given when it was 0), `None` when off.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The shared parts (client, store, registration).
    pub fn app(&self) -> &AppContext {
        &self.state.app
    }

    /// The server's state: router counters, readiness.
    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// Runs until the server stops, or until SIGTERM or SIGINT (Ctrl-C),
    /// which drain: no new transaction is accepted, the requests in flight
    /// and then the running handlers get [`Config::drain_timeout`] each to
    /// finish, their progress is written, [`Handler::on_stop`] runs and the
    /// store is checkpointed; then this returns `Ok` (a `main` that returns
    /// exits 0). A second signal during the drain ends the process at once
    /// with status 128 + the signal's number (143 for SIGTERM, 130 for
    /// SIGINT); what was acknowledged is on disk and handled at the next
    /// start. From the first call on, the process catches both signals:
    /// once this returns, they no longer end it.
    pub async fn wait(self) -> std::io::Result<()> {
        self.wait_with(signals::StopSignals::listen()).await
    }

    /// [`Running::wait`] with the signals caught already.
    async fn wait_with(self, signals: signals::StopSignals) -> std::io::Result<()> {
        let stopper = tokio::spawn(signals::stop_on_signals(
            signals,
            self.handle.clone(),
            self.drain,
        ));
        let Running {
            state,
            server,
            progress,
            drain,
            metrics,
            ..
        } = self;
        let res = server
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        finish(&state, progress, drain).await;
        if let Some(m) = metrics {
            m.stop().await;
        }
        stopper.abort();
        res
    }

    /// Stops listening, then writes what was handled to disk.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        finish(&self.state, self.progress, self.drain).await;
        if let Some(m) = self.metrics {
            m.stop().await;
        }
    }
}

/// How long a stop waits, by default, for requests and handlers still running.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

async fn finish(state: &ServerState, progress: tokio::task::JoinHandle<()>, drain: Duration) {
    // Nothing new arrives (the server stopped): let running handlers finish,
    // so their events count as done and their tasks let go of the store.
    if !state.router.wait_idle(drain).await {
        tracing::warn!(
            backlog = state.router.backlog(),
            "handlers still running at stop; their events will be dispatched again at the next start"
        );
    }
    state.handler.on_stop(&state.app).await;
    progress.abort();
    let _ = progress.await;
    let store = state.app.store();
    if !store.healthy() {
        store.recover().await;
    }
    if let Err(e) = state.log.persist_progress().await {
        tracing::error!(
            error = %e,
            unmarked = state.log.unflushed_marks(),
            "cannot persist dispatch progress at stop; the events it holds will be handled again at the next start"
        );
    }
    if let Err(e) = store.checkpoint().await {
        tracing::error!(error = %e, "cannot record the store's flushes at stop");
    }
}

mod bind;
mod homeserver;
mod leader;
mod signals;

pub use bind::{bind_address, BindAddress};
use homeserver::learn_server_name;
pub use homeserver::{check_server_name, explain_ping_error, self_check};

#[cfg(test)]
mod tests;
