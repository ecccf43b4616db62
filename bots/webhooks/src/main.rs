//! ```text
//! cargo run -p ghostkit-webhooks -- generate-config --out webhooks.yaml
//! cargo run -p ghostkit-webhooks -- --config webhooks.yaml
//! ```
//! or with every setting from the environment:
//! ```text
//! GHOSTKIT_REGISTRATION=webhooks-registration.yaml GHOSTKIT_HOMESERVER_URL=http://127.0.0.1:8008 \
//!   GHOSTKIT_BOT_LISTEN=0.0.0.0:9016 GHOSTKIT_BOT_PUBLIC_URL=https://hooks.example.org \
//!   cargo run -p ghostkit-webhooks
//! ```

fn main() {
    // The bot's config is read only when the command runs the bot:
    // `--help`, `--version`, `generate-config` and the registration
    // commands need none.
    ghostkit::main(
        webhooks::INFO,
        ghostkit::bot::configured(|config, app| async move {
            Ok(webhooks::WebhookBot::start(&config, &app).await?.handler())
        }),
    )
}
