//! Load and the invariants of DESIGN.md §6, checked from outside a running cluster.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::harness::{ADMIN_TOKEN, Cluster};

/// Places every body through the gateway, at most `parallel` at a time; returns the accepted
/// ones with their ids (a refused or failed request is simply not accepted).
pub(crate) async fn place_all(
    http: reqwest::Client,
    gateway: String,
    bodies: Vec<Value>,
    parallel: usize,
) -> Vec<(String, Value)> {
    let permits = Arc::new(Semaphore::new(parallel));
    let mut placing = JoinSet::new();
    for body in bodies {
        let (http, url, permits) = (
            http.clone(),
            format!("{gateway}/api/v1/orders"),
            permits.clone(),
        );
        placing.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore");
            let response = http.post(url).json(&body).send().await.ok()?;
            if response.status() != 202 {
                return None;
            }
            let answer: Value = response.json().await.ok()?;
            Some((answer["order_id"].as_str()?.to_owned(), body))
        });
    }
    placing.join_all().await.into_iter().flatten().collect()
}

/// Checks the invariants once every accepted order is terminal: stock conserved and sold as
/// completed, one capture per completed order and none for cancelled ones, no unacknowledged
/// message left, no dead letter.
pub(crate) async fn assert_invariants(cluster: &Cluster, accepted: &[(String, Value)]) {
    assert_settled(cluster, accepted).await;
    assert_eq!(
        cluster.admin("/api/v1/admin/dead-letters").await,
        json!([]),
        "no poison was injected"
    );
}

/// [`assert_invariants`] but for dead letters, which the caller checks.
pub(crate) async fn assert_settled(cluster: &Cluster, accepted: &[(String, Value)]) {
    for (id, _) in accepted {
        cluster
            .wait_until_terminal(id, Duration::from_secs(180))
            .await;
    }
    // Every order the system holds, not only those whose 202 reached this test: a process
    // killed after its commit and before its answer leaves an order the client never heard of,
    // and that order must finish too. Such an order may reach the read model a moment later,
    // so the comparison with stock is retried until it converges.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let status_of = loop {
        let (status_of, sold) = snapshot(cluster).await;
        let stock = cluster.settled_stock().await;
        let sold_matches = stock.iter().all(|level| {
            level["sold"].as_i64()
                == Some(
                    sold.get(level["product_id"].as_str().unwrap_or(""))
                        .copied()
                        .unwrap_or(0),
                )
        });
        if sold_matches || tokio::time::Instant::now() > deadline {
            for level in &stock {
                let n = |f: &str| level[f].as_i64().expect("number");
                let sku = level["product_id"].as_str().expect("sku");
                assert_eq!(n("reserved"), 0, "{level}");
                assert!(n("available") >= 0, "{level}");
                assert_eq!(
                    n("available") + n("sold"),
                    n("initial") + n("restocked"),
                    "{level}"
                );
                assert_eq!(
                    n("sold"),
                    sold.get(sku).copied().unwrap_or(0),
                    "{sku} sold vs completed orders"
                );
            }
            break status_of;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for (id, _) in accepted {
        assert!(
            status_of.contains_key(id),
            "accepted order {id} is not listed"
        );
    }
    // Late refunds may still be on their way: wait until no payment of a cancelled order is
    // captured, then count.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let payments = loop {
        let payments = cluster.payments().await;
        let unsettled = payments.iter().any(|(id, status)| {
            status == "pending"
                || (status == "succeeded" && status_of.get(id).is_some_and(|s| s == "CANCELLED"))
        });
        if !unsettled || tokio::time::Instant::now() > deadline {
            break payments;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for (id, status) in &payments {
        let order_status = status_of.get(id).map_or("not accepted", String::as_str);
        match status.as_str() {
            "succeeded" => assert_eq!(order_status, "COMPLETED", "{id}"),
            "failed" | "refunded" => assert_eq!(order_status, "CANCELLED", "{id}"),
            other => panic!("payment of {id} left {other}"),
        }
    }
    let captured = payments.iter().filter(|(_, s)| s == "succeeded").count();
    assert_eq!(
        captured,
        status_of.values().filter(|s| *s == "COMPLETED").count()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cluster.unacked().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "unacknowledged messages: {:?}",
            cluster.unacked()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every listed order once terminal, and units sold per product by the completed ones.
async fn snapshot(cluster: &Cluster) -> (HashMap<String, String>, HashMap<String, i64>) {
    let mut status_of = HashMap::new();
    let mut sold: HashMap<String, i64> = HashMap::new();
    for order in all_orders(cluster).await {
        let id = order["order_id"].as_str().expect("id").to_owned();
        let order = cluster
            .wait_until_terminal(&id, Duration::from_secs(180))
            .await;
        if order["status"] == "COMPLETED" {
            for item in order["items"].as_array().expect("items") {
                *sold
                    .entry(item["product_id"].as_str().expect("sku").to_owned())
                    .or_default() += item["quantity"].as_i64().expect("quantity");
            }
        }
        status_of.insert(id, order["status"].as_str().expect("status").to_owned());
    }
    (status_of, sold)
}

/// Every order, through the list API's pages.
async fn all_orders(cluster: &Cluster) -> Vec<Value> {
    let mut orders = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/orders?limit=100&cursor={cursor}"),
            None => "/api/v1/orders?limit=100".to_owned(),
        };
        let (status, page) = cluster.get_as(ADMIN_TOKEN, &path).await;
        assert_eq!(status, 200, "{page}");
        orders.extend(page["orders"].as_array().expect("orders").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return orders,
        }
    }
}

/// The i-th order of a mixed load.
pub(crate) fn mixed(i: usize) -> Value {
    let (product, token) = match i % 5 {
        0 | 1 => ("product-001", "tok_visa"),
        2 => ("product-002", "tok_visa"),
        3 => ("product-003", "tok_visa"),
        _ => ("product-002", "tok_chargeDeclined"),
    };
    json!({
        "customer_email": format!("customer{i}@example.com"),
        "items": [{"product_id": product, "quantity": 1 + i % 2}],
        "payment_token": token
    })
}
