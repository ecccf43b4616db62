//! Runs the dice bot; see the crate docs of `dice`.

#[tokio::main]
async fn main() {
    ghostkit::cli::run_or_exit(dice::INFO, |(), _| Ok(dice::handler())).await
}
