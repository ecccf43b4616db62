//! How the handler is made: as a value, or built from the running app, so
//! that state which needs the app (client, store) is a plain field and
//! never an `Option` filled in later.

use super::{AppContext, Handler, HandlerError};

/// What [`Appservice::start`](crate::Appservice::start) takes: a handler,
/// or a recipe that builds one once the app is up ([`build`]).
///
/// Every [`Handler`] is a `Setup` that builds itself.
pub trait Setup: Send + 'static {
    /// The handler built.
    type Handler: Handler;

    /// Makes the handler, after the store is open and the client made and
    /// before any event is dispatched or [`Handler::on_start`] is called.
    /// An error stops the start.
    fn build(self, app: &AppContext) -> Result<Self::Handler, HandlerError>;
}

impl<H: Handler> Setup for H {
    type Handler = H;

    fn build(self, _app: &AppContext) -> Result<H, HandlerError> {
        Ok(self)
    }
}

/// A handler made by a function of the running app: see [`build`].
#[derive(Debug, Clone)]
pub struct Build<F>(F);

/// A [`Setup`] that makes the handler with `make` once the app is up, with
/// the app's client, store and registration at hand.
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
///     .serve(ghostkit::bot::build(|app: &AppContext| {
///         Ok(Counter { store: app.store().clone() })
///     }))
///     .await?;
/// # Ok(()) }
/// ```
pub fn build<F, H>(make: F) -> Build<F>
where
    F: FnOnce(&AppContext) -> Result<H, HandlerError> + Send + 'static,
    H: Handler,
{
    Build(make)
}

impl<F, H> Setup for Build<F>
where
    F: FnOnce(&AppContext) -> Result<H, HandlerError> + Send + 'static,
    H: Handler,
{
    type Handler = H;

    fn build(self, app: &AppContext) -> Result<H, HandlerError> {
        (self.0)(app)
    }
}
