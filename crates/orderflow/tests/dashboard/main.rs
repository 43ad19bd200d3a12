//! The operator's dashboard in a real browser (headless Chromium over WebDriver) against the
//! real embedded system: an order followed live to COMPLETED without a reload, its saga
//! timeline, a step dead-lettered by a fault, fixed and replayed from the dead-letter page
//! until the order ends, stock adjusted, the mailbox, and a customer who sees only their own
//! orders. A screenshot of each page is saved under `target/dashboard-screenshots/`.

mod browser;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::FutureExt as _;
use orderflow::config::RunConfig;
use orderflow::embedded::Embedded;
use orderflow::identity::{IdentitySettings, TokenArgs, mint_token, parse_ttl};
use serde_json::{Value, json};
use tokio::time::Instant;

use browser::{Browser, Driver, PAGE_TIMEOUT, ensure_browser};

/// The embedded system under test, with what the scenario needs to reach it.
/// Where the system under test says its traces are to be seen.
const TRACE_VIEWER: &str = "http://traces.example/trace/{trace_id}";

struct System {
    base: String,
    admin_token: String,
    http: reqwest::Client,
    data_dir: tempfile::TempDir,
    embedded: Embedded,
}

impl System {
    async fn start() -> System {
        // Trace context on every request and message, as the binary has: the order's page
        // links the trace its order was placed in.
        drop(orderflow::telemetry::init_traces_only("orderflow"));
        let data_dir = tempfile::tempdir().expect("a data dir");
        let mut config = RunConfig::for_tests(data_dir.path().to_path_buf());
        // A reservation parked in the dead letters must still be awaited when it is replayed.
        config.settings.stock_deadline_ms = 300_000;
        config.http.trace_url = Some(TRACE_VIEWER.into());
        let embedded = Embedded::start(&config).await.expect("start the system");
        System {
            base: format!("http://{}", embedded.addr),
            admin_token: embedded.admin_token.clone(),
            http: reqwest::Client::new(),
            data_dir,
            embedded,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Places an order through the API (with `token`, if any); returns its id.
    async fn place(&self, body: Value, token: Option<&str>) -> String {
        let mut request = self.http.post(self.url("/api/v1/orders")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.expect("place an order");
        assert_eq!(
            answer.status(),
            202,
            "{}",
            answer.text().await.unwrap_or_default()
        );
        let accepted: Value = answer.json().await.expect("json");
        accepted["order_id"]
            .as_str()
            .expect("an order id")
            .to_owned()
    }

    async fn admin_get(&self, path: &str) -> Value {
        let answer = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("get");
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.json().await.expect("json")
    }

    /// Waits until no product has stock reserved: every message of the orders so far handled.
    async fn settled(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let levels = self.admin_get("/api/v1/admin/stock").await;
            if levels
                .as_array()
                .expect("levels")
                .iter()
                .all(|level| level["reserved"] == 0)
            {
                return;
            }
            assert!(Instant::now() < deadline, "stock still reserved: {levels}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn customer_token(&self, email: &str) -> String {
        mint_token(&TokenArgs {
            email: email.to_owned(),
            ttl: parse_ttl("1h").expect("a lifetime"),
            data_dir: self.data_dir.path().to_path_buf(),
            identity: IdentitySettings::default(),
        })
        .expect("a customer token")
    }

    /// Runs one statement on the inventory's SQLite file beside the running server, as an
    /// operator's mistake would (the server's own connections see the schema change).
    fn inventory_sql(&self, statement: &str) {
        let path = self.data_dir.path().join("inventory.db");
        let connection = rusqlite::Connection::open(&path).expect("open inventory.db");
        connection
            .busy_timeout(Duration::from_secs(10))
            .expect("busy timeout");
        connection
            .execute_batch(statement)
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
}

/// Where the screenshots go: `<target dir>/dashboard-screenshots`.
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("dashboard-screenshots")
}

/// Runs `scenario`, then closes the browser and stops chromedriver and the system whether it
/// passed or not, then passes its panic on.
async fn run(scenario: impl AsyncFnOnce(&System, &Browser)) {
    ensure_browser();
    let system = System::start().await;
    let driver = Driver::start().await;
    let browser = Browser::open(&driver, screenshot_dir()).await;
    let outcome = guarded(scenario(&system, &browser)).await;
    browser.close().await;
    drop(driver);
    system.embedded.stop().await.expect("stop the system");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn guarded(future: impl Future<Output = ()>) -> std::thread::Result<()> {
    AssertUnwindSafe(future).catch_unwind().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_orders_live_replays_a_dead_letter_and_shows_a_customer_only_their_orders()
 {
    run(async |system, browser| {
        eprintln!("screenshots in {}", screenshot_dir().display());
        the_root_leads_to_the_dashboard(system, browser).await;
        sign_in(browser, &system.url("/dashboard"), &system.admin_token).await;
        browser.element("#stats").await;
        let order = an_order_reaches_completed_live(system, browser).await;
        its_timeline_shows_each_step(browser, &order).await;
        it_links_its_trace(system, browser, &order).await;
        a_dead_lettered_step_is_replayed_after_the_fix(system, browser).await;
        stock_is_adjusted(browser).await;
        the_mailbox_lists_what_was_sent(browser, &order).await;
        the_orders_page_searches_by_email(browser, &order).await;
        a_customer_sees_only_their_orders(system, browser).await;
    })
    .await;
}

async fn the_root_leads_to_the_dashboard(system: &System, browser: &Browser) {
    browser.goto(&system.url("/")).await;
    browser.element("#token").await;
    let url = browser.client.current_url().await.expect("the address");
    assert_eq!(url.path(), "/dashboard");
    let shown = browser
        .js(
            "return document.querySelector('#nav').getClientRects().length;",
            vec![],
        )
        .await;
    assert_eq!(shown, 0, "no page is offered before signing in");
}

async fn sign_in(browser: &Browser, dashboard: &str, token: &str) {
    browser.goto(dashboard).await;
    let field = browser.element("#token").await;
    browser.screenshot("sign-in").await;
    field.send_keys(token).await.expect("type the token");
    browser.click("#sign-in-button").await;
    browser
        .until(
            "signed in",
            PAGE_TIMEOUT,
            "return document.body.dataset.role !== 'none' && document.querySelector('#token') === null;",
            vec![],
        )
        .await;
}

/// The overview follows the updates stream: a new order appears and turns COMPLETED on the
/// page that was loaded before it was placed.
async fn an_order_reaches_completed_live(system: &System, browser: &Browser) -> String {
    browser.until_live("the updates stream to be live").await;
    // Company for it: one more that completes, one cancelled for want of stock.
    let others = [
        json!({"item_id": "product-003", "quantity": 2, "user_email": "erin@example.com"}),
        json!({"item_id": "product-001", "quantity": 1000, "user_email": "frank@example.com"}),
    ];
    for body in others {
        system.place(body, None).await;
    }
    let order = system
        .place(
            json!({"item_id": "product-001", "quantity": 1, "user_email": "live@example.com"}),
            None,
        )
        .await;
    let status = format!("#feed tr[data-order-id='{order}'] .badge[data-status='COMPLETED']");
    browser.element(&status).await;
    assert_eq!(
        browser.js("return window.dashboardProbe;", vec![]).await,
        "same page",
        "the page was reloaded"
    );
    // The counters follow too (the metrics are this test process's, so at least this one).
    browser
        .until(
            "a completed order counted",
            PAGE_TIMEOUT,
            "const v = document.querySelector('#stat-completed .value'); return !!v && Number(v.textContent) >= 1;",
            vec![],
        )
        .await;
    browser
        .until(
            "the cancelled order counted",
            PAGE_TIMEOUT,
            "const v = document.querySelector('#stat-cancelled .value'); \
             const bar = document.querySelector('[data-count=CANCELLED]'); \
             return !!v && Number(v.textContent) >= 1 && !!bar && bar.textContent === '1';",
            vec![],
        )
        .await;
    // 999.99 for the laptop and 2 × 79.99 for erin's keyboards, as the analytics service
    // counts this system's orders.
    browser
        .text_in("#stat-revenue .value", "1159.97 USD", PAGE_TIMEOUT)
        .await;
    browser
        .until(
            "the orders per minute drawn by outcome",
            PAGE_TIMEOUT,
            "const n = (o) => { const k = document.querySelector(`#per-minute [data-outcome=${o}]`); \
             return k ? Number(k.textContent.split(' ').pop()) : 0; }; \
             return n('PENDING') >= 3 && n('COMPLETED') >= 2 && n('CANCELLED') >= 1 \
             && document.querySelectorAll('#per-minute rect').length >= 3;",
            vec![],
        )
        .await;
    browser
        .text_in(
            &format!("#feed tr[data-order-id='{order}']"),
            "live@example.com",
            PAGE_TIMEOUT,
        )
        .await;
    browser.screenshot("overview").await;
    order
}

/// The order's page links the trace it was placed in to the trace viewer.
async fn it_links_its_trace(system: &System, browser: &Browser, order: &str) {
    let events = system
        .admin_get(&format!("/api/v1/orders/{order}/events"))
        .await;
    let traceparent = events[0]["traceparent"].as_str().expect("a traceparent");
    let trace_id = traceparent.split('-').nth(1).expect("a trace id");
    assert_eq!(trace_id.len(), 32, "{traceparent}");

    let link = browser
        .js(
            "const a = document.querySelector('#trace a'); return a && a.href;",
            vec![],
        )
        .await;

    assert_eq!(link, TRACE_VIEWER.replace("{trace_id}", trace_id));
}

async fn its_timeline_shows_each_step(browser: &Browser, order: &str) {
    browser
        .click(&format!("#feed tr[data-order-id='{order}'] a"))
        .await;
    browser
        .until(
            "four steps on the timeline",
            PAGE_TIMEOUT,
            "return document.querySelectorAll('#timeline li').length === 4;",
            vec![],
        )
        .await;
    let steps = browser
        .js(
            "return [...document.querySelectorAll('#timeline li')].map(li => li.dataset.step);",
            vec![],
        )
        .await;
    assert_eq!(
        steps,
        json!([
            "order.placed",
            "order.inventory_reserved",
            "order.paid",
            "order.completed"
        ])
    );
    let durations = browser
        .js(
            "return document.querySelectorAll('#timeline .took').length;",
            vec![],
        )
        .await;
    assert_eq!(
        durations, 3,
        "each step after the first shows the time it took"
    );
    browser.text_in("#payment", "captured", PAGE_TIMEOUT).await;
    browser
        .text_in("#events", "order.completed", PAGE_TIMEOUT)
        .await;
    assert_eq!(
        browser
            .js("return document.querySelector('#cancel');", vec![])
            .await,
        Value::Null,
        "a completed order offers no cancel"
    );
    browser.screenshot("order").await;
}

/// The inventory loses its reservations table (a release deployed before its migration: the
/// handler fails on every try), so an order's reservation is dead-lettered; the table comes
/// back, the operator replays the message from the dead-letter page and the order completes.
async fn a_dead_lettered_step_is_replayed_after_the_fix(system: &System, browser: &Browser) {
    system.settled().await;
    system.inventory_sql("ALTER TABLE reservations RENAME TO reservations_gone");
    let order = system
        .place(
            json!({"item_id": "product-002", "quantity": 2, "user_email": "stuck@example.com"}),
            None,
        )
        .await;
    browser.click("#nav a[href='#/dead-letters']").await;
    let row = format!("#dead-letters tr[data-correlation-id='{order}']");
    browser.element(&row).await;
    browser
        .text_in(&format!("{row} td"), "inventory.reserve", PAGE_TIMEOUT)
        .await;
    browser
        .text_in(
            "#dead-letters .dl-group .error",
            "reservations",
            PAGE_TIMEOUT,
        )
        .await;
    browser
        .click(&format!("{row} details.inspect summary"))
        .await;
    browser
        .text_in(&format!("{row} pre"), &order, PAGE_TIMEOUT)
        .await;
    browser.screenshot("dead-letters").await;

    system.inventory_sql("ALTER TABLE reservations_gone RENAME TO reservations");
    browser.click(&format!("{row} button.replay")).await;
    browser
        .text_in("#flash", "Replayed 1 message", PAGE_TIMEOUT)
        .await;
    browser
        .until(
            "the replayed message to leave the page",
            PAGE_TIMEOUT,
            "return document.querySelector(arguments[0]) === null;",
            vec![json!(row)],
        )
        .await;
    browser
        .js(
            "location.hash = arguments[0]; return true;",
            vec![json!(format!("#/orders/{order}"))],
        )
        .await;
    browser
        .element("#order-status .badge[data-status='COMPLETED']")
        .await;
    browser
        .until(
            "the finished timeline",
            PAGE_TIMEOUT,
            "return document.querySelectorAll('#timeline li').length === 4;",
            vec![],
        )
        .await;
    browser.screenshot("order-after-replay").await;
}

async fn stock_is_adjusted(browser: &Browser) {
    browser.click("#nav a[href='#/stock']").await;
    let row = "#stock tr[data-product-id='product-003']";
    // The page draws its rows once the stock has been read.
    browser.element(&format!("{row} td.available")).await;
    let before: i64 = browser
        .js(
            "return Number(document.querySelector(arguments[0] + ' td.available').textContent);",
            vec![json!(row)],
        )
        .await
        .as_i64()
        .expect("a number");
    let delta = browser.element(&format!("{row} input.delta")).await;
    delta.send_keys("25").await.expect("type a delta");
    browser.click(&format!("{row} form.adjust button")).await;
    browser
        .text_in("#flash", "product-003: +25", PAGE_TIMEOUT)
        .await;
    browser
        .text_in(
            &format!("{row} td.available"),
            &(before + 25).to_string(),
            PAGE_TIMEOUT,
        )
        .await;
    browser.screenshot("stock").await;
}

async fn the_mailbox_lists_what_was_sent(browser: &Browser, order: &str) {
    browser.click("#nav a[href='#/mailbox']").await;
    let row = format!("#mailbox tr[data-order-id='{order}']");
    browser
        .text_in(&row, "live@example.com", PAGE_TIMEOUT)
        .await;
    browser.screenshot("mailbox").await;
}

async fn the_orders_page_searches_by_email(browser: &Browser, order: &str) {
    browser.click("#nav a[href='#/orders']").await;
    let email = browser.element("#search-email").await;
    email
        .send_keys("live@example.com")
        .await
        .expect("type an email");
    browser.click("#search button[type=submit]").await;
    browser
        .until(
            "only live@example.com's order listed",
            PAGE_TIMEOUT,
            "const rows = [...document.querySelectorAll('#orders tr[data-order-id]')]; \
             return rows.length === 1 && rows[0].dataset.orderId === arguments[0];",
            vec![json!(order)],
        )
        .await;
    browser.screenshot("orders").await;
}

async fn a_customer_sees_only_their_orders(system: &System, browser: &Browser) {
    let carol = system.customer_token("carol@example.com");
    let mut own = Vec::new();
    for item in ["product-002", "product-003"] {
        own.push(
            system
                .place(json!({"item_id": item, "quantity": 1}), Some(&carol))
                .await,
        );
    }
    system
        .place(
            json!({"item_id": "product-002", "quantity": 1, "user_email": "dave@example.com"}),
            None,
        )
        .await;

    browser.click("#sign-out").await;
    sign_in(browser, &system.url("/dashboard"), &carol).await;
    browser
        .until(
            "carol's two orders listed",
            PAGE_TIMEOUT,
            "return document.querySelectorAll('#orders tr[data-order-id]').length === 2;",
            vec![],
        )
        .await;
    let listed = browser
        .js(
            "return [...document.querySelectorAll('#orders tr[data-order-id]')].map(r => [r.dataset.orderId, r.dataset.customer]);",
            vec![],
        )
        .await;
    let mut listed: Vec<(String, String)> =
        serde_json::from_value(listed).expect("pairs of id and customer");
    listed.sort();
    own.sort();
    let expected: Vec<(String, String)> = own
        .iter()
        .map(|id| (id.clone(), "carol@example.com".to_owned()))
        .collect();
    assert_eq!(listed, expected, "a customer lists their own orders only");
    let admin_links = browser
        .js(
            "return [...document.querySelectorAll('#nav a[data-role=admin]')].filter(a => !a.hidden).length;",
            vec![],
        )
        .await;
    assert_eq!(admin_links, 0, "a customer is offered no admin page");
    browser
        .text_in("#who", "carol@example.com", PAGE_TIMEOUT)
        .await;
    browser.screenshot("customer-orders").await;
}
