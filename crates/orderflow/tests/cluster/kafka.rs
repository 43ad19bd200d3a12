//! The analytics stream on Kafka (`KAFKA_BROKERS`): the analytics process forwards its RabbitMQ
//! queue onto a topic and counts from it. The broker is a tansu of the test's own, reached
//! through a proxy it advertises, so that its outage is cut at the network and its memory (the
//! topic, the group's offsets) survives the outage.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use testkit::proxy::Proxy;
use transport_kafka::testing::{TestBroker, free_port};

use crate::analytics::archive_command;
use crate::harness::Cluster;

/// The analytics stream's lag as readiness reports it (`lag N: …` or `lag at least N: …`).
async fn stream_lag(cluster: &Cluster) -> (u64, String) {
    let (status, ready) = cluster.get("/health/ready").await;
    assert_eq!(
        status, 200,
        "analytics behind never makes a process unready: {ready}"
    );
    let detail = ready["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "analytics-stream")
        .and_then(|check| check["detail"].as_str())
        .expect("the stream's check")
        .to_owned();
    let lag = detail
        .strip_prefix("lag ")
        .map(|rest| rest.strip_prefix("at least ").unwrap_or(rest))
        .and_then(|rest| rest.split(':').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no lag in {detail:?}"));
    (lag, detail)
}

/// The `orderflow_analytics_stream_lag` gauge on the gateway's `/metrics`.
async fn lag_gauge(cluster: &Cluster) -> Option<f64> {
    let text = cluster
        .http
        .get(format!("{}/metrics", cluster.gateway))
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|line| line.starts_with("orderflow_analytics_stream_lag "))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
}

/// Waits until the analytics summary counts exactly `orders` orders, all ended.
async fn counted(cluster: &Cluster, orders: usize, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let summary = cluster.admin("/api/v1/analytics/summary?window=24h").await;
        let ended = summary["orders_completed"].as_u64().unwrap_or(0)
            + summary["orders_cancelled"].as_u64().unwrap_or(0);
        if summary["orders_placed"] == orders && ended == orders as u64 {
            return summary;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every order counted in {within:?} (want {orders}): {summary}\n{}\n{}",
            cluster.logs(),
            analytics_story(cluster)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_kafka_every_order_is_counted_once_and_a_broker_outage_only_delays_the_count() {
    let broker_port = free_port();
    let mut proxy = Proxy::start(&format!("127.0.0.1:{broker_port}"))
        .await
        .expect("proxy");
    let brokers = proxy.addr().to_string();
    let _broker = TestBroker::start_advertising(Some(&brokers), broker_port);
    let cluster = Cluster::start(
        1,
        &[
            ("KAFKA_BROKERS", brokers.as_str()),
            ("ORDERFLOW_KAFKA_PARTITIONS", "3"),
        ],
    )
    .await;

    // Orders go through and every one is counted from the topic.
    let first = crate::checks::place_all(
        cluster.http.clone(),
        cluster.gateway.clone(),
        (0..20).map(crate::checks::mixed).collect(),
        4,
    )
    .await;
    assert_eq!(first.len(), 20);
    for (id, _) in &first {
        cluster
            .wait_until_terminal(id, Duration::from_secs(60))
            .await;
    }
    counted(&cluster, 20, Duration::from_secs(60)).await;

    // The broker is out of reach for 30 s while orders keep coming.
    proxy.take_down().await;
    let outage = tokio::time::Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn({
        let (http, gateway, stop) = (cluster.http.clone(), cluster.gateway.clone(), stop.clone());
        async move {
            let mut placed = Vec::new();
            let mut next = 20;
            while !stop.load(Ordering::Relaxed) {
                let bodies = (next..next + 4).map(crate::checks::mixed).collect();
                placed.extend(
                    crate::checks::place_all(http.clone(), gateway.clone(), bodies, 4).await,
                );
                next += 4;
                tokio::time::sleep(Duration::from_millis(750)).await;
            }
            placed
        }
    });
    let mut largest_lag = 0;
    let mut largest_gauge = 0.0_f64;
    while outage.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (lag, detail) = stream_lag(&cluster).await;
        largest_lag = largest_lag.max(lag);
        largest_gauge = largest_gauge.max(lag_gauge(&cluster).await.unwrap_or(0.0));
        eprintln!(
            "{:>4.1} s into the outage: {detail}",
            outage.elapsed().as_secs_f64()
        );
    }
    stop.store(true, Ordering::Relaxed);
    let during = loader.await.expect("loader");
    assert!(during.len() >= 20, "orders kept coming: {}", during.len());
    // Sagas do not wait for the stream: every order placed during the outage ends while the
    // broker is still out of reach.
    for (id, _) in &during {
        let order = cluster
            .wait_until_terminal(id, Duration::from_secs(30))
            .await;
        assert!(
            matches!(order["status"].as_str(), Some("COMPLETED" | "CANCELLED")),
            "{order}"
        );
    }
    assert!(largest_lag > 0, "the stream's lag shows in readiness");
    assert!(largest_gauge > 0.0, "and in orderflow_analytics_stream_lag");

    // Back: the queue drains onto the topic, and every order is counted exactly once.
    proxy.bring_back().await;
    let total = first.len() + during.len();
    let summary = counted(&cluster, total, Duration::from_secs(90)).await;
    eprintln!("counted after the outage: {summary}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (lag, detail) = stream_lag(&cluster).await;
        if lag == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream does not drain: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Nothing was parked for the outage: it was waited out.
    let dead_letters = cluster.admin("/api/v1/admin/dead-letters").await;
    assert_eq!(
        dead_letters.as_array().map(Vec::len),
        Some(0),
        "{dead_letters}"
    );

    cluster.remove().await;
}

/// The analytics process's log lines about the stream's clients (not each retried message),
/// for a failure message.
fn analytics_story(cluster: &Cluster) -> String {
    let log = cluster.log("analytics-1").unwrap_or_default();
    let mut told = String::new();
    let mut last = "";
    for line in log.lines() {
        let fields = line.split("\"message\":").nth(1).unwrap_or(line);
        let gist: String = fields.chars().take(160).collect();
        if gist.contains("retrying without charging") || gist == last {
            continue;
        }
        told.push_str(&gist);
        told.push('\n');
        last = fields;
    }
    told.chars()
        .rev()
        .take(6000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_kafka_the_analytics_process_restarted_under_load_counts_every_order_once() {
    let broker = TestBroker::start();
    let brokers = broker.brokers();
    let cluster = Cluster::start(
        1,
        &[
            ("KAFKA_BROKERS", brokers.as_str()),
            ("ORDERFLOW_KAFKA_PARTITIONS", "3"),
        ],
    )
    .await;
    let orders = 150;
    let placing = tokio::spawn(crate::checks::place_all(
        cluster.http.clone(),
        cluster.gateway.clone(),
        (0..orders).map(crate::checks::mixed).collect(),
        6,
    ));
    // Stopped while it consumes: it commits what it stored and leaves the group; its next
    // instance goes on from the commits, and the inbox drops whatever comes twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cluster.script_args(&["restart", "analytics-1"]).await;
    let accepted = placing.await.expect("placed");
    assert_eq!(accepted.len(), orders, "admission is off in cluster tests");
    for (id, _) in &accepted {
        cluster
            .wait_until_terminal(id, Duration::from_secs(60))
            .await;
    }
    counted(&cluster, orders, Duration::from_secs(90)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stream_lag(&cluster).await.0 > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream does not drain"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cluster.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_kafka_and_azure_analytics_killed_in_2000_orders_counts_and_archives_each_once() {
    let broker = TestBroker::start();
    let azurite = testkit::azurite::Azurite::ensure();
    let container = azurite.container("cluster-kafka-kill");
    let mut environment = azurite.emulator_env();
    environment.push(("BLOB_URL".to_owned(), container.blob_url("orderflow")));
    let brokers = broker.brokers();
    let mut settings: Vec<(&str, &str)> = vec![
        ("KAFKA_BROKERS", brokers.as_str()),
        ("ORDERFLOW_KAFKA_PARTITIONS", "3"),
        ("ORDERFLOW_KAFKA_INSTANCE_ID", ""),
        // Small, young files, so that the kill lands among archive writes.
        ("ORDERFLOW_ARCHIVE_MAX_EVENTS", "500"),
        ("ORDERFLOW_ARCHIVE_MAX_AGE_MS", "1000"),
    ];
    settings.extend(
        environment
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
    );
    let cluster = Cluster::start(1, &settings).await;
    let orders = 2000;
    let placing = tokio::spawn(crate::checks::place_all(
        cluster.http.clone(),
        cluster.gateway.clone(),
        (0..orders).map(crate::checks::mixed).collect(),
        16,
    ));
    // Killed while it reads the topic and writes archive files; its next instance goes on
    // from the group's commits, and the inbox drops whatever comes twice. A dynamic member,
    // started again once the dead member's session (10 s) is over: tansu 0.6 can end a
    // rebalance that overlaps a dead member's session, or follows a static member's
    // replacement, with no partition assigned (ARCHITECTURE.md, "Tests run on tansu").
    tokio::time::sleep(Duration::from_secs(4)).await;
    cluster.kill_9("analytics-1");
    tokio::time::sleep(Duration::from_secs(14)).await;
    cluster.script_args(&["start", "analytics-1"]).await;
    let accepted = placing.await.expect("placed");
    assert_eq!(accepted.len(), orders, "admission is off in cluster tests");
    for (id, _) in &accepted {
        cluster
            .wait_until_terminal(id, Duration::from_secs(120))
            .await;
    }
    counted(&cluster, orders, Duration::from_secs(180)).await;

    // A graceful stop closes the last files: every kept event once in the container, and the
    // aggregates equal a rebuild from the archive alone.
    cluster.script_args(&["stop", "analytics-1"]).await;
    let (status, verified) =
        archive_command(&cluster, &environment, &["verify", "--grace-secs", "0"]).await;
    assert_eq!(status.code(), Some(0), "{verified}");
    assert_eq!(verified["pending"], 0, "{verified}");
    assert!(
        verified["archived"].as_u64() >= Some(orders as u64 * 3),
        "at least three events an order: {verified}"
    );
    let (status, rebuilt) = archive_command(&cluster, &environment, &["rebuild"]).await;
    assert_eq!(status.code(), Some(0), "{rebuilt}");
    assert_eq!(rebuilt["events"], verified["archived"], "{rebuilt}");
    cluster.remove().await;
}
