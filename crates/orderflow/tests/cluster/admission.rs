//! Admission control through the gateway: the order process refuses orders beyond its
//! in-flight limit, and its `503` passes through the gateway as it was, `Retry-After`
//! included; the refused key is free afterwards, and every accepted order completes.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::Cluster;

/// Status, `Retry-After`, whether it was a replay, body.
async fn post(cluster: &Cluster, i: usize) -> (u16, Option<u64>, bool, Value) {
    let body = json!({
        "item_id": "product-002", "quantity": 1,
        "user_email": format!("customer{i}@example.com")
    });
    let response = cluster
        .http
        .post(format!("{}/api/v1/orders", cluster.gateway))
        .header("Idempotency-Key", format!("cluster-burst-{i}"))
        .json(&body)
        .send()
        .await
        .expect("post order");
    let headers = response.headers();
    let retry_after = headers
        .get("retry-after")
        .map(|value| value.to_str().expect("visible").parse().expect("seconds"));
    let replayed = headers.contains_key("idempotent-replayed");
    let content_type = headers
        .get("content-type")
        .map(|value| value.to_str().expect("visible").to_owned());
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    if status != 202 {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{body}"
        );
    }
    (status, retry_after, replayed, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_process_s_overload_refusal_passes_through_the_gateway_with_retry_after() {
    let cluster = Cluster::start(
        1,
        &[
            ("ORDERFLOW_MAX_IN_FLIGHT", "10"),
            ("ORDERFLOW_PAYMENT_LATENCY_MS", "500"),
        ],
    )
    .await;

    // 60 at once: 10 fit, and 50 would have to end during the burst to let all in.
    let answers = join_all((0..60).map(|i| post(&cluster, i))).await;

    let mut refused = Vec::new();
    for (i, (status, retry_after, _, body)) in answers.iter().enumerate() {
        if *status == 202 {
            continue;
        }
        assert_eq!(*status, 503, "{body}");
        assert_eq!(body["code"], "overloaded", "{body}");
        let detail = body["detail"].as_str().expect("a detail");
        assert!(detail.starts_with("overloaded: "), "{detail}");
        assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");
        refused.push(i);
    }
    assert!(!refused.is_empty(), "nothing was refused");
    for (status, _, _, body) in answers.iter().filter(|a| a.0 == 202) {
        let id = body["order_id"].as_str().expect("an order id");
        let order = cluster
            .wait_until_terminal(id, Duration::from_secs(120))
            .await;
        assert_eq!(order["status"], "COMPLETED", "{status}: {order}");
    }

    // The refused key was not remembered: the same request places a new order now.
    let (status, _, replayed, body) = post(&cluster, refused[0]).await;
    assert_eq!(status, 202, "{body}");
    assert!(!replayed, "a refused key was remembered");
}
