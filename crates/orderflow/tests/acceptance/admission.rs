//! Admission control: under overload the order service refuses orders with `503` problems
//! that say when to retry, a refused order leaves nothing behind (its idempotency key is free),
//! and every order that was accepted still completes.

use std::time::Duration;

use futures_util::future::join_all;
use order_service::InFlightLimit;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// One POST's answer: status, `Retry-After`, `Idempotency-Replayed`, and body.
struct Answer {
    status: u16,
    content_type: String,
    retry_after: Option<u64>,
    replayed: bool,
    body: Value,
}

fn mouse(customer: usize) -> Value {
    json!({
        "item_id": "product-002", "quantity": 1,
        "user_email": format!("customer{customer}@example.com")
    })
}

async fn post(app: &TestApp, body: &Value, key: &str) -> Answer {
    let response = app
        .http
        .post(app.url("/api/v1/orders"))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("post order");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let retry_after = header("retry-after").map(|value| value.parse().expect("seconds"));
    let replayed = header("idempotent-replayed").is_some();
    Answer {
        status: response.status().as_u16(),
        content_type,
        retry_after,
        replayed,
        body: response.json().await.expect("a JSON body"),
    }
}

/// Fires `count` orders at once, each under its own key; returns (key, body, answer).
async fn burst(app: &TestApp, count: usize) -> Vec<(String, Value, Answer)> {
    join_all((0..count).map(|i| async move {
        let key = format!("burst-{i}");
        let body = mouse(i);
        let answer = post(app, &body, &key).await;
        (key, body, answer)
    }))
    .await
}

/// Asserts that every refusal is an overload problem that says when to retry, and that every
/// other answer is a `202`; returns how many were refused.
fn assert_refusals_are_overload_problems(answers: &[(String, Value, Answer)]) -> usize {
    let mut refused = 0;
    for (key, _, answer) in answers {
        if answer.status == 202 {
            continue;
        }
        refused += 1;
        assert_eq!(answer.status, 503, "{key}: {}", answer.body);
        assert_eq!(answer.content_type, "application/problem+json", "{key}");
        assert_eq!(answer.body["code"], "overloaded", "{}", answer.body);
        let detail = answer.body["detail"].as_str().expect("a detail");
        assert!(detail.starts_with("overloaded: "), "{detail}");
        assert!(detail.contains(" in flight, limit "), "{detail}");
        assert!(
            answer.retry_after.is_some_and(|seconds| seconds >= 1),
            "{key}: Retry-After {:?}",
            answer.retry_after
        );
    }
    refused
}

async fn assert_every_accepted_order_completes(app: &TestApp, answers: &[(String, Value, Answer)]) {
    for (_, _, answer) in answers.iter().filter(|(_, _, a)| a.status == 202) {
        let id = answer.body["order_id"].as_str().expect("an order id");
        let order = app.wait_until_terminal(id, Duration::from_secs(60)).await;
        assert_eq!(order["status"], "COMPLETED", "{order}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_in_flight_limit_orders_are_refused_and_leave_nothing_while_accepted_ones_complete()
 {
    let app = spawn_app_with(|config| {
        config.settings.max_in_flight = InFlightLimit::Fixed(20);
        config.settings.payment_latency_ms = 500;
    })
    .await;

    // 100 at once: 20 fit, and 80 would have to end during the burst to let all in, which
    // takes 10 s of payments at 4 in parallel.
    let answers = burst(&app, 100).await;

    let refused = assert_refusals_are_overload_problems(&answers);
    assert!(refused > 0, "nothing was refused");
    assert_every_accepted_order_completes(&app, &answers).await;

    // A refused order was not stored: its key is free, so the same request now places a new
    // order instead of replaying one.
    let refused_requests = answers.iter().filter(|(_, _, a)| a.status != 202);
    let mut retried = Vec::new();
    for (key, body, _) in refused_requests.take(5) {
        let again = post(&app, body, key).await;
        assert_eq!(again.status, 202, "{key}: {}", again.body);
        assert!(!again.replayed, "{key} was remembered when it was refused");
        let id = again.body["order_id"]
            .as_str()
            .expect("an order id")
            .to_owned();
        app.wait_until_terminal(&id, Duration::from_secs(60)).await;
        retried.push(id);
    }
    let accepted = answers.len() - refused;
    assert_eq!(
        stored_orders(&app, accepted + retried.len()).await,
        accepted + retried.len(),
        "refused orders left orders behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_automatic_limit_refuses_what_a_slow_pipeline_cannot_finish_and_completes_the_rest() {
    let app = spawn_app_with(|config| {
        config.settings.max_in_flight = InFlightLimit::Auto;
        config.settings.payment_latency_ms = 500;
        config.settings.consumers = Some(2);
    })
    .await;

    // Payments end at 4/s at most: within the 3 s target, far fewer than the 64 the
    // automatic limit admits before it has measured anything, and 200 arrive at once.
    let answers = burst(&app, 200).await;

    let refused = assert_refusals_are_overload_problems(&answers);
    assert!(refused > 0, "nothing was refused");
    assert_every_accepted_order_completes(&app, &answers).await;
}

/// How many orders the read model holds, once it holds at least `expected` (or 10 s passed).
async fn stored_orders(app: &TestApp, expected: usize) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, page) = app
            .get_json_as(&app.admin_token, "/api/v1/orders?limit=100")
            .await;
        assert_eq!(status, 200, "{page}");
        let count = page["orders"].as_array().expect("orders").len();
        if count >= expected || tokio::time::Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
