//! What a bot author imports: `use ghostkit::prelude::*;`.

pub use crate::appservice::{Appservice, Config};
pub use crate::bot::{AppContext, Commands, Context, Handler, HandlerError, HandlerResult};
pub use crate::command::CommandError;
// The derive macros and their traits, both by one name each (as serde does).
pub use crate::cli::BotInfo;
pub use crate::client::{AsUser, Client, ClientError};
pub use crate::event::{Event, EventKind};
pub use crate::intent::{Intent, IntentError};
pub use crate::registration::Registration;
pub use crate::router::DispatchOrder;
pub use crate::store::Store;
pub use crate::{Bot, Command};
pub use ruma_common::{OwnedRoomId, OwnedUserId, RoomId, UserId};
pub use ruma_events::reaction::ReactionEventContent;
pub use ruma_events::room::member::{MembershipState, RoomMemberEventContent};
pub use ruma_events::room::message::RoomMessageEventContent;
