//! The as_token client's metrics: requests by endpoint family and status,
//! retries, and the waits `429` answers asked for.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use super::labels::{status_class, EndpointFamily};
use crate::client::RetryReason;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    class: &'static str,
    code: StatusCode,
}

/// A status code label: the number, or `none` when no answer came.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
struct StatusCode(Option<u16>);

impl prometheus_client::encoding::EncodeLabelValue for StatusCode {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder,
    ) -> Result<(), std::fmt::Error> {
        match self.0 {
            Some(code) => code.encode(encoder),
            None => "none".encode(encoder),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetryLabels {
    endpoint: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: &'static str,
}

/// The client's families; see [`super::Metrics`] for their names.
#[derive(Debug, Default)]
pub(crate) struct ClientMetrics {
    requests: Family<RequestLabels, Counter>,
    retries: Family<RetryLabels, Counter>,
    rate_limited: Family<EndpointLabel, Counter>,
    rate_limited_wait: Family<EndpointLabel, Counter<f64, std::sync::atomic::AtomicU64>>,
}

impl ClientMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "ghostkit_client_requests",
            "HTTP exchanges with the homeserver (each attempt of a retried call counts), by endpoint family, status class and status code",
            self.requests.clone(),
        );
        registry.register(
            "ghostkit_client_retries",
            "Homeserver calls tried again, by endpoint family and reason",
            self.retries.clone(),
        );
        registry.register(
            "ghostkit_client_rate_limited_waits",
            "Waits before a retry that a 429 answer caused, by endpoint family",
            self.rate_limited.clone(),
        );
        registry.register_with_unit(
            "ghostkit_client_rate_limited_wait",
            "Time waited after 429 answers before retrying, by endpoint family",
            Unit::Seconds,
            self.rate_limited_wait.clone(),
        );
    }

    /// An attempt got an answer with `status`, or none (`None`).
    pub(crate) fn answered(&self, family: EndpointFamily, status: Option<u16>) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: family.as_str(),
                class: status_class(status),
                code: StatusCode(status),
            })
            .inc();
    }

    /// A retry of a call to `family` starts after `wait`.
    pub(crate) fn retrying(&self, family: EndpointFamily, reason: RetryReason, wait: Duration) {
        let endpoint = family.as_str();
        let reason_label = match reason {
            RetryReason::RateLimited { .. } => "rate_limited",
            RetryReason::ServerError { .. } => "server_error",
            RetryReason::Connect => "connect",
            RetryReason::Timeout => "timeout",
            RetryReason::Network => "network",
        };
        self.retries
            .get_or_create(&RetryLabels {
                endpoint,
                reason: reason_label,
            })
            .inc();
        if let RetryReason::RateLimited { .. } = reason {
            let label = EndpointLabel { endpoint };
            self.rate_limited.get_or_create(&label).inc();
            self.rate_limited_wait
                .get_or_create(&label)
                .inc_by(wait.as_secs_f64());
        }
    }
}
