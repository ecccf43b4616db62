//! One call to the homeserver: the request, its retries, the answer.

use std::borrow::Cow;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::retry;
use super::{Client, ClientError, MatrixError};
use crate::metrics::EndpointFamily;

/// A request body: bytes and their content type.
#[derive(Debug, Clone)]
pub struct RequestBody {
    data: Bytes,
    content_type: Cow<'static, str>,
}

impl RequestBody {
    /// A body of `data` sent as `content_type`.
    pub fn new(data: Vec<u8>, content_type: impl Into<Cow<'static, str>>) -> Self {
        RequestBody {
            data: Bytes::from(data),
            content_type: content_type.into(),
        }
    }

    /// The body's size in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// A request to the homeserver, built once and sent (and re-sent) as is.
///
/// Whether it may be repeated after a server error or a lost connection
/// ([`Request::idempotent`]) defaults from the method: GET, PUT and DELETE may,
/// POST may not. Every request may be repeated after `429`, and after a
/// failure to connect, since the homeserver did not act on it.
///
/// ```
/// use ghostkit::client::{Method, Request};
/// let req = Request::new(Method::GET, "/_matrix/client/v3/publicRooms")
///     .query("limit", "10");
/// assert!(req.is_idempotent());
/// assert_eq!(req.path(), "/_matrix/client/v3/publicRooms");
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    path: String,
    query: Vec<(Cow<'static, str>, String)>,
    body: Option<RequestBody>,
    idempotent: bool,
    retry: Option<super::RetryPolicy>,
}

impl Request {
    /// A request for `path` (starting with `/`, segments already percent-encoded).
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotent = matches!(
            method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD | Method::OPTIONS
        );
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent,
            retry: None,
        }
    }

    /// Retries this request as `policy` says instead of the client's policy
    /// (`RetryPolicy::never()`: the caller decides what to do on failure).
    pub fn retry_policy(mut self, policy: super::RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a query parameter when `value` is `Some`.
    pub fn query_opt(self, key: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v.to_string()),
            None => self,
        }
    }

    /// Sets a JSON body.
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, ClientError> {
        let data = serde_json::to_vec(body).map_err(ClientError::Encode)?;
        self.body = Some(RequestBody::new(data, "application/json"));
        Ok(self)
    }

    /// Sets a raw body.
    pub fn body(mut self, body: RequestBody) -> Self {
        self.body = Some(body);
        self
    }

    /// Says whether the request may be sent again after a server error or a
    /// timeout (it does no harm if the first one was acted on).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Whether the request may be repeated after a server error or timeout.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path (percent-encoded, without the query).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query parameters.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }
}

/// A successful answer: its content type and bytes.
#[derive(Debug, Clone)]
pub(crate) struct RawResponse {
    pub(crate) url: String,
    pub(crate) content_type: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) body: Bytes,
}

impl Client {
    /// Sends `req` (retrying as the [`super::RetryPolicy`] says) and decodes
    /// its JSON answer; an empty answer reads as `{}`.
    pub async fn execute<T: DeserializeOwned>(&self, req: Request) -> Result<T, ClientError> {
        let resp = self.execute_raw(&req).await?;
        let bytes = if resp.body.is_empty() {
            &b"{}"[..]
        } else {
            &resp.body[..]
        };
        serde_json::from_slice(bytes).map_err(|source| ClientError::Decode {
            url: resp.url,
            source,
        })
    }

    pub(crate) async fn execute_raw(&self, req: &Request) -> Result<RawResponse, ClientError> {
        let url = format!("{}{}", self.inner.base, req.path);
        let policy = req.retry.as_ref().unwrap_or(&self.inner.config.retry);
        let hook = self.inner.config.on_retry.as_ref();
        // The one place a request's endpoint family is read from its path.
        let family = EndpointFamily::of_path(&req.path);
        let metrics = &self.inner.metrics.client;
        let retrying = |reason, wait| metrics.retrying(family, reason, wait);
        let res = retry::run(policy, hook, req, retrying, || {
            self.attempt(req, &url, family)
        })
        .await;
        super::txn::note_call(res.as_ref().err().is_some_and(ClientError::is_unavailable));
        res
    }

    async fn attempt(
        &self,
        req: &Request,
        url: &str,
        family: EndpointFamily,
    ) -> Result<RawResponse, ClientError> {
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), url)
            .header(reqwest::header::AUTHORIZATION, self.inner.auth.clone())
            .timeout(self.inner.config.request_timeout);
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        if let Some(body) = &req.body {
            rb = rb
                .header(CONTENT_TYPE, body.content_type.as_ref())
                .body(body.data.clone());
        }
        let http_err = |source| ClientError::Http {
            url: url.to_owned(),
            source,
        };
        let metrics = &self.inner.metrics.client;
        let resp = match rb.send().await {
            Ok(resp) => resp,
            Err(e) => {
                metrics.answered(family, None);
                return Err(http_err(e));
            }
        };
        let status = resp.status();
        metrics.answered(family, Some(status.as_u16()));
        // The path only: the token is in a header, never in the URL.
        tracing::debug!(method = %req.method, path = %req.path, status = status.as_u16(), "homeserver answered");
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(RETRY_AFTER);
        let content_type = header(CONTENT_TYPE);
        let content_disposition = header(reqwest::header::CONTENT_DISPOSITION);
        let body = resp.bytes().await.map_err(http_err)?;
        if !status.is_success() {
            return Err(
                MatrixError::from_response(status.as_u16(), retry_after.as_deref(), &body).into(),
            );
        }
        Ok(RawResponse {
            url: url.to_owned(),
            content_type,
            content_disposition,
            body,
        })
    }
}
