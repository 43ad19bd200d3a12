//! The analytics process of the local cluster: down, it stops no saga and its stream's lag
//! shows; back, it counts every order, and the gateway reaches it like any service.

use std::time::Duration;

use serde_json::{Value, json};

use crate::archive_cli::archive_report;
use crate::harness::{ADMIN_TOKEN, Cluster};

fn single(item: &str, quantity: i64, token: &str) -> Value {
    json!({
        "item_id": item, "quantity": quantity, "user_email": "test@example.com",
        "payment_token": token
    })
}

/// `orderflow archive <args> --json` on the cluster's analytics schema, with `environment`
/// (where the archive is, as the processes were told) added: its exit status and report.
pub(crate) async fn archive_command(
    cluster: &Cluster,
    environment: &[(String, String)],
    args: &[&str],
) -> (std::process::ExitStatus, Value) {
    archive_report(args, |command| {
        command
            .args(["--database-url", cluster.database_url()])
            .envs(environment.iter().cloned());
    })
    .await
}

/// The cluster's archive setting: its local archive directory.
fn local_archive(cluster: &Cluster) -> Vec<(String, String)> {
    let dir = cluster.dir().join("archive");
    vec![("BLOB_URL".to_owned(), dir.display().to_string())]
}

async fn summary(cluster: &Cluster, base: &str) -> (u16, Value) {
    let response = cluster
        .http
        .get(format!("{base}/api/v1/analytics/summary?window=15m"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("get summary");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_analytics_down_sagas_complete_and_once_it_is_back_every_order_is_counted() {
    let cluster = Cluster::start(1, &[]).await;
    cluster.kill_9("analytics-1");

    let mut bodies = Vec::new();
    bodies.extend((0..6).map(|_| single("product-002", 1, "tok_visa")));
    bodies.extend((0..2).map(|_| single("product-003", 1, "tok_chargeDeclined")));
    bodies.extend((0..2).map(|_| single("product-001", 1000, "tok_visa")));
    let mut ids = Vec::new();
    for body in &bodies {
        let (status, accepted) = cluster.place(body).await;
        assert_eq!(status, 202, "{accepted}");
        ids.push(accepted["order_id"].as_str().expect("id").to_owned());
    }
    let mut completed = 0;
    for id in &ids {
        let order = cluster
            .wait_until_terminal(id, Duration::from_secs(30))
            .await;
        completed += usize::from(order["status"] == "COMPLETED");
    }
    assert_eq!(completed, 6, "sagas do not wait for analytics");

    // The stream waits in its queue, and readiness says so without failing.
    let (status, ready) = cluster.get("/health/ready").await;
    assert_eq!(status, 200, "{ready}");
    let lag = ready["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "analytics-stream")
        .and_then(|check| check["detail"].as_str())
        .and_then(|detail| detail.strip_prefix("lag "))
        .and_then(|lag| lag.parse::<u64>().ok())
        .expect("the stream's lag");
    assert!(lag >= 10, "at least every order.placed waits: {ready}");
    let (status, problem) = summary(&cluster, &cluster.gateway).await;
    assert_eq!(status, 503, "analytics is down: {problem}");

    cluster.script("start").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let counted = loop {
        let (status, counted) = summary(&cluster, &cluster.gateway).await;
        if status == 200 && counted["orders_completed"] == 6 && counted["orders_cancelled"] == 4 {
            break counted;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not counted in 30 s: {status} {counted}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(counted["orders_placed"], 10, "{counted}");
    assert_eq!(
        counted["cancelled_by_reason"],
        json!({"stock": 2, "payment": 2, "timeout": 0, "customer": 0, "other": 0})
    );
    assert_eq!(
        counted["revenue"],
        json!([{"currency": "USD", "amount_minor": 2_599 * 6, "amount": "155.94"}])
    );
    // The analytics process answers the same itself.
    let (status, direct) = summary(&cluster, &cluster.process_url("analytics")).await;
    assert_eq!(status, 200, "{direct}");
    assert_eq!(direct["orders_placed"], counted["orders_placed"]);
    assert_eq!(direct["revenue"], counted["revenue"]);

    // A graceful stop flushes the archive: every event the analytics schema kept is in
    // exactly one file of the cluster's archive directory.
    cluster.script_args(&["stop", "analytics-1"]).await;
    let (status, report) = archive_command(
        &cluster,
        &local_archive(&cluster),
        &["verify", "--grace-secs", "0"],
    )
    .await;
    assert!(status.success(), "{report}");
    assert_eq!(report["pending"], 0, "{report}");
    assert!(
        report["archived"].as_u64() >= Some(10 * 3),
        "at least three events an order: {report}"
    );

    cluster.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_killed_twice_under_load_counts_and_archives_every_event_once() {
    // Small, young files, so that kills land among archive writes.
    let cluster = Cluster::start(
        1,
        &[
            ("ORDERFLOW_ARCHIVE_MAX_EVENTS", "40"),
            ("ORDERFLOW_ARCHIVE_MAX_AGE_MS", "300"),
        ],
    )
    .await;
    let orders = 300;
    let placing = tokio::spawn(crate::checks::place_all(
        cluster.http.clone(),
        cluster.gateway.clone(),
        (0..orders).map(crate::checks::mixed).collect(),
        8,
    ));
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        cluster.kill_9("analytics-1");
        cluster.script_args(&["start", "analytics-1"]).await;
    }
    let accepted = placing.await.expect("placed");
    assert_eq!(accepted.len(), orders, "admission is off in cluster tests");
    for (id, _) in &accepted {
        cluster
            .wait_until_terminal(id, Duration::from_secs(120))
            .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let counted = cluster.admin("/api/v1/analytics/summary?window=24h").await;
        let ended = counted["orders_completed"].as_u64().unwrap_or(0)
            + counted["orders_cancelled"].as_u64().unwrap_or(0);
        if counted["orders_placed"] == orders && ended == orders as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not counted: {counted}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.script_args(&["stop", "analytics-1"]).await;

    // Every kept event in exactly one file.
    let archive = local_archive(&cluster);
    let (status, report) =
        archive_command(&cluster, &archive, &["verify", "--grace-secs", "0"]).await;
    assert!(status.success(), "{report}");
    assert_eq!(report["pending"], 0, "{report}");

    // The aggregates equal a rebuild from the archive alone: every counter and order.
    let (status, rebuild) = archive_command(&cluster, &archive, &["rebuild"]).await;
    assert!(status.success(), "{rebuild}");
    assert_eq!(rebuild["events"], report["archived"], "{rebuild}");
    assert_eq!(rebuild["pending"], 0, "{rebuild}");

    cluster.remove().await;
}
