//! `orderflow bench` against the embedded system, briefly: not how fast, but that every order
//! it places ends, that its report agrees with the server's counters, that the databases stay
//! consistent, and that the stream of order updates it follows carries an order to its end.

use std::time::Duration;

use api::{OrderStatus, StockAdjustment, UpdateNotice};
use api_client::ApiClient;
use order_service::InFlightLimit;
use orderflow::bench::{Load, Mix, Plan, Stop, bench};
use orderflow::verify::{Options, verify_embedded};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

/// The value of a counter in `/metrics` text, summed over its labels; 0 when absent.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(name) && !line.starts_with(&format!("{name}_")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_mixed_bench_of_300_orders_sees_every_order_end_and_leaves_the_databases_consistent() {
    let app = spawn_app().await;
    let client = ApiClient::new(&app.base)
        .expect("client")
        .with_admin_token(app.admin_token.clone());
    for product in ["product-002", "product-003"] {
        client
            .adjust_stock(product, StockAdjustment { delta: 1000 })
            .await
            .expect("restock");
    }
    let before = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    let before = before.text().await.expect("metrics text");
    let plan = Plan {
        load: Load::Closed { concurrency: 8 },
        stop: Stop::Orders(300),
        mix: Mix {
            decline_share: 0.1,
            insufficient_share: 0.1,
            multi_item_share: 0.2,
        },
        patience: Duration::from_secs(60),
        progress: false,
        retry_refused: false,
    };

    let report = bench(&client, &plan).await.expect("bench runs");

    assert_eq!(report.accepted, 300, "{report}");
    assert!(report.every_order_ended(), "{report}");
    assert!(
        report.cancelled >= 30,
        "declined and insufficient orders are cancelled: {report}"
    );
    assert_eq!(report.terminal_latency.count, 300, "{report}");
    assert_eq!(report.accepted_to_terminal_latency.count, 300, "{report}");
    assert_eq!(report.refused_latency.count, 0, "{report}");
    assert!(report.overhead.stream_messages >= 600, "{report}");
    let after = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    let after = after.text().await.expect("metrics text");
    // Other tests of this binary share the process's counters: they can only add to them.
    let grew = |name| counter(&after, name) - counter(&before, name);
    assert!(grew("orderflow_orders_placed_total") >= 300.0, "{after}");
    assert!(
        grew("orderflow_orders_completed_total") >= report.completed as f64,
        "{after}"
    );
    assert!(
        grew("orderflow_orders_cancelled_total") >= report.cancelled as f64,
        "{after}"
    );
    assert!(after.contains("orderflow_order_seconds_bucket"), "{after}");
    for step in [
        r#"orderflow_saga_step_seconds_bucket{step="stock",outcome="reserved""#,
        r#"orderflow_saga_step_seconds_bucket{step="stock",outcome="insufficient""#,
        r#"orderflow_saga_step_seconds_bucket{step="payment",outcome="succeeded""#,
        r#"orderflow_saga_step_seconds_bucket{step="payment",outcome="failed""#,
        r#"orderflow_message_handle_seconds_bucket{queue="inventory""#,
        r#"orderflow_ready{check="order-database"} 1"#,
        r#"orderflow_outbox_lag{service="order"}"#,
        r#"orderflow_queue_depth{queue="payment"}"#,
        r#"orderflow_queue_consumers{queue="inventory"} 2"#,
    ] {
        assert!(after.contains(step), "{step} missing from {after}");
    }
    assert_consistent(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_server_s_refusals_are_counted_by_status_with_a_latency_of_their_own() {
    let app = spawn_app_with(|config| {
        config.settings.max_in_flight = InFlightLimit::Fixed(5);
        config.settings.payment_latency_ms = 200;
    })
    .await;
    let client = ApiClient::new(&app.base)
        .expect("client")
        .with_admin_token(app.admin_token.clone());
    // 100 orders in 1 s, and 5 in flight at most of orders that take 200 ms each to pay.
    let plan = Plan {
        load: Load::Open { rate: 100.0 },
        stop: Stop::Orders(100),
        mix: Mix {
            decline_share: 0.0,
            insufficient_share: 0.0,
            multi_item_share: 0.0,
        },
        patience: Duration::from_secs(60),
        progress: false,
        retry_refused: false,
    };

    let report = bench(&client, &plan).await.expect("bench runs");

    let refused = report.rejected.get("503").copied().unwrap_or(0);
    assert!(refused > 0, "{report}");
    assert_eq!(report.rejected.values().sum::<u64>(), refused, "{report}");
    assert_eq!(report.accepted + refused, 100, "{report}");
    assert_eq!(report.refused_latency.count, refused, "{report}");
    assert_eq!(report.post_latency.count, report.accepted, "{report}");
    assert_eq!(
        report.accepted_to_terminal_latency.count, report.accepted,
        "{report}"
    );
    assert!(report.every_order_ended(), "{report}");
    assert_eq!(report.completed, report.accepted, "{report}");
}

/// Verify finds nothing wrong once the last compensations and views have landed.
async fn assert_consistent(app: &crate::helpers::TestApp) {
    let options = Options {
        deadline_grace: Duration::ZERO,
        settle: Duration::ZERO,
        ..Options::default()
    };
    let mut report = None;
    for _ in 0..60 {
        let checked = verify_embedded(app._data_dir.path(), &options)
            .await
            .expect("verify runs");
        if checked.is_clean() {
            return;
        }
        report = Some(checked);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("verify is not clean: {report:?}");
}

#[tokio::test]
async fn an_order_placed_after_subscribing_is_streamed_from_placement_to_its_end() {
    let app = spawn_app().await;
    let client = ApiClient::new(&app.base)
        .expect("client")
        .with_admin_token(app.admin_token.clone());
    let mut updates = client.order_updates().await.expect("subscribe");
    let order_id = app
        .place_accepted(
            &json!({"item_id": "product-002", "quantity": 1, "user_email": "sse@example.com"}),
        )
        .await;

    let mut seen = Vec::new();
    while seen.last() != Some(&OrderStatus::Completed) {
        let notice = tokio::time::timeout(Duration::from_secs(30), updates.next())
            .await
            .expect("an update within 30 s")
            .expect("the stream stays open")
            .expect("a readable update");
        if let UpdateNotice::Update(update) = notice
            && update.order_id.to_string() == order_id
        {
            assert!(update.at >= update.placed_at);
            seen.push(update.status);
        }
    }

    assert_eq!(
        seen,
        [
            OrderStatus::Pending,
            OrderStatus::InventoryReserved,
            OrderStatus::Paid,
            OrderStatus::Completed
        ]
    );
}
