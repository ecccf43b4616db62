//! ```text
//! cargo run -p ghostkit-modbot -- generate-config --out modbot.yaml
//! cargo run -p ghostkit-modbot -- --config modbot.yaml
//! ```

fn main() {
    // The bot's config is read only when the command runs the bot:
    // `--help`, `--version` and the registration commands need none.
    ghostkit::main(
        modbot::INFO,
        ghostkit::bot::configured(|config, app| async move {
            Ok(modbot::ModBot::new(config, &app).handler())
        }),
    )
}
