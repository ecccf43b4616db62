#[derive(ghostkit::Bot)]
#[bot(auto_join, ignore_own_ghost)]
struct MyBot;

#[ghostkit::async_trait]
impl ghostkit::Bot for MyBot {}

fn main() {}
