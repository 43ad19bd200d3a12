//! One process stopped and started again with `scripts/local-cluster restart NAME`: it runs
//! with the settings the cluster was started with, its log keeps what came before, and a
//! subscriber to its order updates does not hold up its stop.

use std::time::{Duration, Instant};

use api_client::ApiClient;
use serde_json::json;

use crate::harness::{ADMIN_TOKEN, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_order_process_is_not_held_up_by_a_subscriber_and_keeps_its_settings_and_log() {
    let cluster = Cluster::start(1, &[]).await;
    let client = ApiClient::new(&cluster.process_url("order"))
        .expect("client")
        .with_admin_token(ADMIN_TOKEN);
    let mut updates = client.order_updates().await.expect("subscribe");
    let order = json!({"item_id": "product-002", "quantity": 1, "user_email": "r@example.com"});
    let (status, _) = cluster.place(&order).await;
    assert_eq!(status, 202);
    assert!(
        tokio::time::timeout(Duration::from_secs(30), updates.next())
            .await
            .expect("an update within 30 s")
            .is_some(),
        "the stream is open and carries updates"
    );
    let log = || cluster.log("order-1").expect("log");
    let before = log();

    // Orders keep coming while the process restarts, as they would in production.
    let load = {
        let http = cluster.http.clone();
        let url = format!("{}/api/v1/orders", cluster.gateway);
        let order = order.clone();
        tokio::spawn(async move {
            loop {
                let _ = http.post(&url).json(&order).send().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restarting = Instant::now();
    // Run without the cluster's environment: the script must use the settings it kept.
    let output = tokio::process::Command::new(crate::harness::script())
        .args(["restart", "order-1"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CLUSTER_DIR", cluster.dir())
        .output()
        .await
        .expect("run local-cluster restart");
    let restarted_in = restarting.elapsed();
    load.abort();

    assert!(
        output.status.success(),
        "restart: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        cluster.logs()
    );
    // The server's grace for open connections is 10 s: a stream that ignored the shutdown
    // would hold the stop that long.
    assert!(
        restarted_in < Duration::from_secs(8),
        "restarted in {restarted_in:?}"
    );
    let after = log();
    assert!(
        !after.contains("connections still open at shutdown"),
        "no connection held the stop up:\n{after}"
    );
    assert!(after.starts_with(&before), "the log is appended to");
    assert_eq!(
        after.matches("=== ").count(),
        2,
        "each start marked:\n{after}"
    );
    let (status, accepted) = cluster.place(&order).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["order_id"].as_str().expect("id");
    let order = cluster
        .wait_until_terminal(id, Duration::from_secs(30))
        .await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    cluster.remove().await;
}
