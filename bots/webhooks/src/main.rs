//! ```text
//! REGISTRATION=webhooks-registration.yaml HOMESERVER_URL=http://127.0.0.1:8008 \
//!   WEBHOOKS_LISTEN=0.0.0.0:9016 WEBHOOKS_PUBLIC_URL=https://hooks.example.org \
//!   cargo run -p webhooks
//! ```

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,ghostkit=info,webhooks=info".into()),
        )
        .init();
    let config = match webhooks::WebhooksConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            let mut line = format!("webhooks: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                line.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{line}");
            std::process::exit(2);
        }
    };
    if let Err(e) = ghostkit::cli::run(webhooks::INFO, webhooks::WebhookBot::new(config)).await {
        eprintln!("webhooks: {e}");
        std::process::exit(1);
    }
}
