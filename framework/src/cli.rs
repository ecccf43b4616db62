//! The command line every bot binary gets: run it, write its config file,
//! generate a registration, or check one.
//!
//! ```text
//! mybot [--config FILE] [--registration PATH] [--homeserver-url URL] [--homeserver-domain NAME]
//!       [--store DIR] [--bind ADDR] [--start-empty-if-damaged] [--dispatch-order ORDER]
//!       [--metrics app|off|ADDR] [--log-format text|json]
//! mybot --version
//! mybot generate-config [--out PATH] [--force]
//! mybot generate-registration [--url URL] [--id ID] [--out PATH] [--force]
//! mybot check-registration [FILE] [--user ID]… [--alias ALIAS]… [--room ID]…
//! ```
//! The settings come from the bot's config file ([`config`](crate::config):
//! `--config`, `GHOSTKIT_CONFIG`, or `<bot>.yaml` when it exists), the
//! `GHOSTKIT_*` environment over it, and these flags over both.
//! `generate-config` writes the file with every key, its default and what
//! it does. The registration commands read only the framework's settings,
//! so they work before the bot's own are written.
//!
//! `check-registration` loads the file exactly as a run would (the same
//! default path), prints its warnings, says in words what each namespace
//! claims, and for each ID given prints one line: `user @x:y: in namespace
//! (exclusive)`, `… (not exclusive)`, `… the appservice's own user` or
//! `… not ours`. It exits 0 when the file loads, 1 with the error when not.
//!
//! `--version` prints the bot's id and version, and ghostkit's
//! ([`BotInfo::version_line`]). SIGTERM and SIGINT stop the bot with a
//! drain ([`Running::wait`](crate::appservice::Running::wait)).

mod info;
mod logging;

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::appservice::Appservice;
use crate::bot::{BotConfig, Setup, WithConfig};
use crate::config::{ConfigError, Settings, Sources};
use crate::metrics::MetricsConfig;
use crate::registration::check::{self, Ids};
use crate::registration::{GenerateOptions, Registration};
use crate::router::DispatchOrder;

pub use info::BotInfo;
pub use logging::{init_logging, init_logging_as, LogError, LogFormat, LOG_FORMAT_VAR};

#[derive(Parser, Debug)]
#[command(about = "A Matrix appservice built on ghostkit")]
struct Cli {
    /// The config file (default: GHOSTKIT_CONFIG, or <bot>.yaml when it
    /// exists).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Path of the registration file (key `registration`).
    #[arg(long, global = true)]
    registration: Option<PathBuf>,
    /// The homeserver's client-server API URL (key `homeserver_url`).
    #[arg(long, value_name = "URL", global = true)]
    homeserver_url: Option<String>,
    /// The homeserver's server name; asked of the homeserver when not
    /// given (key `homeserver_domain`).
    #[arg(long, value_name = "NAME", global = true)]
    homeserver_domain: Option<String>,
    /// Folder of the on-disk store (key `store`).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// When the store's database lost writes it had flushed (a damaged,
    /// truncated or deleted file), move it aside and start with an empty
    /// one instead of refusing to start (key `start_empty_if_damaged`).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    start_empty_if_damaged: Option<bool>,
    /// Where to listen (`127.0.0.1:9000`); from the registration's `url`
    /// when not given (key `bind`).
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// In what order a room's events are handled, overriding the bot's
    /// choice: per_room, per_sender or unordered (key `dispatch.order`).
    #[arg(long, value_name = "ORDER")]
    dispatch_order: Option<DispatchOrder>,
    /// Where `GET /metrics` is served: app (on the appservice's listener,
    /// the default), off, or an address of its own (`127.0.0.1:9100`)
    /// (key `metrics`).
    #[arg(long, value_name = "app|off|ADDR")]
    metrics: Option<MetricsConfig>,
    /// How logs are written to standard error: text (coloured only on a
    /// terminal) or json (one object per line) (key `log_format`).
    /// RUST_LOG filters them.
    #[arg(long, value_name = "FORMAT", global = true)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the config file: every setting with its default and what it
    /// does.
    GenerateConfig {
        /// Where to write it (default: --config, GHOSTKIT_CONFIG, or
        /// <bot>.yaml).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
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

    /// Puts the flags given over `settings`.
    fn apply<B>(&self, settings: &mut Settings<B>) {
        if let Some(p) = &self.registration {
            settings.registration = Some(p.clone());
        }
        if let Some(url) = &self.homeserver_url {
            settings.homeserver_url = url.clone();
        }
        if let Some(name) = &self.homeserver_domain {
            settings.homeserver_domain = Some(name.clone());
        }
        if let Some(p) = &self.store {
            settings.store = Some(p.clone());
        }
        if let Some(on) = self.start_empty_if_damaged {
            settings.start_empty_if_damaged = on;
        }
        if let Some(addr) = self.bind {
            settings.bind = Some(addr.to_string());
        }
        if let Some(order) = self.dispatch_order {
            settings.dispatch.order = Some(order.to_string());
        }
        if let Some(metrics) = &self.metrics {
            settings.metrics = metrics.to_string();
        }
        if let Some(format) = self.log_format {
            settings.log_format = format.name().to_owned();
        }
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

/// Parses the command line, reads the settings ([`Settings`], with the
/// flags over them), sets up logging ([`init_logging_as`]) and runs the bot,
/// or writes its config file, or generates or checks its registration. To
/// run it, the bot's own settings (`S::Config`, under `bot`) are read and
/// checked ([`BotConfig::check`]), the appservice is started and `setup`
/// builds the handler from them and the running app. On SIGTERM or SIGINT
/// it drains and returns `Ok`.
///
/// Returns an error whose message says what to fix.
pub async fn run<S: Setup>(info: BotInfo, setup: S) -> Result<(), Box<dyn Error>> {
    let cli = Cli::parse_for(&info);
    let sources = Sources::new(info.id, cli.config.clone(), std::env::vars().collect());
    match cli.command {
        Some(Command::GenerateConfig { ref out, force }) => {
            let out = out.clone().unwrap_or_else(|| sources.path.clone());
            Settings::<S::Config>::write_template(info.id, &out, force)?;
            println!(
                "wrote {}; edit it, then run the bot with --config {}",
                out.display(),
                out.display()
            );
            Ok(())
        }
        Some(Command::GenerateRegistration {
            ref url,
            ref out,
            ref id,
            force,
        }) => {
            let settings = framework_settings(&cli, &sources)?;
            let out = out
                .clone()
                .unwrap_or_else(|| settings.registration_path(info.id));
            if out.exists() && !force {
                return Err(format!(
                    "{} exists already; pass --force to replace it (the homeserver must then be given the new tokens)",
                    out.display()
                )
                .into());
            }
            let server_name = settings.server_name()?.ok_or(
                "generate-registration needs the server name: pass --homeserver-domain, set GHOSTKIT_HOMESERVER_DOMAIN, or set homeserver_domain in the config file",
            )?;
            let reg = Registration::generate(GenerateOptions {
                id: id.clone().unwrap_or_else(|| info.id.to_owned()),
                url: url
                    .clone()
                    .unwrap_or_else(|| format!("http://127.0.0.1:{}", info.port)),
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
            ref file,
            ref users,
            ref aliases,
            ref rooms,
        }) => {
            let settings = framework_settings(&cli, &sources)?;
            let path = file
                .clone()
                .unwrap_or_else(|| settings.registration_path(info.id));
            let registration = load_registration(&path)?;
            let ids = Ids {
                users: users.clone(),
                aliases: aliases.clone(),
                rooms: rooms.clone(),
            };
            println!("{}", path.display());
            let server = settings.server_name()?;
            print!("{}", check::report(&registration, &ids, server.as_deref()));
            Ok(())
        }
        None => {
            let mut settings = Settings::<S::Config>::load(&sources)?;
            cli.apply(&mut settings);
            init_logging_as(settings.log_format()?, &settings.log_filter);
            settings.bot.check().map_err(|e| -> Box<dyn Error> { e })?;
            let config = settings.appservice_config(info.id)?;
            let registration = load_registration(&settings.registration_path(info.id))?;
            let bot_config = settings.bot;
            // `serve` catches SIGTERM and SIGINT from before the start on.
            Appservice::new(registration, config)
                .serve(WithConfig {
                    setup,
                    config: bot_config,
                })
                .await?;
            Ok(())
        }
    }
}

/// The framework's settings, the flags over them, with logging set up:
/// what the registration commands read.
fn framework_settings(
    cli: &Cli,
    sources: &Sources,
) -> Result<Settings<serde::de::IgnoredAny>, ConfigError> {
    let mut settings = Settings::load_framework(sources)?;
    cli.apply(&mut settings);
    init_logging_as(settings.log_format()?, &settings.log_filter);
    Ok(settings)
}

/// Loads the registration at `path`, saying what to do when it is missing.
fn load_registration(path: &Path) -> Result<Registration, Box<dyn Error>> {
    if !path.exists() {
        return Err(format!(
            "registration file {} not found; set `registration` in the config file (or GHOSTKIT_REGISTRATION, or --registration), or create one with `generate-registration`",
            path.display()
        )
        .into());
    }
    Ok(Registration::load(path)?)
}

#[cfg(test)]
mod tests;
