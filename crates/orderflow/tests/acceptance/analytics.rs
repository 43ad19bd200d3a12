//! The analytics stream and API in the embedded mode: every order's events reach the analytics
//! service through the outbox and its own queue, and the admin's summary counts them.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::archive_cli::archive_report;
use crate::helpers::{TestApp, single, spawn_app};

const COMPLETING: usize = 40;
const DECLINED: usize = 5;
const OUT_OF_STOCK: usize = 5;

/// Polls the 15-minute summary until `done` says it is complete or `within` has passed, and
/// returns the last one read.
async fn summary_once(app: &TestApp, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let summary = app.admin_get("/api/v1/analytics/summary?window=15m").await;
        if done(&summary) || tokio::time::Instant::now() >= deadline {
            return summary;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn fifty_orders_show_in_the_summary_within_two_seconds_and_are_archived_once_each() {
    let app = spawn_app().await;
    let mut bodies: Vec<Value> = Vec::new();
    bodies.extend((0..COMPLETING).map(|_| single("product-002", 1)));
    bodies.extend((0..DECLINED).map(|_| {
        json!({
            "item_id": "product-003", "quantity": 1, "user_email": "test@example.com",
            "payment_token": "tok_chargeDeclined"
        })
    }));
    // product-001 has 100 units: 1000 is out of stock.
    bodies.extend((0..OUT_OF_STOCK).map(|_| single("product-001", 1000)));
    let ids = join_all(bodies.iter().map(|body| app.place_accepted(body))).await;
    let orders = join_all(
        ids.iter()
            .map(|id| app.wait_until_terminal(id, Duration::from_secs(30))),
    )
    .await;
    let completed = orders
        .iter()
        .filter(|order| order["status"] == "COMPLETED")
        .count();
    assert_eq!(completed, COMPLETING);

    let placed_total = COMPLETING + DECLINED + OUT_OF_STOCK;
    let summary = summary_once(&app, Duration::from_secs(2), |summary| {
        summary["orders_placed"] == placed_total
            && summary["orders_completed"] == COMPLETING
            && summary["orders_cancelled"] == DECLINED + OUT_OF_STOCK
    })
    .await;
    assert_eq!(summary["window"], "15m");
    assert_eq!(summary["orders_placed"], placed_total, "{summary}");
    assert_eq!(summary["orders_completed"], COMPLETING, "{summary}");
    assert_eq!(
        summary["orders_cancelled"],
        DECLINED + OUT_OF_STOCK,
        "{summary}"
    );
    assert_eq!(
        summary["cancelled_by_reason"],
        json!({"stock": OUT_OF_STOCK, "payment": DECLINED, "timeout": 0, "customer": 0, "other": 0})
    );
    // product-002 costs 25.99 USD.
    assert_eq!(
        summary["revenue"],
        json!([{"currency": "USD", "amount_minor": 2_599 * 40, "amount": "1039.60"}])
    );
    assert_eq!(summary["payments"]["succeeded"], COMPLETING);
    assert_eq!(summary["payments"]["failed"], DECLINED);
    let decline_rate = summary["payments"]["decline_rate"]
        .as_f64()
        .expect("a rate");
    assert!((decline_rate - 5.0 / 45.0).abs() < 1e-9, "{summary}");
    assert_eq!(summary["stock_outs"], OUT_OF_STOCK);
    assert_eq!(summary["completion_time"]["orders"], COMPLETING);
    let average = summary["completion_time"]["average_ms"]
        .as_i64()
        .expect("ms");
    let p95 = summary["completion_time"]["p95_ms"].as_i64().expect("ms");
    assert!(average >= 0 && p95 >= average, "{summary}");

    let products = app.admin_get("/api/v1/analytics/products?window=1h").await;
    assert_eq!(products[0]["product_id"], "product-002", "{products}");
    assert_eq!(products[0]["units"], COMPLETING);
    assert_eq!(products[0]["revenue"][0]["amount_minor"], 2_599 * 40);

    let series = app
        .admin_get("/api/v1/analytics/timeseries?metric=orders_placed&bucket=1m")
        .await;
    let placed_in_series: i64 = series["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| point["value"].as_i64().expect("value"))
        .sum();
    assert_eq!(
        placed_in_series,
        i64::try_from(placed_total).expect("count")
    );

    // A graceful stop closes the last archive file: every event once in the archive, and the
    // aggregates equal a rebuild from the archive alone.
    let data_dir = app.data_dir().to_path_buf();
    let mut app = app;
    app.system
        .take()
        .expect("running")
        .stop()
        .await
        .expect("stop");
    let (status, verified) = archive_command(&data_dir, &["verify", "--grace-secs", "0"]).await;
    assert_eq!(status, Some(0), "{verified}");
    assert_eq!(verified["pending"], 0, "{verified}");
    let (status, rebuilt) = archive_command(&data_dir, &["rebuild"]).await;
    assert_eq!(status, Some(0), "{rebuilt}");
    assert_eq!(rebuilt["events"], verified["archived"], "{rebuilt}");
    assert_eq!(rebuilt["differences"], json!([]), "{rebuilt}");

    // A counter that no archived event accounts for is named.
    let db = rusqlite::Connection::open(data_dir.join("analytics.db")).expect("analytics.db");
    db.execute(
        "INSERT INTO analytics_counters (bucket, start_ms, metric, dimension, value) \
         VALUES ('1h', 0, 'payments_failed', '', 7)",
        [],
    )
    .expect("tamper");
    drop(db);
    let (status, rebuilt) = archive_command(&data_dir, &["rebuild"]).await;
    assert_eq!(status, Some(1), "{rebuilt}");
    assert_eq!(
        rebuilt["differences"],
        json!([
            "counter 1h payments_failed at 1970-01-01 0:00:00.0 +00:00:00: stored 7, rebuilt nothing"
        ]),
        "{rebuilt}"
    );
}

/// `orderflow archive <args> --json` on the embedded data dir: its exit code and report.
async fn archive_command(data_dir: &std::path::Path, args: &[&str]) -> (Option<i32>, Value) {
    let (status, report) = archive_report(args, |command| {
        command
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("BLOB_URL");
    })
    .await;
    (status.code(), report)
}

#[tokio::test]
async fn analytics_answers_only_the_admin_and_refuses_what_it_cannot_answer() {
    let app = spawn_app().await;
    let (status, _) = app.get_json("/api/v1/analytics/summary").await;
    assert_eq!(status, 401);
    let token = app.customer_token("shopper@example.com");
    let (status, _) = app
        .get_json_as(&token, "/api/v1/analytics/summary?window=1h")
        .await;
    assert_eq!(status, 403);

    let refused = |path: &'static str| {
        let app = &app;
        async move {
            let response = app
                .http
                .get(app.url(path))
                .bearer_auth(&app.admin_token)
                .send()
                .await
                .expect("get");
            (
                response.status().as_u16(),
                response.json::<Value>().await.expect("problem"),
            )
        }
    };
    let (status, problem) = refused("/api/v1/analytics/summary?window=2w").await;
    assert_eq!(status, 422, "{problem}");
    let (status, problem) = refused("/api/v1/analytics/timeseries?metric=nonsense").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "metric", "{problem}");
    let (status, problem) = refused(
        "/api/v1/analytics/timeseries?metric=orders_placed&bucket=1m&from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z",
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let (status, problem) = refused("/api/v1/analytics/products?limit=0").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "limit", "{problem}");
}
