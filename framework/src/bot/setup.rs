//! How the handler is made: as a value, built from the running app, or
//! from the bot's own settings and the running app, so that state which
//! needs the app (client, store) is a plain field and never an `Option`
//! filled in later.

use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{AppContext, Handler, HandlerError};

/// What [`ghostkit::main`](crate::main) and
/// [`Appservice::start`](crate::Appservice::start) take: a handler, a
/// recipe that builds one once the app is up ([`build`]), or one that also
/// takes the bot's own settings ([`configured`]).
///
/// Every [`Handler`] is a `Setup` that builds itself. [`Setup::build`]
/// awaits, so a recipe may read the store before the first event.
#[async_trait]
pub trait Setup: Send + 'static {
    /// The bot's own settings, loaded by [`cli::run`](crate::cli::run)
    /// only when the bot runs; `()` for a bot that has none.
    type Config: BotConfig;

    /// The handler built.
    type Handler: Handler;

    /// Makes the handler, after the store is open and the client made and
    /// before any event is dispatched or [`Handler::on_start`] is called.
    /// An error stops the start.
    async fn build(
        self,
        config: Self::Config,
        app: &AppContext,
    ) -> Result<Self::Handler, HandlerError>;
}

/// A bot's own settings: the `bot` section of its config file
/// ([`config`](crate::config)), with every key's variable
/// (`GHOSTKIT_BOT_<KEY>`) and its description in `generate-config` from
/// the field's doc comment. [`cli::run`](crate::cli::run) reads them only
/// when the command line runs the bot: `--help`, `--version`,
/// `generate-config` and the registration commands need none, so they work
/// where the settings are missing or wrong. `()` is the config of a bot
/// that has none.
///
/// Derive `Serialize`, `Deserialize` (with `#[serde(default)]`, so every
/// key may be left out) and `schemars::JsonSchema`; [`Default`] gives the
/// defaults the generated file shows. [`BotConfig::check`] refuses values
/// the types allow but the bot cannot use.
///
/// ```
/// use ghostkit::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
/// #[serde(default)]
/// struct Greeting {
///     /// What the bot says when it joins a room.
///     text: String,
/// }
///
/// impl Default for Greeting {
///     fn default() -> Self {
///         Greeting { text: "hello".into() }
///     }
/// }
///
/// impl BotConfig for Greeting {
///     fn check(&self) -> Result<(), HandlerError> {
///         if self.text.trim().is_empty() {
///             return Err("`bot.text` is empty: write what the bot says when it joins".into());
///         }
///         Ok(())
///     }
/// }
///
/// let file = ghostkit::config::Settings::<Greeting>::template("greeter");
/// assert!(file.contains("# What the bot says when it joins a room.\n"), "{file}");
/// assert!(file.contains("# (GHOSTKIT_BOT_TEXT)\n  text: hello\n"), "{file}");
/// assert!(Greeting { text: " ".into() }.check().is_err());
/// ```
pub trait BotConfig: Serialize + DeserializeOwned + JsonSchema + Default + Send + 'static {
    /// Refuses settings the bot cannot use; the error names the key
    /// (`bot.text`) and says the fix. Accepts all by default.
    fn check(&self) -> Result<(), HandlerError> {
        Ok(())
    }
}

impl BotConfig for () {}

#[async_trait]
impl<H: Handler> Setup for H {
    type Config = ();
    type Handler = H;

    async fn build(self, (): (), _app: &AppContext) -> Result<H, HandlerError> {
        Ok(self)
    }
}

/// A handler made by a function of the running app: see [`build`].
#[derive(Debug, Clone)]
pub struct Build<F>(F);

/// A [`Setup`] that makes the handler with `make` once the app is up, with
/// the app's client, store and registration at hand. `make` returns a
/// future, so that it may read the store (every store call awaits) before
/// the first event arrives.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ghostkit::prelude::*;
///
/// struct Counter { store: Store }
/// impl Handler for Counter {}
///
/// let reg = Registration::load("registration.yaml")?;
/// Appservice::new(reg, Config::new("http://127.0.0.1:8008", "counter.store"))
///     .serve(ghostkit::bot::build(|app: AppContext| async move {
///         let store = app.store().clone();
///         let _last = store.get_json::<u64>("counter", "last").await?;
///         Ok(Counter { store })
///     }))
///     .await?;
/// # Ok(()) }
/// ```
pub fn build<F, Fut, H>(make: F) -> Build<F>
where
    F: FnOnce(AppContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<H, HandlerError>> + Send,
    H: Handler,
{
    Build(make)
}

#[async_trait]
impl<F, Fut, H> Setup for Build<F>
where
    F: FnOnce(AppContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<H, HandlerError>> + Send,
    H: Handler,
{
    type Config = ();
    type Handler = H;

    async fn build(self, (): (), app: &AppContext) -> Result<H, HandlerError> {
        (self.0)(app.clone()).await
    }
}

/// A handler made from the bot's own settings and the running app: see
/// [`configured`].
pub struct Configured<C, F> {
    make: F,
    config: PhantomData<fn() -> C>,
}

impl<C, F> std::fmt::Debug for Configured<C, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configured").finish_non_exhaustive()
    }
}

/// A [`Setup`] that makes the handler with `make` from the bot's settings
/// `C` ([`BotConfig`], read only when the bot runs) and the running app;
/// `make` returns a future, as in [`build`].
///
/// ```no_run
/// use ghostkit::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default, Serialize, Deserialize, schemars::JsonSchema)]
/// #[serde(default)]
/// struct Greeting {
///     /// What the bot says when it joins a room.
///     text: String,
/// }
/// impl BotConfig for Greeting {}
///
/// struct Greeter { text: String }
/// impl Handler for Greeter {}
///
/// fn main() {
///     ghostkit::main(
///         bot_info!("greeter"),
///         ghostkit::bot::configured(|config: Greeting, _app| async move {
///             Ok(Greeter { text: config.text })
///         }),
///     )
/// }
/// ```
pub fn configured<C, F, Fut, H>(make: F) -> Configured<C, F>
where
    C: BotConfig,
    F: FnOnce(C, AppContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<H, HandlerError>> + Send,
    H: Handler,
{
    Configured {
        make,
        config: PhantomData,
    }
}

#[async_trait]
impl<C, F, Fut, H> Setup for Configured<C, F>
where
    C: BotConfig,
    F: FnOnce(C, AppContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<H, HandlerError>> + Send,
    H: Handler,
{
    type Config = C;
    type Handler = H;

    async fn build(self, config: C, app: &AppContext) -> Result<H, HandlerError> {
        (self.make)(config, app.clone()).await
    }
}

/// A [`Setup`] with its settings already read: what
/// [`cli::run`](crate::cli::run) serves once it has loaded them.
pub(crate) struct WithConfig<S: Setup> {
    pub(crate) setup: S,
    pub(crate) config: S::Config,
}

#[async_trait]
impl<S: Setup> Setup for WithConfig<S> {
    type Config = ();
    type Handler = S::Handler;

    async fn build(self, (): (), app: &AppContext) -> Result<S::Handler, HandlerError> {
        self.setup.build(self.config, app).await
    }
}
