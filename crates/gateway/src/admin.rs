//! `/api/v1/admin`: stock adjustments, dead letters, notifications sent, projection rebuild.
//! Every route needs `Authorization: Bearer <admin token>`.

use api::{
    DEFAULT_NOTIFICATIONS, DeadLetter, DeadLetterReplayed, MAX_NOTIFICATIONS, MAX_STOCK_ADJUSTMENT,
    Notification, NotificationQuery, ProjectionRebuilt, StockAdjustment, StockView,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use contracts::value::{OrderId, shown};

use crate::AppState;
use crate::answers::dead_letter;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams, product_id};

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/stock", get(stock_levels))
        .route("/products/{id}/stock", post(adjust_stock))
        .route("/dead-letters", get(list_dead_letters))
        .route("/dead-letters/{id}", delete(discard_dead_letter))
        .route("/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/notifications", get(notifications))
        .route("/projections/rebuild", post(rebuild_projection))
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_admin,
        ))
}

/// Every product's stock: available, reserved, sold, and how it started.
#[utoipa::path(get, path = "/api/v1/admin/stock", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = Vec<StockView>), crate::openapi::AdminRefusals))]
pub(crate) async fn stock_levels(
    State(state): State<AppState>,
) -> Result<Json<Vec<StockView>>, ApiError> {
    Ok(Json(state.stock.levels().await?))
}

/// Add or remove available units of a product.
#[utoipa::path(post, path = "/api/v1/admin/products/{id}/stock", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)), request_body = StockAdjustment,
    responses((status = 200, body = StockView), crate::openapi::AdminRefusals,
        (status = 404, body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 422, body = crate::error::ProblemDetails, content_type = "application/problem+json")))]
pub(crate) async fn adjust_stock(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(adjustment): JsonBody<StockAdjustment>,
) -> Result<Json<StockView>, ApiError> {
    // `unsigned_abs`: `i64::MIN` has no `abs`.
    if adjustment.delta == 0
        || adjustment.delta.unsigned_abs() > MAX_STOCK_ADJUSTMENT.unsigned_abs()
    {
        return Err(ApiError::invalid(
            "delta",
            format!(
                "must be a non-zero number of units, at most {MAX_STOCK_ADJUSTMENT} either way"
            ),
        ));
    }
    let sku = product_id(&id)?;
    Ok(Json(state.stock.adjust(&sku, adjustment.delta).await?))
}

/// Parked messages, oldest first, with their errors and attempt counts.
#[utoipa::path(get, path = "/api/v1/admin/dead-letters", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "Dead letters"), crate::openapi::AdminRefusals))]
pub(crate) async fn list_dead_letters(
    State(state): State<AppState>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    let parked = state.dead_letters.list().await?;
    Ok(Json(parked.into_iter().map(dead_letter).collect()))
}

/// Put a parked message back on its queue.
#[utoipa::path(post, path = "/api/v1/admin/dead-letters/{id}/replay", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 202, description = "Replayed"), crate::openapi::AdminRefusals,
        (status = 404, body = crate::error::ProblemDetails, content_type = "application/problem+json")))]
pub(crate) async fn replay_dead_letter(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if state.dead_letters.replay(&id).await? {
        let replayed = DeadLetterReplayed { id, replayed: true };
        Ok((StatusCode::ACCEPTED, Json(replayed)).into_response())
    } else {
        Err(ApiError::NotFound(format!(
            "no dead letter with id {}",
            shown(&id)
        )))
    }
}

/// Delete a parked message for good.
#[utoipa::path(delete, path = "/api/v1/admin/dead-letters/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Discarded"), crate::openapi::AdminRefusals,
        (status = 404, body = crate::error::ProblemDetails, content_type = "application/problem+json")))]
pub(crate) async fn discard_dead_letter(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.dead_letters.discard(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no dead letter with id {}",
            shown(&id)
        )))
    }
}

/// Emails sent to customers (the mailbox), newest first.
#[utoipa::path(get, path = "/api/v1/admin/notifications", tag = "admin", security(("admin_token" = [])),
    params(NotificationQuery), responses((status = 200, description = "Notifications sent"), crate::openapi::AdminRefusals))]
pub(crate) async fn notifications(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<NotificationQuery>,
) -> Result<Json<Vec<Notification>>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_NOTIFICATIONS);
    if !(1..=MAX_NOTIFICATIONS).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_NOTIFICATIONS}, got {limit}"),
        ));
    }
    Ok(Json(
        state
            .mailbox
            .sent(params.order_id.map(OrderId::new), limit)
            .await?,
    ))
}

/// Rebuild every order view from the events the read model has kept.
#[utoipa::path(post, path = "/api/v1/admin/projections/rebuild", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "How many views were rebuilt"), crate::openapi::AdminRefusals))]
pub(crate) async fn rebuild_projection(
    State(state): State<AppState>,
) -> Result<Json<ProjectionRebuilt>, ApiError> {
    let rebuilt = state.reads.rebuild().await?;
    Ok(Json(ProjectionRebuilt { rebuilt }))
}
