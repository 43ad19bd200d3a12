//! One trace per order: the real binary, run embedded with `OTEL_EXPORTER_OTLP_ENDPOINT` set,
//! exports to a real OTLP/HTTP receiver the HTTP request's span and the handling of the
//! order, inventory, payment and notification messages, all under the trace the client
//! started. Spans are exported only when the process stops (the batch delay is far longer
//! than the test), so the test also shows that a graceful stop flushes them.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::otlp::{OtlpReceiver, ReceivedSpan};

use crate::helpers::free_port;

const TOKEN: &str = "tracing-test-token";

/// A traceparent of a trace no one else uses: a client's span that placed the order.
pub(crate) fn client_traceparent() -> (String, String, String) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let span_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    (format!("00-{trace_id}-{span_id}-01"), trace_id, span_id)
}

fn start(data_dir: &std::path::Path, port: u16, endpoint: &str, log: std::fs::File) -> Child {
    Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(["run", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("ORDERFLOW_ADMIN_TOKEN", TOKEN)
        .env("ORDERFLOW_PAYMENT_LATENCY_MS", "10")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        // Nothing leaves before the process stops: the stop must flush every span.
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start orderflow")
}

async fn wait_until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The queues whose `handle_message` spans are in `spans`.
pub(crate) fn handled_queues(spans: &[ReceivedSpan]) -> BTreeSet<String> {
    spans
        .iter()
        .filter(|span| span.name == "handle_message")
        .filter_map(|span| span.attribute("queue").map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_placed_with_a_traceparent_is_one_exported_trace_from_request_to_notification() {
    let receiver = OtlpReceiver::start().await.expect("OTLP receiver");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let log_path = data_dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    orderflow::tls::install_crypto_provider();
    let http = reqwest::Client::new();
    let mut server = start(
        &data_dir.path().join("data"),
        port,
        &receiver.endpoint(),
        log,
    );
    wait_until("the server is ready", async || {
        let response = http.get(format!("{base}/health/ready")).send().await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;

    let (traceparent, trace_id, client_span) = client_traceparent();
    let response = http
        .post(format!("{base}/api/v1/orders"))
        .header("traceparent", &traceparent)
        .json(&json!({"item_id": "product-002", "quantity": 1, "user_email": "trace@example.com"}))
        .send()
        .await
        .expect("place");
    assert_eq!(response.status(), 202);
    let placed: Value = response.json().await.expect("json");
    let id = placed["order_id"].as_str().expect("order id").to_owned();

    // The order ends, and its confirmation is sent: every handler has run.
    wait_until("the order is completed and its email sent", async || {
        let order: Value = http
            .get(format!("{base}/api/v1/orders/{id}"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        if order["status"] != "COMPLETED" {
            return None;
        }
        let sent: Value = http
            .get(format!("{base}/api/v1/admin/notifications?order_id={id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (sent.as_array().map_or(0, Vec::len) == 1).then_some(())
    })
    .await;

    // The operator's link from an order to its trace: its events' traceparents.
    let events: Value = http
        .get(format!("{base}/api/v1/orders/{id}/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json");
    let events = events.as_array().expect("an event list");
    assert!(events.len() >= 4, "{events:?}");
    for event in events {
        let traceparent = event["traceparent"].as_str().unwrap_or_default();
        assert_eq!(
            traceparent.split('-').nth(1),
            Some(trace_id.as_str()),
            "every event of the order is in the client's trace: {event}"
        );
    }
    assert_eq!(events[0]["type"], "order.placed");

    // A customer's cancel is no message of the order's: its decision continues the order's
    // trace all the same, and so do the compensations it sends.
    let (held_traceparent, held_trace, _) = client_traceparent();
    let response = http
        .post(format!("{base}/api/v1/orders"))
        .header("traceparent", &held_traceparent)
        .json(&json!({
            "item_id": "product-003", "quantity": 1, "user_email": "held@example.com",
            "payment_token": "tok_chargeHeld"
        }))
        .send()
        .await
        .expect("place");
    assert_eq!(response.status(), 202);
    let placed: Value = response.json().await.expect("json");
    let held = placed["order_id"].as_str().expect("order id").to_owned();
    let cancelled = http
        .post(format!("{base}/api/v1/orders/{held}/cancel"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("cancel");
    assert!(cancelled.status().is_success(), "{}", cancelled.status());
    let held_events = wait_until("the held order is cancelled", async || {
        let events: Value = http
            .get(format!("{base}/api/v1/orders/{held}/events"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let events = events.as_array()?.clone();
        events
            .iter()
            .any(|event| event["type"] == "order.cancelled")
            .then_some(events)
    })
    .await;
    for event in &held_events {
        let traceparent = event["traceparent"].as_str().unwrap_or_default();
        assert_eq!(
            traceparent.split('-').nth(1),
            Some(held_trace.as_str()),
            "the cancelled order's events stay in its trace: {event}"
        );
    }
    assert_eq!(
        receiver.requests(),
        0,
        "nothing is exported before the stop"
    );

    let stopped = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(stopped.success());
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "a graceful stop exits cleanly: {status}");

    let trace = receiver
        .wait_for_trace(&trace_id, Duration::from_secs(10), |_| true)
        .await;
    let request = trace
        .iter()
        .find(|span| span.name == "http" && span.attribute("http.method") == Some("POST"))
        .unwrap_or_else(|| panic!("no span of the POST in {trace:#?}"));
    assert_eq!(
        request.parent_span_id, client_span,
        "the request continues the client's span"
    );
    assert_eq!(request.service, "orderflow");
    let queues = handled_queues(&trace);
    for queue in ["order", "inventory", "payment", "notification"] {
        assert!(
            queues.iter().any(|handled| handled.ends_with(queue)),
            "no handling by {queue} in the trace; handled: {queues:?}"
        );
    }
    // Each handling is a child of a span of the same trace: no orphan roots.
    let ids: BTreeSet<&str> = trace.iter().map(|span| span.span_id.as_str()).collect();
    for span in trace.iter().filter(|span| span.name == "handle_message") {
        assert!(
            ids.contains(span.parent_span_id.as_str()),
            "{span:?} has a parent outside the trace"
        );
    }

    // Its log lines carry the trace too.
    let logs = std::fs::read_to_string(&log_path).expect("the server's log");
    let captured = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "payment captured")
        .unwrap_or_else(|| panic!("no payment log line in:\n{logs}"));
    assert_eq!(captured["trace_id"], trace_id.as_str(), "{captured}");
    assert_eq!(captured["span_id"].as_str().map(str::len), Some(16));
}
