//! ```text
//! MODBOT_CONFIG=modbot.yaml REGISTRATION=modbot-registration.yaml \
//!   HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p modbot
//! ```

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,ghostkit=info,modbot=info".into()),
        )
        .init();
    // Generating a registration or asking for help needs no bot config.
    let generating = std::env::args().any(|a| {
        matches!(
            a.as_str(),
            "generate-registration" | "--help" | "-h" | "help"
        )
    });
    let config = match modbot::ModConfig::from_env() {
        Ok(c) => c,
        Err(e) if generating => {
            tracing::debug!("no config needed to generate a registration: {e}");
            modbot::ModConfig::default()
        }
        Err(e) => {
            eprintln!("modbot: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = ghostkit::cli::run(modbot::INFO, modbot::ModBot::new(config)).await {
        eprintln!("modbot: {e}");
        std::process::exit(1);
    }
}
