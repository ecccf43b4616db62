//! Runs the directory bot; see the crate docs of `directory`.

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(e) = ghostkit::cli::run(directory::INFO, directory::Directory).await {
        eprintln!("directory: {e}");
        std::process::exit(1);
    }
}
