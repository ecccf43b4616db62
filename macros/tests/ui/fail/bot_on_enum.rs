#[derive(ghostkit::Bot)]
enum MyBot {
    A,
}

fn main() {}
