//! ```text
//! IRCBRIDGE_CONFIG=ircbridge.yaml REGISTRATION=ircbridge-registration.yaml \
//!   HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p ircbridge
//! ```

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,ghostkit=info,ircbridge=info".into()),
        )
        .init();
    // Generating a registration or asking for help needs no bridge config.
    let generating = std::env::args().any(|a| {
        matches!(
            a.as_str(),
            "generate-registration" | "--help" | "-h" | "help"
        )
    });
    let config = match ircbridge::BridgeConfig::from_env() {
        Ok(c) => c,
        Err(e) if generating => {
            tracing::debug!("no config needed to generate a registration: {e}");
            ircbridge::BridgeConfig::default()
        }
        Err(e) => {
            eprintln!("ircbridge: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = ghostkit::cli::run(ircbridge::INFO, ircbridge::IrcBridge::new(config)).await {
        eprintln!("ircbridge: {e}");
        std::process::exit(1);
    }
}
