//! ```text
//! MODBOT_CONFIG=modbot.yaml REGISTRATION=modbot-registration.yaml \
//!   HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p ghostkit-modbot
//! ```

fn main() {
    // The bot's config is read only when the command runs the bot:
    // `--help`, `--version` and the registration commands need none.
    ghostkit::main(
        modbot::INFO,
        ghostkit::bot::configured(|config, app| Ok(modbot::ModBot::new(config, app).handler())),
    )
}
