//! ```text
//! IRCBRIDGE_CONFIG=ircbridge.yaml REGISTRATION=ircbridge-registration.yaml \
//!   HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p ghostkit-ircbridge
//! ```

fn main() {
    // The bridge's config is read only when the command runs the bridge:
    // `--help`, `--version` and the registration commands need none.
    ghostkit::main(
        ircbridge::INFO,
        ghostkit::bot::configured(|config, app| {
            Ok(ircbridge::IrcBridge::start(config, app)?.handler())
        }),
    )
}
