#[derive(ghostkit::Command)]
enum MyCommands {
    Ping,
}

#[derive(ghostkit::Bot)]
#[bot(prefix = "!", command = MyCommands)]
struct MyBot;

#[ghostkit::async_trait]
impl ghostkit::Bot for MyBot {}

fn main() {}
