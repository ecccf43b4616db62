use ghostkit::prelude::*;

#[derive(Bot)]
struct Minimal;

#[ghostkit::async_trait]
impl Bot for Minimal {}

#[derive(Bot)]
#[bot(auto_join)]
struct WithState<T: Send + Sync + 'static> {
    state: T,
}

#[ghostkit::async_trait]
impl<T: Send + Sync + 'static> Bot for WithState<T> {}

/// A hand-written handler still works beside derived bots.
struct Manual;

#[ghostkit::async_trait]
impl Handler for Manual {}

async fn start_all(reg: Registration) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::new("http://127.0.0.1:1", "store");
    Appservice::new(reg.clone(), config.clone()).start(Minimal).await?;
    Appservice::new(reg.clone(), config.clone())
        .start(WithState { state: 1u8 })
        .await?;
    Appservice::new(reg, config).start(Manual).await?;
    Ok(())
}

fn main() {
    let _ = start_all;
    let _ = WithState { state: () }.state;
}
