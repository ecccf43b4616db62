//! Sending: any event type, text, notice, emote, HTML, replies, edits,
//! reactions and thread messages.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid>
//!
//! Every send is `PUT …/send/{eventType}/{txnId}` with a txnId made once per
//! send: a retry of the same send reuses it, so the homeserver keeps one event.
//! Inside a handler the txnId is derived from the event handled (see
//! [`super::txn`]), so a handler replayed after a crash sends nothing twice.
//! A timestamp set with [`AsUser::with_ts`] goes along as `?ts=`.
//!
//! ```no_run
//! # async fn demo(me: ghostkit::client::AsUser) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::ruma::common::room_id;
//! let room = room_id!("!abc:example.org");
//! let first = me.send_text(room, "hello").await?;
//! me.send_reply(room, &first, "replying to myself").await?;
//! me.send_edit(room, &first, "hello, world").await?;
//! me.react(room, &first, "👍").await?;
//! me.send_html(room, "bold", "<b>bold</b>").await?;
//! # Ok(()) }
//! ```

use reqwest::Method;
use ruma_common::{EventId, OwnedEventId, RoomId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{encode, AsUser, ClientError};

#[derive(Deserialize)]
struct Sent {
    event_id: OwnedEventId,
}

/// Content of an `m.room.message` with `msgtype` and `body` (and HTML if given).
fn message(msgtype: &str, body: &str, html: Option<&str>) -> Value {
    let mut v = json!({ "msgtype": msgtype, "body": body });
    if let Some(html) = html {
        v["format"] = "org.matrix.custom.html".into();
        v["formatted_body"] = html.into();
    }
    v
}

impl AsUser {
    /// `PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`:
    /// sends any room event; returns its ID.
    pub async fn send(
        &self,
        room: &RoomId,
        event_type: &str,
        content: &(impl Serialize + ?Sized),
    ) -> Result<OwnedEventId, ClientError> {
        let txn_id = self.txn_id()?;
        self.send_with_txn_id(room, event_type, &txn_id, content)
            .await
    }

    /// Like [`AsUser::send`] with a transaction ID of the caller's (sending
    /// again with the same ID is a no-op returning the same event).
    pub async fn send_with_txn_id(
        &self,
        room: &RoomId,
        event_type: &str,
        txn_id: &str,
        content: &(impl Serialize + ?Sized),
    ) -> Result<OwnedEventId, ClientError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{}/{}",
            encode(room.as_str()),
            encode(event_type),
            encode(txn_id)
        );
        let req = self
            .with_ts_param(self.request(Method::PUT, path))
            .json(content)?;
        let s: Sent = self.call(req).await?;
        Ok(s.event_id)
    }

    /// Sends an `m.text` message.
    pub async fn send_text(&self, room: &RoomId, body: &str) -> Result<OwnedEventId, ClientError> {
        self.send(room, "m.room.message", &message("m.text", body, None))
            .await
    }

    /// Sends an `m.notice` (what bots say; other bots ignore notices).
    pub async fn send_notice(
        &self,
        room: &RoomId,
        body: &str,
    ) -> Result<OwnedEventId, ClientError> {
        self.send(room, "m.room.message", &message("m.notice", body, None))
            .await
    }

    /// Sends an `m.emote` (`/me waves`).
    pub async fn send_emote(&self, room: &RoomId, body: &str) -> Result<OwnedEventId, ClientError> {
        self.send(room, "m.room.message", &message("m.emote", body, None))
            .await
    }

    /// Sends an `m.text` with an HTML body and its plain-text fallback.
    pub async fn send_html(
        &self,
        room: &RoomId,
        plain: &str,
        html: &str,
    ) -> Result<OwnedEventId, ClientError> {
        self.send(
            room,
            "m.room.message",
            &message("m.text", plain, Some(html)),
        )
        .await
    }

    /// Sends an `m.text` replying to `in_reply_to` (`m.relates_to.m.in_reply_to`).
    pub async fn send_reply(
        &self,
        room: &RoomId,
        in_reply_to: &EventId,
        body: &str,
    ) -> Result<OwnedEventId, ClientError> {
        let mut content = message("m.text", body, None);
        content["m.relates_to"] = json!({ "m.in_reply_to": { "event_id": in_reply_to } });
        self.send(room, "m.room.message", &content).await
    }

    /// Sends an edit of `original` (`rel_type: m.replace`) whose new text is `body`.
    pub async fn send_edit(
        &self,
        room: &RoomId,
        original: &EventId,
        body: &str,
    ) -> Result<OwnedEventId, ClientError> {
        let mut content = message("m.text", &format!("* {body}"), None);
        content["m.new_content"] = message("m.text", body, None);
        content["m.relates_to"] = json!({ "rel_type": "m.replace", "event_id": original });
        self.send(room, "m.room.message", &content).await
    }

    /// Sends an `m.text` in the thread whose root is `thread_root` (`rel_type: m.thread`).
    pub async fn send_in_thread(
        &self,
        room: &RoomId,
        thread_root: &EventId,
        body: &str,
    ) -> Result<OwnedEventId, ClientError> {
        let mut content = message("m.text", body, None);
        content["m.relates_to"] = json!({
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": true,
            "m.in_reply_to": { "event_id": thread_root },
        });
        self.send(room, "m.room.message", &content).await
    }

    /// Sends an `m.reaction` with `key` (an emoji, usually) to `event_id`.
    pub async fn react(
        &self,
        room: &RoomId,
        event_id: &EventId,
        key: &str,
    ) -> Result<OwnedEventId, ClientError> {
        let content = json!({
            "m.relates_to": { "rel_type": "m.annotation", "event_id": event_id, "key": key }
        });
        self.send(room, "m.reaction", &content).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_messages_carry_the_format() {
        let v = message("m.text", "b", Some("<b>b</b>"));
        assert_eq!(v["format"], "org.matrix.custom.html");
        assert_eq!(v["formatted_body"], "<b>b</b>");
        assert!(message("m.notice", "x", None).get("format").is_none());
    }
}
