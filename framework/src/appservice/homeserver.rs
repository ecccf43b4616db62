//! What the appservice asks of the homeserver at start: its server name,
//! and whether it can reach the appservice (the ping), with the fix in
//! plain words when not.

use std::time::Duration;

use super::AppserviceError;
use crate::client::{Client, ClientError};
use crate::ErrorCode;

/// The server name of the bot's user ID, from `whoami`.
pub(crate) async fn learn_server_name(client: &Client) -> Result<String, AppserviceError> {
    let who = client.whoami().await.map_err(|source| {
        let hint = match source.kind() {
            Some(ErrorCode::UnknownToken | ErrorCode::Forbidden) => {
                "the homeserver does not know this as_token: add the registration file to its app_service_config_files and restart it"
            }
            Some(_) => "check the homeserver's log",
            None => "is GHOSTKIT_HOMESERVER_URL right and the homeserver running? or set GHOSTKIT_HOMESERVER_DOMAIN",
        };
        AppserviceError::WhoAmI { source, hint }
    })?;
    match who.user_id.split_once(':') {
        Some((_, server)) => Ok(server.to_owned()),
        None => Err(AppserviceError::WhoAmI {
            source: ClientError::BadUrl(who.user_id),
            hint: "the homeserver answered a user ID without a server name; set GHOSTKIT_HOMESERVER_DOMAIN",
        }),
    }
}

/// Refuses a server name that is empty or not one (`host` or `host:port`,
/// an IPv4 address or a bracketed IPv6 one): the bot's user ID and every
/// namespace are built from it.
///
/// ```
/// use ghostkit::appservice::check_server_name;
/// assert!(check_server_name("example.org").is_ok());
/// assert!(check_server_name("localhost:8448").is_ok());
/// assert!(check_server_name("").is_err());
/// assert!(check_server_name(" example.org").is_err());
/// ```
pub fn check_server_name(name: &str) -> Result<(), AppserviceError> {
    <&ruma_common::ServerName>::try_from(name)
        .map(drop)
        .map_err(|_| AppserviceError::BadServerName(name.to_owned()))
}

/// Asks the homeserver to ping us and logs the outcome in plain words.
pub async fn self_check(client: &Client) -> Result<Duration, ClientError> {
    let res = client.ping(Some("ghostkit-startup")).await;
    match &res {
        Ok(d) => tracing::info!(
            round_trip_ms = d.as_millis() as u64,
            "homeserver can reach the appservice"
        ),
        Err(e) => tracing::warn!(error = %e, "start-up self-check: {}", explain_ping_error(e)),
    }
    res
}

/// What a failed [`self_check`] means, in plain words, with the fix.
///
/// ```
/// use ghostkit::client::{ClientError, MatrixError};
/// let e = ClientError::Matrix(MatrixError {
///     status: 400, errcode: "M_URL_NOT_SET".into(), error: String::new(),
///     retry_after_ms: None, body: String::new(),
/// });
/// assert!(ghostkit::appservice::explain_ping_error(&e).contains("no `url`"));
/// ```
pub fn explain_ping_error(e: &ClientError) -> &'static str {
    match e.kind() {
        Some(ErrorCode::UrlNotSet) => "the registration has no `url`, so the homeserver sends us nothing; set `url` to where the bot listens",
        Some(ErrorCode::ConnectionFailed) => {
            "the homeserver cannot connect to the registration's `url`: is it the address the bot listens on, and reachable from the homeserver?"
        }
        Some(ErrorCode::ConnectionTimeout) => "the homeserver's ping to us timed out: is the bot overloaded, or a firewall dropping packets?",
        Some(ErrorCode::BadStatus) => {
            "the bot answered the homeserver's ping with an error: does the homeserver have the same hs_token as the bot?"
        }
        Some(ErrorCode::Forbidden | ErrorCode::UnknownToken) => {
            "the homeserver does not accept our as_token for this appservice id: is the registration file loaded by the homeserver?"
        }
        Some(ErrorCode::Unrecognized) => "the homeserver does not support the appservice ping (older than Matrix 1.7); nothing is wrong",
        Some(_) => "the homeserver refused the ping; see its log",
        None => "the homeserver could not be reached at GHOSTKIT_HOMESERVER_URL: is it running, and the URL right?",
    }
}
