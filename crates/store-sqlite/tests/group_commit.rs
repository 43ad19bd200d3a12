//! Units of work that share a transaction on a service database's writer (group commit):
//! each unit's commit returns once its work is committed, whoever committed it.

use std::sync::Arc;
use std::time::Duration;

use store::payment::PaymentStore;
use store_sqlite::{Databases, SqlitePaymentStore};
use uuid::Uuid;

async fn payment_store() -> (Arc<dyn PaymentStore>, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let databases = Databases::open(data_dir.path())
        .await
        .expect("open the service databases");
    (
        Arc::new(SqlitePaymentStore::new(databases.payment.clone())),
        data_dir,
    )
}

/// Whether `message_id` is in the inbox, committed: a unit that tries to record it again
/// is refused (and then undone).
async fn recorded(store: &dyn PaymentStore, message_id: Uuid) -> bool {
    let mut tx = store.begin().await.expect("begin");
    !tx.mark_handled(message_id).await.expect("mark")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_units_at_once_each_return_committed() {
    let (store, _dir) = payment_store().await;
    let ids: Vec<Uuid> = (0..200).map(|_| Uuid::now_v7()).collect();

    let units: Vec<_> = ids
        .iter()
        .map(|&id| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                assert!(tx.mark_handled(id).await?);
                // Give the other units time to queue up for the writer behind this one.
                tokio::task::yield_now().await;
                tx.commit().await
            })
        })
        .collect();
    for unit in units {
        unit.await.expect("the unit ran").expect("committed");
    }

    for id in ids {
        assert!(recorded(store.as_ref(), id).await, "{id} was not committed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_undone_after_others_commits_their_work_and_not_its_own() {
    let (store, _dir) = payment_store().await;
    let (kept, undone) = (Uuid::now_v7(), Uuid::now_v7());

    let mut first = store.begin().await.expect("begin");
    assert!(first.mark_handled(kept).await.expect("mark"));
    // A second unit waits for the writer while the first commits: the first's commit is left
    // to it, and it is undone.
    let second = tokio::spawn({
        let store = store.clone();
        async move {
            let mut tx = store.begin().await.expect("begin");
            assert!(tx.mark_handled(undone).await.expect("mark"));
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(tx);
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let committed = tokio::time::timeout(Duration::from_secs(10), first.commit()).await;

    assert!(matches!(committed, Ok(Ok(()))), "{committed:?}");
    second.await.expect("the second unit ran");
    assert!(recorded(store.as_ref(), kept).await);
    assert!(!recorded(store.as_ref(), undone).await);
}
