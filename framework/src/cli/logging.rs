//! Log output: text or JSON lines on standard error, filtered by `RUST_LOG`.
//!
//! The format comes from `--log-format` or [`LOG_FORMAT_VAR`]
//! (`GHOSTKIT_LOG_FORMAT`): `text` (the default) or `json`. Text has ANSI
//! colours only when standard error is a terminal, so a log file or the
//! journal gets plain lines. JSON is one object per line with the event's
//! fields and the spans it happened in: every handler call runs in a
//! `handler` span with `room_id`, `event_id` and `event_type`.

use std::io::IsTerminal;

/// The environment variable that sets the log format when `--log-format`
/// is not given.
pub const LOG_FORMAT_VAR: &str = "GHOSTKIT_LOG_FORMAT";

/// How log lines are written.
///
/// ```
/// use ghostkit::cli::LogFormat;
/// assert_eq!(LogFormat::parse("json").unwrap(), LogFormat::Json);
/// assert_eq!(LogFormat::parse("TEXT").unwrap(), LogFormat::Text);
/// assert!(LogFormat::parse("yaml").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, with the fields of the current spans.
    Json,
}

/// Why a log setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The format is neither `text` nor `json`.
    #[error("unknown log format `{0}`: expected `text` or `json`")]
    UnknownFormat(String),
}

impl LogFormat {
    /// Reads a format name, in any case.
    pub fn parse(name: &str) -> Result<Self, LogError> {
        <LogFormat as clap::ValueEnum>::from_str(name.trim(), true)
            .map_err(|_| LogError::UnknownFormat(name.to_owned()))
    }

    /// The name the format is given by (`text`, `json`).
    ///
    /// ```
    /// use ghostkit::cli::LogFormat;
    /// assert_eq!(LogFormat::Json.name(), "json");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }

    /// The format [`LOG_FORMAT_VAR`] names; [`LogFormat::Text`] when it is
    /// unset or empty.
    pub fn from_env() -> Result<Self, LogError> {
        match std::env::var(LOG_FORMAT_VAR) {
            Ok(v) if !v.trim().is_empty() => LogFormat::parse(&v),
            _ => Ok(LogFormat::Text),
        }
    }
}

/// Logs to standard error in the format of [`LOG_FORMAT_VAR`] (text when
/// unset), filtered by `RUST_LOG` (default `info`). Does nothing when a
/// global subscriber is set already. A format that is not known is logged
/// as an error, and text is used.
pub fn init_logging() {
    match LogFormat::from_env() {
        Ok(format) => {
            init_logging_as(format, "info");
        }
        Err(e) => {
            init_logging_as(LogFormat::Text, "info");
            tracing::error!("{LOG_FORMAT_VAR}: {e}");
        }
    }
}

/// Logs to standard error in `format`, filtered by `RUST_LOG`, or by
/// `default_filter` (an `EnvFilter` directive such as `info` or
/// `warn,mybot=debug`) when `RUST_LOG` is unset or not valid. Returns
/// whether this installed the global subscriber (`false`: one was set
/// already, and is kept).
///
/// ```
/// use ghostkit::cli::{init_logging_as, LogFormat};
/// assert!(init_logging_as(LogFormat::Json, "warn"));
/// // The first one stays.
/// assert!(!init_logging_as(LogFormat::Text, "info"));
/// ```
pub fn init_logging_as(format: LogFormat, default_filter: &str) -> bool {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
            .is_ok(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_current_span(true)
            .with_span_list(true)
            .try_init()
            .is_ok(),
    }
}
