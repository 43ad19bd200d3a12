//! The bodies of successful answers: an accepted order, its replay, order views, a list page,
//! a product and an order's events.

use std::time::Duration;

use serde_json::json;

use super::{Seen, unless_null};
use crate::helpers::{single, spawn_app, spawn_app_with};

const PATIENCE: Duration = Duration::from_secs(5);

fn order_id(accepted: &Seen) -> String {
    accepted.body()["order_id"]
        .as_str()
        .expect("order id")
        .to_owned()
}

#[tokio::test]
async fn an_accepted_order_answers_202_with_its_id_and_location_in_either_body_shape() {
    let app = spawn_app().await;
    let multi = json!({
        "customer_email": "ada@example.com",
        "items": [{"product_id": "product-001", "quantity": 1}, {"product_id": "product-003", "quantity": 2}]
    });

    let single_item = app.seen_post_order(&single("product-002", 1), None).await;
    let multi_item = app.seen_post_order(&multi, None).await;

    for (name, accepted) in [
        ("accepted_single_item", single_item),
        ("accepted_multi_item", multi_item),
    ] {
        let location = format!("/api/v1/orders/{}", order_id(&accepted));
        assert_eq!(accepted.header("location"), Some(location.as_str()));
        insta::assert_json_snapshot!(name, accepted, {
            ".body.order_id" => "[order_id]",
            ".headers.location" => "/api/v1/orders/[order_id]",
        });
    }
}

#[tokio::test]
async fn a_replay_under_the_same_idempotency_key_answers_the_same_and_says_it_is_a_replay() {
    let app = spawn_app().await;
    let body = single("product-002", 1);

    let first = app.seen_post_order(&body, Some("snapshot-key")).await;
    let replay = app.seen_post_order(&body, Some("snapshot-key")).await;

    assert_eq!(first.body(), replay.body());
    assert_eq!(first.header("location"), replay.header("location"));
    insta::assert_json_snapshot!("accepted_replay", replay, {
        ".body.order_id" => "[order_id]",
        ".headers.location" => "/api/v1/orders/[order_id]",
    });
}

#[tokio::test]
async fn a_cancel_in_time_answers_202_with_the_order_s_new_status() {
    // The gateway is slow, so the order cannot complete before the cancel arrives.
    let app = spawn_app_with(|config| config.settings.payment_latency_ms = 700).await;
    let id = app.place_accepted(&single("product-003", 1)).await;

    let token = app.customer_token("test@example.com");
    let cancelled = app
        .seen_post_as(&token, &format!("/api/v1/orders/{id}/cancel"))
        .await;

    assert_eq!(cancelled.body()["order_id"], id.as_str());
    insta::assert_json_snapshot!("cancel_accepted", cancelled, {
        ".body.order_id" => "[order_id]",
    });
}

#[tokio::test]
async fn a_completed_order_shows_its_lines_total_and_saga_history() {
    let app = spawn_app().await;
    let id = app.place_accepted(&single("product-002", 5)).await;
    app.wait_until_terminal(&id, PATIENCE).await;
    app.wait_until_listed_terminal("test@example.com", 1).await;

    let completed = app.seen_get(&format!("/api/v1/orders/{id}")).await;

    assert_eq!(completed.body()["status"], "COMPLETED");
    insta::assert_json_snapshot!("order_completed", completed, {
        ".body.order_id" => "[order_id]",
        ".body.created_at" => "[timestamp]",
        ".body.updated_at" => "[timestamp]",
        ".body.history[].at" => "[timestamp]",
    });
}

#[tokio::test]
async fn an_order_cancelled_for_want_of_stock_shows_its_reason() {
    let app = spawn_app().await;
    let id = app.place_accepted(&single("product-001", 1000)).await;
    app.wait_until_terminal(&id, PATIENCE).await;
    app.wait_until_listed_terminal("test@example.com", 1).await;

    let cancelled = app.seen_get(&format!("/api/v1/orders/{id}")).await;

    assert_eq!(cancelled.body()["status"], "CANCELLED");
    insta::assert_json_snapshot!("order_cancelled_insufficient_stock", cancelled, {
        ".body.order_id" => "[order_id]",
        ".body.created_at" => "[timestamp]",
        ".body.updated_at" => "[timestamp]",
        ".body.history[].at" => "[timestamp]",
    });
}

#[tokio::test]
async fn a_customer_s_orders_are_listed_newest_first_in_pages_with_a_cursor() {
    let app = spawn_app().await;
    let customer = "grace@example.com";
    let first = json!({ "item_id": "product-002", "quantity": 1, "user_email": customer });
    let second = json!({ "item_id": "product-001", "quantity": 1000, "user_email": customer });
    for body in [first, second] {
        let id = app.place_accepted(&body).await;
        app.wait_until_terminal(&id, PATIENCE).await;
    }
    app.wait_until_listed_terminal(customer, 2).await;

    let token = app.customer_token(customer);
    let whole = app.seen_get_as(&token, "/api/v1/orders").await;
    let first_page = app.seen_get_as(&token, "/api/v1/orders?limit=1").await;

    assert!(whole.body()["next_cursor"].is_null());
    assert!(first_page.body()["next_cursor"].is_string());
    let snapshot_page = |name: &str, page: Seen| {
        insta::assert_json_snapshot!(name, page, {
            ".body.orders[].order_id" => "[order_id]",
            ".body.orders[].created_at" => "[timestamp]",
            ".body.orders[].updated_at" => "[timestamp]",
            ".body.orders[].history[].at" => "[timestamp]",
            ".body.next_cursor" => unless_null("[cursor]"),
        });
    };
    snapshot_page("order_list_whole", whole);
    snapshot_page("order_list_first_page", first_page);
}

#[tokio::test]
async fn a_product_shows_its_price_and_the_stock_available_now() {
    let app = spawn_app().await;

    let product = app.seen_get("/api/v1/products/product-002").await;

    assert_eq!(product.body()["id"], "product-002");
    insta::assert_json_snapshot!("product", product);
}

#[tokio::test]
async fn an_order_s_events_are_its_versioned_envelopes_oldest_first() {
    let app = spawn_app().await;
    let id = app.place_accepted(&single("product-002", 2)).await;
    app.wait_until_terminal(&id, PATIENCE).await;

    let events = app.seen_get(&format!("/api/v1/orders/{id}/events")).await;

    assert_eq!(events.body()[0]["correlation_id"], id.as_str());
    assert!(
        !events.body().to_string().contains("tok_"),
        "no payment token is shown: {}",
        events.body()
    );
    insta::assert_json_snapshot!("order_events", events, {
        ".body[].message_id" => "[message_id]",
        ".body[].correlation_id" => "[order_id]",
        ".body[].causation_id" => unless_null("[message_id]"),
        ".body[].occurred_at" => "[timestamp]",
        ".body[].payload.order_id" => "[order_id]",
        ".body[].payload.payment_id" => "[payment_id]",
        ".body[].payload.placed_at" => "[timestamp]",
        ".body[].payload.payment_reference" => "[payment_reference]",
        ".body[].payload.reserved_at" => "[timestamp]",
        ".body[].payload.paid_at" => "[timestamp]",
        ".body[].payload.completed_at" => "[timestamp]",
    });
}
