//! Who may command the bot: a member's power level in the management room,
//! from the framework's power view ([`AppContext::room_power`]), which
//! knows room version 12's creators and follows power-level changes.
//!
//! [`AppContext::room_power`]: ghostkit::AppContext::room_power

impl crate::engine::Engine {
    /// Whether `user` may give commands: their power in the management room
    /// reaches `command_power_level`. `Err` is the refusal to say.
    pub async fn may_command(&self, user: &str) -> anyhow::Result<()> {
        let need = self.config.command_power_level;
        let app = self.app();
        let room = self.log.room().ok_or_else(|| {
            anyhow::anyhow!("{user}: not obeyed, the management room is not known yet")
        })?;
        let id = <&ghostkit::prelude::RoomId>::try_from(room.as_str())
            .map_err(|e| anyhow::anyhow!("{user}: not obeyed, management room {room}: {e}"))?;
        let who = <&ghostkit::prelude::UserId>::try_from(user)
            .map_err(|e| anyhow::anyhow!("{user}: not obeyed, not a user ID: {e}"))?;
        match app.room_power(id).await {
            Ok(p) if p.reaches(who, need) => Ok(()),
            Ok(p) => Err(anyhow::anyhow!(
                "{user}: commands need power level {need} in this room, you have {}",
                p.level_text(who)
            )),
            Err(e) => Err(anyhow::anyhow!("{user}: not obeyed, {e}")),
        }
    }
}
