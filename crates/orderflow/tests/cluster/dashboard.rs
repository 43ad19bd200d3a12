//! The dashboard on the gateway of a scaled-out cluster, in a real browser: the same page as in
//! the embedded mode, its live feed relayed from the order process through the gateway, its
//! listing read from the query process, and a customer scoped by the token on the way.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt as _;
use serde_json::json;

use crate::browser::{Browser, Driver, PAGE_TIMEOUT, ensure_browser};
use crate::harness::{ADMIN_TOKEN, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_on_the_gateway_follows_an_order_of_the_cluster_live() {
    ensure_browser();
    let cluster = Cluster::start(1, &[]).await;
    let driver = Driver::start().await;
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("dashboard-screenshots");
    let browser = Browser::open(&driver, screenshots).await;

    // Whatever happens, the browser is closed before chromedriver stops and the cluster goes.
    let outcome = AssertUnwindSafe(async {
        browser
            .goto(&format!("{}/dashboard", cluster.gateway))
            .await;
        browser
            .element("#token")
            .await
            .send_keys(ADMIN_TOKEN)
            .await
            .expect("type the token");
        browser.click("#sign-in-button").await;
        browser
            .until_live("the updates stream relayed by the gateway to be live")
            .await;

        let (status, accepted) = cluster
            .place(&json!({"item_id": "product-002", "quantity": 1, "user_email": "grace@example.com"}))
            .await;
        assert_eq!(status, 202, "{accepted}");
        let order = accepted["order_id"].as_str().expect("id").to_owned();
        let row = format!("#feed tr[data-order-id='{order}']");
        browser
            .element(&format!("{row} .badge[data-status='COMPLETED']"))
            .await;
        assert_eq!(
            browser.js("return window.dashboardProbe;", vec![]).await,
            "same page",
            "the page was reloaded"
        );
        browser
            .text_in(&row, "grace@example.com", PAGE_TIMEOUT)
            .await;
        browser.screenshot("cluster-overview").await;

        browser.click(&format!("{row} a")).await;
        browser
            .until(
                "four steps on the timeline",
                Duration::from_secs(30),
                "return document.querySelectorAll('#timeline li').length === 4;",
                vec![],
            )
            .await;

        // Another customer's order, then grace signs in: hers only.
        let (status, _) = cluster
            .place(&json!({"item_id": "product-003", "quantity": 1, "user_email": "heidi@example.com"}))
            .await;
        assert_eq!(status, 202);
        browser.click("#sign-out").await;
        browser
            .element("#token")
            .await
            .send_keys(&Cluster::customer_token("grace@example.com"))
            .await
            .expect("type the token");
        browser.click("#sign-in-button").await;
        let listed = browser
            .until(
                "grace's orders listed",
                PAGE_TIMEOUT,
                "const rows = [...document.querySelectorAll('#orders tr[data-order-id]')]; \
                 return rows.length > 0 && rows.map(r => r.dataset.orderId);",
                vec![],
            )
            .await;
        assert_eq!(
            listed,
            json!([order]),
            "a customer lists their own orders only"
        );
    })
    .catch_unwind()
    .await;
    browser.close().await;
    drop(driver);
    cluster.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
