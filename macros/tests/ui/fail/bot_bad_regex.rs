#[derive(ghostkit::Bot)]
#[bot(ignore_senders = ["@ok:example\\.org", "@bad(:example\\.org"])]
struct MyBot;

#[ghostkit::async_trait]
impl ghostkit::Bot for MyBot {}

fn main() {}
