//! PostgreSQL, RabbitMQ or Redis down for 30 s under a steady load, with the production retry
//! delays and saga deadlines (30 s each). Each backend is reached through a proxy of the
//! test's own, which drops every connection and refuses new ones for the outage: the shared
//! servers are never stopped.
//!
//! During the outage the affected processes answer `/health/ready` with 503 naming the
//! backend; after it every process answers 200, nothing is dead-lettered, every accepted order
//! ends as its card decides (none cancelled for a timeout), and the backlog drains within 30 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use testkit::proxy::Proxy;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::checks::{assert_invariants, mixed};
use crate::harness::{Backend, Cluster};

const OUTAGE: Duration = Duration::from_secs(30);
/// How long the backlog of the outage may take to drain once the backend is back.
const DRAIN: Duration = Duration::from_secs(30);
/// How long a readiness probe may take to answer, as a load balancer would allow.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const SERVICES: [&str; 5] = ["order", "inventory", "payment", "notification", "query"];

/// The cluster's way to each backend: a proxy in front of each server.
struct Links {
    postgres: Proxy,
    rabbitmq: Proxy,
    redis: Proxy,
}

impl Links {
    async fn start() -> Self {
        let proxy_to =
            |url: String| async move { Proxy::in_front_of(&url).await.expect("proxy").0 };
        Self {
            postgres: proxy_to(testkit::postgres::server_url()).await,
            rabbitmq: proxy_to(transport_amqp::testing::amqp_url()).await,
            redis: proxy_to(
                std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            )
            .await,
        }
    }

    fn to(&mut self, backend: Backend) -> &mut Proxy {
        match backend {
            Backend::Postgres => &mut self.postgres,
            Backend::Rabbitmq => &mut self.rabbitmq,
            Backend::Redis => &mut self.redis,
        }
    }

    fn route(&self, backend: Backend, url: &str) -> String {
        let proxy = match backend {
            Backend::Postgres => &self.postgres,
            Backend::Rabbitmq => &self.rabbitmq,
            Backend::Redis => &self.redis,
        };
        proxy.route(url).expect("route through the proxy")
    }
}

/// The name a readiness body gives the backend.
fn named(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgresql",
        Backend::Rabbitmq => "rabbitmq",
        Backend::Redis => "redis",
    }
}

/// The processes whose readiness depends on the backend.
fn affected(backend: Backend) -> Vec<&'static str> {
    match backend {
        Backend::Postgres => SERVICES.to_vec(),
        Backend::Rabbitmq => SERVICES.iter().copied().chain(["gateway"]).collect(),
        Backend::Redis => vec!["query"],
    }
}

/// Orders placed at a steady pace, a few in flight at a time, until stopped: returns the
/// accepted ones.
struct SteadyLoad {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Vec<(String, Value)>>,
}

impl SteadyLoad {
    fn start(cluster: &Cluster, per_second: u64) -> Self {
        let stop = CancellationToken::new();
        let (http, url) = (
            cluster.http.clone(),
            format!("{}/api/v1/orders", cluster.gateway),
        );
        let next = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut placing = JoinSet::new();
                let mut pace = tokio::time::interval(Duration::from_millis(1000 / per_second));
                while !stop.is_cancelled() {
                    tokio::select! {
                        _ = pace.tick() => {}
                        () = stop.cancelled() => break,
                    }
                    let body = mixed(next.fetch_add(1, Ordering::Relaxed));
                    let (http, url) = (http.clone(), url.clone());
                    placing.spawn(async move {
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
        });
        Self { stop, task }
    }

    async fn stop(self) -> Vec<(String, Value)> {
        self.stop.cancel();
        self.task.await.expect("load")
    }
}

/// `/health/ready` of one process: its status and body, or `None` if it did not answer in
/// [`PROBE_TIMEOUT`].
async fn readiness(cluster: &Cluster, service: &str) -> Option<(u16, Value)> {
    let response = cluster
        .http
        .get(format!("{}/health/ready", cluster.process_url(service)))
        .timeout(PROBE_TIMEOUT)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

/// Waits until every process in `services` answers readiness with `status`, and returns their
/// bodies.
async fn wait_for_readiness(
    cluster: &Cluster,
    services: &[&str],
    status: u16,
    within: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut bodies = Vec::new();
    for service in services {
        loop {
            let answer = readiness(cluster, service).await;
            if let Some((seen, body)) = &answer
                && *seen == status
            {
                bodies.push(body.clone());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{service} did not answer readiness {status} within {within:?}: {answer:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    bodies
}

/// Restocks every product far beyond the load, so that no order is cancelled for stock.
async fn restock(cluster: &Cluster) {
    for product in ["product-001", "product-002", "product-003"] {
        let response = cluster
            .http
            .post(format!(
                "{}/api/v1/admin/products/{product}/stock",
                cluster.gateway
            ))
            .bearer_auth(crate::harness::ADMIN_TOKEN)
            .json(&serde_json::json!({ "delta": 100_000 }))
            .send()
            .await
            .expect("restock");
        assert_eq!(response.status(), 200, "restock {product}");
    }
}

/// Waits until every accepted order is terminal, at most until `deadline`.
async fn wait_until_all_terminal(cluster: &Cluster, accepted: &[(String, Value)], by: Instant) {
    let mut open: Vec<&str> = accepted.iter().map(|(id, _)| id.as_str()).collect();
    while !open.is_empty() {
        let mut still_open = Vec::new();
        for id in open {
            let (status, order) = cluster.get(&format!("/api/v1/orders/{id}")).await;
            if status != 200 || !matches!(order["status"].as_str(), Some("COMPLETED" | "CANCELLED"))
            {
                still_open.push(id);
            }
        }
        open = still_open;
        assert!(
            open.is_empty() || Instant::now() < by,
            "{} accepted orders not terminal {DRAIN:?} after the outage, e.g. {:?}\n{}",
            open.len(),
            open.first(),
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every accepted order ends as its card decides: completed, or cancelled for the declined
/// card, never for a timeout.
async fn assert_ended_as_their_cards_decide(cluster: &Cluster, accepted: &[(String, Value)]) {
    for (id, body) in accepted {
        let (_, order) = cluster.get(&format!("/api/v1/orders/{id}")).await;
        if body["payment_token"] == "tok_chargeDeclined" {
            assert_eq!(
                order["cancellation_reason"], "payment failed: card declined",
                "{order}"
            );
        } else {
            assert_eq!(order["status"], "COMPLETED", "{order}");
        }
    }
}

async fn outage_of(backend: Backend) {
    let mut links = Links::start().await;
    let cluster = Cluster::start_routed(
        1,
        &[
            // Orders are always waiting for their payment too: the outage cuts sagas mid-step.
            ("ORDERFLOW_PAYMENT_LATENCY_MS", "50"),
            // The production defaults, which the other cluster tests shorten.
            ("ORDERFLOW_RETRY_DELAY_MS", "200"),
            ("ORDERFLOW_RETRY_MAX_DELAY_MS", "30000"),
        ],
        &|backend, url| links.route(backend, url),
    )
    .await;
    restock(&cluster).await;
    // 5 orders a second: a broker outage leaves 150 orders to finish once it is back, which
    // the debug build of the order service (its replies are the bottleneck, see
    // PERFORMANCE.md) works off in well under the 30 s allowed, even on a busy machine.
    let load = SteadyLoad::start(&cluster, 5);
    tokio::time::sleep(Duration::from_secs(5)).await;

    let started = Instant::now();
    links.to(backend).take_down().await;
    let during = wait_for_readiness(&cluster, &affected(backend), 503, OUTAGE / 2).await;
    for body in &during {
        let failing: Vec<&Value> = body["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|check| check["ready"] == false)
            .collect();
        assert!(!failing.is_empty(), "{body}");
        for check in failing {
            assert!(
                check.to_string().to_lowercase().contains(named(backend)),
                "a failing check that does not name {}: {body}",
                named(backend)
            );
        }
    }
    let unaffected: Vec<&str> = SERVICES
        .iter()
        .copied()
        .chain(["gateway"])
        .filter(|service| !affected(backend).contains(service))
        .collect();
    wait_for_readiness(&cluster, &unaffected, 200, PROBE_TIMEOUT).await;
    tokio::time::sleep(OUTAGE.saturating_sub(started.elapsed())).await;
    links.to(backend).bring_back().await;
    let back = Instant::now();

    let every: Vec<&str> = SERVICES.iter().copied().chain(["gateway"]).collect();
    wait_for_readiness(&cluster, &every, 200, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let accepted = load.stop().await;
    assert!(accepted.len() >= 40, "only {} accepted", accepted.len());
    wait_until_all_terminal(&cluster, &accepted, back + DRAIN).await;
    eprintln!(
        "{backend:?} down for {OUTAGE:?}: {} orders accepted, all terminal {:?} after it",
        accepted.len(),
        back.elapsed()
    );
    assert_ended_as_their_cards_decide(&cluster, &accepted).await;
    assert_invariants(&cluster, &accepted).await;
    cluster.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_down_for_30_s_under_load_cancels_nothing_dead_letters_nothing_and_drains_within_30_s()
 {
    outage_of(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_down_for_30_s_under_load_cancels_nothing_dead_letters_nothing_and_drains_within_30_s()
 {
    outage_of(Backend::Rabbitmq).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_for_30_s_under_load_cancels_nothing_dead_letters_nothing_and_drains_within_30_s()
 {
    outage_of(Backend::Redis).await;
}
