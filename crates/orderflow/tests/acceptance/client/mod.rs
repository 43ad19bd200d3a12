//! `api-client` against the running system: each of its methods, its answers typed, and the
//! problems a caller branches on. (A server that refuses connections or never answers is
//! tested in `api-client` itself.)

mod admin;

use std::time::Duration;

use api::{
    Field, ListQuery, MultiItemBody, OrderItemBody, OrderStatus, PlaceOrderBody, ProblemDetails,
};
use api_client::{ApiClient, ClientError, StatusCode};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// A client of `app` that holds its admin token, for the admin routes and as its bearer
/// token elsewhere (it lists and cancels every order).
fn client_of(app: &TestApp) -> ApiClient {
    ApiClient::new(&app.base)
        .expect("a client")
        .with_admin_token(&app.admin_token)
        .with_token(&app.admin_token)
}

/// An order of `quantity` units of one product, in the several-items shape.
fn order_of(email: &str, product_id: &str, quantity: i64) -> PlaceOrderBody {
    PlaceOrderBody::Multi(MultiItemBody {
        customer_email: Field::Valid(email.to_owned()),
        items: Field::Valid(vec![Field::Valid(OrderItemBody {
            product_id: Field::Valid(product_id.to_owned()),
            quantity: Field::Valid(quantity),
        })]),
        payment_token: Field::Missing,
    })
}

/// The problem an error is, with its status; fails the test for any other error.
fn problem(error: ClientError) -> (StatusCode, ProblemDetails) {
    match error {
        ClientError::Problem {
            status, problem, ..
        } => (status, *problem),
        other => panic!("not a problem answer: {other:?}"),
    }
}

/// Asks `probe` every 20 ms until it finds something, for at most 10 s.
async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Places an order and waits until it is COMPLETED.
async fn completed_order(client: &ApiClient, email: &str) -> Uuid {
    let placed = client
        .place_order(&order_of(email, "product-002", 1), None)
        .await
        .expect("accepted");
    let id = placed.accepted.order_id;
    eventually("the order completes", async || {
        let order = client.order(id).await.expect("the order");
        (order.status == "COMPLETED").then_some(id)
    })
    .await
}

#[tokio::test]
async fn an_order_placed_through_the_client_once_per_key_is_read_listed_and_traced() {
    let app = spawn_app().await;
    let client = client_of(&app);
    let body = order_of("ada@example.com", "product-002", 2);

    let first = client
        .place_order(&body, Some("ada-1"))
        .await
        .expect("accepted");
    let again = client
        .place_order(&body, Some("ada-1"))
        .await
        .expect("accepted");

    assert_eq!((first.replayed, again.replayed), (false, true));
    assert_eq!(again.accepted, first.accepted);
    assert_eq!(first.accepted.status, "PENDING");
    let id = first.accepted.order_id;
    let order = eventually("the order completes", async || {
        let order = client.order(id).await.expect("the order");
        (order.status == "COMPLETED").then_some(order)
    })
    .await;
    assert_eq!(order.customer_email, "ada@example.com");
    assert_eq!(order.items[0].quantity, 2);
    let completed_of_ada = ListQuery {
        customer_email: Some("ada@example.com".to_owned()),
        status: Some(OrderStatus::Completed),
        ..ListQuery::default()
    };
    let page = eventually("the read model lists it", async || {
        let page = client.list_orders(&completed_of_ada).await.expect("a page");
        (!page.orders.is_empty()).then_some(page)
    })
    .await;
    assert_eq!(page.orders, [order]);
    assert_eq!(page.next_cursor, None);
    let events = client.order_events(id).await.expect("its events");
    assert_eq!(events[0].message_type, "order.placed");
    assert_eq!(
        events.last().map(|e| e.message_type.as_str()),
        Some("order.completed")
    );
}

#[tokio::test]
async fn an_order_cancelled_through_the_client_in_time_answers_its_new_status() {
    // The payment gateway is slow, so the order cannot complete before the cancel arrives.
    let app = spawn_app_with(|config| config.settings.payment_latency_ms = 700).await;
    let bob = ApiClient::new(&app.base)
        .expect("a client")
        .with_token(app.customer_token("bob@example.com"));
    let placed = bob
        .place_order(&order_of("bob@example.com", "product-003", 1), None)
        .await
        .expect("accepted");

    let cancelled = bob
        .cancel_order(placed.accepted.order_id)
        .await
        .expect("cancelled in time");

    assert_eq!(cancelled.order_id, placed.accepted.order_id);
    assert_eq!(cancelled.status, "CANCELLED");
}

#[tokio::test]
async fn an_invalid_order_is_a_problem_that_names_every_field() {
    let app = spawn_app().await;
    let client = client_of(&app);
    let body = order_of("not-an-email", "product-001", 0);

    let error = client.place_order(&body, None).await.expect_err("invalid");

    let (status, problem) = problem(error);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem.code, "validation_failed");
    let fields: Vec<&str> = problem.errors.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["customer_email", "items[0].quantity"]);
}

#[tokio::test]
async fn an_unknown_order_and_a_cancel_too_late_are_problems_a_caller_can_tell_apart() {
    let app = spawn_app().await;
    let client = client_of(&app);
    let unknown = Uuid::now_v7();
    let completed = completed_order(&client, "cy@example.com").await;

    let (read_status, not_found) = problem(client.order(unknown).await.expect_err("unknown"));
    let (events_status, _) = problem(client.order_events(unknown).await.expect_err("unknown"));
    let (cancel_status, conflict) =
        problem(client.cancel_order(completed).await.expect_err("too late"));

    assert_eq!(
        (read_status, events_status, cancel_status),
        (
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            StatusCode::CONFLICT
        )
    );
    assert_eq!(not_found.code, "not_found");
    assert_eq!(not_found.detail, format!("no order with id {unknown}"));
    assert_eq!(conflict.code, "conflict");
}
