//! A service schema connected read-only (`orderflow verify`): it reads what the service wrote,
//! writes nothing, and never creates a missing schema.

use contracts::Queue;
use contracts::value::Sku;
use store::audit::InventoryAudit as _;
use store::inventory::InventoryStore as _;
use store_postgres::{PgDatabase, PgInventoryStore};
use testkit::postgres::TestDatabase;

#[tokio::test]
async fn a_read_only_schema_reads_the_services_writes_and_refuses_its_own() {
    let test_database = TestDatabase::create().await.expect("a test database");
    let service = PgDatabase::connect(test_database.url(), Queue::Inventory)
        .await
        .expect("connect and migrate");
    let writing = PgInventoryStore::new(service.clone());
    let mut tx = writing.begin().await.expect("begin");
    tx.create_stock(&Sku::parse("product-001").expect("a valid sku"), 7)
        .await
        .expect("create");
    tx.commit().await.expect("commit");

    let reading = PgDatabase::connect_read_only(test_database.url(), Queue::Inventory)
        .await
        .expect("connect read-only");
    let audit = PgInventoryStore::new(reading.clone());
    let counters = audit.stock_counters().await.expect("counters");
    assert_eq!(counters.len(), 1);
    assert_eq!(counters[0].available, 7);
    let mut tx = audit.begin().await.expect("a read-only begin");
    let refused = tx
        .create_stock(&Sku::parse("product-002").expect("a valid sku"), 1)
        .await;
    assert!(refused.is_err(), "a read-only session took a write");
    drop(tx);

    let missing = PgDatabase::connect_read_only(test_database.url(), Queue::Payment).await;
    let error = missing.expect_err("no payment schema was migrated");
    assert!(
        format!("{error:#}").contains("schema payment_service does not exist"),
        "{error:#}"
    );
    reading.close().await;
    service.close().await;
    test_database
        .drop_database()
        .await
        .expect("drop the test database");
}
