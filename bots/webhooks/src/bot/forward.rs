//! Room events to the room's outbound hooks.

use ghostkit::prelude::*;

use super::WebhookBot;

impl WebhookBot {
    /// Offers a room event to the room's outbound hooks.
    pub(super) async fn forward(&self, ctx: &Context) {
        let Some(room) = ctx.room_id() else {
            return;
        };
        for hook in self.hooks.outbound_in(room.as_str()) {
            self.outbound.enqueue(&hook, ctx.event().raw()).await;
        }
    }
}
