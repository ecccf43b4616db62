//! The `ircbridge` binary: ghostkit's command line around the bridge.
//!
//! ```text
//! cargo run -p ghostkit-ircbridge -- generate-config --out ircbridge.yaml
//! cargo run -p ghostkit-ircbridge -- generate-registration --homeserver-domain example.org
//! cargo run -p ghostkit-ircbridge -- --config ircbridge.yaml
//! ```
//!
//! One file holds every setting: the framework's (`homeserver_url`,
//! `registration`, `store`, …) and the bridge's under `bot:` (see
//! `ircbridge::config`). It is `--config FILE`, or `GHOSTKIT_CONFIG`, or
//! `./ircbridge.yaml` when that exists; `GHOSTKIT_HOMESERVER_URL`,
//! `GHOSTKIT_REGISTRATION`, `GHOSTKIT_STORE`, `GHOSTKIT_BOT_NICK`… set a
//! key over the file.

fn main() {
    // The bridge's settings are read only when the command runs the bridge:
    // `--help`, `--version`, `generate-config` and the registration
    // commands need none.
    ghostkit::main(
        ircbridge::INFO,
        ghostkit::bot::configured(|config, app| async move {
            Ok(ircbridge::IrcBridge::start(config, &app)?.handler())
        }),
    )
}
