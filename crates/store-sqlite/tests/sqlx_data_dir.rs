//! A data directory written by the earlier builds on sqlx opens in this one:
//! `tests/fixtures/sqlx-data-dir` holds the service databases `orderflow run` of such a build
//! left after a few orders. Its recorded migrations are recognised (nothing runs twice; only
//! those added since run), its orders are there, and it takes new writes; a data directory
//! this build creates records its migrations exactly as sqlx did, so the earlier builds open
//! it too.

use std::path::Path;

use store::order::OrderStore as _;
use store::query::QueryStore as _;
use store_sqlite::{Databases, SqliteOrderStore, SqliteQueryStore};
use tempfile::TempDir;
use uuid::Uuid;

/// Orders placed on the build that wrote the fixture.
const FIXTURE_ORDERS: usize = 6;

const SERVICES: [&str; 5] = ["order", "inventory", "payment", "notification", "query"];

/// Migrations written after the build that made the fixture, by service and version: they run
/// once on its data directory, beside the ones it recorded.
const ADDED_SINCE: [(&str, i64); 1] = [("notification", 402)];

type Recorded = Vec<(String, i64, String, bool, Vec<u8>)>;

/// `recorded` without the migrations added since the fixture's build, and whether each of
/// those is there and succeeded.
fn split_added(recorded: Recorded) -> (Recorded, bool) {
    let (added, earlier): (Recorded, Recorded) = recorded.into_iter().partition(|row| {
        ADDED_SINCE
            .iter()
            .any(|(service, version)| row.0 == *service && row.1 == *version)
    });
    let all_added = added.len() == ADDED_SINCE.len() && added.iter().all(|row| row.3);
    (earlier, all_added)
}

/// A copy of the fixture: opening a data directory writes to it.
fn copy_of_the_fixture() -> TempDir {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sqlx-data-dir");
    let copy = tempfile::tempdir().expect("a temporary data dir");
    for service in SERVICES {
        let name = format!("{service}.db");
        std::fs::copy(fixture.join(&name), copy.path().join(&name)).expect("copy a database");
    }
    copy
}

/// Every database's `_sqlx_migrations`, as (service, version, description, success, checksum).
fn recorded_migrations(data_dir: &Path) -> Recorded {
    let mut recorded = Vec::new();
    for service in SERVICES {
        let connection = rusqlite::Connection::open(data_dir.join(format!("{service}.db")))
            .expect("open a database");
        let mut statement = connection
            .prepare(
                "SELECT version, description, success, checksum FROM _sqlx_migrations \
                 ORDER BY version",
            )
            .expect("read the migrations table");
        let rows = statement
            .query_map([], |row| {
                Ok((
                    service.to_owned(),
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                ))
            })
            .expect("query")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("rows");
        recorded.extend(rows);
    }
    recorded
}

#[tokio::test]
async fn a_data_dir_written_on_sqlx_opens_with_its_orders_and_takes_new_writes() {
    let data_dir = copy_of_the_fixture();
    let recorded = recorded_migrations(data_dir.path());
    assert!(!recorded.is_empty());

    let databases = Databases::open(data_dir.path()).await.expect("open");
    let orders = SqliteQueryStore::new(databases.query.clone())
        .order_ids()
        .await
        .expect("the read model's orders");
    assert_eq!(orders.len(), FIXTURE_ORDERS);
    let store = SqliteOrderStore::new(databases.order.clone());
    let stream = store.load(orders[0]).await.expect("an order's stream");
    let last = stream.last().expect("an order has events");
    assert_eq!(last.version, stream.len() as u64);

    let mut next = last.envelope.clone();
    next.message_id = Uuid::now_v7();
    let mut tx = store.begin().await.expect("begin");
    tx.append(orders[0], last.version, std::slice::from_ref(&next))
        .await
        .expect("append after the stored events");
    tx.commit().await.expect("commit");
    let stream = store.load(orders[0]).await.expect("the stream again");
    assert_eq!(
        stream.last().map(|event| event.envelope.message_id),
        Some(next.message_id)
    );
    databases.close().await;

    let (earlier, added) = split_added(recorded_migrations(data_dir.path()));
    assert_eq!(earlier, recorded, "no migration ran again");
    assert!(
        added,
        "the migrations added since ran once: {ADDED_SINCE:?}"
    );
}

#[tokio::test]
async fn a_new_data_dir_records_its_migrations_as_the_sqlx_builds_did() {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let databases = Databases::open(data_dir.path()).await.expect("open");
    databases.close().await;
    let (earlier, added) = split_added(recorded_migrations(data_dir.path()));
    assert_eq!(earlier, recorded_migrations(copy_of_the_fixture().path()));
    assert!(added, "and the migrations added since: {ADDED_SINCE:?}");
}
