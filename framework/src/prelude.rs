//! What a bot author imports: `use ghostkit::prelude::*;`.

pub use crate::appservice::{Appservice, Config};
pub use crate::bot::{
    AppContext, BotConfig, Context, Handler, HandlerError, HandlerExt, HandlerResult, Setup,
};
pub use crate::cli::BotInfo;
pub use crate::client::{AsUser, Client, ClientError};
pub use crate::command::CommandError;
pub use crate::event::{Event, EventKind};
pub use crate::intent::{Intent, IntentError};
pub use crate::registration::Registration;
pub use crate::router::DispatchOrder;
pub use crate::store::Store;
// The derive macro and its trait, by one name (as serde does).
pub use crate::bot_info;
pub use crate::Command;
pub use ruma_common::{OwnedRoomId, OwnedUserId, RoomId, UserId};
pub use ruma_events::reaction::ReactionEventContent;
pub use ruma_events::room::member::{MembershipState, RoomMemberEventContent};
pub use ruma_events::room::message::RoomMessageEventContent;
