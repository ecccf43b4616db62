//! Runs the reminder bot; see the crate docs of `reminder`.

#[tokio::main]
async fn main() {
    ghostkit::cli::run_or_exit(reminder::INFO, |(), _| Ok(reminder::handler())).await
}
