//! Logs, traces and metrics of one process. Logs: human-readable on a terminal, JSON lines
//! otherwise (with the `trace_id` and `span_id` of the span they were written in); filtered by
//! `RUST_LOG`. Traces: the OpenTelemetry layer gives every span a W3C trace context (what
//! `trace-context` continues and sends on), and exports the spans over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set. Metrics: Prometheus.

mod json_trace_ids;
mod traces;

use std::io::IsTerminal as _;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry};

pub use traces::Telemetry;

/// Installs the global subscriber for `service_name` (the `service.name` of its spans, unless
/// `OTEL_SERVICE_NAME` says otherwise): logs, and traces. Only the first call installs
/// anything; keep what it returns and [`Telemetry::shutdown`] it when the process stops, so
/// the last spans are exported.
pub fn init(service_name: &str) -> Telemetry {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let logs: Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync> =
        if std::io::stderr().is_terminal() {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .json()
                .event_format(json_trace_ids::WithTraceIds::new(
                    tracing_subscriber::fmt::format().json(),
                ))
                .with_writer(std::io::stderr)
                .with_filter(filter)
                .boxed()
        };
    let (telemetry, spans) = traces::install(service_name);
    let installed = tracing_subscriber::registry()
        .with(vec![logs, spans])
        .try_init()
        .is_ok();
    if installed {
        telemetry.report();
        telemetry
    } else {
        // Another subscriber was there first (a test): this provider has no spans to export.
        Telemetry::none()
    }
}

/// Installs tracing alone, no logs: what an application embedding Orderflow (or a test) needs
/// for requests and messages to carry trace context, its own logging left as it is. Only the
/// first subscriber installed in a process counts.
pub fn init_traces_only(service_name: &str) -> Telemetry {
    let (telemetry, spans) = traces::install(service_name);
    if tracing_subscriber::registry()
        .with(spans)
        .try_init()
        .is_ok()
    {
        telemetry.report();
        telemetry
    } else {
        Telemetry::none()
    }
}

/// Installs logging (and tracing without export) for a command that is not a service
/// (`migrate`, `seed`); later calls do nothing.
pub fn init_logging() {
    // Nothing to flush: without a service there is no OTLP export to end.
    drop(init("orderflow"));
}

/// Buckets of every `*_seconds` timing (placement to terminal state, a saga step, handling a
/// message): Prometheus histograms, which aggregate across processes where summaries cannot.
const SECONDS_BUCKETS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// The process's Prometheus recorder, installed on first use.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}
