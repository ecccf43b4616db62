//! Media: upload, and authenticated download and thumbnails.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#content-repository>
//!
//! ```no_run
//! # async fn demo(me: ghostkit::client::AsUser) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::client::media::ThumbnailMethod;
//! let mxc = me.upload(b"hello".to_vec(), "text/plain", Some("hello.txt")).await?;
//! let media = me.download(&mxc).await?;
//! assert_eq!(media.data, b"hello");
//! let thumb = me.thumbnail(&mxc, 64, 64, ThumbnailMethod::Scale).await;
//! # let _ = thumb;
//! # Ok(()) }
//! ```

use reqwest::Method;
use ruma_common::{MxcUri, OwnedMxcUri};
use serde::Deserialize;

use super::request::RequestBody;
use super::{encode, AsUser, ClientError};

/// Downloaded media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The bytes.
    pub data: Vec<u8>,
    /// Their content type, as the server said.
    pub content_type: Option<String>,
    /// The `Content-Disposition` header (holds the file name).
    pub content_disposition: Option<String>,
}

/// How a thumbnail is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ThumbnailMethod {
    /// Cut to the exact size.
    Crop,
    /// Scaled to fit inside the size.
    #[default]
    Scale,
}

/// The content repository's limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MediaConfig {
    /// Largest upload, in bytes.
    #[serde(rename = "m.upload.size", default)]
    pub upload_size: Option<u64>,
}

fn media_parts(mxc: &MxcUri) -> Result<(String, String), ClientError> {
    let (server, id) = mxc
        .parts()
        .map_err(|e| ClientError::InvalidArgument(format!("`{mxc}` is not an mxc:// URI: {e}")))?;
    Ok((encode(server.as_str()), encode(id)))
}

impl AsUser {
    /// `POST /_matrix/media/v3/upload`: stores `data`; returns its `mxc://` URI.
    /// Repeated after server errors (at worst the server keeps a second copy).
    pub async fn upload(
        &self,
        data: Vec<u8>,
        content_type: &str,
        filename: Option<&str>,
    ) -> Result<OwnedMxcUri, ClientError> {
        #[derive(Deserialize)]
        struct Uploaded {
            content_uri: OwnedMxcUri,
        }
        let req = self
            .request(Method::POST, "/_matrix/media/v3/upload")
            .query_opt("filename", filename)
            .body(RequestBody::new(data, content_type.to_owned()))
            .idempotent(true);
        let u: Uploaded = self.call(req).await?;
        Ok(u.content_uri)
    }

    /// `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}`.
    pub async fn download(&self, mxc: &MxcUri) -> Result<Media, ClientError> {
        let (server, id) = media_parts(mxc)?;
        let path = format!("/_matrix/client/v1/media/download/{server}/{id}");
        self.fetch_media(self.request(Method::GET, path)).await
    }

    /// `GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}`: a
    /// thumbnail of about `width` × `height` pixels.
    pub async fn thumbnail(
        &self,
        mxc: &MxcUri,
        width: u32,
        height: u32,
        method: ThumbnailMethod,
    ) -> Result<Media, ClientError> {
        let (server, id) = media_parts(mxc)?;
        let path = format!("/_matrix/client/v1/media/thumbnail/{server}/{id}");
        let method = match method {
            ThumbnailMethod::Crop => "crop",
            ThumbnailMethod::Scale => "scale",
        };
        let req = self
            .request(Method::GET, path)
            .query("width", width.to_string())
            .query("height", height.to_string())
            .query("method", method);
        self.fetch_media(req).await
    }

    /// `GET /_matrix/client/v1/media/config`: upload limits.
    pub async fn media_config(&self) -> Result<MediaConfig, ClientError> {
        self.call(self.request(Method::GET, "/_matrix/client/v1/media/config"))
            .await
    }

    async fn fetch_media(&self, req: super::Request) -> Result<Media, ClientError> {
        let resp = self.client().execute_raw(&req).await?;
        Ok(Media {
            data: Vec::from(resp.body),
            content_type: resp.content_type,
            content_disposition: resp.content_disposition,
        })
    }
}
