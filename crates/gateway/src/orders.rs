//! `/api/v1/orders`: place, read, list, cancel, and the audit trail.

use api::{
    CancelAccepted, IDEMPOTENCY_KEY_MAX_LEN, ListQuery, MAX_PAGE_SIZE, MAX_SEARCH_TEXT_CHARS,
    OrderAccepted, OrderPage, OrderView, PlaceOrderBody,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use order_domain::OrderStatus;
use query_domain::project;

use crate::AppState;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams, order_id};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", post(place_order).get(list_orders))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/cancel", post(cancel_order))
        .route("/orders/{id}/events", get(order_events))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= IDEMPOTENCY_KEY_MAX_LEN => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {IDEMPOTENCY_KEY_MAX_LEN} visible ASCII characters"),
        )),
    }
}

/// Place an order.
#[utoipa::path(
    post, path = "/api/v1/orders", tag = "orders",
    security((), ("customer_token" = []), ("admin_token" = [])),
    request_body(content = PlaceOrderBody, description = "Either shape; prices come from the catalog. \
        With a customer token the order is the customer's: the email may be left out, another one is refused"),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Same key and body: same answer; keys are the caller's own and expire (a day by default)")),
    responses(
        (status = 202, body = OrderAccepted, description = "Accepted; the saga runs in the background",
         links(
            ("GetOrder" = (operation_id = "get_order", parameters(("id" = "$response.body#/order_id")))),
            ("CancelOrder" = (operation_id = "cancel_order", parameters(("id" = "$response.body#/order_id")))),
            ("OrderEvents" = (operation_id = "order_events", parameters(("id" = "$response.body#/order_id")))),
         )),
        (status = 401, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "A token that is not valid, or no token where anonymous orders are off"),
        (status = 422, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "Invalid: every problem is listed"),
        (status = 503, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "Refused, nothing stored: `overloaded` (more orders in flight than finish in \
                        good time; the idempotency key is not remembered), or `unavailable`",
         headers(("Retry-After" = u64, description = "With `overloaded`: seconds to wait before retrying"))),
    )
)]
pub(crate) async fn place_order(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PlaceOrderBody>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request = auth::order_request(&state.auth, &caller, body)?;
    let placed = state
        .orders
        .place_order(&request, key.as_deref(), &caller)
        .await?;
    let body = OrderAccepted {
        message: "Order accepted for processing".to_owned(),
        order_id: placed.order_id.as_uuid(),
        status: OrderStatus::Pending.as_str().to_owned(),
    };
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/orders/{}", placed.order_id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if placed.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// An order's view: status, items, total, reason, the saga's history.
#[utoipa::path(
    get, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, body = OrderView),
        (status = 404, body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let id = order_id(&id)?;
    if let Some(view) = state.reads.order(id).await? {
        return Ok(Json(view));
    }
    // The read model may lag behind an order accepted a moment ago: fold its events here.
    let events = state.orders.events(id).await?;
    project(&events)
        .map_err(|error| ApiError::Internal(error.into()))?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no order with id {id}")))
}

/// List and search orders, newest first: a customer's own, or every order for the admin.
#[utoipa::path(
    get, path = "/api/v1/orders", tag = "orders", params(ListQuery),
    security(("customer_token" = []), ("admin_token" = [])),
    responses(
        (status = 200, body = OrderPage, description = "A customer's own orders; every order for the admin"),
        (status = 401, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "No token, or one that is not valid (`WWW-Authenticate: Bearer`)"),
        (status = 422, body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    caller.owner("list orders")?;
    if let Some(limit) = query.limit
        && !(1..=MAX_PAGE_SIZE).contains(&limit)
    {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}, got {limit}"),
        ));
    }
    // A long pattern costs the search more than it can find, and SQLite refuses one past
    // 50,000 bytes.
    if let Some(text) = &query.text
        && text.chars().count() > MAX_SEARCH_TEXT_CHARS
    {
        return Err(ApiError::invalid(
            "q",
            format!(
                "must be at most {MAX_SEARCH_TEXT_CHARS} characters, got {}",
                text.chars().count()
            ),
        ));
    }
    Ok(Json(state.reads.list(query, &caller).await?))
}

/// Cancel an order that is not completed; compensations run.
///
/// A customer cancels only their own orders; the admin any.
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    security(("customer_token" = []), ("admin_token" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 202, body = CancelAccepted),
        (status = 401, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "No token, or one that is not valid (`WWW-Authenticate: Bearer`)"),
        (status = 404, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "No such order, or another customer's"),
        (status = 409, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "The order is completed"),
    )
)]
pub(crate) async fn cancel_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.owner("cancel an order")?;
    let order_id = order_id(&id)?;
    let status = state.orders.cancel_order(order_id, &caller).await?;
    let body = CancelAccepted {
        order_id: order_id.as_uuid(),
        status,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The order's events, oldest first (its audit trail).
///
/// Each in the current version of its schema: no payment token is ever shown. Each carries
/// the W3C `traceparent` of the span that produced it: the order's trace id is the second
/// field of `order.placed`'s, the link from an order to its trace in a tracing backend
/// (`null` for events written without tracing).
#[utoipa::path(
    get, path = "/api/v1/orders/{id}/events", tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Envelopes of the order's events"),
        (status = 404, body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn order_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<contracts::Envelope>>, ApiError> {
    let id = order_id(&id)?;
    let events = state.orders.events(id).await?;
    if events.is_empty() {
        return Err(ApiError::NotFound(format!("no order with id {id}")));
    }
    // Shown as the current schema reads them: an `order.placed` stored before version 3 held
    // the payment token, which its upcaster leaves out.
    let shown = events
        .iter()
        .map(contracts::Envelope::to_current)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::Internal(error.into()))?;
    Ok(Json(shown))
}
