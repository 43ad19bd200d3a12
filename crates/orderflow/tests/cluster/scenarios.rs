use std::time::Duration;

use serde_json::json;

use crate::harness::{ADMIN_TOKEN, Cluster};

fn single(item: &str, quantity: i64) -> serde_json::Value {
    json!({ "item_id": item, "quantity": quantity, "user_email": "test@example.com" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_core_scenario_holds_through_the_gateway_of_the_local_cluster() {
    // A slow gateway keeps orders in INVENTORY_RESERVED long enough to cancel one.
    let cluster = Cluster::start(1, &[("ORDERFLOW_PAYMENT_LATENCY_MS", "400")]).await;

    // An order completes; stock is taken; one email is sent.
    let (status, accepted) = cluster.place(&single("product-002", 5)).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["message"], "Order accepted for processing");
    let completed = accepted["order_id"].as_str().expect("id").to_owned();
    let order = cluster
        .wait_until_terminal(&completed, Duration::from_secs(10))
        .await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    let (_, mouse) = cluster.get("/api/v1/products/product-002").await;
    assert_eq!(mouse["available"], 495);

    // More than the stock: cancelled with a reason; stock unchanged.
    let (_, accepted) = cluster.place(&single("product-001", 1000)).await;
    let order = cluster
        .wait_until_terminal(
            accepted["order_id"].as_str().expect("id"),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        order["cancellation_reason"],
        "insufficient stock for product-001: requested 1000, available 100"
    );

    // Unknown product: 422 naming it.
    let (status, problem) = cluster.place(&single("invalid-product", 1)).await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("invalid-product")
    );

    // Declined card: cancelled, no successful charge.
    let declined = json!({
        "item_id": "product-003", "quantity": 1, "user_email": "test@example.com",
        "payment_token": "tok_chargeDeclined"
    });
    let (_, accepted) = cluster.place(&declined).await;
    let declined_id = accepted["order_id"].as_str().expect("id").to_owned();
    let order = cluster
        .wait_until_terminal(&declined_id, Duration::from_secs(10))
        .await;
    assert_eq!(
        order["cancellation_reason"],
        "payment failed: card declined"
    );

    // Cancel before completion: cancelled, stock released, the late charge refunded.
    let (_, accepted) = cluster.place(&single("product-003", 2)).await;
    let cancelled = accepted["order_id"].as_str().expect("id").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cluster.get(&format!("/api/v1/orders/{cancelled}")).await.1["status"]
        != "INVENTORY_RESERVED"
    {
        assert!(tokio::time::Instant::now() < deadline, "never reserved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let customer = Cluster::customer_token("test@example.com");
    let stranger = Cluster::customer_token("stranger@example.com");
    let cancel_path = format!("/api/v1/orders/{cancelled}/cancel");
    let (refused, _) = cluster.post_as(&stranger, &cancel_path, None).await;
    assert_eq!(refused, 404, "another customer's order is not found");
    let (status, answer) = cluster.post_as(&customer, &cancel_path, None).await;
    assert_eq!(status, 202, "{answer}");
    let order = cluster
        .wait_until_terminal(&cancelled, Duration::from_secs(10))
        .await;
    assert_eq!(order["status"], "CANCELLED");

    // A customer lists only their own orders, through the gateway and the query process.
    let ada = Cluster::customer_token("ada@example.com");
    let without_email = json!({ "item_id": "product-002", "quantity": 1 });
    let (status, accepted) = cluster
        .post_as(&ada, "/api/v1/orders", Some(&without_email))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let adas = accepted["order_id"].as_str().expect("id").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let listed = loop {
        let (status, page) = cluster.get_as(&ada, "/api/v1/orders?q=@").await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<String> = (page["orders"].as_array().expect("orders").iter())
            .map(|order| order["order_id"].as_str().expect("id").to_owned())
            .collect();
        if !ids.is_empty() || tokio::time::Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(listed, [adas]);
    let (_, all) = cluster
        .get_as(ADMIN_TOKEN, "/api/v1/orders?limit=100")
        .await;
    assert!(all["orders"].as_array().expect("orders").len() > 1, "{all}");
    let (anonymous, _) = cluster.get("/api/v1/orders").await;
    assert_eq!(anonymous, 401);

    // Idempotency through the gateway.
    let post = |key: &'static str, body: serde_json::Value| {
        cluster
            .http
            .post(format!("{}/api/v1/orders", cluster.gateway))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first: serde_json::Value = post("k1", single("product-002", 1))
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let again: serde_json::Value = post("k1", single("product-002", 1))
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let other = post("k1", single("product-002", 2)).await.expect("post");
    assert_eq!(first, again);
    assert_eq!(other.status(), 422);
    cluster
        .wait_until_terminal(
            first["order_id"].as_str().expect("id"),
            Duration::from_secs(10),
        )
        .await;

    // Everything settles: stock conserved, the refund and the release landed, one email each.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let payments = cluster.payments().await;
        let status_of = |id: &str| {
            payments
                .iter()
                .find(|(order, _)| order == id)
                .map(|(_, s)| s.clone())
        };
        if status_of(&cancelled).as_deref() == Some("refunded") {
            assert_eq!(status_of(&declined_id).as_deref(), Some("failed"));
            assert_eq!(status_of(&completed).as_deref(), Some("succeeded"));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "late charge never refunded: {payments:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for level in cluster.settled_stock().await {
        let n = |f: &str| level[f].as_i64().expect("number");
        assert_eq!(n("reserved"), 0, "{level}");
        assert_eq!(
            n("available") + n("sold"),
            n("initial") + n("restocked"),
            "{level}"
        );
    }
    let mouse = cluster
        .settled_stock()
        .await
        .into_iter()
        .find(|l| l["product_id"] == "product-002")
        .expect("mouse");
    assert_eq!(mouse["sold"], 7, "5 + 1 + ada's 1");
    let sent = cluster
        .admin(&format!("/api/v1/admin/notifications?order_id={completed}"))
        .await;
    assert_eq!(sent.as_array().map(Vec::len), Some(1), "{sent}");
    let (status, ready) = cluster.get("/health/ready").await;
    assert_eq!(status, 200, "{ready}");
    // The gateway's metrics count every queue's messages and consumers, as RabbitMQ does.
    let metrics = (cluster
        .http
        .get(format!("{}/metrics", cluster.gateway))
        .send()
        .await)
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    for queue in [
        "order",
        "inventory",
        "payment",
        "notification",
        "query",
        "analytics",
    ] {
        let consumers = metrics
            .lines()
            .find_map(|line| {
                line.strip_prefix(&format!("orderflow_queue_consumers{{queue=\"{queue}\"}} "))
            })
            .and_then(|value| value.parse::<f64>().ok());
        assert!(
            consumers >= Some(1.0),
            "{queue}: {consumers:?} consumers in {metrics}"
        );
        assert!(
            metrics.contains(&format!("orderflow_queue_depth{{queue=\"{queue}\"}} ")),
            "{queue} depth missing from {metrics}"
        );
    }
    let status_lines = cluster.script("status").await;
    assert_eq!(
        status_lines
            .lines()
            .filter(|l| l.ends_with("running"))
            .count(),
        7,
        "{status_lines}"
    );

    cluster.remove().await;
}
