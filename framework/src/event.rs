//! One item of a transaction, as handlers see it.
//!
//! The raw JSON is kept as received; the routing fields (type, IDs, sender,
//! state key) are read once when the transaction is parsed, and the typed
//! content is parsed only when a handler asks for it ([`Event::content`]).

mod head;
mod lenient;

pub use lenient::Lenient;

use bytestring::ByteString;
use ruma_common::{EventId, MilliSecondsSinceUnixEpoch, RoomId, UserId};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use head::Field;

/// Where in the transaction an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A room event from `events` (timeline and state).
    Timeline,
    /// An ephemeral event from `ephemeral` or its unstable twin (typing, receipts, presence).
    Ephemeral,
    /// A to-device message (MSC2409 `to_device`).
    ToDevice,
    /// MSC3202 `device_lists` (`changed`, `left`).
    DeviceLists,
    /// MSC3202 one-time key counts per user and device.
    OneTimeKeyCounts,
    /// MSC3202 unused fallback key types per user and device.
    FallbackKeyTypes,
}

/// An event or other item received in a transaction.
///
/// No allocation per event: the JSON is a shared slice of the transaction's
/// body, and the routing fields are spans of it (unless they held escapes,
/// then they are kept apart).
#[derive(Debug, Clone)]
pub struct Event {
    kind: EventKind,
    event_type: Text,
    event_id: Text,
    room_id: Text,
    sender: Text,
    state_key: Text,
    raw: ByteString,
}

/// A routing field: absent, fixed, a span of the raw JSON, or unescaped text.
#[derive(Debug, Clone)]
enum Text {
    None,
    Static(&'static str),
    Span(u32, u32),
    Owned(Box<str>),
}

impl Text {
    fn of(field: Option<Field>) -> Text {
        match field {
            None => Text::None,
            Some(Field::Escaped(s)) => Text::Owned(s),
            Some(Field::Span(a, b)) => match (u32::try_from(a), u32::try_from(b)) {
                (Ok(a), Ok(b)) => Text::Span(a, b),
                _ => Text::None,
            },
        }
    }

    fn get<'a>(&'a self, raw: &'a str) -> Option<&'a str> {
        match self {
            Text::None => None,
            Text::Static(s) => Some(s),
            Text::Span(a, b) => raw.get(*a as usize..*b as usize),
            Text::Owned(s) => Some(s),
        }
    }
}

/// Why an item of a transaction was skipped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    /// The item is not a JSON object with the fields its kind needs.
    #[error("malformed {kind:?} item: {reason}")]
    Malformed {
        /// Where it came from.
        kind: EventKind,
        /// What is missing or wrong.
        reason: String,
    },
}

impl Event {
    /// Reads the routing fields of one item; the JSON is kept as it came.
    ///
    /// ```
    /// use ghostkit::event::{Event, EventKind};
    /// let raw = serde_json::value::RawValue::from_string(
    ///     r#"{"type":"m.room.message","event_id":"$e","room_id":"!r:x","sender":"@a:x","content":{}}"#.into(),
    /// ).unwrap();
    /// let ev = Event::from_raw(EventKind::Timeline, &raw).unwrap();
    /// assert_eq!(ev.event_type(), "m.room.message");
    /// assert_eq!(ev.sender().unwrap().as_str(), "@a:x");
    /// ```
    pub fn from_raw(kind: EventKind, raw: &RawValue) -> Result<Event, EventError> {
        Event::from_shared(kind, ByteString::from(raw.get()))
    }

    /// Like [`Event::from_raw`], for `raw`, a slice of a transaction's body
    /// that stays shared. `raw` must be valid JSON (the transaction was
    /// checked); anything else is refused as malformed.
    pub(crate) fn from_shared(kind: EventKind, raw: ByteString) -> Result<Event, EventError> {
        let bad = |reason: &str| EventError::Malformed {
            kind,
            reason: reason.to_owned(),
        };
        // serde would also read the head from an array; every kind is an object.
        if !raw.trim_start().starts_with('{') {
            return Err(bad("not a JSON object"));
        }
        let (event_type, event_id, room_id, sender, state_key) = match kind {
            EventKind::DeviceLists => (
                Text::Static("org.matrix.msc3202.device_lists"),
                Text::None,
                Text::None,
                Text::None,
                Text::None,
            ),
            EventKind::OneTimeKeyCounts => (
                Text::Static("org.matrix.msc3202.device_one_time_keys_count"),
                Text::None,
                Text::None,
                Text::None,
                Text::None,
            ),
            EventKind::FallbackKeyTypes => (
                Text::Static("org.matrix.msc3202.device_unused_fallback_key_types"),
                Text::None,
                Text::None,
                Text::None,
                Text::None,
            ),
            _ => {
                let head::Head {
                    event_type,
                    event_id,
                    room_id,
                    sender,
                    state_key,
                    to_user_id,
                } = head::scan(&raw).map_err(|e| bad(&format!("not an event object: {e}")))?;
                let event_type = Text::of(event_type);
                let (room_text, sender_text, id_text) =
                    (Text::of(room_id), Text::of(sender), Text::of(event_id));
                if event_type.get(&raw).is_none() {
                    return Err(bad("no `type`"));
                }
                if let Some(r) = room_text.get(&raw) {
                    <&RoomId>::try_from(r).map_err(|e| bad(&format!("bad room_id: {e}")))?;
                }
                if let Some(s) = sender_text.get(&raw) {
                    <&UserId>::try_from(s).map_err(|e| bad(&format!("bad sender: {e}")))?;
                }
                if kind == EventKind::Timeline {
                    let id = id_text.get(&raw).ok_or_else(|| bad("no `event_id`"))?;
                    <&EventId>::try_from(id).map_err(|e| bad(&format!("bad event_id: {e}")))?;
                    if room_text.get(&raw).is_none() {
                        return Err(bad("no `room_id`"));
                    }
                    if sender_text.get(&raw).is_none() {
                        return Err(bad("no `sender`"));
                    }
                }
                // To-device messages are ordered per recipient: use it as the "room".
                let lane = if kind == EventKind::ToDevice {
                    Text::of(to_user_id)
                } else {
                    room_text
                };
                (event_type, id_text, lane, sender_text, Text::of(state_key))
            }
        };
        Ok(Event {
            kind,
            event_type,
            event_id,
            room_id,
            sender,
            state_key,
            raw,
        })
    }

    /// Where in the transaction it came from.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The event type (`m.room.message`).
    pub fn event_type(&self) -> &str {
        self.event_type.get(&self.raw).unwrap_or_default()
    }

    /// The event ID (timeline events only).
    pub fn event_id(&self) -> Option<&EventId> {
        self.event_id
            .get(&self.raw)
            .and_then(|s| <&EventId>::try_from(s).ok())
    }

    /// The room (for to-device messages: none; see [`Event::to_user_id`]).
    pub fn room_id(&self) -> Option<&RoomId> {
        if self.kind == EventKind::ToDevice {
            return None;
        }
        self.room_id
            .get(&self.raw)
            .and_then(|s| <&RoomId>::try_from(s).ok())
    }

    /// The recipient of a to-device message.
    pub fn to_user_id(&self) -> Option<&UserId> {
        if self.kind != EventKind::ToDevice {
            return None;
        }
        self.room_id
            .get(&self.raw)
            .and_then(|s| <&UserId>::try_from(s).ok())
    }

    /// The sender.
    pub fn sender(&self) -> Option<&UserId> {
        self.sender
            .get(&self.raw)
            .and_then(|s| <&UserId>::try_from(s).ok())
    }

    /// The state key, for state events.
    pub fn state_key(&self) -> Option<&str> {
        self.state_key.get(&self.raw)
    }

    /// When the sender's server says the event was sent
    /// (`origin_server_ts`; timeline events), read on demand.
    ///
    /// ```
    /// use ghostkit::event::{Event, EventKind};
    /// let raw = serde_json::value::RawValue::from_string(r#"{"type":"m.room.message",
    ///   "event_id":"$e","room_id":"!r","sender":"@a:x","origin_server_ts":1700000000000,
    ///   "content":{}}"#.into()).unwrap();
    /// let ev = Event::from_raw(EventKind::Timeline, &raw).unwrap();
    /// assert_eq!(ev.origin_server_ts().map(|t| u64::from(t.get())), Some(1_700_000_000_000));
    /// ```
    pub fn origin_server_ts(&self) -> Option<MilliSecondsSinceUnixEpoch> {
        #[derive(Deserialize)]
        struct Ts {
            origin_server_ts: Option<MilliSecondsSinceUnixEpoch>,
        }
        serde_json::from_str::<Ts>(&self.raw)
            .ok()
            .and_then(|t| t.origin_server_ts)
    }

    /// Whether this is a state event.
    pub fn is_state(&self) -> bool {
        self.kind == EventKind::Timeline && !matches!(self.state_key, Text::None)
    }

    /// The event's JSON text, as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Parses the whole event into `T` (for example a ruma event type).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.raw)
    }

    /// Parses the event's `content` into `T`, e.g.
    /// `ruma_events::room::message::RoomMessageEventContent`.
    ///
    /// ```
    /// use ghostkit::event::{Event, EventKind};
    /// let raw = serde_json::value::RawValue::from_string(r#"{"type":"m.room.message",
    ///   "event_id":"$e","room_id":"!r","sender":"@a:x",
    ///   "content":{"msgtype":"m.text","body":"hi"}}"#.into()).unwrap();
    /// let ev = Event::from_raw(EventKind::Timeline, &raw).unwrap();
    /// let c: serde_json::Value = ev.content().unwrap();
    /// assert_eq!(c["body"], "hi");
    /// ```
    pub fn content<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        #[derive(Deserialize)]
        struct Content<'a> {
            #[serde(borrow)]
            content: Option<&'a RawValue>,
        }
        let c: Content<'_> = serde_json::from_str(&self.raw)?;
        match c.content {
            Some(raw) => serde_json::from_str(raw.get()),
            None => serde_json::from_str("{}"),
        }
    }

    /// The ordering lane: the room, the to-device recipient, or the item kind.
    pub(crate) fn lane(&self) -> &str {
        match (self.room_id.get(&self.raw), self.kind) {
            (Some(r), _) => r,
            (None, EventKind::Ephemeral) => "~ephemeral",
            (None, _) => "~device",
        }
    }

    pub(crate) fn event_id_str(&self) -> Option<&str> {
        self.event_id.get(&self.raw)
    }
}
