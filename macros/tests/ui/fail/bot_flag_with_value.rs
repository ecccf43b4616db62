#[derive(ghostkit::Bot)]
#[bot(auto_join = true)]
struct MyBot;

#[ghostkit::async_trait]
impl ghostkit::Bot for MyBot {}

fn main() {}
