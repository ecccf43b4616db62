#[derive(ghostkit::Bot)]
#[bot(auto_join)]
#[bot(ignore_own_ghosts, auto_join)]
struct MyBot;

#[ghostkit::async_trait]
impl ghostkit::Bot for MyBot {}

fn main() {}
