//! Runs the reminder bot; see the crate docs of `reminder`.

fn main() {
    ghostkit::main(reminder::INFO, reminder::handler())
}
