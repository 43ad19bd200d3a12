use serde_json::json;

use crate::helpers::{single, spawn_app};

#[tokio::test]
async fn an_unknown_product_is_rejected_by_name_and_nothing_is_stored() {
    let app = spawn_app().await;

    let (status, problem) = app.place_order(&single("invalid-product", 1)).await;

    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "items[0].product_id");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("invalid-product")
    );
    let (_, page) = app.get_json_as(&app.admin_token, "/api/v1/orders").await;
    assert_eq!(page["orders"], json!([]));
    let stock = app.stock("product-001").await;
    assert_eq!(stock["available"], 100);
}

#[tokio::test]
async fn every_problem_of_an_order_is_listed_at_once() {
    let app = spawn_app().await;
    let body = json!({
        "customer_email": "not-an-email",
        "items": [
            {"product_id": "nope", "quantity": 1},
            {"product_id": "product-001", "quantity": 0},
            {"product_id": "product-002", "quantity": 1001}
        ]
    });

    let (status, problem) = app.place_order(&body).await;

    assert_eq!(status, 422);
    assert_eq!(problem["code"], "validation_failed");
    let fields: Vec<_> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(
        fields,
        [
            "customer_email",
            "items[0].product_id",
            "items[1].quantity",
            "items[2].quantity"
        ]
    );
}

#[tokio::test]
async fn empty_or_malformed_orders_are_rejected_with_problem_json() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"customer_email": "a@example.com", "items": []}),
            "items",
        ),
        (json!({"customer_email": "a@example.com"}), "items"),
        (
            json!({"item_id": "product-001", "quantity": "two", "user_email": "a@example.com"}),
            "quantity",
        ),
        (
            json!({"item_id": "product-001", "quantity": 1}),
            "user_email",
        ),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        let (status, problem) = app.place_order(&body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
}

#[tokio::test]
async fn malformed_json_and_a_wrong_content_type_are_named() {
    let app = spawn_app().await;
    let post = |content_type: &'static str, body: &'static str| {
        app.http
            .post(app.url("/api/v1/orders"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = post("application/json", "{\"item_id\": ")
        .await
        .expect("post");
    let wrong_type = post("text/plain", "{}").await.expect("post");

    for (response, field) in [(malformed, "body"), (wrong_type, "content-type")] {
        assert_eq!(response.status(), 422);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: serde_json::Value = response.json().await.expect("json");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
}

#[tokio::test]
async fn duplicate_product_lines_are_merged_into_one() {
    let app = spawn_app().await;
    let body = json!({
        "customer_email": "a@example.com",
        "items": [{"product_id": "product-002", "quantity": 2}, {"product_id": "product-002", "quantity": 3}]
    });

    let id = app.place_accepted(&body).await;

    let order = app.order(&id).await;
    assert_eq!(order["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(order["items"][0]["quantity"], 5);
}
