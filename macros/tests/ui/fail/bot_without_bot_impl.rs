#[derive(ghostkit::Bot)]
#[bot(auto_join)]
struct MyBot;

fn main() {}
