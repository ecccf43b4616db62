#[derive(ghostkit::Bot)]
#[bot(event("org.example.ping" = on_ping))]
struct MyBot;

#[ghostkit::async_trait]
impl ghostkit::Bot for MyBot {}

fn main() {}
