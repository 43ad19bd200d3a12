//! `spawn_app` and helpers named for what a test means.

use std::time::Duration;

use gateway::auth::tokens::Mint;
use orderflow::config::RunConfig;
use orderflow::embedded::Embedded;
use orderflow::identity::{IdentitySettings, TokenArgs, mint_token, parse_ttl};
use payment_domain::{Payment, PaymentStatus};
use serde_json::{Value, json};
use store::payment::PaymentStore as _;
use store_sqlite::SqlitePaymentStore;
use tempfile::TempDir;

/// A running embedded system with its own data directory.
pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) admin_token: String,
    pub(crate) system: Option<Embedded>,
    pub(crate) _data_dir: TempDir,
}

/// Starts the system on a fresh data directory and a free port.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the configuration adjusted first.
pub(crate) async fn spawn_app_with(adjust: impl FnOnce(&mut RunConfig)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = RunConfig::for_tests(data_dir.path().to_path_buf());
    adjust(&mut config);
    let system = Embedded::start(&config)
        .await
        .expect("start the embedded system");
    TestApp {
        base: format!("http://{}", system.addr),
        http: reqwest::Client::new(),
        admin_token: system.admin_token.clone(),
        system: Some(system),
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn embedded(&self) -> &Embedded {
        self.system.as_ref().expect("running")
    }

    /// POSTs a JSON order body; returns status and body.
    pub(crate) async fn place_order(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/api/v1/orders"))
            .json(body)
            .send()
            .await
            .expect("post order");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    /// Places an order that must be accepted; returns its id.
    pub(crate) async fn place_accepted(&self, body: &Value) -> String {
        let (status, answer) = self.place_order(body).await;
        assert_eq!(status, 202, "{answer}");
        answer["order_id"].as_str().expect("order id").to_owned()
    }

    pub(crate) async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.expect("get");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GETs with `Authorization: Bearer <token>`.
    pub(crate) async fn get_json_as(&self, token: &str, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("get");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs without a body, with `Authorization: Bearer <token>`.
    pub(crate) async fn post_as(&self, token: &str, path: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Cancels an order as the admin; returns status and body.
    pub(crate) async fn cancel(&self, id: &str) -> (u16, Value) {
        self.post_as(&self.admin_token, &format!("/api/v1/orders/{id}/cancel"))
            .await
    }

    /// A customer token for `email`, minted as `orderflow token` mints it, with the secret the
    /// server generated in its data dir.
    pub(crate) fn customer_token(&self, email: &str) -> String {
        self.token_for(email, "1h")
    }

    /// Like [`TestApp::customer_token`], valid for `ttl` (`30s`, `1h`, …).
    pub(crate) fn token_for(&self, email: &str, ttl: &str) -> String {
        let args = TokenArgs {
            email: email.to_owned(),
            ttl: parse_ttl(ttl).expect("a lifetime"),
            data_dir: self.data_dir().to_path_buf(),
            identity: IdentitySettings::default(),
        };
        mint_token(&args).expect("a customer token")
    }

    /// A customer token that expired an hour ago, signed with the server's secret.
    pub(crate) fn expired_token(&self, email: &str) -> String {
        let secret = std::fs::read_to_string(self.data_dir().join("jwt-secret"))
            .expect("the server's JWT secret");
        let email = contracts::value::Email::parse(email).expect("an email");
        let mint = Mint {
            email: &email,
            subject: None,
            issued_at: time::OffsetDateTime::now_utc() - time::Duration::hours(2),
            ttl: Duration::from_secs(3600),
            issuer: None,
            audience: None,
        };
        gateway::auth::tokens::mint(secret.trim(), &mint).expect("a token")
    }

    pub(crate) fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    pub(crate) async fn admin_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("admin get");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json body")
    }

    pub(crate) async fn order(&self, id: &str) -> Value {
        let (status, order) = self.get_json(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(status, 200, "{order}");
        order
    }

    /// Waits until the order is COMPLETED or CANCELLED, and returns it.
    pub(crate) async fn wait_until_terminal(&self, id: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let order = self.order(id).await;
            if matches!(order["status"].as_str(), Some("COMPLETED" | "CANCELLED")) {
                return order;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {id} not terminal after {timeout:?}: {order}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A product's stock: available, reserved, sold, initial, restocked.
    pub(crate) async fn stock(&self, sku: &str) -> Value {
        let levels = self.admin_get("/api/v1/admin/stock").await;
        levels
            .as_array()
            .expect("array")
            .iter()
            .find(|l| l["product_id"] == sku)
            .expect("known product")
            .clone()
    }

    pub(crate) async fn payments(&self) -> Vec<Payment> {
        SqlitePaymentStore::new(self.embedded().databases.payment.clone())
            .payments()
            .await
            .expect("payments")
    }

    pub(crate) async fn payment_status(&self, order_id: &str) -> Option<PaymentStatus> {
        self.payments()
            .await
            .into_iter()
            .find(|p| p.order_id.to_string() == order_id)
            .map(|p| p.status)
    }

    pub(crate) async fn notifications_for(&self, order_id: &str) -> Vec<Value> {
        let sent = self
            .admin_get(&format!("/api/v1/admin/notifications?order_id={order_id}"))
            .await;
        sent.as_array().expect("array").clone()
    }
}

/// The single-item body shape.
/// A loopback port free now, for a server process a test starts.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub(crate) fn single(item: &str, quantity: i64) -> Value {
    json!({ "item_id": item, "quantity": quantity, "user_email": "test@example.com" })
}

/// Asserts the stock invariant: nothing created or lost, nothing negative.
pub(crate) fn assert_conserved(level: &Value) {
    let n = |field: &str| level[field].as_i64().expect("number");
    assert!(n("available") >= 0, "{level}");
    assert_eq!(
        n("available") + n("reserved") + n("sold"),
        n("initial") + n("restocked"),
        "{level}"
    );
}

impl TestApp {
    /// A product's stock once no reservation is in flight: compensations and sales are
    /// messages of their own and land a moment after the order turned terminal.
    pub(crate) async fn settled_stock(&self, sku: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let stock = self.stock(sku).await;
            if stock["reserved"] == 0 || tokio::time::Instant::now() > deadline {
                return stock;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
