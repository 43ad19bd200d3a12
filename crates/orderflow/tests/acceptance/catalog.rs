//! Orders are priced from the catalog as read at most a second ago: a price changed in the
//! products table prices the orders placed a second later, not necessarily the next one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::value::{Money, Sku};
use order_service::catalog::CATALOG_TTL;
use order_service::{OrderRequest, OrderService, RequestedLine, SagaDeadlines};
use store::order::{OrderStore as _, Product};
use store_sqlite::{SqliteDatabase, SqliteOrderStore};

fn one_mouse() -> OrderRequest {
    OrderRequest {
        customer_email: "ada@example.com".into(),
        items: vec![RequestedLine {
            product_id: "product-002".into(),
            quantity: 1,
        }],
        payment_token: None,
    }
}

async fn price_of_one_mouse(service: &OrderService) -> i64 {
    let placed = service
        .place_order(&one_mouse(), None)
        .await
        .expect("the order is placed");
    let order = service
        .order(placed.order_id)
        .await
        .expect("read the order")
        .expect("the order exists");
    order.total.minor()
}

#[tokio::test]
async fn a_price_changed_in_the_catalog_prices_the_orders_placed_a_second_later() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = SqliteDatabase::open(data_dir.path(), contracts::Queue::Order)
        .await
        .expect("the order database");
    let store = Arc::new(SqliteOrderStore::new(database));
    let service = OrderService::new(store.clone(), SagaDeadlines::default());
    service.seed_demo_catalog().await.expect("seed the catalog");
    let first_read = Instant::now();
    assert_eq!(price_of_one_mouse(&service).await, 2_599);

    let mut tx = store.begin().await.expect("begin");
    tx.upsert_product(&Product {
        sku: Sku::parse("product-002").expect("a sku"),
        name: "Mouse".into(),
        price: Money::new(3_000, "USD"),
    })
    .await
    .expect("change the price");
    tx.commit().await.expect("commit");
    let right_after = price_of_one_mouse(&service).await;
    // The catalog was read after `first_read`: younger than that.
    let still_fresh = first_read.elapsed() < CATALOG_TTL;
    tokio::time::sleep(CATALOG_TTL + Duration::from_millis(100)).await;
    let a_second_later = price_of_one_mouse(&service).await;

    if still_fresh {
        assert_eq!(right_after, 2_599, "priced from the catalog as read before");
    }
    assert_eq!(a_second_later, 3_000, "priced from the changed catalog");
}
