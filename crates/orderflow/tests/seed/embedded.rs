//! Seeding a data directory, then reading it as the services and a server do.

use orderflow::config::RunConfig;
use orderflow::embedded::Embedded;
use orderflow::seed::seed_embedded;
use orderflow::verify::verify_embedded;
use serde_json::Value;
use store::inventory::InventoryStore as _;
use store::notification::NotificationStore as _;
use store::payment::PaymentStore as _;
use store::query::{OrderFilter, QueryStore as _};
use store_sqlite::{
    Databases, SqliteInventoryStore, SqliteNotificationStore, SqlitePaymentStore, SqliteQueryStore,
};

use crate::{AT_ONCE, assert_seeded_clean, options};

#[tokio::test]
async fn seeded_orders_are_in_every_store_of_the_data_dir_and_verify_clean() {
    let data_dir = tempfile::tempdir().expect("temp dir");

    let seeded = seed_embedded(data_dir.path(), &options(300))
        .await
        .expect("seeded");

    let report = verify_embedded(data_dir.path(), &AT_ONCE)
        .await
        .expect("checked");
    assert_seeded_clean(&seeded, &report, 300);
    let databases = Databases::open_read_only(data_dir.path())
        .await
        .expect("open");
    let views = SqliteQueryStore::new(databases.query.clone());
    let every = OrderFilter {
        limit: 1_000,
        ..OrderFilter::default()
    };
    let listed = views.list(&every).await.expect("list");
    assert_eq!(listed.len(), 300);
    assert!(
        listed
            .windows(2)
            .all(|pair| pair[0].created_at >= pair[1].created_at)
    );
    let completed = OrderFilter {
        status: Some(order_domain::OrderStatus::Completed),
        ..every.clone()
    };
    let completed = views.list(&completed).await.expect("list");
    assert_eq!(completed.len() as u64, seeded.completed);
    let first = &listed[listed.len() - 1];
    let customer = OrderFilter {
        customer_email: Some(first.customer_email.clone()),
        ..every
    };
    assert!(!views.list(&customer).await.expect("list").is_empty());
    let payments = SqlitePaymentStore::new(databases.payment.clone());
    assert!(payments.payments().await.expect("payments").len() as u64 > seeded.completed);
    let mailbox = SqliteNotificationStore::new(databases.notification.clone());
    assert_eq!(mailbox.sent(None, 1_000).await.expect("mailbox").len(), 300);
    let stock = SqliteInventoryStore::new(databases.inventory.clone());
    let levels = stock.stock_levels().await.expect("stock");
    let available: Vec<u32> = levels.iter().map(|(_, level)| level.available).collect();
    assert_eq!(
        available,
        [100, 500, 300],
        "every product topped up to its first level"
    );
    assert!(levels.iter().all(|(_, level)| level.sold > 0));
    databases.close().await;
}

#[tokio::test]
async fn a_second_seed_adds_to_the_first_and_a_server_then_lists_and_takes_orders() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    seed_embedded(data_dir.path(), &options(50))
        .await
        .expect("seeded");
    seed_embedded(data_dir.path(), &options(50))
        .await
        .expect("seeded again");

    let config = RunConfig::for_tests(data_dir.path().to_path_buf());
    let system = Embedded::start(&config).await.expect("a server starts");
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", system.addr);
    let page: Value = (http.get(format!("{base}/orders?limit=100")))
        .bearer_auth(&system.admin_token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("a page");
    let placed = (http.post(format!("{base}/orders")))
        .json(&serde_json::json!({
            "customer_email": "new@example.com",
            "items": [{ "product_id": "product-002", "quantity": 1 }],
        }))
        .send()
        .await
        .expect("place");
    assert_eq!(placed.status().as_u16(), 202);
    let placed: Value = placed.json().await.expect("an answer");
    let order_url = format!(
        "{base}/orders/{}",
        placed["order_id"].as_str().expect("an id")
    );
    let mut status = Value::Null;
    for _ in 0..200 {
        let order: Value = (http.get(&order_url))
            .bearer_auth(&system.admin_token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .unwrap_or(Value::Null);
        status = order["status"].clone();
        if status == "COMPLETED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    system.stop().await.expect("stopped");

    assert_eq!(page["orders"].as_array().map(Vec::len), Some(100), "{page}");
    assert_eq!(status, "COMPLETED");
    let report = verify_embedded(data_dir.path(), &AT_ONCE)
        .await
        .expect("checked");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.checked.views, 100 + 1, "{report}");
}
