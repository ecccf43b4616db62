//! The label values of the framework's metrics, each from a small fixed
//! set: the event type of a handler call, the endpoint family of a request
//! to the homeserver. Senders choose event types, so an unknown one is
//! never a label of its own.

/// The event types with a label of their own, sorted (looked up by binary
/// search). The spec's room, ephemeral and to-device types, and the names
/// ghostkit gives the MSC3202 device data items.
const EVENT_TYPES: &[&str] = &[
    "m.call.answer",
    "m.call.candidates",
    "m.call.hangup",
    "m.call.invite",
    "m.call.negotiate",
    "m.call.reject",
    "m.call.select_answer",
    "m.dummy",
    "m.forwarded_room_key",
    "m.key.verification.accept",
    "m.key.verification.cancel",
    "m.key.verification.done",
    "m.key.verification.key",
    "m.key.verification.mac",
    "m.key.verification.ready",
    "m.key.verification.request",
    "m.key.verification.start",
    "m.policy.rule.room",
    "m.policy.rule.server",
    "m.policy.rule.user",
    "m.poll.end",
    "m.poll.response",
    "m.poll.start",
    "m.presence",
    "m.reaction",
    "m.receipt",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.create",
    "m.room.encrypted",
    "m.room.encryption",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.join_rules",
    "m.room.member",
    "m.room.message",
    "m.room.name",
    "m.room.pinned_events",
    "m.room.power_levels",
    "m.room.redaction",
    "m.room.server_acl",
    "m.room.third_party_invite",
    "m.room.tombstone",
    "m.room.topic",
    "m.room_key",
    "m.room_key.withheld",
    "m.room_key_request",
    "m.secret.request",
    "m.secret.send",
    "m.space.child",
    "m.space.parent",
    "m.sticker",
    "m.typing",
    "org.matrix.msc3202.device_lists",
    "org.matrix.msc3202.device_one_time_keys_count",
    "org.matrix.msc3202.device_unused_fallback_key_types",
];

/// The label of an `m.` type that is not a type of the spec (see
/// [`event_type_label`]).
pub const OTHER_M_EVENT_TYPE: &str = "m.other";
/// The label of any other event type (outside the `m.` namespace).
pub const OTHER_EVENT_TYPE: &str = "other";

/// How many event-type labels there are: the known types and the two
/// catch-alls.
pub(crate) const EVENT_TYPE_LABELS: usize = EVENT_TYPES.len() + 2;

/// The index of `event_type`'s label, below [`EVENT_TYPE_LABELS`].
pub(crate) fn event_type_index(event_type: &str) -> usize {
    match EVENT_TYPES.binary_search(&event_type) {
        Ok(i) => i,
        Err(_) if event_type.starts_with("m.") => EVENT_TYPES.len(),
        Err(_) => EVENT_TYPES.len() + 1,
    }
}

/// The label of index `i` (from [`event_type_index`]).
pub(crate) fn event_type_at(i: usize) -> &'static str {
    match EVENT_TYPES.get(i) {
        Some(t) => t,
        None if i == EVENT_TYPES.len() => OTHER_M_EVENT_TYPE,
        None => OTHER_EVENT_TYPE,
    }
}

/// The `event_type` label of an event type: itself for a type of the spec
/// (`m.room.message`, `m.typing`, …), `m.other` for another type of the
/// `m.` namespace, `other` for any type outside it. The label set stays
/// small whatever the senders invent.
///
/// ```
/// use ghostkit::metrics::event_type_label;
/// assert_eq!(event_type_label("m.room.message"), "m.room.message");
/// assert_eq!(event_type_label("m.typing"), "m.typing");
/// assert_eq!(event_type_label("m.made.up"), "m.other");
/// assert_eq!(event_type_label("com.example.custom"), "other");
/// ```
pub fn event_type_label(event_type: &str) -> &'static str {
    event_type_at(event_type_index(event_type))
}

/// What a request to the homeserver is for, read from its path: the
/// `endpoint` label of the client's metrics.
///
/// ```
/// use ghostkit::metrics::EndpointFamily;
/// let send = "/_matrix/client/v3/rooms/%21r%3Ax.org/send/m.room.message/t1";
/// assert_eq!(EndpointFamily::of_path(send), EndpointFamily::Send);
/// assert_eq!(EndpointFamily::of_path("/_matrix/media/v3/upload").as_str(), "media");
/// assert_eq!(EndpointFamily::of_path("/_matrix/client/v3/publicRooms").as_str(), "other");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointFamily {
    /// `PUT /rooms/{roomId}/send/…` and `/rooms/{roomId}/redact/…`: events sent.
    Send,
    /// `/rooms/{roomId}/state…`: state read or written.
    State,
    /// `/join/{roomIdOrAlias}`, `/rooms/{roomId}/join`, `/knock/…`.
    Join,
    /// `/rooms/{roomId}/invite`, `leave`, `kick`, `ban`, `unban`, `forget`.
    Membership,
    /// `POST /createRoom`.
    CreateRoom,
    /// `/profile/{userId}…`: display names and avatars.
    Profile,
    /// `/register`: ghosts registered.
    Register,
    /// `/_matrix/media/…` and `/_matrix/client/v1/media/…`.
    Media,
    /// Anything else (whoami, ping, directory, timeline reads …).
    Other,
}

impl EndpointFamily {
    /// Every family, in label order.
    pub const ALL: [EndpointFamily; 9] = [
        EndpointFamily::Send,
        EndpointFamily::State,
        EndpointFamily::Join,
        EndpointFamily::Membership,
        EndpointFamily::CreateRoom,
        EndpointFamily::Profile,
        EndpointFamily::Register,
        EndpointFamily::Media,
        EndpointFamily::Other,
    ];

    /// The family of a request `path` (percent-encoded, without the query,
    /// as [`crate::client::Request::path`]): `/_matrix/client/{version}/…`
    /// or `/_matrix/media/…`. A path of neither shape is
    /// [`EndpointFamily::Other`].
    pub fn of_path(path: &str) -> EndpointFamily {
        let Some(rest) = path.strip_prefix("/_matrix/") else {
            return EndpointFamily::Other;
        };
        if rest.starts_with("media/") {
            return EndpointFamily::Media;
        }
        let Some(rest) = rest.strip_prefix("client/") else {
            return EndpointFamily::Other;
        };
        // After the version (`v3`, `r0`, `v1`, `unstable`).
        let mut segments = rest.split('/').skip(1);
        match (segments.next(), segments.next(), segments.next()) {
            (Some("rooms"), Some(_), Some("send" | "redact")) => EndpointFamily::Send,
            (Some("rooms"), Some(_), Some("state")) => EndpointFamily::State,
            (Some("rooms"), Some(_), Some("join")) | (Some("join" | "knock"), Some(_), _) => {
                EndpointFamily::Join
            }
            (
                Some("rooms"),
                Some(_),
                Some("invite" | "leave" | "kick" | "ban" | "unban" | "forget"),
            ) => EndpointFamily::Membership,
            (Some("createRoom"), None, _) => EndpointFamily::CreateRoom,
            (Some("profile"), Some(_), _) => EndpointFamily::Profile,
            (Some("register"), ..) => EndpointFamily::Register,
            (Some("media"), Some(_), _) => EndpointFamily::Media,
            _ => EndpointFamily::Other,
        }
    }

    /// The label value (`send`, `state`, `join`, `membership`,
    /// `create_room`, `profile`, `register`, `media`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointFamily::Send => "send",
            EndpointFamily::State => "state",
            EndpointFamily::Join => "join",
            EndpointFamily::Membership => "membership",
            EndpointFamily::CreateRoom => "create_room",
            EndpointFamily::Profile => "profile",
            EndpointFamily::Register => "register",
            EndpointFamily::Media => "media",
            EndpointFamily::Other => "other",
        }
    }
}

/// The `class` label of an HTTP status (`2xx` … `5xx`); `none` when no
/// answer came (no connection, a timeout).
pub(crate) fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_path_of_the_framework_has_the_family_it_should() {
        use EndpointFamily::*;
        for (path, family) in [
            (
                "/_matrix/client/v3/rooms/%21r%3Ax/send/m.room.message/t1",
                Send,
            ),
            ("/_matrix/client/v3/rooms/%21r%3Ax/redact/%24e/t2", Send),
            ("/_matrix/client/r0/rooms/%21r%3Ax/send/m.reaction/t3", Send),
            (
                "/_matrix/client/v3/rooms/%21r%3Ax/state/m.room.name/",
                State,
            ),
            ("/_matrix/client/v3/rooms/%21r%3Ax/state", State),
            ("/_matrix/client/v3/join/%23a%3Ax", Join),
            ("/_matrix/client/v3/rooms/%21r%3Ax/join", Join),
            ("/_matrix/client/v3/knock/%21r%3Ax", Join),
            ("/_matrix/client/v3/rooms/%21r%3Ax/invite", Membership),
            ("/_matrix/client/v3/rooms/%21r%3Ax/leave", Membership),
            ("/_matrix/client/v3/rooms/%21r%3Ax/kick", Membership),
            ("/_matrix/client/v3/rooms/%21r%3Ax/ban", Membership),
            ("/_matrix/client/v3/rooms/%21r%3Ax/unban", Membership),
            ("/_matrix/client/v3/rooms/%21r%3Ax/forget", Membership),
            ("/_matrix/client/v3/createRoom", CreateRoom),
            ("/_matrix/client/v3/profile/%40u%3Ax/displayname", Profile),
            ("/_matrix/client/v3/profile/%40u%3Ax", Profile),
            ("/_matrix/client/v3/register", Register),
            ("/_matrix/media/v3/upload", Media),
            ("/_matrix/client/v1/media/download/x/abc", Media),
            ("/_matrix/client/v1/media/config", Media),
            ("/_matrix/client/v3/account/whoami", Other),
            ("/_matrix/client/v1/appservice/a/ping", Other),
            ("/_matrix/client/v3/rooms/%21r%3Ax/messages", Other),
            ("/_matrix/client/v3/rooms/%21r%3Ax/members", Other),
            ("/_matrix/client/v3/publicRooms", Other),
            ("/_matrix/client/v3/directory/room/%23a%3Ax", Other),
            ("/_matrix/client/versions", Other),
            ("/_matrix/client/v3/createRoom/extra", Other),
            // A room ID that reads like an endpoint does not fool it.
            ("/_matrix/client/v3/rooms/send/messages", Other),
            ("/_matrix/app/v1/transactions/1", Other),
            ("/health/live", Other),
            ("", Other),
            ("/_matrix/client/", Other),
        ] {
            assert_eq!(EndpointFamily::of_path(path), family, "{path}");
        }
    }

    #[test]
    fn family_labels_are_distinct() {
        let labels: std::collections::HashSet<&str> =
            EndpointFamily::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(labels.len(), EndpointFamily::ALL.len());
    }

    #[test]
    fn the_event_type_table_is_sorted_and_without_twins() {
        assert!(
            EVENT_TYPES.windows(2).all(|w| w[0] < w[1]),
            "EVENT_TYPES must be sorted for the binary search"
        );
    }

    #[test]
    fn known_types_keep_their_label_and_the_rest_share_two() {
        for t in EVENT_TYPES {
            assert_eq!(event_type_label(t), *t);
        }
        for t in ["m.room.messages", "m.", "m.x", "m.room.message.x"] {
            assert_eq!(event_type_label(t), OTHER_M_EVENT_TYPE, "{t}");
        }
        for t in [
            "",
            "com.example.x",
            "org.matrix.msc9999",
            "M.room.message",
            "m",
        ] {
            assert_eq!(event_type_label(t), OTHER_EVENT_TYPE, "{t:?}");
        }
        // However many types the senders invent, the labels stay these.
        let labels: std::collections::HashSet<&str> = (0..10_000)
            .map(|i| format!("m.spam.{i}"))
            .chain((0..10_000).map(|i| format!("x.spam.{i}")))
            .map(|t| event_type_label(&t))
            .collect();
        assert_eq!(labels.len(), 2);
        assert!(event_type_index("zzz") < EVENT_TYPE_LABELS);
        assert_eq!(event_type_at(EVENT_TYPE_LABELS - 1), OTHER_EVENT_TYPE);
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(Some(200)), "2xx");
        assert_eq!(status_class(Some(429)), "4xx");
        assert_eq!(status_class(Some(503)), "5xx");
        assert_eq!(status_class(Some(999)), "other");
        assert_eq!(status_class(None), "none");
    }
}
