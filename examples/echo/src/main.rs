//! ```text
//! REGISTRATION=echo-registration.yaml HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p echo
//! ```

#[tokio::main]
async fn main() {
    ghostkit::cli::run_or_exit(echo::INFO, |(), _| Ok(echo::handler())).await
}
