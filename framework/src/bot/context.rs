//! What one handler call gets: the shared parts and the event, and a room
//! handle for the common "answer in the event's room" case.

use ruma_common::{EventId, OwnedEventId, RoomId, UserId};

use super::AppContext;
use crate::client::{AsUser, ClientError};
use crate::event::Event;

/// What one handler call gets: the shared parts ([`AppContext`], which it
/// derefs to) and the event.
#[derive(Clone, Debug)]
pub struct Context {
    app: AppContext,
    event: Event,
}

impl std::ops::Deref for Context {
    type Target = AppContext;
    fn deref(&self) -> &AppContext {
        &self.app
    }
}

impl Context {
    /// A context for one event.
    pub fn new(app: AppContext, event: Event) -> Self {
        Context { app, event }
    }

    /// The event being handled.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The shared parts.
    pub fn app(&self) -> &AppContext {
        &self.app
    }

    /// The event's sender, when it has one.
    pub fn sender(&self) -> Option<&UserId> {
        self.event.sender()
    }

    /// The event's room, when it has one.
    pub fn room_id(&self) -> Option<&RoomId> {
        self.event.room_id()
    }

    /// The room the event was sent in, with its sender: `None` for what is
    /// not a room event (to-device messages, presence).
    pub fn room(&self) -> Option<InRoom<'_>> {
        Some(InRoom {
            ctx: self,
            id: self.event.room_id()?,
            sender: self.event.sender()?,
        })
    }

    /// Sends a plain-text message as the bot into the event's room.
    pub async fn reply_text(&self, body: &str) -> Result<OwnedEventId, ClientError> {
        let room = self.event.room_id().ok_or(ClientError::NoRoom)?;
        self.client().as_bot().send_text(room, body).await
    }

    /// Sends a notice (`m.notice`: bots do not answer notices, so no loops)
    /// as the bot into the event's room.
    pub async fn reply_notice(&self, body: &str) -> Result<OwnedEventId, ClientError> {
        let room = self.event.room_id().ok_or(ClientError::NoRoom)?;
        self.client().as_bot().send_notice(room, body).await
    }
}

/// A room event's room and sender, from [`Context::room`].
#[derive(Clone, Copy, Debug)]
pub struct InRoom<'a> {
    ctx: &'a Context,
    /// The room.
    pub id: &'a RoomId,
    /// Who sent the event.
    pub sender: &'a UserId,
}

impl InRoom<'_> {
    /// The event's ID, when it has one.
    pub fn event_id(&self) -> Option<&EventId> {
        self.ctx.event.event_id()
    }

    /// The bot user, to act with in this room.
    pub fn bot(&self) -> AsUser {
        self.ctx.client().as_bot()
    }

    /// Whether the sender is the bot or one of its ghosts.
    pub fn sender_is_ours(&self) -> bool {
        self.ctx.is_ours(self.sender)
    }

    /// Sends a plain-text message as the bot into the room.
    pub async fn send_text(&self, body: &str) -> Result<OwnedEventId, ClientError> {
        self.bot().send_text(self.id, body).await
    }

    /// Sends a notice as the bot into the room.
    pub async fn send_notice(&self, body: &str) -> Result<OwnedEventId, ClientError> {
        self.bot().send_notice(self.id, body).await
    }
}
