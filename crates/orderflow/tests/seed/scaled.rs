//! Seeding the PostgreSQL schemas of a scaled-out installation, in a database of the test's own.

use orderflow::seed::seed_scaled;
use orderflow::verify::verify_scaled;
use store::query::{OrderFilter, QueryStore as _};
use store_postgres::{PgDatabase, PgQueryStore};
use testkit::postgres::TestDatabase;

use crate::{AT_ONCE, assert_seeded_clean, options};

#[tokio::test]
async fn seeded_orders_are_in_every_schema_of_the_database_and_verify_clean() {
    let database = TestDatabase::create().await.expect("a test database");

    let seeded = seed_scaled(database.url(), &options(200))
        .await
        .expect("seeded");

    let report = verify_scaled(database.url(), None, &AT_ONCE)
        .await
        .expect("checked");
    assert_seeded_clean(&seeded, &report, 200);
    let query = PgDatabase::connect_read_only(database.url(), contracts::Queue::Query)
        .await
        .expect("query schema");
    let listed = PgQueryStore::new(query.clone())
        .list(&OrderFilter {
            limit: 500,
            ..OrderFilter::default()
        })
        .await
        .expect("list");
    query.close().await;
    assert_eq!(listed.len(), 200);
    database.drop_database().await.expect("dropped");
}
