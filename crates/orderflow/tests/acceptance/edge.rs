//! The edge under abuse, against the real server: connections that never finish their request,
//! a client that sends too fast, bodies and queries far past their limits, and values made to
//! break arithmetic or to read differently than they are.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Reads until the server closes the connection (end of stream or a reset); fails the test if
/// it is still open after `patience`.
async fn wait_until_closed(stream: &mut TcpStream, patience: Duration) {
    let mut buffer = [0_u8; 1024];
    let closed = tokio::time::timeout(patience, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection was still open after {patience:?}"
    );
}

/// Expects a problem+json answer; returns its status, body and size in bytes.
async fn problem(response: reqwest::Response) -> (u16, Value, usize) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].clone();
    assert_eq!(content_type, "application/problem+json");
    let bytes = response.bytes().await.expect("a body");
    let body = serde_json::from_slice(&bytes).expect("JSON");
    (status, body, bytes.len())
}

impl TestApp {
    async fn post_json_text(&self, path: &str, body: String) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post")
    }
}

#[tokio::test]
async fn half_open_requests_neither_keep_health_from_answering_nor_stay_open_past_the_header_timeout()
 {
    let app = spawn_app_with(|config| config.http.header_read_timeout_ms = 2_000).await;
    let addr = app.embedded().addr;
    let mut half_open = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: orderflow\r\n")
            .await
            .expect("half a request");
        half_open.push(stream);
    }

    let live = app.http.get(app.url("/health/live")).send().await;

    assert_eq!(live.expect("an answer").status(), 200);
    for stream in &mut half_open {
        wait_until_closed(stream, Duration::from_secs(30)).await;
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(|config| config.http.header_read_timeout_ms = 1_000).await;
    let mut stream = TcpStream::connect(app.embedded().addr)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: orderflow\r\n\r\n")
        .await
        .expect("a request");
    let mut answer = [0_u8; 12];
    stream.read_exact(&mut answer).await.expect("an answer");
    assert_eq!(&answer, b"HTTP/1.1 200");

    wait_until_closed(&mut stream, Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_client_past_its_rate_is_told_when_to_come_back_while_another_client_is_served() {
    let app = spawn_app_with(|config| {
        config.http.rate_limit = 1;
        config.http.rate_limit_burst = 20;
    })
    .await;

    let mut refused = None;
    for _ in 0..100 {
        let response = app.http.get(app.url("/health/live")).send().await;
        let response = response.expect("an answer");
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("no 429 after 100 requests at a rate of 1 a second");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    let (_, body, _) = problem(refused).await;
    // Another address of the loopback network is another client.
    let other = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .expect("a client");
    let served = other.get(app.url("/health/live")).send().await;

    assert!(retry_after >= 1, "{retry_after}");
    assert_eq!(body["code"], "too_many_requests");
    assert_eq!(served.expect("an answer").status(), 200);
}

#[tokio::test]
async fn a_body_of_87000_empty_items_gets_a_small_problem() {
    let app = spawn_app().await;
    let items = vec!["{}"; 87_000].join(",");
    let body = format!(r#"{{"customer_email":"a@example.com","items":[{items}]}}"#);
    assert!(body.len() > 260_000);

    let (status, answer, size) = problem(app.post_json_text("/api/v1/orders", body).await).await;

    assert!((400..500).contains(&status), "{status}");
    assert!(size < 64 * 1024, "{size} bytes");
    assert_eq!(answer["errors"][0]["field"], "items");
}

#[tokio::test]
async fn a_search_of_50000_characters_is_refused_without_being_echoed() {
    let app = spawn_app().await;
    let text = "a".repeat(50_000);

    let response = app
        .http
        .get(app.url("/api/v1/orders"))
        .bearer_auth(&app.admin_token)
        .query(&[("q", text.as_str())])
        .send()
        .await
        .expect("get");
    let (status, body, size) = problem(response).await;

    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "q");
    assert!(size < 4096, "{size} bytes");
}

#[tokio::test]
async fn an_unknown_route_a_wrong_method_and_a_body_too_large_are_problems() {
    let app = spawn_app().await;

    let unknown = app.http.get(app.url("/nowhere")).send().await;
    let method = app.http.put(app.url("/api/v1/orders")).send().await;
    let large = app
        .post_json_text("/api/v1/orders", "x".repeat(300 * 1024))
        .await;

    assert_eq!(problem(unknown.expect("an answer")).await.0, 404);
    assert_eq!(problem(method.expect("an answer")).await.0, 405);
    assert_eq!(problem(large).await.0, 413);
}

#[tokio::test]
async fn the_dashboard_is_html_from_the_binary_and_a_path_beside_it_is_a_problem() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");

    let root = no_redirects.get(app.url("/")).send().await.expect("get /");
    let page = app
        .http
        .get(app.url("/dashboard"))
        .send()
        .await
        .expect("get");
    let headers = page.headers().clone();
    let html = page.text().await.expect("html");
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the script's address")
        .to_owned();
    let asset = app.http.get(app.url(&script)).send().await.expect("get");
    let beside = app.http.get(app.url("/dashboard/nowhere.js")).send().await;

    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/dashboard");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers.contains_key("content-security-policy"));
    assert!(script.starts_with("/dashboard/app.js?v="), "{script}");
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .expect("text")
            .contains("immutable")
    );
    assert_eq!(problem(beside.expect("an answer")).await.0, 404);
}

#[tokio::test]
async fn a_stock_delta_of_i64_min_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let before = app.stock("product-001").await;

    let response = app
        .http
        .post(app.url("/api/v1/admin/products/product-001/stock"))
        .bearer_auth(&app.admin_token)
        .json(&json!({ "delta": i64::MIN }))
        .send()
        .await
        .expect("post");
    let (status, body, _) = problem(response).await;

    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "delta");
    assert_eq!(app.stock("product-001").await, before);
}

#[tokio::test]
async fn an_email_with_a_right_to_left_override_is_refused() {
    let app = spawn_app().await;
    let body = json!({
        "item_id": "product-002", "quantity": 1,
        "user_email": "ada\u{202E}moc.elpmaxe@example.com",
    });

    let response = app
        .http
        .post(app.url("/api/v1/orders"))
        .json(&body)
        .send()
        .await;
    let (status, answer, _) = problem(response.expect("an answer")).await;

    assert_eq!(status, 422);
    assert_eq!(answer["errors"][0]["field"], "customer_email");
    let message = answer["errors"][0]["message"].as_str().expect("a message");
    assert!(!message.contains('\u{202E}'), "{message}");
}

#[tokio::test]
async fn a_body_with_both_shapes_is_refused_naming_both() {
    let app = spawn_app().await;
    let body = json!({
        "item_id": "product-001", "quantity": 1, "user_email": "a@example.com",
        "items": [{"product_id": "product-002", "quantity": 9}],
    });

    let response = app
        .http
        .post(app.url("/api/v1/orders"))
        .json(&body)
        .send()
        .await;
    let (status, answer, _) = problem(response.expect("an answer")).await;

    assert_eq!(status, 422);
    let message = answer["errors"][0]["message"].as_str().expect("a message");
    assert!(
        message.contains("`item_id`") && message.contains("`items`"),
        "{message}"
    );
    let (_, page) = app
        .get_json_as(
            &app.admin_token,
            "/api/v1/orders?customer_email=a@example.com",
        )
        .await;
    assert_eq!(page["orders"], json!([]));
}
