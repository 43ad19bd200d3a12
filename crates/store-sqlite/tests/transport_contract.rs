//! The transport contract suite against the embedded SQL queue, on a fresh data directory per
//! test.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use contracts::Queue;
use store_sqlite::{Databases, SqliteQueue};
use tempfile::TempDir;
use testkit::transport_contract::{self as contract, TransportUnderTest};
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

#[tokio::test]
async fn published_messages_reach_every_subscribing_queue_as_sent() {
    check(contract::published_messages_reach_every_subscribing_queue_as_sent).await;
}

#[tokio::test]
async fn an_acknowledged_message_is_not_delivered_again() {
    check(contract::an_acknowledged_message_is_not_delivered_again).await;
}

#[tokio::test]
async fn each_message_goes_to_one_of_two_competing_consumers() {
    check(contract::each_message_goes_to_one_of_two_competing_consumers).await;
}

#[tokio::test]
async fn an_unsettled_delivery_comes_back_when_its_consumer_is_abandoned() {
    check(contract::an_unsettled_delivery_comes_back_when_its_consumer_is_abandoned).await;
}

#[tokio::test]
async fn a_charged_retry_comes_back_after_its_delay_with_one_more_attempt() {
    check(contract::a_charged_retry_comes_back_after_its_delay_with_one_more_attempt).await;
}

#[tokio::test]
async fn an_uncharged_retry_keeps_the_attempt_count() {
    check(contract::an_uncharged_retry_keeps_the_attempt_count).await;
}

#[tokio::test]
async fn a_dead_letter_is_listed_then_replayed_or_discarded() {
    check(contract::a_dead_letter_is_listed_then_replayed_or_discarded).await;
}

#[tokio::test]
async fn a_batch_published_twice_is_delivered_once() {
    check(contract::a_batch_published_twice_is_deduplicated_or_delivered_twice).await;
}

#[tokio::test]
async fn a_rejected_message_is_dead_lettered_after_max_attempts_with_growing_delays() {
    check(contract::a_rejected_message_is_dead_lettered_after_max_attempts_with_growing_delays)
        .await;
}

#[tokio::test]
async fn an_unavailable_dependency_is_retried_without_charging_attempts() {
    check(contract::an_unavailable_dependency_is_retried_without_charging_attempts).await;
}
