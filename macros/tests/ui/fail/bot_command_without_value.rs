#[derive(ghostkit::Bot)]
#[bot(prefix = "!", command)]
struct MyBot;

#[ghostkit::async_trait]
impl ghostkit::Bot for MyBot {}

fn main() {}
