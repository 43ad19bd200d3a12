//! Liveness, readiness (dependencies checked) and Prometheus metrics.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
}

/// The state of one dependency.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub name: String,
    pub ready: bool,
    pub detail: Option<String>,
}

/// Checks the process's dependencies (databases, transport, consumers).
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    async fn check(&self) -> Vec<Readiness>;
}

#[async_trait]
impl<T: ReadinessCheck + ?Sized> ReadinessCheck for Arc<T> {
    async fn check(&self) -> Vec<Readiness> {
        self.as_ref().check().await
    }
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<Readiness>,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, description = "Alive")))]
pub(crate) async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Every dependency answers.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, description = "Ready"), (status = 503, description = "A dependency is down")))]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let checks = state.readiness.check().await;
    let ready = checks.iter().all(|check| check.ready);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(HealthBody {
            status: if ready { "ready" } else { "not_ready" },
            checks,
        }),
    )
        .into_response()
}

/// Prometheus metrics.
///
/// The readiness checks run first, so what they measure (outbox lag) is current at every scrape, and each check is the gauge `orderflow_ready{check}` (1 or 0).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are not enabled").into_response();
    };
    for check in state.readiness.check().await {
        metrics::gauge!("orderflow_ready", "check" => check.name)
            .set(f64::from(u8::from(check.ready)));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
