//! Where outbound hooks may send: the addresses the bot refuses to reach,
//! the operator's allow-list and deny-list, and the DNS resolver that
//! applies them at every connection.
//!
//! An outbound URL is checked when the hook is made ([`AddressGuard::check_new`])
//! and again before every request: its host, when it is an IP address, by
//! [`AddressGuard::check_url`] (the HTTP client does not resolve IP
//! literals), and every address a host name resolves to by
//! [`GuardedResolver`], the HTTP client's resolver. So a name that resolved
//! to a public address when the hook was made and to `127.0.0.1` later
//! (DNS rebinding) is refused at the connection.
//!
//! Refused unless allowed: loopback, "this network" (`0.0.0.0/8`, `::`),
//! private (`10/8`, `172.16/12`, `192.168/16`), shared CGNAT (`100.64/10`),
//! link-local (`169.254/16`, `fe80::/10`), unique-local (`fc00::/7`),
//! site-local (`fec0::/10`), multicast, broadcast and reserved (`240/4`),
//! documentation and benchmarking ranges, and IPv6 forms that carry an IPv4
//! address (IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`, NAT64
//! `64:ff9b::/96`, 6to4 `2002::/16`), which are judged by the IPv4 address
//! they carry; Teredo (`2001::/32`), whose embedded address is obscured, is
//! refused outright.
//!
//! The operator's lists ([`HostRule`]s) refine this: an address or name on
//! the deny-list is always refused; one on the allow-list may be reached
//! even when it is internal. A name that resolves to several addresses is
//! refused if any of them is.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;
use url::{Host, Url};

/// Why an outbound URL or address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The URL does not parse.
    #[error("`{0}` is not a URL")]
    NotAUrl(String),
    /// The scheme is neither `http` nor `https`.
    #[error("only http and https URLs can be webhooks, not `{0}:`")]
    Scheme(String),
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// The address is internal (loopback, private, link-local …) and not
    /// on the operator's allow-list.
    #[error("{addr} is {what}, which webhooks may not reach (the operator can allow it with outbound_allow)")]
    Internal {
        /// The refused address.
        addr: IpAddr,
        /// What kind of address it is, e.g. "a loopback address".
        what: &'static str,
    },
    /// The address or host is on the operator's deny-list.
    #[error("{0} is on the operator's deny-list")]
    Denied(String),
    /// The host name resolves to no address.
    #[error("{0} resolves to no address")]
    NoAddress(String),
    /// The host name cannot be resolved.
    #[error("cannot resolve {host}: {reason}")]
    Lookup {
        /// The host name.
        host: String,
        /// What the resolver said.
        reason: String,
    },
}

/// One entry of the operator's allow-list or deny-list: a network in CIDR
/// notation (`10.1.0.0/16`, `fd00::/8`), a single address (`10.1.2.3`), a
/// host name (`hooks.internal`), or every subdomain of one
/// (`*.corp.example`, which does not match `corp.example` itself).
///
/// In the config file it is that text (`outbound_allow: [10.1.0.0/16]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HostRule {
    /// Addresses in this network.
    Net(IpNet),
    /// This host name exactly (lowercase, without a trailing dot).
    Host(String),
    /// Subdomains of this name (lowercase, without the `*.`).
    Subdomains(String),
}

/// Why a [`HostRule`] does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_bad_rule(.0))]
pub struct HostRuleError(pub String);

fn describe_bad_rule(rule: &str) -> String {
    if rule.trim().contains(char::is_whitespace) {
        format!("`{rule}` is several rules in one: separate them with commas")
    } else {
        format!("`{rule}` is not an address, a CIDR network, a host name or `*.` and a domain")
    }
}

impl FromStr for HostRule {
    type Err = HostRuleError;

    /// ```
    /// use webhooks::address::HostRule;
    /// assert!(matches!("10.0.0.0/8".parse(), Ok(HostRule::Net(_))));
    /// assert!(matches!("10.1.2.3".parse(), Ok(HostRule::Net(_))));
    /// assert_eq!("Hooks.Internal.".parse(), Ok(HostRule::Host("hooks.internal".into())));
    /// assert_eq!("*.corp.example".parse(), Ok(HostRule::Subdomains("corp.example".into())));
    /// assert!("10.0.0.0/33".parse::<HostRule>().is_err());
    /// assert!("not a host".parse::<HostRule>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, HostRuleError> {
        let s = s.trim();
        let bad = || HostRuleError(s.to_owned());
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(HostRule::Net(net.trunc()));
        }
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(HostRule::Net(IpNet::from(ip)));
        }
        if s.contains('/') || s.contains(':') {
            return Err(bad());
        }
        let (wild, name) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if name.is_empty() || !name.split('.').all(label_ok) {
            return Err(bad());
        }
        Ok(if wild {
            HostRule::Subdomains(name)
        } else {
            HostRule::Host(name)
        })
    }
}

impl TryFrom<String> for HostRule {
    type Error = HostRuleError;

    fn try_from(s: String) -> Result<Self, HostRuleError> {
        s.parse()
    }
}

impl From<HostRule> for String {
    fn from(rule: HostRule) -> String {
        rule.to_string()
    }
}

/// A rule is written as text in the config file.
impl schemars::JsonSchema for HostRule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HostRule".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostRule::Net(n) => write!(f, "{n}"),
            HostRule::Host(h) => write!(f, "{h}"),
            HostRule::Subdomains(d) => write!(f, "*.{d}"),
        }
    }
}

impl HostRule {
    fn matches_name(&self, host: &str) -> bool {
        match self {
            HostRule::Net(_) => false,
            HostRule::Host(h) => h == host,
            HostRule::Subdomains(d) => host
                .strip_suffix(d.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        }
    }

    fn matches_addr(&self, addr: IpAddr) -> bool {
        match self {
            HostRule::Net(n) => {
                n.contains(&addr) || unmapped(addr).is_some_and(|v4| n.contains(&IpAddr::V4(v4)))
            }
            _ => false,
        }
    }
}

/// The IPv4 address an IPv6 address stands for, when it is IPv4-mapped
/// (`::ffff:a.b.c.d`).
fn unmapped(addr: IpAddr) -> Option<Ipv4Addr> {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        IpAddr::V4(_) => None,
    }
}

/// What kind of internal address `addr` is, or `None` for a public one.
///
/// ```
/// use webhooks::address::internal_kind;
/// assert_eq!(internal_kind("127.0.0.1".parse().unwrap()), Some("a loopback address"));
/// assert_eq!(internal_kind("::ffff:10.0.0.1".parse().unwrap()), Some("a private address"));
/// assert_eq!(internal_kind("93.184.215.14".parse().unwrap()), None);
/// ```
pub fn internal_kind(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "the unspecified address",
        (0, _, _) => "a \"this network\" address",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (100, 64..=127, _) => "a shared (CGNAT) address",
        (169, 254, _) => "a link-local address",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        _ if ip.is_broadcast() => "the broadcast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // IPv4-mapped and IPv4-compatible: the IPv4 address decides.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    if s[..6] == [0; 6] {
        return internal_v4(v4_of(s[6], s[7]));
    }
    // NAT64 well-known prefix: the IPv4 address in the last 32 bits decides.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return internal_v4(v4_of(s[6], s[7]));
    }
    // 6to4: the IPv4 address in bits 16..48 decides.
    if s[0] == 0x2002 {
        return internal_v4(v4_of(s[1], s[2]));
    }
    Some(match s[0] {
        0x64 if s[1] == 0xff9b && s[2] == 1 => "a local-use NAT64 address",
        0x100 if s[1..4] == [0, 0, 0] => "a discard address",
        0x2001 if s[1] == 0 => "a Teredo address",
        0x2001 if s[1] == 0xdb8 => "a documentation address",
        0xfc00..=0xfdff => "a unique-local address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        _ => return None,
    })
}

/// The IPv4 address held in two IPv6 segments.
fn v4_of(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

/// Resolves host names to addresses (the system resolver in production; a
/// fixed table in tests).
pub trait Lookup: Send + Sync + fmt::Debug {
    /// The addresses of `host`.
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>>;
}

/// The system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// The rules outbound hooks obey, and the resolver they use.
#[derive(Debug, Clone)]
pub struct AddressGuard {
    allow: Arc<[HostRule]>,
    deny: Arc<[HostRule]>,
    lookup: Arc<dyn Lookup>,
}

impl AddressGuard {
    /// A guard with the operator's lists, resolving with the system resolver.
    pub fn new(allow: &[HostRule], deny: &[HostRule]) -> Self {
        Self::with_lookup(allow, deny, Arc::new(SystemLookup))
    }

    /// A guard resolving names with `lookup`.
    pub fn with_lookup(allow: &[HostRule], deny: &[HostRule], lookup: Arc<dyn Lookup>) -> Self {
        AddressGuard {
            allow: allow.into(),
            deny: deny.into(),
            lookup,
        }
    }

    /// Whether the host name is on the allow-list, so that its addresses
    /// may be internal.
    fn name_allowed(&self, host: &str) -> bool {
        self.allow.iter().any(|r| r.matches_name(host))
    }

    /// Refuses a host name on the deny-list.
    fn check_name(&self, host: &str) -> Result<(), AddressError> {
        match self.deny.iter().find(|r| r.matches_name(host)) {
            Some(_) => Err(AddressError::Denied(host.to_owned())),
            None => Ok(()),
        }
    }

    /// Checks one address; `name_allowed` when it is an address of an
    /// allowed host name.
    pub fn check_addr(&self, addr: IpAddr, name_allowed: bool) -> Result<(), AddressError> {
        if self.deny.iter().any(|r| r.matches_addr(addr)) {
            return Err(AddressError::Denied(addr.to_string()));
        }
        if name_allowed || self.allow.iter().any(|r| r.matches_addr(addr)) {
            return Ok(());
        }
        match internal_kind(addr) {
            Some(what) => Err(AddressError::Internal { addr, what }),
            None => Ok(()),
        }
    }

    /// Checks every address `host` resolved to; an empty list is refused.
    pub fn check_resolved(&self, host: &str, addrs: &[IpAddr]) -> Result<(), AddressError> {
        let host = normal_name(host);
        self.check_name(&host)?;
        if addrs.is_empty() {
            return Err(AddressError::NoAddress(host));
        }
        let allowed = self.name_allowed(&host);
        addrs.iter().try_for_each(|a| self.check_addr(*a, allowed))
    }

    /// Parses an outbound URL and checks what can be checked without DNS:
    /// the scheme, an IP-literal host, a host name on the deny-list.
    /// Done before every request.
    pub fn check_url(&self, url: &str) -> Result<Url, AddressError> {
        let parsed = Url::parse(url).map_err(|_| AddressError::NotAUrl(url.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(AddressError::Scheme(parsed.scheme().to_owned()));
        }
        match parsed.host() {
            None => return Err(AddressError::NoHost),
            Some(Host::Ipv4(v4)) => self.check_addr(IpAddr::V4(v4), false)?,
            Some(Host::Ipv6(v6)) => self.check_addr(IpAddr::V6(v6), false)?,
            Some(Host::Domain(d)) => self.check_name(&normal_name(d))?,
        }
        Ok(parsed)
    }

    /// Checks a URL for a new hook: [`check_url`](Self::check_url), and
    /// for a host name, every address it resolves to now. Returns the URL
    /// as normalised by the parser.
    pub async fn check_new(&self, url: &str) -> Result<Url, AddressError> {
        let parsed = self.check_url(url)?;
        if let Some(Host::Domain(d)) = parsed.host() {
            self.resolve(d).await?;
        }
        Ok(parsed)
    }

    /// Resolves `host` and checks its addresses.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, AddressError> {
        let name = normal_name(host);
        self.check_name(&name)?;
        let addrs = self
            .lookup
            .lookup(&name)
            .await
            .map_err(|e| AddressError::Lookup {
                host: name.clone(),
                reason: e.to_string(),
            })?;
        self.check_resolved(&name, &addrs)?;
        Ok(addrs)
    }

    /// The HTTP client's resolver obeying this guard.
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver(self.clone()))
    }
}

/// A host name as compared with the lists: lowercase, no trailing dot.
fn normal_name(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The HTTP client's DNS resolver: resolves through the guard's lookup and
/// fails the connection when any address is refused.
#[derive(Debug, Clone)]
pub struct GuardedResolver(AddressGuard);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.resolve(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
