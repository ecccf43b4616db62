//! Shared set-up of the client tests: the client registration, unique names,
//! real users made through Synapse's shared-secret admin API.

mod account;
mod directory;
mod fake;
mod media;
mod messages;
mod rooms;

use std::sync::Arc;

use anyhow::Context as _;
use ghostkit::ruma::common::{OwnedRoomId, OwnedUserId, RoomId};
use ghostkit::{Client, Registration};
use serde_json::{json, Value};

pub use crate::common::{enc, synapse_url, unique};

pub fn registration() -> Arc<Registration> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/registrations/client.yaml");
    Arc::new(Registration::load(path).expect("tests/registrations/client.yaml loads"))
}

/// A client of the real Synapse acting for the `ghostkit-client` appservice.
pub fn client() -> Client {
    let c = Client::new(&synapse_url(), registration()).expect("client builds");
    c.set_server_name(ghostkit::ruma::common::server_name!("localhost"));
    c
}

/// A fresh ghost ID in the client registration's namespace.
pub fn ghost_id(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@_client_{}:localhost", unique(name))).expect("valid user ID")
}

pub fn bot_id() -> OwnedUserId {
    OwnedUserId::try_from("@gk_client:localhost").expect("valid user ID")
}

/// A real (non-appservice) user, acting with its own access token.
pub struct RealUser {
    pub user_id: OwnedUserId,
    inner: crate::common::User,
}

impl RealUser {
    /// Registers a new user (see [`crate::common::register_user`]).
    pub async fn register(name: &str) -> anyhow::Result<RealUser> {
        let inner = crate::common::User::register(name).await?;
        Ok(RealUser {
            user_id: OwnedUserId::try_from(inner.user_id.as_str())
                .context("user_id in the answer")?,
            inner,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        self.inner.call(method, path, body).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Sends an `m.text` message into `room` (an ID).
    pub async fn send_text(&self, room: &str, body: &str) -> anyhow::Result<Value> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
            enc(room),
            unique("t")
        );
        self.call(
            reqwest::Method::PUT,
            &path,
            Some(json!({"msgtype": "m.text", "body": body})),
        )
        .await
    }

    pub async fn join(&self, room: &RoomId) -> anyhow::Result<OwnedRoomId> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/_matrix/client/v3/join/{}", enc(room.as_str())),
                Some(json!({})),
            )
            .await?;
        Ok(OwnedRoomId::try_from(
            v["room_id"].as_str().unwrap_or_default(),
        )?)
    }
}

/// The membership of `user` in `room`, read as the bot.
pub async fn membership_of(
    client: &Client,
    room: &RoomId,
    user: &ghostkit::ruma::common::UserId,
) -> Option<String> {
    let v: Option<Value> = client
        .as_bot()
        .state_event_opt(room, "m.room.member", user.as_str())
        .await
        .ok()
        .flatten();
    v.and_then(|v| v["membership"].as_str().map(str::to_owned))
}

/// A small valid PNG (`w`×`h`, RGB) built here: stored deflate blocks, CRC32
/// and Adler-32 computed by hand, so no image crate is needed.
pub fn tiny_png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0); // filter: none
        for x in 0..w {
            raw.extend_from_slice(&[(x * 16) as u8, (y * 16) as u8, 200]);
        }
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + byte as u32) % 65521;
        b = (b + a) % 65521;
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    png
}
