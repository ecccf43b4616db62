//! Which events must wait for which: the bot's [`DispatchOrder`], and the
//! lane it puts each event on.

use std::fmt;
use std::str::FromStr;

use crate::event::{Event, EventKind};

/// In what order the timeline events of one room reach the handler.
///
/// Ordering is the bot's choice: a bridge needs a room's events in order (an
/// edit after its message, a kick after the join), a command bot whose
/// answers do not depend on each other does not, and pays for order with a
/// busy room that goes only as fast as one handler call after another.
///
/// Whatever the order, every item is handled exactly once per delivery and
/// leaves the log only after its handler finished; the number of handler
/// calls at once is bounded by
/// [`DispatchConfig::max_concurrent_rooms`](super::DispatchConfig::max_concurrent_rooms)
/// and the backlog by [`DispatchConfig::max_backlog`](super::DispatchConfig::max_backlog).
/// Items that are not timeline events keep their own lanes in every order:
/// ephemeral events of a room (typing, receipts) one after another on the
/// room's lane, to-device messages per recipient, device data on one lane.
///
/// The bot says what it needs with [`Handler::dispatch_order`](crate::Handler::dispatch_order)
/// (`HandlerExt::order` around it); the operator may override it
/// with [`DispatchConfig::order`](super::DispatchConfig::order), which the
/// command line sets from `--dispatch-order` / `GHOSTKIT_DISPATCH_ORDER`.
///
/// ```
/// use ghostkit::router::DispatchOrder;
/// let order: DispatchOrder = "per_sender".parse().unwrap();
/// assert_eq!(order, DispatchOrder::PerSender);
/// assert_eq!("per-sender".parse::<DispatchOrder>().unwrap(), order);
/// assert_eq!(order.to_string(), "per_sender");
/// assert_eq!(DispatchOrder::default(), DispatchOrder::PerRoom);
/// let err = "sorted".parse::<DispatchOrder>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown dispatch order `sorted`; expected one of: per_room, per_sender, unordered");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DispatchOrder {
    /// The events of one room are handled one after another, in the order
    /// the homeserver sent them; different rooms run concurrently. What
    /// bridges need. The default.
    #[default]
    PerRoom,
    /// The events of one sender in one room are handled one after another,
    /// in order; the events of different senders run concurrently, in the
    /// same room too. For bots whose effects depend on the order of what one
    /// user says, not on how users' messages interleave.
    PerSender,
    /// Each timeline event may run as soon as a handler slot is free, even
    /// beside other events of its room; they start in log order but may
    /// finish in any order. For bots whose answers do not depend on order
    /// (echo, dice, lookups).
    Unordered,
}

impl DispatchOrder {
    /// Every order, in the order of [`DispatchOrder::NAMES`].
    pub const ALL: [DispatchOrder; 3] = [
        DispatchOrder::PerRoom,
        DispatchOrder::PerSender,
        DispatchOrder::Unordered,
    ];

    /// The names [`DispatchOrder::from_str`] reads, as `--dispatch-order`
    /// and `GHOSTKIT_DISPATCH_ORDER` take them.
    pub const NAMES: [&'static str; 3] = ["per_room", "per_sender", "unordered"];

    /// The name of the order (`per_room`).
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchOrder::PerRoom => "per_room",
            DispatchOrder::PerSender => "per_sender",
            DispatchOrder::Unordered => "unordered",
        }
    }
}

impl fmt::Display for DispatchOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no [`DispatchOrder`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dispatch order `{given}`; expected one of: per_room, per_sender, unordered")]
pub struct DispatchOrderError {
    /// What was given.
    pub given: String,
}

impl FromStr for DispatchOrder {
    type Err = DispatchOrderError;

    /// One of [`DispatchOrder::NAMES`]; `-` may stand for `_`.
    fn from_str(s: &str) -> Result<Self, DispatchOrderError> {
        let name = s.trim().replace('-', "_");
        DispatchOrder::ALL
            .into_iter()
            .find(|o| o.as_str() == name)
            .ok_or_else(|| DispatchOrderError {
                given: s.to_owned(),
            })
    }
}

/// Where an event waits for its turn.
pub(super) enum Lane<'a> {
    /// Behind the earlier items with the same key.
    Key(&'a str),
    /// Behind nothing: the shared queue of unordered events.
    Free,
}

/// The lane of `ev` in `order`; `buf` holds a key made of two parts.
///
/// A per-sender key is the room, a newline and the sender. Two keys that
/// collide (a room ID with a newline in it) only make events wait for each
/// other: order is never lost, only concurrency.
pub(super) fn lane_of<'a>(order: DispatchOrder, ev: &'a Event, buf: &'a mut String) -> Lane<'a> {
    if ev.kind() != EventKind::Timeline {
        return Lane::Key(ev.lane());
    }
    match (order, ev.sender()) {
        (DispatchOrder::PerRoom, _) | (DispatchOrder::PerSender, None) => Lane::Key(ev.lane()),
        (DispatchOrder::PerSender, Some(sender)) => {
            buf.clear();
            buf.push_str(ev.lane());
            buf.push('\n');
            buf.push_str(sender.as_str());
            Lane::Key(buf)
        }
        (DispatchOrder::Unordered, _) => Lane::Free,
    }
}
