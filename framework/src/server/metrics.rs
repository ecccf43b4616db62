//! `GET /metrics`: the appservice's metrics for Prometheus, in the
//! OpenMetrics text format, on the appservice's listener or on one of its
//! own ([`crate::metrics::MetricsConfig`]).
//!
//! No hs_token is asked for: the scraper is not the homeserver. What it
//! shows is counts and ages, no IDs nor content.
//!
//! Spec: <https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md>

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};

use super::{resource, unrecognized, ServerState};
use crate::metrics::CONTENT_TYPE;

/// Adds `GET /metrics` (without the hs_token check) to an actix app, as
/// [`crate::Appservice`] does on its listener by default.
///
/// ```no_run
/// # async fn demo(state: std::sync::Arc<ghostkit::server::ServerState>) -> std::io::Result<()> {
/// use actix_web::{App, HttpServer};
/// HttpServer::new(move || {
///     App::new()
///         .configure(ghostkit::server::configure(state.clone()))
///         .configure(ghostkit::server::configure_metrics(state.clone()))
/// })
/// .bind(("127.0.0.1", 9000))?
/// .run()
/// .await
/// # }
/// ```
pub fn configure_metrics(state: Arc<ServerState>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(state.clone()));
        cfg.service(resource("/metrics", web::get().to(get_metrics)));
    }
}

/// `GET /metrics`
async fn get_metrics(state: web::Data<ServerState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(render_metrics(&state))
}

/// The scrape: sets the gauges read from the router and the log, then
/// encodes every metric of the registry.
pub fn render_metrics(state: &ServerState) -> String {
    let metrics = state.app.metrics();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    metrics.backlog.set(count(state.router.backlog()));
    metrics.active_lanes.set(count(state.router.active_lanes()));
    let secs = |age: Option<std::time::Duration>| age.map_or(0.0, |d| d.as_secs_f64());
    metrics
        .seen_window_age
        .set(secs(state.log.oldest_seen_age()));
    metrics
        .unhandled_age
        .set(secs(state.log.oldest_unhandled_age()));
    metrics.encode()
}

/// `/metrics` on a listener of its own (one worker; anything else there
/// is `404 M_UNRECOGNIZED`).
pub(crate) struct MetricsListener {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for MetricsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsListener")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MetricsListener {
    /// Listens on `addr` and serves `/metrics` from `state`.
    pub(crate) fn start(state: Arc<ServerState>, addr: SocketAddr) -> std::io::Result<Self> {
        let server = HttpServer::new(move || {
            App::new()
                .configure(configure_metrics(state.clone()))
                .default_service(web::to(unrecognized))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(addr)?;
        let addr = server.addrs().first().copied().unwrap_or(addr);
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        tracing::info!(%addr, "metrics listening");
        Ok(MetricsListener { addr, handle, task })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening.
    pub(crate) async fn stop(self) {
        self.handle.stop(true).await;
        if let Ok(Err(e)) = self.task.await {
            tracing::warn!(error = %e, "the metrics listener stopped with an error");
        }
    }
}
