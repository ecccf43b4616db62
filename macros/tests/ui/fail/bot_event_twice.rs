use ghostkit::prelude::*;

#[derive(Bot)]
#[bot(event("org.example.ping" = on_ping, "org.example.ping" = on_pong))]
struct MyBot;

impl MyBot {
    async fn on_ping(&self, _ctx: &Context) -> HandlerResult {
        Ok(())
    }
    async fn on_pong(&self, _ctx: &Context) -> HandlerResult {
        Ok(())
    }
}

#[ghostkit::async_trait]
impl Bot for MyBot {}

fn main() {}
