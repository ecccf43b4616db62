//! Runs the directory bot; see the crate docs of `directory`.

#[tokio::main]
async fn main() {
    ghostkit::cli::run_or_exit(directory::INFO, |(), _| Ok(directory::handler())).await
}
