//! An OTLP/HTTP trace receiver on loopback: what a collector is to the processes under test.
//! It accepts `POST /v1/traces` in protobuf (the exporter's `http/protobuf` protocol), decodes
//! each request with OpenTelemetry's own protocol types, and keeps every span it received,
//! with the `service.name` of the process that sent it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;
use tokio_util::sync::CancellationToken;

/// One span as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedSpan {
    /// The `service.name` of the resource that sent it.
    pub service: String,
    pub name: String,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// The span's attributes, each value as text.
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedSpan {
    /// The attribute `key`, as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

type Spans = Arc<Mutex<Vec<ReceivedSpan>>>;

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    addr: SocketAddr,
    spans: Spans,
    requests: Arc<Mutex<usize>>,
    stop: CancellationToken,
}

impl OtlpReceiver {
    /// Starts a receiver on a free loopback port.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("bind the OTLP receiver")?;
        let addr = listener.local_addr().context("the receiver's address")?;
        let spans = Spans::default();
        let requests = Arc::new(Mutex::new(0));
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state((spans.clone(), requests.clone()));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
        });
        Ok(Self {
            addr,
            spans,
            requests,
            stop,
        })
    }

    /// What `OTEL_EXPORTER_OTLP_ENDPOINT` is set to for the processes that export here (the
    /// exporter appends `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans
            .lock()
            .map(|spans| spans.clone())
            .unwrap_or_default()
    }

    /// How many export requests arrived.
    pub fn requests(&self) -> usize {
        self.requests.lock().map(|count| *count).unwrap_or_default()
    }

    /// The spans of `trace_id`, once `enough` says they are all there, or what arrived by
    /// `timeout` (for the caller's assertions to show what is missing).
    pub async fn wait_for_trace(
        &self,
        trace_id: &str,
        timeout: Duration,
        enough: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let trace: Vec<ReceivedSpan> = self
                .spans()
                .into_iter()
                .filter(|span| span.trace_id == trace_id)
                .collect();
            if enough(&trace) || tokio::time::Instant::now() >= deadline {
                return trace;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn receive(
    State((spans, requests)): State<(Spans, Arc<Mutex<usize>>)>,
    body: Bytes,
) -> impl IntoResponse {
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|resource| &resource.attributes)
            .find(|attribute| attribute.key == "service.name")
            .map(value_text)
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                received.push(ReceivedSpan {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|attribute| (attribute.key.clone(), value_text(attribute)))
                        .collect(),
                });
            }
        }
    }
    if let Ok(mut spans) = spans.lock() {
        spans.extend(received);
    }
    if let Ok(mut count) = requests.lock() {
        *count += 1;
    }
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn value_text(attribute: &KeyValue) -> String {
    match attribute
        .value
        .as_ref()
        .and_then(|AnyValue { value }| value.as_ref())
    {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}
