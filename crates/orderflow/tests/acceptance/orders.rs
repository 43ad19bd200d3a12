use std::time::Duration;

use serde_json::json;

use crate::helpers::{assert_conserved, single, spawn_app};

#[tokio::test]
async fn an_order_is_accepted_and_completes_with_stock_taken_and_one_email_sent() {
    let app = spawn_app().await;

    let (status, answer) = app.place_order(&single("product-002", 5)).await;

    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["message"], "Order accepted for processing");
    assert_eq!(answer["status"], "PENDING");
    let id = answer["order_id"].as_str().expect("order id");
    let order = app.wait_until_terminal(id, Duration::from_secs(2)).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    assert_eq!(order["total"], "129.95");
    assert_eq!(order["items"][0]["name"], "Mouse");
    let steps: Vec<_> = order["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["step"].clone())
        .collect();
    assert_eq!(
        steps,
        [
            "order.placed",
            "order.inventory_reserved",
            "order.paid",
            "order.completed"
        ]
    );
    let (_, mouse) = app.get_json("/api/v1/products/product-002").await;
    assert_eq!(mouse["available"], 495);
    let stock = app.settled_stock("product-002").await;
    assert_eq!(stock["sold"], 5);
    assert_conserved(&stock);
    // The email follows the completion through its own queue.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while app.notifications_for(id).await.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = app.notifications_for(id).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["recipient"], "test@example.com");
}

#[tokio::test]
async fn the_multi_item_shape_prices_every_line_from_the_catalog() {
    let app = spawn_app().await;
    let body = json!({
        "customer_email": "ada@example.com",
        "items": [{"product_id": "product-001", "quantity": 1}, {"product_id": "product-003", "quantity": 2}],
        "unit_price": "0.01"
    });

    let id = app.place_accepted(&body).await;

    let order = app.wait_until_terminal(&id, Duration::from_secs(2)).await;
    assert_eq!(order["status"], "COMPLETED");
    assert_eq!(order["total"], "1159.97");
    assert_eq!(order["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn an_accepted_order_is_readable_at_once_and_its_events_are_its_audit_trail() {
    let app = spawn_app().await;

    let id = app.place_accepted(&single("product-003", 1)).await;

    // No waiting: the read model may lag, the answer may not be a 404.
    let (status, order) = app.get_json(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(status, 200, "{order}");
    app.wait_until_terminal(&id, Duration::from_secs(2)).await;
    let (status, events) = app.get_json(&format!("/api/v1/orders/{id}/events")).await;
    assert_eq!(status, 200);
    let types: Vec<_> = events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            "order.placed",
            "order.inventory_reserved",
            "order.paid",
            "order.completed"
        ]
    );
    assert_eq!(events[0]["schema_version"], 3);
    assert_eq!(events[0]["correlation_id"], id.as_str());
}

#[tokio::test]
async fn an_unknown_order_is_a_problem_404() {
    let app = spawn_app().await;

    for path in [
        "/api/v1/orders/01a2093b-0000-7000-8000-000000000000",
        "/api/v1/orders/not-a-uuid",
    ] {
        let response = app.http.get(app.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_get_the_same_answer_and_one_order() {
    let app = spawn_app().await;
    let post = |body: serde_json::Value| {
        app.http
            .post(app.url("/api/v1/orders"))
            .header("Idempotency-Key", "key-1")
            .json(&body)
            .send()
    };

    let first: serde_json::Value = post(single("product-002", 1))
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let again = post(single("product-002", 1)).await.expect("post");
    assert_eq!(again.status(), 202);
    let again: serde_json::Value = again.json().await.expect("json");
    let other = post(single("product-002", 2)).await.expect("post");

    assert_eq!(first, again);
    assert_eq!(other.status(), 422);
    let problem: serde_json::Value = other.json().await.expect("json");
    assert_eq!(problem["code"], "idempotency_key_reused", "{problem}");
    let (_, page) = app.get_json_as(&app.admin_token, "/api/v1/orders").await;
    app.wait_until_terminal(
        first["order_id"].as_str().expect("id"),
        Duration::from_secs(2),
    )
    .await;
    let (_, page_after) = app.get_json_as(&app.admin_token, "/api/v1/orders").await;
    assert!(page["orders"].as_array().expect("orders").len() <= 1);
    assert_eq!(page_after["orders"].as_array().expect("orders").len(), 1);
}

#[tokio::test]
async fn orders_are_listed_newest_first_filtered_and_paged_with_a_cursor() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for email in [
        "a@example.com",
        "b@example.com",
        "a@example.com",
        "a@example.com",
    ] {
        let body = json!({ "item_id": "product-002", "quantity": 1, "user_email": email });
        ids.push(app.place_accepted(&body).await);
    }
    for id in &ids {
        app.wait_until_terminal(id, Duration::from_secs(2)).await;
    }

    let admin = app.admin_token.clone();
    let (_, first) = app
        .get_json_as(
            &admin,
            "/api/v1/orders?customer_email=a@example.com&status=COMPLETED&limit=2",
        )
        .await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = app
        .get_json_as(
            &admin,
            &format!("/api/v1/orders?customer_email=a@example.com&limit=2&cursor={cursor}"),
        )
        .await;

    let listed: Vec<_> = first["orders"]
        .as_array()
        .into_iter()
        .chain(second["orders"].as_array())
        .flatten()
        .map(|o| o["order_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(listed, [ids[3].clone(), ids[2].clone(), ids[0].clone()]);
    assert!(second["next_cursor"].is_null());
    let (status, problem) = app.get_json_as(&admin, "/api/v1/orders?status=LOST").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "status");
}

#[tokio::test]
async fn admin_endpoints_refuse_a_missing_or_wrong_token() {
    let app = spawn_app().await;

    let missing = app
        .http
        .get(app.url("/api/v1/admin/dead-letters"))
        .send()
        .await
        .expect("get");
    let wrong = app
        .http
        .get(app.url("/api/v1/admin/stock"))
        .bearer_auth("nope")
        .send()
        .await
        .expect("get");

    assert_eq!(missing.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn stock_adjustments_restock_and_refuse_to_go_below_zero() {
    let app = spawn_app().await;
    let adjust = |delta: i64| {
        app.http
            .post(app.url("/api/v1/admin/products/product-003/stock"))
            .bearer_auth(&app.admin_token)
            .json(&json!({ "delta": delta }))
            .send()
    };

    let restocked = adjust(25).await.expect("post");
    let too_much = adjust(-1000).await.expect("post");

    assert_eq!(restocked.status(), 200);
    assert_eq!(too_much.status(), 422);
    let stock = app.settled_stock("product-003").await;
    assert_eq!(stock["available"], 325);
    assert_eq!(stock["restocked"], 25);
    assert_conserved(&stock);
}

#[tokio::test]
async fn health_openapi_docs_and_metrics_are_served() {
    let app = spawn_app().await;

    let (live, _) = app.get_json("/health/live").await;
    let (ready, readiness) = app.get_json("/health/ready").await;
    let (openapi_status, openapi) = app.get_json("/openapi.json").await;
    let docs = app.http.get(app.url("/docs/")).send().await.expect("docs");

    assert_eq!(live, 200);
    assert_eq!(ready, 200, "{readiness}");
    assert_eq!(openapi_status, 200);
    assert!(
        openapi["paths"]["/api/v1/orders"]["post"].is_object(),
        "{openapi}"
    );
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.expect("html").contains("swagger"),
        "a browsable page"
    );
}
