//! One trace per order across processes: the gateway, order, inventory, payment and
//! notification processes of the local cluster each export their spans to a real OTLP/HTTP
//! receiver, under their own `service.name`, and the order's spans from all of them share the
//! trace the client started: over HTTP (gateway → order process) and over RabbitMQ.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::otlp::{OtlpReceiver, ReceivedSpan};

use crate::harness::Cluster;

const SERVICES: [&str; 5] = [
    "orderflow-gateway",
    "orderflow-order",
    "orderflow-inventory",
    "orderflow-payment",
    "orderflow-notification",
];

/// The spans of `trace` whose parent is neither in it nor the client's span.
fn orphans<'a>(trace: &'a [ReceivedSpan], client_span: &str) -> Vec<&'a ReceivedSpan> {
    let ids: BTreeSet<&str> = trace.iter().map(|span| span.span_id.as_str()).collect();
    trace
        .iter()
        .filter(|span| {
            span.parent_span_id != client_span && !ids.contains(span.parent_span_id.as_str())
        })
        .collect()
}

/// The span names each process exported in the trace.
fn names_by_service(trace: &[ReceivedSpan]) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut names: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for span in trace {
        names
            .entry(span.service.as_str())
            .or_default()
            .insert(span.name.as_str());
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_one_trace_across_the_processes_of_the_local_cluster() {
    let receiver = OtlpReceiver::start().await.expect("OTLP receiver");
    let endpoint = receiver.endpoint();
    let cluster = Cluster::start(
        1,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;

    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let client_span = "00f067aa0ba902b7";
    let response = cluster
        .http
        .post(format!("{}/api/v1/orders", cluster.gateway))
        .header("traceparent", format!("00-{trace_id}-{client_span}-01"))
        .json(&json!({"item_id": "product-002", "quantity": 1, "user_email": "trace@example.com"}))
        .send()
        .await
        .expect("place");
    assert_eq!(response.status(), 202);
    let placed: Value = response.json().await.expect("json");
    let id = placed["order_id"].as_str().expect("order id").to_owned();
    let order = cluster
        .wait_until_terminal(&id, Duration::from_secs(30))
        .await;
    assert_eq!(order["status"], "COMPLETED", "{order}");

    let trace = receiver
        .wait_for_trace(&trace_id, Duration::from_secs(30), |trace| {
            let names = names_by_service(trace);
            SERVICES.iter().all(|service| {
                names
                    .get(service)
                    .is_some_and(|names| names.contains("handle_message") || names.contains("http"))
            }) && names
                .get("orderflow-notification")
                .is_some_and(|names| names.contains("handle_message"))
                // A parent is exported when it ends, which may be after its children.
                && orphans(trace, client_span).is_empty()
        })
        .await;
    let names = names_by_service(&trace);
    let spans = |service: &str, name: &str| -> Vec<&ReceivedSpan> {
        trace
            .iter()
            .filter(|span| span.service == service && span.name == name)
            .collect()
    };

    // The client's request at the gateway, relayed over HTTP to the order process.
    let at_gateway = spans("orderflow-gateway", "http");
    let post = at_gateway
        .iter()
        .find(|span| span.attribute("http.method") == Some("POST"))
        .unwrap_or_else(|| panic!("no POST at the gateway: {names:?}"));
    assert_eq!(post.parent_span_id, client_span);
    let relayed = spans("orderflow-order", "http");
    let relayed = relayed
        .iter()
        .find(|span| span.attribute("http.method") == Some("POST"))
        .unwrap_or_else(|| panic!("no POST at the order process: {names:?}"));
    assert_ne!(relayed.parent_span_id, "", "a child, not a new trace");

    // Every service's handling of the order's messages, over RabbitMQ.
    for service in [
        "orderflow-order",
        "orderflow-inventory",
        "orderflow-payment",
        "orderflow-notification",
    ] {
        assert!(
            !spans(service, "handle_message").is_empty(),
            "no handling by {service} in the trace: {names:?}"
        );
    }
    // No span of the trace hangs off a span outside it, but the client's.
    let orphans = orphans(&trace, client_span);
    assert!(
        orphans.is_empty(),
        "parents outside the trace: {orphans:#?}"
    );

    let events = cluster.admin(&format!("/api/v1/orders/{id}/events")).await;
    let first = &events[0];
    assert_eq!(first["type"], "order.placed");
    assert_eq!(
        first["traceparent"]
            .as_str()
            .and_then(|traceparent| traceparent.split('-').nth(1)),
        Some(trace_id.as_str()),
        "the order's trace is readable from its events: {first}"
    );
    cluster.remove().await;
}
