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
    data_dir: TempDir,
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

    async fn put_raw(&self, queue: Queue, body: &[u8]) {
        // As an operator's (or a bug's) insert would: a connection of its own to the file.
        let path = self.data_dir.path().join(format!("{}.db", queue.name()));
        let connection = rusqlite::Connection::open(path).expect("open the queue's database");
        connection
            .execute(
                concat!(
                    "INSERT INTO queue_messages (queue, message_id, envelope, visible_at, enqueued_at) ",
                    "VALUES (?, ?, ?, 0, 0)"
                ),
                rusqlite::params![
                    queue.name(),
                    uuid::Uuid::now_v7().to_string(),
                    String::from_utf8_lossy(body).into_owned()
                ],
            )
            .expect("insert a raw queue row");
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
        data_dir,
    }))
    .await;
    databases.close().await;
}

testkit::transport_contract_tests!();
