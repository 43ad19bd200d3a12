//! The OpenTelemetry side of the subscriber: a tracer provider for the process's
//! `service.name`, exporting over OTLP/HTTP (protobuf) when an endpoint is configured.
//!
//! The exporter is `opentelemetry-otlp`'s blocking reqwest client, run on the batch span
//! processor's own thread: the async reqwest client's export task panics outside a runtime
//! it can find, and then spans stop silently. Configuration is OpenTelemetry's own
//! environment: `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, `OTEL_SDK_DISABLED`.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::{Layer, Registry};

/// How long a stopping process waits for its last spans to be exported.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The process's tracer provider, kept to flush and stop it at shutdown.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    /// Where spans go, when they are exported: said once the subscriber is installed.
    exporting_to: Option<String>,
    /// Why export was asked for and is off.
    export_error: Option<String>,
}

impl Telemetry {
    pub(super) fn none() -> Self {
        Self {
            provider: None,
            exporting_to: None,
            export_error: None,
        }
    }

    /// Logs where spans are exported, or why they are not although asked to be.
    pub(super) fn report(&self) {
        if let Some(endpoint) = &self.exporting_to {
            tracing::info!(endpoint, "exporting traces over OTLP/HTTP");
        }
        if let Some(error) = &self.export_error {
            tracing::warn!(error, "cannot export traces; spans are not exported");
        }
    }

    /// Exports the spans still buffered, and stops the provider. Blocks until the exporter
    /// answered, or [`FLUSH_TIMEOUT`] passed (a collector out of reach must not hold a
    /// process's stop): call it off the async runtime's worker threads (`spawn_blocking`)
    /// when the process ends.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
        {
            eprintln!("orderflow: traces not flushed at shutdown: {error}");
        }
    }
}

/// `OTEL_SDK_DISABLED=true`: no OpenTelemetry at all, so no trace context either.
fn sdk_disabled() -> bool {
    std::env::var("OTEL_SDK_DISABLED").is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

/// The endpoint that, when set, turns export on.
fn export_endpoint() -> Option<String> {
    if std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|value| value.trim() == "none") {
        return None;
    }
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .filter_map(|name| std::env::var(name).ok())
    .find(|value| !value.trim().is_empty())
}

/// A tracer provider for `service_name`, and the subscriber layer that turns `tracing` spans
/// into its spans. Every span gets a trace context even when nothing is exported, so that
/// traces are continued and logs carry their ids in every configuration; only
/// `OTEL_SDK_DISABLED=true` leaves the layer out (no trace context, nothing continued).
pub(super) fn install(service_name: &str) -> (Telemetry, Box<dyn Layer<Registry> + Send + Sync>) {
    if sdk_disabled() {
        return (
            Telemetry::none(),
            tracing_subscriber::layer::Identity::new().boxed(),
        );
    }
    // `Resource::builder` reads `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`; the
    // process's own name only fills in when they name none.
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service_name.to_owned());
    }
    let mut provider = SdkTracerProvider::builder().with_resource(resource.build());
    let mut telemetry = Telemetry::none();
    if let Some(endpoint) = export_endpoint() {
        crate::tls::install_crypto_provider();
        match SpanExporter::builder().with_http().build() {
            Ok(exporter) => {
                provider = provider.with_batch_exporter(exporter);
                telemetry.exporting_to = Some(endpoint);
            }
            Err(error) => telemetry.export_error = Some(error.to_string()),
        }
    }
    let provider = provider.build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("orderflow"))
        // Fewer attributes per span, fewer clock reads per poll: the span's own fields say
        // what it is (`queue`, `message.type`, `http.path`…).
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_filter(
            // The services' own spans; the exporter's HTTP client must not trace itself.
            Targets::new()
                .with_default(Level::INFO)
                .with_target("opentelemetry", tracing::level_filters::LevelFilter::OFF)
                .with_target(
                    "opentelemetry_sdk",
                    tracing::level_filters::LevelFilter::OFF,
                )
                .with_target(
                    "opentelemetry_otlp",
                    tracing::level_filters::LevelFilter::OFF,
                )
                .with_target("reqwest", tracing::level_filters::LevelFilter::OFF)
                .with_target("hyper_util", tracing::level_filters::LevelFilter::OFF),
        )
        .boxed();
    telemetry.provider = Some(provider);
    (telemetry, layer)
}
