//! A data directory opened read-only (`orderflow verify`): it reads what a server wrote, even
//! while that server still has it open, writes nothing, and never creates a missing database.

use contracts::Queue;
use contracts::value::Sku;
use store::audit::InventoryAudit as _;
use store::inventory::InventoryStore as _;
use store_sqlite::{Databases, SqliteDatabase, SqliteInventoryStore};

#[tokio::test]
async fn a_read_only_data_dir_reads_a_running_servers_writes_and_refuses_its_own() {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let server = Databases::open(data_dir.path()).await.expect("open");
    let writing = SqliteInventoryStore::new(server.inventory.clone());
    let mut tx = writing.begin().await.expect("begin");
    tx.create_stock(&Sku::parse("product-001").expect("a valid sku"), 7)
        .await
        .expect("create");
    tx.commit().await.expect("commit");

    let reading = Databases::open_read_only(data_dir.path())
        .await
        .expect("open read-only beside the server");
    let audit = SqliteInventoryStore::new(reading.inventory.clone());
    let counters = audit.stock_counters().await.expect("counters");
    assert_eq!(counters.len(), 1);
    assert_eq!(counters[0].available, 7);

    let mut tx = audit.begin().await.expect("a read-only begin");
    let refused = tx
        .create_stock(&Sku::parse("product-002").expect("a valid sku"), 1)
        .await;
    assert!(refused.is_err(), "a read-only database took a write");
    drop(tx);
    reading.close().await;
    server.close().await;
}

#[tokio::test]
async fn a_missing_database_is_an_error_and_is_not_created() {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let missing = SqliteDatabase::open_read_only(data_dir.path(), Queue::Payment).await;
    let error = missing.expect_err("nothing to open");
    assert!(error.to_string().contains("no payment database"), "{error}");
    assert!(!data_dir.path().join("payment.db").exists());
}
