//! Runs the ghosts bot; see the crate docs of `ghosts`.

#[tokio::main]
async fn main() {
    ghostkit::cli::run_or_exit(ghosts::INFO, |(), _| Ok(ghosts::handler())).await
}
