//! ```text
//! REGISTRATION=webhooks-registration.yaml HOMESERVER_URL=http://127.0.0.1:8008 \
//!   WEBHOOKS_LISTEN=0.0.0.0:9016 WEBHOOKS_PUBLIC_URL=https://hooks.example.org \
//!   cargo run -p ghostkit-webhooks
//! ```

fn main() {
    // The bot's config is read only when the command runs the bot:
    // `--help`, `--version` and the registration commands need none.
    ghostkit::main(
        webhooks::INFO,
        ghostkit::bot::configured(|config, app| {
            Ok(webhooks::WebhookBot::start(&config, app)?.handler())
        }),
    )
}
