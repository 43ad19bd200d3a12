use std::time::Duration;

use futures_util::future::join_all;
use payment_domain::PaymentStatus;
use serde_json::json;

use crate::helpers::{assert_conserved, single, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_order_for_more_than_the_stock_is_cancelled_with_a_reason_and_stock_unchanged() {
    let app = spawn_app().await;

    let id = app.place_accepted(&single("product-001", 1000)).await;

    let order = app.wait_until_terminal(&id, Duration::from_secs(2)).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(
        order["cancellation_reason"],
        "insufficient stock for product-001: requested 1000, available 100"
    );
    let stock = app.settled_stock("product-001").await;
    assert_eq!(
        (stock["available"].as_i64(), stock["reserved"].as_i64()),
        (Some(100), Some(0))
    );
    assert_eq!(app.payment_status(&id).await, None, "never charged");
}

#[tokio::test]
async fn a_declined_card_cancels_the_order_and_releases_its_stock() {
    let app = spawn_app().await;
    let body = json!({
        "item_id": "product-001", "quantity": 3, "user_email": "test@example.com",
        "payment_token": "tok_chargeDeclined"
    });

    let id = app.place_accepted(&body).await;

    let order = app.wait_until_terminal(&id, Duration::from_secs(2)).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(
        order["cancellation_reason"],
        "payment failed: card declined"
    );
    assert_eq!(app.payment_status(&id).await, Some(PaymentStatus::Failed));
    let stock = app.settled_stock("product-001").await;
    assert_eq!(
        (stock["available"].as_i64(), stock["reserved"].as_i64()),
        (Some(100), Some(0))
    );
}

#[tokio::test]
async fn a_customer_cancel_before_completion_releases_stock_and_refunds_the_late_charge() {
    // The gateway is slow, so the order waits in INVENTORY_RESERVED while the charge is out.
    let app = spawn_app_with(|config| config.settings.payment_latency_ms = 700).await;
    let id = app.place_accepted(&single("product-003", 2)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while app.order(&id).await["status"] != "INVENTORY_RESERVED" {
        assert!(tokio::time::Instant::now() < deadline, "never reserved");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let token = app.customer_token("test@example.com");
    let (status, answer) = app
        .post_as(&token, &format!("/api/v1/orders/{id}/cancel"))
        .await;

    assert_eq!(status, 202, "{answer}");
    let order = app.wait_until_terminal(&id, Duration::from_secs(2)).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["cancellation_reason"], "cancelled by the customer");
    // The charge lands after the cancel; the saga refunds it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.payment_status(&id).await != Some(PaymentStatus::Refunded) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "late charge never refunded: {:?}",
            app.payment_status(&id).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stock = app.settled_stock("product-003").await;
    assert_eq!(
        (
            stock["available"].as_i64(),
            stock["reserved"].as_i64(),
            stock["sold"].as_i64()
        ),
        (Some(300), Some(0), Some(0))
    );
    assert_eq!(
        order["history"]
            .as_array()
            .expect("history")
            .last()
            .expect("step")["step"],
        "order.cancelled"
    );
}

#[tokio::test]
async fn a_completed_order_cannot_be_cancelled_and_a_cancelled_one_stays_cancelled() {
    let app = spawn_app().await;
    let completed = app.place_accepted(&single("product-002", 1)).await;
    app.wait_until_terminal(&completed, Duration::from_secs(2))
        .await;

    let (refused, _) = app.cancel(&completed).await;
    let (unknown, _) = app.cancel("01a2093b-0000-7000-8000-000000000000").await;

    assert_eq!(refused, 409);
    assert_eq!(unknown, 404);
    assert_eq!(app.order(&completed).await["status"], "COMPLETED");
}

#[tokio::test]
async fn a_payment_that_misses_its_deadline_cancels_the_order_and_the_late_charge_is_refunded() {
    let app = spawn_app_with(|config| {
        config.settings.payment_latency_ms = 600;
        config.settings.payment_deadline_ms = 150;
    })
    .await;

    let id = app.place_accepted(&single("product-002", 4)).await;

    let order = app.wait_until_terminal(&id, Duration::from_secs(3)).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(
        order["cancellation_reason"],
        "timed out waiting for the payment"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.payment_status(&id).await != Some(PaymentStatus::Refunded) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "late charge never refunded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stock = app.settled_stock("product-002").await;
    assert_eq!(
        (stock["available"].as_i64(), stock["reserved"].as_i64()),
        (Some(500), Some(0))
    );
}

#[tokio::test]
async fn transient_gateway_failures_are_retried_until_the_charge_goes_through() {
    let app = spawn_app_with(|config| config.settings.payment_failure_rate = 0.5).await;

    let ids = {
        let body = single("product-002", 1);
        join_all((0..10).map(|_| app.place_accepted(&body))).await
    };

    for id in &ids {
        let order = app.wait_until_terminal(id, Duration::from_secs(20)).await;
        assert_eq!(order["status"], "COMPLETED", "{order}");
    }
    let dead = app.admin_get("/api/v1/admin/dead-letters").await;
    assert_eq!(dead, json!([]), "an outage is not the message's fault");
}

#[tokio::test]
async fn two_hundred_concurrent_orders_for_a_hundred_laptops_sell_exactly_a_hundred() {
    let app = spawn_app().await;

    let ids = {
        let body = single("product-001", 1);
        join_all((0..200).map(|_| app.place_accepted(&body))).await
    };

    let mut completed = 0;
    let mut cancelled = 0;
    for id in &ids {
        match app.wait_until_terminal(id, Duration::from_secs(60)).await["status"].as_str() {
            Some("COMPLETED") => completed += 1,
            Some("CANCELLED") => cancelled += 1,
            other => panic!("not terminal: {other:?}"),
        }
    }
    assert_eq!((completed, cancelled), (100, 100));
    let stock = app.settled_stock("product-001").await;
    assert_eq!(
        (
            stock["available"].as_i64(),
            stock["reserved"].as_i64(),
            stock["sold"].as_i64()
        ),
        (Some(0), Some(0), Some(100))
    );
    assert_conserved(&stock);
    let captured = app
        .payments()
        .await
        .iter()
        .filter(|p| p.status == PaymentStatus::Succeeded)
        .count();
    assert_eq!(captured, 100);
}
