//! Discovery: the spec versions the homeserver speaks, its well-known
//! client information and capabilities, and the appservice ping.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#server-discovery>,
//! <https://spec.matrix.org/latest/application-service-api/#pinging>
//!
//! ```no_run
//! # async fn demo(client: ghostkit::Client) -> Result<(), ghostkit::ClientError> {
//! let versions = client.versions().await?;
//! assert!(versions.supports("v1.7"), "the appservice ping needs Matrix 1.7");
//! let round_trip = client.ping(Some("startup")).await?;
//! println!("homeserver reaches us in {round_trip:?}");
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::{Client, ClientError, Request};

/// `GET /_matrix/client/versions`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Versions {
    /// Spec versions supported (`v1.11`).
    pub versions: Vec<String>,
    /// Unstable features and whether they are on.
    #[serde(default)]
    pub unstable_features: BTreeMap<String, bool>,
}

impl Versions {
    /// Whether `version` (`v1.7`) is listed.
    pub fn supports(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }

    /// Whether the unstable feature is listed and on.
    pub fn has_unstable_feature(&self, feature: &str) -> bool {
        self.unstable_features
            .get(feature)
            .copied()
            .unwrap_or(false)
    }
}

/// `GET /.well-known/matrix/client`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WellKnown {
    /// The homeserver's client-server API base URL.
    #[serde(rename = "m.homeserver")]
    pub homeserver: BaseUrl,
    /// The identity server, if any.
    #[serde(rename = "m.identity_server", default)]
    pub identity_server: Option<BaseUrl>,
}

/// A `{"base_url": …}` object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BaseUrl {
    /// The URL.
    pub base_url: String,
}

impl Client {
    /// `GET /_matrix/client/versions`: what the homeserver speaks.
    pub async fn versions(&self) -> Result<Versions, ClientError> {
        self.execute(Request::new(Method::GET, "/_matrix/client/versions"))
            .await
    }

    /// `GET /.well-known/matrix/client` on the homeserver's URL.
    pub async fn well_known(&self) -> Result<WellKnown, ClientError> {
        self.execute(Request::new(Method::GET, "/.well-known/matrix/client"))
            .await
    }

    /// `GET /_matrix/client/v3/capabilities`: room versions, profile changes
    /// allowed … as JSON.
    pub async fn capabilities(&self) -> Result<Value, ClientError> {
        #[derive(Deserialize)]
        struct Caps {
            capabilities: Value,
        }
        let c: Caps = self
            .execute(Request::new(Method::GET, "/_matrix/client/v3/capabilities"))
            .await?;
        Ok(c.capabilities)
    }
}
