//! Where the appservice listens when no address is given: read from the
//! registration's `url`.

use std::net::SocketAddr;

use super::AppserviceError;

/// Where the appservice listens when no bind address is given: the
/// decision [`bind_address`] makes from the registration's `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddress {
    /// The address to listen on.
    pub addr: SocketAddr,
    /// The url's host when it is a host name (not an IP literal nor
    /// `localhost`): the address is then every interface (`0.0.0.0`), since
    /// the name may resolve to any of them, and the start-up logs a warning.
    pub host_name: Option<String>,
}

/// The address to listen on for the registration's `url`: its IP literal
/// and port; `localhost` is `127.0.0.1`; any other host name is every
/// interface (`0.0.0.0`), with [`BindAddress::host_name`] set.
///
/// ```
/// use ghostkit::appservice::bind_address;
/// let b = bind_address(Some("http://127.0.0.1:9000")).unwrap();
/// assert_eq!((b.addr.to_string(), b.host_name), ("127.0.0.1:9000".into(), None));
/// let b = bind_address(Some("http://bot.internal:9000")).unwrap();
/// assert_eq!(b.addr.to_string(), "0.0.0.0:9000");
/// assert_eq!(b.host_name.as_deref(), Some("bot.internal"));
/// ```
pub fn bind_address(url: Option<&str>) -> Result<BindAddress, AppserviceError> {
    let raw = url.unwrap_or("null");
    let parsed = url::Url::parse(raw).map_err(|_| AppserviceError::NoBind(raw.into()))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| AppserviceError::NoBind(raw.into()))?;
    let host = match parsed.host_str() {
        Some("localhost") | None => "127.0.0.1".to_owned(),
        Some(h) => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
    };
    Ok(match host.parse::<std::net::IpAddr>() {
        Ok(ip) => BindAddress {
            addr: SocketAddr::new(ip, port),
            host_name: None,
        },
        Err(_) => BindAddress {
            addr: SocketAddr::from(([0, 0, 0, 0], port)),
            host_name: Some(host),
        },
    })
}
