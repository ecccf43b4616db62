//! Matrix error codes as a type: what the homeserver answers
//! ([`crate::MatrixError::kind`]) and what the appservice's own routes
//! answer ([`crate::server::matrix_error`]).
//!
//! A hand-written enum rather than ruma's `ErrorKind`: that one lives in
//! `ruma-client-api`, which the framework does not otherwise need, and its
//! variants carry the bodies' extra fields, which the client reads itself
//! ([`crate::MatrixError::retry_after_ms`]).

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// A Matrix `errcode`. Codes this version does not name are kept
        /// as [`ErrorCode::Other`].
        ///
        /// ```
        /// use ghostkit::ErrorCode;
        /// assert_eq!(ErrorCode::parse("M_NOT_FOUND"), ErrorCode::NotFound);
        /// assert_eq!(ErrorCode::NotFound.as_str(), "M_NOT_FOUND");
        /// let other = ErrorCode::parse("ORG_EXAMPLE_ODD");
        /// assert_eq!(other.as_str(), "ORG_EXAMPLE_ODD");
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code without a variant here, as sent.
            Other(Box<str>),
        }

        impl ErrorCode {
            /// The code for `errcode`.
            pub fn parse(errcode: &str) -> ErrorCode {
                match errcode {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.into()),
                }
            }

            /// The code as it goes on the wire (`M_FORBIDDEN`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Other(s) => s,
                }
            }
        }
    };
}

codes! {
    /// `M_FORBIDDEN`: not allowed (no power, not a member, not in the namespace).
    Forbidden = "M_FORBIDDEN",
    /// `M_UNKNOWN_TOKEN`: the access token (or hs_token) is not known.
    UnknownToken = "M_UNKNOWN_TOKEN",
    /// `M_MISSING_TOKEN`: no access token was given.
    MissingToken = "M_MISSING_TOKEN",
    /// `M_BAD_JSON`: JSON of the wrong shape.
    BadJson = "M_BAD_JSON",
    /// `M_NOT_JSON`: not JSON at all.
    NotJson = "M_NOT_JSON",
    /// `M_NOT_FOUND`: no such resource.
    NotFound = "M_NOT_FOUND",
    /// `M_LIMIT_EXCEEDED`: rate-limited; see `retry_after_ms`.
    LimitExceeded = "M_LIMIT_EXCEEDED",
    /// `M_UNRECOGNIZED`: the endpoint or method is not known.
    Unrecognized = "M_UNRECOGNIZED",
    /// `M_UNKNOWN`: an error without a better code.
    Unknown = "M_UNKNOWN",
    /// `M_UNAUTHORIZED`: not correctly authorised.
    Unauthorized = "M_UNAUTHORIZED",
    /// `M_USER_DEACTIVATED`: the user was deactivated.
    UserDeactivated = "M_USER_DEACTIVATED",
    /// `M_USER_LOCKED`: the account is locked.
    UserLocked = "M_USER_LOCKED",
    /// `M_USER_SUSPENDED`: the account is suspended.
    UserSuspended = "M_USER_SUSPENDED",
    /// `M_USER_IN_USE`: the user ID is taken (for a ghost: registered already).
    UserInUse = "M_USER_IN_USE",
    /// `M_INVALID_USERNAME`: not a valid user ID.
    InvalidUsername = "M_INVALID_USERNAME",
    /// `M_EXCLUSIVE`: the ID is in an appservice's exclusive namespace.
    Exclusive = "M_EXCLUSIVE",
    /// `M_ROOM_IN_USE`: the room alias is taken.
    RoomInUse = "M_ROOM_IN_USE",
    /// `M_INVALID_ROOM_STATE`: the initial state of a new room is invalid.
    InvalidRoomState = "M_INVALID_ROOM_STATE",
    /// `M_UNSUPPORTED_ROOM_VERSION`: the server does not support the room version.
    UnsupportedRoomVersion = "M_UNSUPPORTED_ROOM_VERSION",
    /// `M_INCOMPATIBLE_ROOM_VERSION`: the server cannot join a room of that version.
    IncompatibleRoomVersion = "M_INCOMPATIBLE_ROOM_VERSION",
    /// `M_BAD_STATE`: the state change asked for cannot be made.
    BadState = "M_BAD_STATE",
    /// `M_GUEST_ACCESS_FORBIDDEN`: guests may not use the room.
    GuestAccessForbidden = "M_GUEST_ACCESS_FORBIDDEN",
    /// `M_MISSING_PARAM`: a required parameter is missing.
    MissingParam = "M_MISSING_PARAM",
    /// `M_INVALID_PARAM`: a parameter has a wrong value.
    InvalidParam = "M_INVALID_PARAM",
    /// `M_TOO_LARGE`: the request or an item of it is too large.
    TooLarge = "M_TOO_LARGE",
    /// `M_RESOURCE_LIMIT_EXCEEDED`: the server is over a resource limit.
    ResourceLimitExceeded = "M_RESOURCE_LIMIT_EXCEEDED",
    /// `M_CANNOT_LEAVE_SERVER_NOTICE_ROOM`: server notice rooms cannot be left.
    CannotLeaveServerNoticeRoom = "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM",
    /// `M_SERVER_NOT_TRUSTED`: the identity server is not trusted.
    ServerNotTrusted = "M_SERVER_NOT_TRUSTED",
    /// `M_THREEPID_IN_USE`: the third-party ID is taken.
    ThreepidInUse = "M_THREEPID_IN_USE",
    /// `M_THREEPID_NOT_FOUND`: no user has that third-party ID.
    ThreepidNotFound = "M_THREEPID_NOT_FOUND",
    /// `M_WEAK_PASSWORD`: the password is too weak.
    WeakPassword = "M_WEAK_PASSWORD",
    /// `M_DUPLICATE_ANNOTATION`: the same reaction was sent already.
    DuplicateAnnotation = "M_DUPLICATE_ANNOTATION",
    /// `M_NOT_YET_UPLOADED`: the media's content is not uploaded yet.
    NotYetUploaded = "M_NOT_YET_UPLOADED",
    /// `M_CANNOT_OVERWRITE_MEDIA`: the media's content was uploaded already.
    CannotOverwriteMedia = "M_CANNOT_OVERWRITE_MEDIA",
    /// `M_URL_NOT_SET` (appservice ping): the registration has no `url`.
    UrlNotSet = "M_URL_NOT_SET",
    /// `M_CONNECTION_FAILED` (appservice ping): the homeserver could not reach us.
    ConnectionFailed = "M_CONNECTION_FAILED",
    /// `M_CONNECTION_TIMEOUT` (appservice ping): we did not answer in time.
    ConnectionTimeout = "M_CONNECTION_TIMEOUT",
    /// `M_BAD_STATUS` (appservice ping): we answered with an error.
    BadStatus = "M_BAD_STATUS",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_named_code_reads_back_as_itself() {
        for code in [
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::UserInUse,
            ErrorCode::RoomInUse,
            ErrorCode::BadStatus,
            ErrorCode::Other("X_Y".into()),
        ] {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
        }
        assert!(matches!(
            ErrorCode::parse("m_forbidden"),
            ErrorCode::Other(_)
        ));
    }
}
