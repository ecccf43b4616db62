//! ```text
//! REGISTRATION=echo-registration.yaml HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p echo
//! ```

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,ghostkit=info".into()),
        )
        .init();
    if let Err(e) = ghostkit::cli::run(echo::INFO, echo::Echo).await {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}
