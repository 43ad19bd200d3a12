use std::time::Duration;

use serde_json::json;

use crate::checks::{assert_invariants, mixed, place_all};
use crate::harness::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_orders_for_a_hundred_laptops_complete_exactly_a_hundred_with_replicas()
 {
    let cluster = Cluster::start(2, &[]).await;
    let bodies = (0..1000)
        .map(|i| json!({ "item_id": "product-001", "quantity": 1, "user_email": format!("c{i}@example.com") }))
        .collect();

    let accepted = place_all(cluster.http.clone(), cluster.gateway.clone(), bodies, 100).await;

    assert_eq!(accepted.len(), 1000);
    let mut completed = 0;
    for (id, _) in &accepted {
        if cluster
            .wait_until_terminal(id, Duration::from_secs(300))
            .await["status"]
            == "COMPLETED"
        {
            completed += 1;
        }
    }
    assert_eq!(completed, 100);
    let laptop = cluster
        .settled_stock()
        .await
        .into_iter()
        .find(|l| l["product_id"] == "product-001")
        .expect("laptop");
    assert_eq!(
        (laptop["available"].as_i64(), laptop["sold"].as_i64()),
        (Some(0), Some(100))
    );
    assert_invariants(&cluster, &accepted).await;
    cluster.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_service_processes_under_load_loses_nothing_and_charges_nobody_twice() {
    let cluster = Cluster::start(2, &[("ORDERFLOW_PAYMENT_LATENCY_MS", "5")]).await;

    let first = tokio::spawn(place_all(
        cluster.http.clone(),
        cluster.gateway.clone(),
        (0..300).map(mixed).collect(),
        30,
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for victim in [
        "inventory-1",
        "payment-2",
        "query-1",
        "order-1",
        "notification-1",
    ] {
        cluster.kill_9(victim);
    }
    let accepted_first = first.await.expect("placing");
    cluster.script("start").await;
    let mut accepted = accepted_first;
    accepted.extend(
        place_all(
            cluster.http.clone(),
            cluster.gateway.clone(),
            (300..400).map(mixed).collect(),
            50,
        )
        .await,
    );

    assert!(accepted.len() >= 100, "only {} accepted", accepted.len());
    assert_invariants(&cluster, &accepted).await;
    cluster.remove().await;
}
