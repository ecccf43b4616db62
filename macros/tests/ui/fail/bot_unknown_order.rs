#[derive(ghostkit::Bot)]
#[bot(auto_join, order = "by_room")]
struct MyBot;

#[ghostkit::async_trait]
impl ghostkit::Bot for MyBot {}

#[derive(ghostkit::Bot)]
#[bot(order = unordered)]
struct Unquoted;

#[ghostkit::async_trait]
impl ghostkit::Bot for Unquoted {}

fn main() {}
