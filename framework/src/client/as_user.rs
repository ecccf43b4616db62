//! [`AsUser`]: the client bound to one user, device and timestamp.

use reqwest::Method;
use ruma_common::{OwnedUserId, UserId};
use serde::de::DeserializeOwned;

use super::{Client, ClientError, Request};

/// The client acting as one user: the bot ([`Client::as_bot`]) or a ghost
/// ([`Client::as_user`]), optionally with a device and a timestamp for sends
/// and state writes. Cheap to clone. The API methods are documented per area
/// (see the `client` module: rooms, messages, state …).
#[derive(Debug, Clone)]
pub struct AsUser {
    pub(super) client: Client,
    pub(super) user_id: Option<OwnedUserId>,
    pub(super) device_id: Option<String>,
    pub(super) ts: Option<u64>,
}

impl AsUser {
    /// Acts from this device (`device_id`, and its unstable twin
    /// `org.matrix.msc3202.device_id`).
    pub fn with_device(mut self, device_id: impl Into<String>) -> Self {
        self.device_id = Some(device_id.into());
        self
    }

    /// Gives sends and state writes this origin timestamp (`?ts=`, ms since
    /// the Unix epoch), for importing history.
    pub fn with_ts(mut self, ts_ms: u64) -> Self {
        self.ts = Some(ts_ms);
        self
    }

    /// The user acted as; `None` for the bot.
    pub fn user_id(&self) -> Option<&UserId> {
        self.user_id.as_deref()
    }

    /// The acting user's full ID; for the bot this needs the server name
    /// ([`Client::set_server_name`]).
    pub fn me(&self) -> Result<OwnedUserId, ClientError> {
        if let Some(u) = &self.user_id {
            return Ok(u.clone());
        }
        let id = self.client.bot_user_id().ok_or_else(|| {
            ClientError::InvalidArgument(
                "the bot's server name is not known yet; call Client::set_server_name first".into(),
            )
        })?;
        Ok(id.to_owned())
    }

    /// The device acted from, if any.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The timestamp given to sends and state writes, if any.
    pub fn ts(&self) -> Option<u64> {
        self.ts
    }

    /// The transaction ID for this user's next `PUT …/{txnId}` call
    /// ([`Client::txn_id_for`]).
    pub fn txn_id(&self) -> Result<String, ClientError> {
        Ok(self.client.txn_id_for(&self.me()?))
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A request carrying this user's masquerading parameters (`user_id`,
    /// `device_id`); add `ts` with [`AsUser::with_ts_param`] where the spec allows it.
    ///
    /// ```no_run
    /// # async fn demo(me: ghostkit::client::AsUser) -> Result<(), ghostkit::ClientError> {
    /// use ghostkit::client::Method;
    /// let caps: serde_json::Value = me
    ///     .client()
    ///     .execute(me.request(Method::GET, "/_matrix/client/v3/capabilities"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn request(&self, method: Method, path: impl Into<String>) -> Request {
        let mut req = Request::new(method, path);
        if let Some(u) = &self.user_id {
            req = req.query("user_id", u.as_str());
        }
        if let Some(d) = &self.device_id {
            req = req
                .query("device_id", d)
                .query("org.matrix.msc3202.device_id", d);
        }
        req
    }

    /// Adds `?ts=` to `req` when a timestamp was set with [`AsUser::with_ts`].
    pub fn with_ts_param(&self, req: Request) -> Request {
        match self.ts {
            Some(ts) => req.query("ts", ts.to_string()),
            None => req,
        }
    }

    /// Runs `req` and decodes its JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T, ClientError> {
        self.client.execute(req).await
    }
}
