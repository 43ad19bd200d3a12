//! A data directory after real orders, built once per test run by the embedded system: an order
//! completed, one declined by the card, one for more than the stock, and one cancelled by its
//! customer while its payment was under way (the late charge refunded). Each test gets a copy
//! of its own to break.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use orderflow::config::RunConfig;
use orderflow::embedded::Embedded;
use orderflow::verify::{Options, Report, verify_embedded};
use serde_json::{Value, json};
use tempfile::TempDir;
use uuid::Uuid;

/// The orders in the golden data directory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Orders {
    /// Two `product-002`, paid and completed.
    pub(crate) completed: Uuid,
    /// One `product-001`, the card declined.
    pub(crate) declined: Uuid,
    /// A thousand `product-001`: insufficient stock.
    pub(crate) insufficient: Uuid,
    /// One `product-003`, cancelled while charged; the late charge refunded.
    pub(crate) cancelled: Uuid,
}

struct Golden {
    files: Vec<(String, Vec<u8>)>,
    orders: Orders,
}

static GOLDEN: OnceLock<Golden> = OnceLock::new();

/// No patience at all: the golden system had settled before it stopped, and a test's own
/// changes must be judged at once. Pages of two orders, so that paging is exercised.
pub(crate) const AT_ONCE: Options = Options {
    deadline_grace: Duration::ZERO,
    settle: Duration::ZERO,
    page_size: 2,
};

/// A copy of the golden data directory, and its orders.
pub(crate) fn golden_copy() -> (TempDir, Orders) {
    let golden = GOLDEN.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            runtime.block_on(build())
        })
        .join()
        .expect("the golden data dir is built")
    });
    let copy = tempfile::tempdir().expect("a temporary data dir");
    for (name, bytes) in &golden.files {
        std::fs::write(copy.path().join(name), bytes).expect("copy a database file");
    }
    (copy, golden.orders)
}

/// Verifies `data_dir` at once.
pub(crate) async fn verify_now(data_dir: &Path) -> Report {
    verify_embedded(data_dir, &AT_ONCE)
        .await
        .expect("the data dir can be checked")
}

/// Runs one statement with `binds` on a service's database file with its CHECK constraints
/// off, as only a bug or a hand could; returns how many rows it changed.
pub(crate) async fn tamper(
    data_dir: &Path,
    service: &str,
    sql: &'static str,
    binds: &[String],
) -> u64 {
    let connection = rusqlite::Connection::open(data_dir.join(format!("{service}.db")))
        .expect("open the database file");
    connection
        .pragma_update(None, "ignore_check_constraints", "ON")
        .expect("turn the checks off");
    let changed = connection
        .execute(sql, rusqlite::params_from_iter(binds))
        .expect("tamper");
    u64::try_from(changed).expect("a row count")
}

/// Runs `sql` on a service's database with `order`'s id as `?1`; it must change one row.
pub(crate) async fn break_order(data_dir: &Path, service: &str, sql: &'static str, order: Uuid) {
    let changed = tamper(data_dir, service, sql, &[order.to_string()]).await;
    assert_eq!(changed, 1, "{sql}");
}

async fn build() -> Golden {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let mut config = RunConfig::for_tests(data_dir.path().to_path_buf());
    // Slow enough to cancel an order while its charge is under way.
    config.settings.payment_latency_ms = 700;
    let system = Embedded::start(&config).await.expect("start the system");
    let api = Api {
        base: format!("http://{}", system.addr),
        http: reqwest::Client::new(),
        admin_token: system.admin_token.clone(),
    };
    let email = "ada@example.com";
    let cancelled = api
        .place(json!({ "item_id": "product-003", "quantity": 1, "user_email": email }))
        .await;
    api.wait_for(cancelled, |status| status == "INVENTORY_RESERVED")
        .await;
    api.cancel(cancelled).await;
    let orders = Orders {
        completed: (api
            .place(json!({ "item_id": "product-002", "quantity": 2, "user_email": email })))
        .await,
        declined: api
            .place(json!({
                "item_id": "product-001", "quantity": 1, "user_email": email,
                "payment_token": "tok_chargeDeclined"
            }))
            .await,
        insufficient: (api
            .place(json!({ "item_id": "product-001", "quantity": 1000, "user_email": email })))
        .await,
        cancelled,
    };
    for order in [
        orders.completed,
        orders.declined,
        orders.insufficient,
        cancelled,
    ] {
        api.wait_for(order, |status| matches!(status, "COMPLETED" | "CANCELLED"))
            .await;
    }
    // Compensations, sales and projections land a moment after the orders end.
    let settled = tokio::time::Instant::now() + Duration::from_secs(15);
    while !verify_now(data_dir.path()).await.is_clean() && tokio::time::Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    system.stop().await.expect("stop the system");
    // The databases and the secrets; not the analytics archive's directory (verify reads none).
    let files = std::fs::read_dir(data_dir.path())
        .expect("list the data dir")
        .map(|entry| entry.expect("a file"))
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| {
            let name = entry.file_name().into_string().expect("a file name");
            (name, std::fs::read(entry.path()).expect("read a file"))
        })
        .collect();
    Golden { files, orders }
}

struct Api {
    base: String,
    http: reqwest::Client,
    admin_token: String,
}

impl Api {
    async fn place(&self, body: Value) -> Uuid {
        let response = (self.http.post(format!("{}/api/v1/orders", self.base)))
            .json(&body)
            .send()
            .await
            .expect("place an order");
        assert_eq!(response.status(), 202);
        let answer: Value = response.json().await.expect("a json answer");
        answer["order_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an order id")
    }

    async fn cancel(&self, order: Uuid) {
        let url = format!("{}/api/v1/orders/{order}/cancel", self.base);
        let request = self.http.post(url).bearer_auth(&self.admin_token);
        let response = request.send().await.expect("cancel");
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn wait_for(&self, order: Uuid, reached: impl Fn(&str) -> bool) {
        let url = format!("{}/api/v1/orders/{order}", self.base);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let view: Value = (self.http.get(&url).send().await.expect("get"))
                .json()
                .await
                .expect("a view");
            if view["status"].as_str().is_some_and(&reached) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order} stays {}",
                view["status"]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
