//! The transport contract suite against the embedded SQL queue, on a fresh data directory per
//! test.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use contracts::Queue;
use store_sqlite::{Databases, SqliteQueue};
use tempfile::TempDir;
use testkit::transport_contract::TransportUnderTest;
use transport::{DeadLetters, Publisher, QueueConsumer};

struct Sqlite {
    queue: SqliteQueue,
    _data_dir: TempDir,
}

#[async_trait]
impl TransportUnderTest for Sqlite {
    fn publisher(&self) -> Arc<dyn Publisher> {
        Arc::new(self.queue.clone())
    }

    fn consumer(&self, queue: Queue) -> Arc<dyn QueueConsumer> {
        Arc::new(self.queue.consumer(queue))
    }

    fn dead_letters(&self) -> Arc<dyn DeadLetters> {
        Arc::new(self.queue.clone())
    }

    async fn abandon(&self, consumer: Arc<dyn QueueConsumer>) {
        // A lease outlives its consumer; a restart releases it (one process owns the data).
        drop(consumer);
        self.queue
            .release_stale_leases()
            .await
            .expect("release stale leases");
    }

    fn deduplicates_publishes(&self) -> bool {
        true
    }
}

async fn check<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn TransportUnderTest>) -> Fut,
    Fut: Future<Output = ()>,
{
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let databases = Databases::open(data_dir.path())
        .await
        .expect("open the service databases");
    test(Arc::new(Sqlite {
        queue: SqliteQueue::new(databases.clone()),
        _data_dir: data_dir,
    }))
    .await;
    databases.close().await;
}

testkit::transport_contract_tests!();
