//! The command line every bot binary gets: run it, generate a registration,
//! or check one.
//!
//! ```text
//! mybot [--registration PATH] [--homeserver-url URL] [--homeserver-domain NAME] [--store DIR]
//!       [--bind ADDR] [--start-empty-if-damaged] [--metrics app|off|ADDR] [--log-format text|json]
//! mybot --version
//! mybot generate-registration [--url URL] [--id ID] [--out PATH] [--force]
//! mybot check-registration [FILE] [--user ID]… [--alias ALIAS]… [--room ID]…
//! ```
//! `check-registration` loads the file exactly as a run would (the same
//! default path), prints its warnings, says in words what each namespace
//! claims, and for each ID given prints one line: `user @x:y: in namespace
//! (exclusive)`, `… (not exclusive)`, `… the appservice's own user` or
//! `… not ours`. It exits 0 when the file loads, 1 with the error when not.
//! Each flag also reads an environment variable: `REGISTRATION`,
//! `HOMESERVER_URL`, `HOMESERVER_DOMAIN`, `GHOSTKIT_STORE`, `GHOSTKIT_BIND`.
//! `HOMESERVER_DOMAIN` set but empty, or not a server name, is an error
//! (the bot would be `@bot:`); unset, the server name is asked of the
//! homeserver. `--bind` is where the bot listens (`127.0.0.1:9000`); without
//! it, the registration's `url` says (see
//! [`bind_address`](crate::appservice::bind_address)).
//! `--dispatch-order ORDER` (`GHOSTKIT_DISPATCH_ORDER`: `per_room`,
//! `per_sender` or `unordered`) overrides the bot's
//! [`DispatchOrder`](crate::router::DispatchOrder).
//! `--start-empty-if-damaged` (`GHOSTKIT_START_EMPTY_IF_DAMAGED=true`) starts
//! with an empty database when the store's lost flushed writes, keeping the
//! damaged files aside ([`IfDamaged`](crate::store::IfDamaged)); without it
//! such a store is refused.
//! `--metrics app|off|ADDR` (`GHOSTKIT_METRICS`) says where `GET /metrics`
//! is served ([`MetricsConfig`](crate::metrics::MetricsConfig)): on the
//! appservice's own listener (the default), nowhere, or on a listener of
//! its own.
//! `--log-format text|json` (`GHOSTKIT_LOG_FORMAT`) chooses how logs are
//! written ([`LogFormat`]; `RUST_LOG` filters them). `--version` prints the
//! bot's id and version, and ghostkit's ([`BotInfo::version_line`]).
//! SIGTERM and SIGINT stop the bot with a drain
//! ([`Running::wait`](crate::appservice::Running::wait)).

mod info;
mod logging;

use std::error::Error;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::appservice::{check_server_name, Appservice, AppserviceError, Config};
use crate::bot::{build, AppContext, BotConfig, Setup};
use crate::registration::check::{self, Ids};
use crate::registration::{GenerateOptions, Registration};
use crate::router::DispatchOrder;

pub use info::BotInfo;
pub use logging::{init_logging, init_logging_as, LogError, LogFormat, LOG_FORMAT_VAR};

#[derive(Parser, Debug)]
#[command(about = "A Matrix appservice built on ghostkit")]
struct Cli {
    /// Path of the registration file.
    #[arg(long, env = "REGISTRATION", global = true)]
    registration: Option<PathBuf>,
    /// The homeserver's client-server API URL.
    #[arg(
        long,
        env = "HOMESERVER_URL",
        default_value = "http://127.0.0.1:8008",
        global = true
    )]
    homeserver_url: String,
    /// The homeserver's server name; asked of the homeserver when not given.
    #[arg(long, env = "HOMESERVER_DOMAIN", global = true)]
    homeserver_domain: Option<String>,
    /// Folder of the on-disk store.
    #[arg(long, env = "GHOSTKIT_STORE")]
    store: Option<PathBuf>,
    /// When the store's database lost writes it had flushed (a damaged,
    /// truncated or deleted file), move it aside and start with an empty
    /// one instead of refusing to start.
    #[arg(long, env = "GHOSTKIT_START_EMPTY_IF_DAMAGED", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    start_empty_if_damaged: Option<bool>,
    /// Where to listen (`127.0.0.1:9000`); from the registration's `url`
    /// when not given.
    #[arg(long, env = "GHOSTKIT_BIND", value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// In what order a room's events are handled, overriding the bot's
    /// choice: per_room, per_sender or unordered.
    #[arg(long, env = "GHOSTKIT_DISPATCH_ORDER", value_name = "ORDER")]
    dispatch_order: Option<DispatchOrder>,
    /// Where `GET /metrics` is served: app (on the appservice's listener,
    /// the default), off, or an address of its own (`127.0.0.1:9100`).
    #[arg(long, env = "GHOSTKIT_METRICS", value_name = "app|off|ADDR")]
    metrics: Option<crate::metrics::MetricsConfig>,
    /// How logs are written to standard error: text (coloured only on a
    /// terminal) or json (one object per line). RUST_LOG filters them.
    #[arg(
        long,
        env = "GHOSTKIT_LOG_FORMAT",
        value_name = "FORMAT",
        global = true
    )]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a new registration file with fresh random tokens.
    GenerateRegistration {
        /// Where the appservice will listen, as the homeserver reaches it.
        #[arg(long)]
        url: Option<String>,
        /// Where to write the file (default: --registration, or <id>-registration.yaml).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The appservice ID.
        #[arg(long)]
        id: Option<String>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Load a registration as a run would, print its warnings, what each
    /// namespace claims, and whether each given ID is ours.
    CheckRegistration {
        /// The file (default: --registration, or <id>-registration.yaml).
        file: Option<PathBuf>,
        /// A user ID to check (repeatable).
        #[arg(long = "user", value_name = "ID")]
        users: Vec<String>,
        /// A room alias to check (repeatable).
        #[arg(long = "alias", value_name = "ALIAS")]
        aliases: Vec<String>,
        /// A room ID to check (repeatable).
        #[arg(long = "room", value_name = "ID")]
        rooms: Vec<String>,
    },
}

impl Cli {
    /// Parses the process's arguments, with the bot's name and version
    /// (`--version`); exits with clap's message on `--help`, `--version`
    /// or a mistake.
    fn parse_for(info: &BotInfo) -> Cli {
        let matches = Cli::command()
            .name(info.id)
            .version(info.version_text())
            .get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// A bot's whole `main` (also `ghostkit::main`): starts the async runtime,
/// then [`run`]s; on error, prints it (with its causes) after the bot's id
/// and exits with status 1.
///
/// ```no_run
/// use ghostkit::prelude::*;
/// struct Quiet;
/// impl Handler for Quiet {}
/// fn main() {
///     ghostkit::main(bot_info!("quiet"), Quiet)
/// }
/// ```
///
/// A bot that runs in a runtime of its own awaits [`run`] instead.
pub fn main(info: BotInfo, setup: impl Setup) {
    let id = info.id;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Box::<dyn Error>::from(format!("cannot start the async runtime: {e}")))
        .and_then(|runtime| runtime.block_on(run(info, setup)));
    if let Err(e) = result {
        eprintln!("{}", error_line(id, &*e));
        std::process::exit(1);
    }
}

/// `id: error: cause: cause…`, leaving out a cause whose words the line
/// holds already.
fn error_line(id: &str, e: &(dyn Error + 'static)) -> String {
    let mut line = format!("{id}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line
}

/// Parses the command line, sets up logging ([`init_logging_as`], in the
/// format of `--log-format`) and runs the bot (or generates or checks its
/// registration). To run it, the bot's config `C` is loaded
/// ([`BotConfig::load`]), the appservice is started and `make` builds the
/// handler from the config and the running app. On SIGTERM or SIGINT it
/// drains and returns `Ok`.
///
/// Returns an error whose message says what to fix.
pub async fn run<S: Setup>(info: BotInfo, setup: S) -> Result<(), Box<dyn Error>> {
    let mut cli = Cli::parse_for(&info);
    init_logging_as(cli.log_format.unwrap_or_default(), "info");
    cli.homeserver_domain = homeserver_domain(
        cli.homeserver_domain.take(),
        std::env::var_os("HOMESERVER_DOMAIN").as_deref(),
    )?;
    let default_reg = PathBuf::from(format!("{}-registration.yaml", info.id));
    match cli.command {
        Some(Command::GenerateRegistration {
            url,
            out,
            id,
            force,
        }) => {
            let out = out.or(cli.registration).unwrap_or(default_reg);
            if out.exists() && !force {
                return Err(format!(
                    "{} exists already; pass --force to replace it (the homeserver must then be given the new tokens)",
                    out.display()
                )
                .into());
            }
            let server_name = cli.homeserver_domain.ok_or(
                "generate-registration needs the server name: pass --homeserver-domain or set HOMESERVER_DOMAIN",
            )?;
            let reg = Registration::generate(GenerateOptions {
                id: id.unwrap_or_else(|| info.id.to_owned()),
                url: url.unwrap_or_else(|| format!("http://127.0.0.1:{}", info.port)),
                sender_localpart: info.sender_localpart.to_owned(),
                server_name,
                user_prefix: info.user_prefix.map(str::to_owned),
                alias_prefix: info.alias_prefix.map(str::to_owned),
            })?;
            reg.save(&out)?;
            println!(
                "wrote {}; add its absolute path to app_service_config_files in the homeserver's config and restart it",
                out.display()
            );
            Ok(())
        }
        Some(Command::CheckRegistration {
            file,
            users,
            aliases,
            rooms,
        }) => {
            let path = file.or(cli.registration).unwrap_or(default_reg);
            let registration = load_registration(&path)?;
            let ids = Ids {
                users,
                aliases,
                rooms,
            };
            println!("{}", path.display());
            print!(
                "{}",
                check::report(&registration, &ids, cli.homeserver_domain.as_deref())
            );
            Ok(())
        }
        None => {
            let bot_config = S::Config::load().map_err(|e| -> Box<dyn Error> { e })?;
            let path = cli.registration.unwrap_or(default_reg);
            let registration = load_registration(&path)?;
            let store = cli
                .store
                .unwrap_or_else(|| PathBuf::from(format!("{}.store", info.id)));
            let mut config = Config::new(cli.homeserver_url, store);
            config.server_name = cli.homeserver_domain;
            config.bind = cli.bind;
            config.dispatch.order = cli.dispatch_order;
            if let Some(metrics) = cli.metrics {
                config.metrics = metrics;
            }
            if cli.start_empty_if_damaged == Some(true) {
                config.if_damaged = crate::store::IfDamaged::StartEmpty;
            }
            // `serve` catches SIGTERM and SIGINT from before the start on.
            Appservice::new(registration, config)
                .serve(build(move |app: &AppContext| setup.build(bot_config, app)))
                .await?;
            Ok(())
        }
    }
}

/// The server name to use: `given` (from `--homeserver-domain` or
/// `HOMESERVER_DOMAIN`) when it is one; an error when it is empty or not a
/// server name, or when `env` (the variable's value) is set but empty and
/// the parser took that for unset.
fn homeserver_domain(
    given: Option<String>,
    env: Option<&OsStr>,
) -> Result<Option<String>, AppserviceError> {
    match given {
        Some(name) => check_server_name(&name).map(|()| Some(name)),
        None if env.is_some_and(OsStr::is_empty) => {
            Err(AppserviceError::BadServerName(String::new()))
        }
        None => Ok(None),
    }
}

/// Loads the registration at `path`, saying what to do when it is missing.
fn load_registration(path: &std::path::Path) -> Result<Registration, Box<dyn std::error::Error>> {
    if !path.exists() {
        return Err(format!(
            "registration file {} not found; set REGISTRATION (or --registration), or create one with `generate-registration`",
            path.display()
        )
        .into());
    }
    Ok(Registration::load(path)?)
}

#[cfg(test)]
mod tests;
