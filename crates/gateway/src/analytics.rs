//! `/api/v1/analytics`: the analytics service's totals, series and best sellers. Every route
//! needs `Authorization: Bearer <admin token>`.

use api::{
    AnalyticsSeries, AnalyticsSummary, ProductSales, ProductsQuery, SeriesQuery, SummaryQuery,
};
use axum::extract::State;
use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::QueryParams;

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/summary", get(summary))
        .route("/timeseries", get(timeseries))
        .route("/products", get(products))
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_admin,
        ))
}

/// Orders placed, completed and cancelled (by reason class), revenue per currency, placed →
/// completed time (average, p95), payment decline rate and stock-outs over a window back from
/// now (`15m`, `1h`, `24h` summed per minute; `7d` per hour).
#[utoipa::path(get, path = "/api/v1/analytics/summary", tag = "analytics", security(("admin_token" = [])),
    params(SummaryQuery),
    responses((status = 200, body = AnalyticsSummary), crate::openapi::AdminRefusals,
        (status = 422, body = crate::error::ProblemDetails, content_type = "application/problem+json")))]
pub(crate) async fn summary(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<SummaryQuery>,
) -> Result<Json<AnalyticsSummary>, ApiError> {
    Ok(Json(
        state
            .analytics
            .summary(query.window.unwrap_or_default())
            .await?,
    ))
}

/// One counter per minute or per hour between `from` and `to` (at most 1440 buckets); buckets
/// nothing was counted in are absent.
#[utoipa::path(get, path = "/api/v1/analytics/timeseries", tag = "analytics", security(("admin_token" = [])),
    params(SeriesQuery),
    responses((status = 200, body = AnalyticsSeries), crate::openapi::AdminRefusals,
        (status = 422, body = crate::error::ProblemDetails, content_type = "application/problem+json")))]
pub(crate) async fn timeseries(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<SeriesQuery>,
) -> Result<Json<AnalyticsSeries>, ApiError> {
    Ok(Json(state.analytics.series(query).await?))
}

/// The products that sold the most units in completed orders over a window (24 h by default),
/// with their revenue per currency.
#[utoipa::path(get, path = "/api/v1/analytics/products", tag = "analytics", security(("admin_token" = [])),
    params(ProductsQuery),
    responses((status = 200, body = Vec<ProductSales>), crate::openapi::AdminRefusals,
        (status = 422, body = crate::error::ProblemDetails, content_type = "application/problem+json")))]
pub(crate) async fn products(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ProductsQuery>,
) -> Result<Json<Vec<ProductSales>>, ApiError> {
    Ok(Json(state.analytics.products(query).await?))
}
