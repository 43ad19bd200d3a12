//! `/api/v1/orders`: place, read, list, cancel, and the audit trail.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use order_service::{OrderRequest, Problem, RequestedLine};
use query_domain::{OrderView, project};
use query_service::{ListQuery, OrderPage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams, order_id};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", post(place_order).get(list_orders))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/cancel", post(cancel_order))
        .route("/orders/{id}/events", get(order_events))
}

/// The answer to an accepted order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OrderAccepted {
    message: &'static str,
    order_id: Uuid,
    status: &'static str,
}

/// Either body shape of `POST /api/v1/orders`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "documents the request shapes; the body is parsed field by field"
)]
pub(crate) enum PlaceOrderBody {
    /// One product.
    Single {
        item_id: String,
        quantity: i64,
        user_email: String,
        payment_token: Option<String>,
    },
    /// Several products.
    Multi {
        customer_email: String,
        items: Vec<OrderItemBody>,
        payment_token: Option<String>,
    },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[expect(dead_code, reason = "documents the request shape")]
pub(crate) struct OrderItemBody {
    product_id: String,
    quantity: i64,
}

/// Reads either body shape field by field, so that every problem can be named at once.
fn order_request(body: &Value) -> Result<OrderRequest, Vec<Problem>> {
    let mut problems = Vec::new();
    let Some(fields) = body.as_object() else {
        return Err(vec![problem("body", "expected a JSON object")]);
    };
    let mut text = |field: &str, required: bool| -> Option<String> {
        match fields.get(field) {
            Some(Value::String(value)) => Some(value.clone()),
            None | Some(Value::Null) if !required => None,
            None | Some(Value::Null) => {
                problems.push(problem(field, "is required"));
                None
            }
            Some(_) => {
                problems.push(problem(field, "must be a string"));
                None
            }
        }
    };
    let single = fields.contains_key("item_id");
    let (email, items) = if single {
        let email = text("user_email", true);
        let item_id = text("item_id", true);
        let quantity = quantity(fields.get("quantity"), "quantity", &mut problems);
        (
            email,
            item_id.zip(quantity).map(|(product_id, quantity)| {
                vec![RequestedLine {
                    product_id,
                    quantity,
                }]
            }),
        )
    } else {
        let email = text("customer_email", true);
        let items = match fields.get("items") {
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(index, item)| {
                        let product_id = match item.get("product_id") {
                            Some(Value::String(id)) => Some(id.clone()),
                            _ => {
                                problems.push(problem(
                                    format!("items[{index}].product_id"),
                                    "must be a string",
                                ));
                                None
                            }
                        };
                        let quantity = quantity(
                            item.get("quantity"),
                            &format!("items[{index}].quantity"),
                            &mut problems,
                        );
                        Some(RequestedLine {
                            product_id: product_id?,
                            quantity: quantity?,
                        })
                    })
                    .collect(),
            ),
            None | Some(Value::Null) => {
                problems.push(problem(
                    "items",
                    "is required (or use `item_id`, `quantity` and `user_email`)",
                ));
                None
            }
            Some(_) => {
                problems.push(problem("items", "must be an array"));
                None
            }
        };
        (email, items)
    };
    let payment_token = match fields.get("payment_token") {
        Some(Value::String(token)) => Some(token.clone()),
        None | Some(Value::Null) => None,
        Some(_) => {
            problems.push(problem("payment_token", "must be a string"));
            None
        }
    };
    match (email, items) {
        (Some(customer_email), Some(items)) if problems.is_empty() => Ok(OrderRequest {
            customer_email,
            items,
            payment_token,
        }),
        _ => Err(problems),
    }
}

fn quantity(value: Option<&Value>, field: &str, problems: &mut Vec<Problem>) -> Option<i64> {
    match value.and_then(Value::as_i64) {
        Some(quantity) => Some(quantity),
        None => {
            problems.push(problem(field, "must be an integer between 1 and 1000"));
            None
        }
    }
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 255 => Ok(Some(key.to_owned())),
        _ => Err(ApiError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// Place an order.
#[utoipa::path(
    post, path = "/api/v1/orders", tag = "orders",
    request_body(content = PlaceOrderBody, description = "Either shape; prices come from the catalog"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body: same answer")),
    responses(
        (status = 202, body = OrderAccepted, description = "Accepted; the saga runs in the background"),
        (status = 422, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "Invalid: every problem is listed"),
    )
)]
pub(crate) async fn place_order(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request = order_request(&body).map_err(ApiError::Invalid)?;
    let placed = state.orders.place_order(&request, key.as_deref()).await?;
    let body = OrderAccepted {
        message: "Order accepted for processing",
        order_id: placed.order_id,
        status: "PENDING",
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

/// Query string of `GET /api/v1/orders`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ListParams {
    /// Only this customer's orders.
    customer_email: Option<String>,
    /// Only orders in this status.
    status: Option<String>,
    /// Free text: order id, email, product id.
    q: Option<String>,
    /// 1 to 100, default 20.
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List and search orders, newest first.
#[utoipa::path(
    get, path = "/api/v1/orders", tag = "orders", params(ListParams),
    responses(
        (status = 200, body = OrderPage),
        (status = 422, body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_orders(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<OrderPage>, ApiError> {
    let mut problems = Vec::new();
    if let Some(status) = &params.status
        && order_domain::OrderStatus::parse(status).is_none()
    {
        problems.push(problem("status", format!("unknown status `{status}`")));
    }
    let limit = match params.limit {
        None => None,
        Some(limit @ 1..=100) => usize::try_from(limit).ok(),
        Some(other) => {
            problems.push(problem(
                "limit",
                format!("must be between 1 and 100, got {other}"),
            ));
            None
        }
    };
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    let query = ListQuery {
        customer_email: params.customer_email,
        status: params.status.map(|s| s.to_ascii_uppercase()),
        text: params.q,
        limit,
        cursor: params.cursor,
    };
    Ok(Json(state.reads.list(query).await?))
}

/// The answer to a cancel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CancelAccepted {
    order_id: Uuid,
    status: String,
}

/// Cancel an order that is not completed; compensations run.
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 202, body = CancelAccepted),
        (status = 404, body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "The order is completed"),
    )
)]
pub(crate) async fn cancel_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let order_id = order_id(&id)?;
    let status = state.orders.cancel_order(order_id).await?;
    let body = CancelAccepted { order_id, status };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The order's events, oldest first (its audit trail).
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
    Ok(Json(events))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_single_item_shape_becomes_one_line() {
        let request = order_request(
            &json!({"item_id": "product-002", "quantity": 5, "user_email": "t@example.com"}),
        )
        .expect("valid shape");
        assert_eq!(request.customer_email, "t@example.com");
        assert_eq!(
            request.items,
            vec![RequestedLine {
                product_id: "product-002".into(),
                quantity: 5
            }]
        );
    }

    #[test]
    fn every_wrongly_typed_field_is_named() {
        let problems = order_request(
            &json!({"customer_email": 7, "items": [{"product_id": 1, "quantity": "x"}]}),
        )
        .expect_err("invalid shape");
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["customer_email", "items[0].product_id", "items[0].quantity"]
        );
    }
}
