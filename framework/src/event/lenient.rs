//! Content parsed the way clients show it: an optional field of the wrong
//! type is left out instead of failing the whole event.
//!
//! Homeservers accept any JSON in a content, and clients render what they
//! understand, so `"m.mentions": "x"` or a join with `"is_direct": "yes"` is
//! a real message or a real join. Strict parsing into ruma types refuses
//! them, and a bot that skipped them would, for example, let a banned user
//! stay in a room by joining with a malformed optional field.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Event;

/// A content parsed leniently, with the top-level fields that were left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Lenient<T> {
    /// The content, as far as it parses.
    pub content: T,
    /// Top-level fields of the content left out because they did not parse
    /// (empty when the content parsed as it was). The event's raw JSON
    /// ([`Event::raw`]) still holds them.
    pub dropped: Vec<String>,
}

impl Event {
    /// Parses the content as `T`; when that fails, leaves out the fewest
    /// top-level fields that are not in `required` until it parses: first
    /// one field at a time, then all of them. Fails only when the required
    /// fields themselves do not parse.
    ///
    /// ```
    /// use ghostkit::event::{Event, EventKind};
    /// use ghostkit::prelude::RoomMessageEventContent;
    /// let raw = serde_json::value::RawValue::from_string(r#"{"type":"m.room.message",
    ///   "event_id":"$e","room_id":"!r:x.org","sender":"@a:x.org",
    ///   "content":{"msgtype":"m.text","body":"spam","m.mentions":"x"}}"#.into()).unwrap();
    /// let ev = Event::from_raw(EventKind::Timeline, &raw).unwrap();
    /// assert!(ev.content::<RoomMessageEventContent>().is_err());
    /// let parsed = ev.content_lenient::<RoomMessageEventContent>(&["msgtype", "body"]).unwrap();
    /// assert_eq!(parsed.content.body(), "spam");
    /// assert_eq!(parsed.dropped, ["m.mentions"]);
    /// ```
    pub fn content_lenient<T: DeserializeOwned>(
        &self,
        required: &[&str],
    ) -> Result<Lenient<T>, serde_json::Error> {
        let strict_err = match self.content::<T>() {
            Ok(content) => {
                return Ok(Lenient {
                    content,
                    dropped: Vec::new(),
                })
            }
            Err(e) => e,
        };
        let Ok(Value::Object(map)) = self.content::<Value>() else {
            return Err(strict_err);
        };
        let optional: Vec<String> = map
            .keys()
            .filter(|k| !required.contains(&k.as_str()))
            .cloned()
            .collect();
        let without = |drop: &[String]| -> Result<T, serde_json::Error> {
            let mut m: Map<String, Value> = map.clone();
            for k in drop {
                m.remove(k);
            }
            serde_json::from_value(Value::Object(m))
        };
        for key in &optional {
            let drop = std::slice::from_ref(key);
            if let Ok(content) = without(drop) {
                return Ok(Lenient {
                    content,
                    dropped: drop.to_vec(),
                });
            }
        }
        match without(&optional) {
            Ok(content) => Ok(Lenient {
                content,
                dropped: optional,
            }),
            Err(_) => Err(strict_err),
        }
    }
}
