//! The public HTTP API (v1): places and cancels orders through the order service, reads them
//! from the query service, shows the catalog with stock, and serves the admin endpoints,
//! health checks, metrics, the OpenAPI document and the operator's dashboard.
//!
//! It owns no state. Every error leaves as `application/problem+json` from one mapping table
//! ([`error::ApiError`]). The limits a request meets are layers of their own ([`limits`]); the
//! limits a connection meets are the server's ([`server`]).

mod admin;
mod analytics;
mod answers;
pub mod auth;
pub mod backends;
mod dashboard;
mod error;
mod extract;
mod health;
pub mod limits;
mod openapi;
mod openapi_answers;
mod orders;
mod products;
pub mod remote;
pub mod server;
mod updates;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, Request};
use backends::{Analytics, Mailbox, OrderCommands, OrderReads, Stock};
use limits::RequestLimits;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use transport::DeadLetters;

pub use error::ApiError;
pub use health::{Readiness, ReadinessCheck};
pub use openapi::ApiDoc;

/// Everything the API calls into: each port in-process or in another process.
#[derive(Clone)]
pub struct AppState {
    pub orders: Arc<dyn OrderCommands>,
    pub reads: Arc<dyn OrderReads>,
    pub stock: Arc<dyn Stock>,
    pub mailbox: Arc<dyn Mailbox>,
    pub analytics: Arc<dyn Analytics>,
    pub dead_letters: Arc<dyn DeadLetters>,
    pub readiness: Arc<dyn ReadinessCheck>,
    /// Who may call what: the admin token, the customer token keys.
    pub auth: Arc<auth::Authenticator>,
    pub metrics: Option<PrometheusHandle>,
    /// One trace in the operator's trace viewer, `{trace_id}` standing for its id: the
    /// dashboard links each order's trace there.
    pub trace_url: Option<String>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static(trace_context::TRACEPARENT);

/// The span of one request: it continues the caller's W3C trace (a `traceparent` header: a
/// client's, or another Orderflow process's), or starts a new one.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let header = |name: &HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let request_id = header(&REQUEST_ID).unwrap_or("");
    let span = tracing::info_span!(
        "http",
        http.method = %request.method(),
        http.path = %request.uri().path(),
        request_id
    );
    trace_context::continue_trace(&span, header(&TRACEPARENT));
    span
}

/// The whole API as one router, inside its request limits. Outermost, every request gets an
/// id and a trace span, so that refusals by the limits are traced too.
pub fn router(state: AppState, limits: &RequestLimits) -> Router {
    let api = Router::new()
        .merge(orders::routes())
        .merge(products::routes())
        .merge(updates::routes())
        .nest("/admin", admin::routes(state.clone()))
        .nest("/analytics", analytics::routes(state.clone()));
    let routes = Router::new()
        .nest("/api/v1", api)
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(dashboard::routes())
        .fallback(error::not_found)
        .with_state(state);
    limits::apply(routes, limits)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
