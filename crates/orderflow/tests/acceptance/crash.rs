//! kill -9 in the middle of 500 orders, then start again: nothing is lost, nothing is
//! oversold, nobody is charged twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use payment_domain::PaymentStatus;
use serde_json::{Value, json};
use store::payment::PaymentStore as _;
use store_sqlite::{Databases, SqlitePaymentStore};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::helpers::free_port;

const ORDERS: usize = 500;
const TOKEN: &str = "crash-test-token";
/// Requests placing orders at once: enough that the orders are all in flight together, few
/// enough that neither process needs hundreds of sockets.
const CONNECTIONS: usize = 32;
/// Bounds on each wait, so that a stuck server fails the test with its log rather than
/// holding it: one request, every order after the restart, a graceful stop.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const SETTLE: Duration = Duration::from_secs(180);
const GRACE: Duration = Duration::from_secs(60);

/// One run of the server on the test's data directory, its log in a file there. Dropped,
/// it is killed; dropped by a failing test, it shows the end of its log first.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(data_dir: &Path, port: u16, run: usize) -> Self {
        let log = data_dir.join(format!("server-{run}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_orderflow"))
            .args(["run", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("ORDERFLOW_ADMIN_TOKEN", TOKEN)
            .env("ORDERFLOW_PAYMENT_LATENCY_MS", "10")
            // All 500 must be in flight at once: admission would refuse most at a cold start;
            // and every one is polled, from one address.
            .env("ORDERFLOW_MAX_IN_FLIGHT", "1000000")
            .env("ORDERFLOW_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("server log"))
            .spawn()
            .expect("start orderflow");
        Self { child, log }
    }

    /// SIGTERM, then the exit, within `GRACE`.
    async fn stop_gracefully(&mut self) -> std::process::ExitStatus {
        let stopped = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(stopped.success());
        let deadline = tokio::time::Instant::now() + GRACE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server did not stop within {GRACE:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- the last lines of {} ---", self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = http.get(format!("{base}/health/ready")).send().await
            && response.status() == 200
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The i-th order of the mix: laptops (which run out), mice, keyboards and declined cards.
fn order_body(i: usize) -> Value {
    let (product, token) = match i % 5 {
        0 | 1 => ("product-001", "tok_visa"),
        2 => ("product-002", "tok_visa"),
        3 => ("product-003", "tok_visa"),
        _ => ("product-002", "tok_chargeDeclined"),
    };
    json!({
        "customer_email": format!("customer{i}@example.com"),
        "items": [{"product_id": product, "quantity": 1 + i % 3}],
        "payment_token": token
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_with_orders_in_flight_every_order_finishes_and_nothing_is_lost_or_doubled() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    orderflow::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("http client");
    let mut server = Server::start(data_dir.path(), port, 1);
    wait_ready(&http, &base).await;

    let mut placing = JoinSet::new();
    let connections = Arc::new(Semaphore::new(CONNECTIONS));
    for i in 0..ORDERS {
        let (http, base) = (http.clone(), base.clone());
        let connections = Arc::clone(&connections);
        placing.spawn(async move {
            let _connection = connections.acquire().await.expect("open semaphore");
            let response = http
                .post(format!("{base}/api/v1/orders"))
                .json(&order_body(i))
                .send()
                .await
                .expect("post");
            assert_eq!(response.status(), 202);
            let body: Value = response.json().await.expect("json");
            (
                body["order_id"].as_str().expect("id").to_owned(),
                order_body(i),
            )
        });
    }
    let accepted: Vec<(String, Value)> = placing.join_all().await;
    server.child.kill().expect("kill -9");
    server.child.wait().expect("reap");
    drop(server);

    let mut server = Server::start(data_dir.path(), port, 2);
    wait_ready(&http, &base).await;
    let mut sold: HashMap<String, i64> = HashMap::new();
    let mut status_of = HashMap::new();
    let deadline = tokio::time::Instant::now() + SETTLE;
    for (id, body) in &accepted {
        let order: Value = loop {
            let order: Value = http
                .get(format!("{base}/api/v1/orders/{id}"))
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            if matches!(order["status"].as_str(), Some("COMPLETED" | "CANCELLED")) {
                break order;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {id} not ended {SETTLE:?} after the restart ({} of {} ended): {order}",
                status_of.len(),
                accepted.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if order["status"] == "COMPLETED" {
            let item = &body["items"][0];
            *sold
                .entry(item["product_id"].as_str().expect("sku").to_owned())
                .or_default() += item["quantity"].as_i64().expect("quantity");
        }
        status_of.insert(
            id.clone(),
            order["status"].as_str().expect("status").to_owned(),
        );
    }

    // Every sale and compensation has landed once no stock is reserved any more.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let stock = loop {
        let stock: Value = http
            .get(format!("{base}/api/v1/admin/stock"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("stock")
            .json()
            .await
            .expect("json");
        if stock
            .as_array()
            .expect("array")
            .iter()
            .all(|l| l["reserved"] == 0)
            || tokio::time::Instant::now() > deadline
        {
            break stock;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for level in stock.as_array().expect("array") {
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
            "sold {sku} vs completed orders"
        );
    }
    assert!(
        status_of.values().any(|s| s == "CANCELLED")
            && status_of.values().any(|s| s == "COMPLETED")
    );

    // Graceful stop, then read the payments straight from the payment database.
    assert!(
        server.stop_gracefully().await.success(),
        "graceful shutdown exits cleanly"
    );
    let databases = Databases::open(data_dir.path())
        .await
        .expect("open databases");
    let payments = SqlitePaymentStore::new(databases.payment.clone())
        .payments()
        .await
        .expect("payments");
    for payment in &payments {
        let status = status_of
            .get(&payment.order_id.to_string())
            .expect("payment for an accepted order");
        match payment.status {
            PaymentStatus::Succeeded => assert_eq!(status, "COMPLETED", "{payment:?}"),
            PaymentStatus::Refunded | PaymentStatus::Failed => {
                assert_eq!(status, "CANCELLED", "{payment:?}");
            }
            PaymentStatus::Pending => panic!("a payment left pending: {payment:?}"),
        }
    }
    let captured = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::Succeeded)
        .count();
    assert_eq!(
        captured,
        status_of.values().filter(|s| *s == "COMPLETED").count(),
        "one charge per completed order"
    );
}
