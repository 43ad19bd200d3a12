//! Who may do what, against the real system: customers see and cancel only their own orders,
//! the admin all of them, anonymous callers place orders and read one by its id; tokens that
//! do not verify are refused; idempotency keys are each caller's own and expire; no payment
//! token is shown or stored with the order's events.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use orderflow::embedded::Embedded;
use serde_json::{Value, json};
use store::order::OrderStore as _;
use store_sqlite::SqliteOrderStore;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const PATIENCE: Duration = Duration::from_secs(5);

fn order_of(email: &str) -> Value {
    json!({ "item_id": "product-002", "quantity": 1, "user_email": email })
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|order| order["order_id"].as_str().expect("an id").to_owned())
        .collect()
}

impl TestApp {
    /// Places `body` with a bearer token and an Idempotency-Key; returns status, the
    /// `idempotent-replayed` header and the body.
    async fn place_as(&self, token: Option<&str>, key: &str, body: &Value) -> (u16, bool, Value) {
        let mut request = self
            .http
            .post(self.url("/api/v1/orders"))
            .header("Idempotency-Key", key)
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("post order");
        let status = response.status().as_u16();
        let replayed = response.headers().contains_key("idempotent-replayed");
        (
            status,
            replayed,
            response.json().await.expect("a JSON body"),
        )
    }

    /// Waits until the admin's listing shows `count` orders.
    async fn wait_until_listed(&self, count: usize) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (_, page) = self.get_json_as(&self.admin_token, "/api/v1/orders").await;
            if ids(&page).len() == count {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never {count} orders listed: {page}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_customer_lists_only_their_own_orders_and_the_admin_lists_all() {
    let app = spawn_app().await;
    let ada_order = app.place_accepted(&order_of("ada@example.com")).await;
    let bob_order = app.place_accepted(&order_of("bob@example.com")).await;
    app.wait_until_listed(2).await;
    let ada = app.customer_token("ada@example.com");

    let (status, adas) = app.get_json_as(&ada, "/api/v1/orders").await;
    let (_, every_address) = app.get_json_as(&ada, "/api/v1/orders?q=@").await;
    let (_, asking_for_bob) = app
        .get_json_as(&ada, "/api/v1/orders?customer_email=bob@example.com")
        .await;
    let (_, all) = app.get_json_as(&app.admin_token, "/api/v1/orders").await;
    let (anonymous, problem) = app.get_json("/api/v1/orders?q=@").await;

    assert_eq!(status, 200, "{adas}");
    assert_eq!(ids(&adas), std::slice::from_ref(&ada_order));
    assert_eq!(ids(&every_address), std::slice::from_ref(&ada_order));
    assert_eq!(ids(&asking_for_bob), Vec::<String>::new());
    assert_eq!(ids(&all), [bob_order, ada_order]);
    assert_eq!(
        (anonymous, problem["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test]
async fn a_customer_cannot_cancel_another_customer_s_order_but_cancels_their_own() {
    // The gateway is slow, so the orders cannot complete before the cancels arrive.
    let app = spawn_app_with(|config| config.settings.payment_latency_ms = 700).await;
    let bobs = app.place_accepted(&order_of("bob@example.com")).await;
    let adas = app.place_accepted(&order_of("ada@example.com")).await;
    let ada = app.customer_token("ada@example.com");

    let (refused, problem) = app
        .post_as(&ada, &format!("/api/v1/orders/{bobs}/cancel"))
        .await;
    let anonymous = app
        .http
        .post(app.url(&format!("/api/v1/orders/{bobs}/cancel")))
        .send()
        .await
        .expect("post")
        .status()
        .as_u16();
    let (own, _) = app
        .post_as(&ada, &format!("/api/v1/orders/{adas}/cancel"))
        .await;

    assert_eq!(
        (refused, problem["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(anonymous, 401);
    assert_eq!(own, 202);
    assert_eq!(
        app.wait_until_terminal(&bobs, PATIENCE).await["status"],
        "COMPLETED"
    );
    assert_eq!(
        app.wait_until_terminal(&adas, PATIENCE).await["status"],
        "CANCELLED"
    );
}

#[tokio::test]
async fn a_token_signed_with_another_secret_or_expired_is_a_401_problem_with_a_challenge() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    let foreign = other.customer_token("ada@example.com");
    let expired = app.expired_token("ada@example.com");

    for (token, why) in [
        (foreign, "the token's signature does not verify"),
        (expired, "the token has expired"),
    ] {
        let response = app
            .http
            .get(app.url("/api/v1/orders"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("ascii");
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let problem: Value = response.json().await.expect("a problem");
        assert_eq!(problem["code"], "invalid_token");
        assert_eq!(problem["detail"], why);
    }
}

#[tokio::test]
async fn a_customer_s_order_is_placed_under_their_address_and_anonymous_ones_can_be_turned_off() {
    let app = spawn_app_with(|config| config.identity.anonymous_orders = false).await;
    let ada = app.customer_token("ada@example.com");
    let without_email = json!({ "item_id": "product-002", "quantity": 1 });

    let (status, _, accepted) = app.place_as(Some(&ada), "k-1", &without_email).await;
    let (anonymous, _, problem) = app
        .place_as(None, "k-2", &order_of("ada@example.com"))
        .await;

    assert_eq!(status, 202, "{accepted}");
    let id = accepted["order_id"].as_str().expect("an id");
    assert_eq!(app.order(id).await["customer_email"], "ada@example.com");
    assert_eq!(
        (anonymous, problem["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test]
async fn idempotency_keys_are_each_caller_s_own_and_expire() {
    let app =
        spawn_app_with(|config| config.settings.idempotency_ttl = Duration::from_secs(1)).await;
    let (ada, bob) = (
        app.customer_token("ada@example.com"),
        app.customer_token("bob@example.com"),
    );
    let body = json!({ "item_id": "product-002", "quantity": 1 });

    let (_, _, first) = app.place_as(Some(&ada), "shared-key", &body).await;
    let (_, replayed, again) = app.place_as(Some(&ada), "shared-key", &body).await;
    let (bobs_status, bob_replayed, bobs) = app.place_as(Some(&bob), "shared-key", &body).await;
    let (_, anonymous_replayed, anonymous) = app
        .place_as(None, "shared-key", &order_of("ada@example.com"))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, expired_replayed, after_expiry) =
        app.place_as(Some(&ada), "shared-key", &body).await;

    assert!(replayed);
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!((bobs_status, bob_replayed), (202, false), "{bobs}");
    assert_ne!(bobs["order_id"], first["order_id"]);
    assert!(!anonymous_replayed);
    assert_ne!(anonymous["order_id"], first["order_id"]);
    assert_eq!((status, expired_replayed), (202, false), "{after_expiry}");
    assert_ne!(after_expiry["order_id"], first["order_id"]);
}

#[tokio::test]
async fn no_payment_token_is_shown_by_the_events_or_stored_with_them() {
    let app = spawn_app().await;
    let body = json!({
        "item_id": "product-002", "quantity": 1, "user_email": "ada@example.com",
        "payment_token": "tok_chargeDeclined"
    });
    let id = app.place_accepted(&body).await;
    let order = app.wait_until_terminal(&id, PATIENCE).await;

    let (status, events) = app.get_json(&format!("/api/v1/orders/{id}/events")).await;

    // The token still reached the payment service: the card was declined.
    assert_eq!(
        order["cancellation_reason"],
        "payment failed: card declined"
    );
    assert_eq!(status, 200);
    assert_eq!(events[0]["schema_version"], 3);
    assert!(
        events[0]["payload"]["payment_reference"].is_string(),
        "{events}"
    );
    assert!(!events.to_string().contains("tok_"), "{events}");
    let store = SqliteOrderStore::new(app.embedded().databases.order.clone());
    let stored = store
        .load(id.parse().expect("an order id"))
        .await
        .expect("its events");
    for event in stored {
        let json = serde_json::to_string(&event.envelope).expect("json");
        assert!(!json.contains("tok_"), "stored with a token: {json}");
    }
}

#[tokio::test]
async fn a_kept_payment_token_is_gone_once_its_order_is_charged_or_ends_without_a_charge() {
    let app = spawn_app().await;
    let charged = app.place_accepted(&order_of("ada@example.com")).await;
    let never_charged = app
        .place_accepted(
            &json!({ "item_id": "product-001", "quantity": 1000, "user_email": "ada@example.com" }),
        )
        .await;
    app.wait_until_terminal(&charged, PATIENCE).await;
    let ended = app.wait_until_terminal(&never_charged, PATIENCE).await;

    assert_eq!(ended["status"], "CANCELLED");
    let connection = rusqlite::Connection::open_with_flags(
        app.data_dir().join("order.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open order.db");
    let kept: i64 = connection
        .query_row("SELECT COUNT(*) FROM payment_tokens", [], |row| row.get(0))
        .expect("count kept tokens");
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn an_empty_or_short_admin_token_or_jwt_secret_stops_the_start_with_a_message() {
    for (admin, secret) in [
        ("", None),
        ("short-token", None),
        ("test-admin-token", Some("")),
    ] {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = orderflow::config::RunConfig::for_tests(data_dir.path().to_path_buf());
        config.admin_token = Some(admin.to_owned());
        config.identity.jwt_secret = secret.map(str::to_owned);

        let error = Embedded::start(&config).await.err().expect("refused");

        assert!(format!("{error:#}").contains("at least 16"), "{error:#}");
    }
}

#[tokio::test]
async fn a_generated_admin_token_is_kept_in_the_data_dir_and_only_its_path_is_printed() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut server = Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .env("ORDERFLOW_DATA_DIR", data_dir.path())
        .env("ORDERFLOW_LISTEN", "127.0.0.1:0")
        .env_remove("ORDERFLOW_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start orderflow");
    let stdout = server.stdout.take().expect("stdout");
    let printed = tokio::task::spawn_blocking(move || {
        let mut printed = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("a line");
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("Orderflow is listening") {
                break;
            }
        }
        printed
    })
    .await
    .expect("stdout read");
    server.kill().expect("stop orderflow");
    server.wait().expect("stopped");

    let token = std::fs::read_to_string(data_dir.path().join("admin-token")).expect("kept");
    let secret = std::fs::read_to_string(data_dir.path().join("jwt-secret")).expect("kept");
    assert!(printed.contains("admin-token"), "{printed}");
    assert!(!printed.contains(token.trim()), "{printed}");
    assert!(!printed.contains(secret.trim()), "{printed}");
}
