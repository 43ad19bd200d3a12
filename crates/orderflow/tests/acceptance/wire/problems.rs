//! Every problem+json shape the API answers with.

use std::time::Duration;

use serde_json::json;

use order_service::InFlightLimit;

use crate::helpers::{single, spawn_app, spawn_app_with};

const UNKNOWN_ORDER: &str = "01a2093b-0000-7000-8000-000000000000";

#[tokio::test]
async fn an_invalid_order_lists_every_field_problem_at_once() {
    let app = spawn_app().await;
    let body = json!({
        "customer_email": "not-an-email",
        "items": [
            {"product_id": "product-001", "quantity": 0},
            {"product_id": "product-404", "quantity": 1}
        ]
    });

    let invalid = app.seen_post_order(&body, None).await;

    assert_eq!(invalid.body()["errors"].as_array().map(Vec::len), Some(3));
    insta::assert_json_snapshot!("problem_invalid_order", invalid);
}

#[tokio::test]
async fn malformed_json_and_a_wrong_content_type_are_problems_of_the_body() {
    let app = spawn_app().await;
    let orders = "/api/v1/orders";

    let malformed = app
        .seen_post_raw(orders, "application/json", "{\"item_id\": ")
        .await;
    let wrong_type = app.seen_post_raw(orders, "text/plain", "{}").await;

    assert_eq!(malformed.body()["errors"][0]["field"], "body");
    insta::assert_json_snapshot!("problem_malformed_json", malformed);
    insta::assert_json_snapshot!("problem_wrong_content_type", wrong_type);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_refused() {
    let app = spawn_app().await;
    let key = Some("snapshot-key");

    let accepted = app.seen_post_order(&single("product-002", 1), key).await;
    let reused = app.seen_post_order(&single("product-002", 2), key).await;

    assert_eq!(accepted.body()["status"], "PENDING");
    insta::assert_json_snapshot!("problem_idempotency_key_reused", reused);
}

#[tokio::test]
async fn an_unknown_order_or_product_is_not_found() {
    let app = spawn_app().await;

    let unknown_order = app
        .seen_get(&format!("/api/v1/orders/{UNKNOWN_ORDER}"))
        .await;
    let not_a_uuid = app.seen_get("/api/v1/orders/not-a-uuid").await;
    let unknown_product = app.seen_get("/api/v1/products/product-404").await;
    let unknown_route = app.seen_get("/api/v1/nothing-here").await;

    assert_eq!(unknown_order.body()["status"], 404);
    insta::assert_json_snapshot!("problem_unknown_order", unknown_order);
    insta::assert_json_snapshot!("problem_order_id_not_a_uuid", not_a_uuid);
    insta::assert_json_snapshot!("problem_unknown_product", unknown_product);
    insta::assert_json_snapshot!("problem_unknown_route", unknown_route);
}

#[tokio::test]
async fn a_list_query_with_a_bad_cursor_status_or_limit_is_refused_by_field() {
    let app = spawn_app().await;

    let admin = app.admin_token.clone();
    let bad_cursor = app
        .seen_get_as(&admin, "/api/v1/orders?cursor=not-a-cursor")
        .await;
    let bad_status = app.seen_get_as(&admin, "/api/v1/orders?status=LOST").await;
    let bad_limit = app.seen_get_as(&admin, "/api/v1/orders?limit=0").await;
    let bad_query = app.seen_get_as(&admin, "/api/v1/orders?limit=many").await;

    assert_eq!(bad_cursor.body()["errors"][0]["field"], "cursor");
    insta::assert_json_snapshot!("problem_bad_cursor", bad_cursor);
    insta::assert_json_snapshot!("problem_bad_status_filter", bad_status);
    insta::assert_json_snapshot!("problem_bad_limit", bad_limit);
    insta::assert_json_snapshot!("problem_unparsable_query", bad_query);
}

#[tokio::test]
async fn an_admin_route_without_the_token_is_unauthorized() {
    let app = spawn_app().await;

    let unauthorized = app.seen_get("/api/v1/admin/dead-letters").await;

    assert_eq!(unauthorized.body()["code"], "unauthorized");
    insta::assert_json_snapshot!("problem_admin_without_token", unauthorized);
}

#[tokio::test]
async fn listing_without_a_token_or_with_a_bad_one_is_unauthorized() {
    let app = spawn_app().await;
    let expired = app.expired_token("ada@example.com");

    let anonymous = app.seen_get("/api/v1/orders").await;
    let with_expired = app.seen_get_as(&expired, "/api/v1/orders").await;
    let not_a_jwt = app.seen_get_as("not-a-jwt", "/api/v1/orders").await;

    assert_eq!(anonymous.body()["code"], "unauthorized");
    insta::assert_json_snapshot!("problem_list_without_token", anonymous);
    insta::assert_json_snapshot!("problem_expired_token", with_expired);
    insta::assert_json_snapshot!("problem_not_a_token", not_a_jwt);
}

#[tokio::test]
async fn a_customer_token_is_forbidden_on_the_admin_routes_and_the_updates_stream() {
    let app = spawn_app().await;
    let token = app.customer_token("ada@example.com");

    let admin_route = app.seen_get_as(&token, "/api/v1/admin/dead-letters").await;
    let updates = app.seen_get_as(&token, "/api/v1/order-updates").await;

    assert_eq!(updates.body()["code"], "forbidden");
    insta::assert_json_snapshot!("problem_customer_on_admin_route", admin_route);
}

#[tokio::test]
async fn a_customer_s_order_for_another_address_names_the_email_field() {
    let app = spawn_app().await;
    let token = app.customer_token("ada@example.com");

    let refused = app
        .seen_post_order_as(&token, &single("product-002", 1))
        .await;

    assert_eq!(refused.body()["errors"][0]["field"], "user_email");
    insta::assert_json_snapshot!("problem_order_for_another_customer", refused);
}

#[tokio::test]
async fn cancelling_a_completed_order_is_a_conflict() {
    let app = spawn_app().await;
    let id = app.place_accepted(&single("product-002", 1)).await;
    app.wait_until_terminal(&id, Duration::from_secs(5)).await;

    let admin = app.admin_token.clone();
    let refused = app
        .seen_post_as(&admin, &format!("/api/v1/orders/{id}/cancel"))
        .await;
    let unknown = app
        .seen_post_as(&admin, &format!("/api/v1/orders/{UNKNOWN_ORDER}/cancel"))
        .await;

    assert_eq!(refused.body()["code"], "conflict");
    insta::assert_json_snapshot!("problem_cancel_completed_order", refused);
    insta::assert_json_snapshot!("problem_cancel_unknown_order", unknown);
}

#[tokio::test]
async fn an_order_beyond_the_in_flight_limit_is_refused_as_overloaded_with_retry_after() {
    let app = spawn_app_with(|config| {
        config.settings.max_in_flight = InFlightLimit::Fixed(1);
    })
    .await;
    // A held charge keeps the first order in flight for the hold (10 s); nothing ends
    // meanwhile, so Retry-After is the admission target (3 s with the default deadlines).
    let held = json!({
        "item_id": "product-002", "quantity": 1, "user_email": "test@example.com",
        "payment_token": "tok_chargeHeld"
    });
    app.place_accepted(&held).await;

    let overloaded = app
        .seen_post_order(&single("product-002", 1), Some("overloaded-key"))
        .await;

    assert_eq!(overloaded.header("retry-after"), Some("3"));
    insta::assert_json_snapshot!("problem_overloaded", overloaded);
}

#[tokio::test]
async fn the_edges_own_refusals_are_problems_too() {
    let app = spawn_app_with(|config| {
        config.http.rate_limit = 1;
        config.http.rate_limit_burst = 4;
    })
    .await;
    let too_large = "x".repeat(300 * 1024);

    let method = app.seen(app.http.delete(app.url("/api/v1/orders"))).await;
    let body = app
        .seen(
            app.http
                .post(app.url("/api/v1/orders"))
                .header("content-type", "application/json")
                .body(too_large),
        )
        .await;
    let mixed = app
        .seen_post_order(
            &json!({"item_id": "product-001", "quantity": 1, "user_email": "a@b.co",
                    "items": [{"product_id": "product-002", "quantity": 1}]}),
            None,
        )
        .await;
    let mut refused = app.seen_get("/health/live").await;
    while refused.body()["status"] == "ok" {
        refused = app.seen_get("/health/live").await;
    }

    assert!(method.header("allow").is_some());
    insta::assert_json_snapshot!("problem_method_not_allowed", method);
    insta::assert_json_snapshot!("problem_body_too_large", body);
    insta::assert_json_snapshot!("problem_both_body_shapes", mixed);
    insta::assert_json_snapshot!("problem_too_many_requests", refused);
}
