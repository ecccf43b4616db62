//! ```text
//! IRCBRIDGE_CONFIG=ircbridge.yaml REGISTRATION=ircbridge-registration.yaml \
//!   HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p ghostkit-ircbridge
//! ```

#[tokio::main]
async fn main() {
    // The bridge's config is read only when the command runs the bridge:
    // `--help`, `--version` and the registration commands need none.
    ghostkit::cli::run_or_exit(ircbridge::INFO, |config, app| {
        Ok(ircbridge::IrcBridge::start(config, app)?.handler())
    })
    .await
}
