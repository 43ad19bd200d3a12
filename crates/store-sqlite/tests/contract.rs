//! The store contract suite (`testkit::store_contract`) against the SQLite adapters: every
//! check on a fresh data directory of its own, under the check's own name.

use std::sync::Arc;

use contracts::Queue;
use store::OutboxReader;
use store::analytics::AnalyticsStore;
use store::inventory::InventoryStore;
use store::notification::NotificationStore;
use store::order::OrderStore;
use store::payment::PaymentStore;
use store::query::QueryStore;
use store_sqlite::{
    Databases, SqliteAnalyticsStore, SqliteInventoryStore, SqliteNotificationStore,
    SqliteOrderStore, SqliteOutbox, SqlitePaymentStore, SqliteQueryStore,
};
use tempfile::TempDir;
use testkit::store_contract::audit::AuditStores;
use testkit::store_contract::{self, UnitOfWorkSource, messaging};

/// Every service's database in a temporary data directory, removed when dropped.
struct Sqlite {
    databases: Databases,
    _data_dir: TempDir,
}

impl Sqlite {
    async fn open() -> Self {
        let data_dir = tempfile::tempdir().expect("a temporary data dir");
        let databases = Databases::open(data_dir.path())
            .await
            .expect("open the service databases");
        Self {
            databases,
            _data_dir: data_dir,
        }
    }

    fn order(&self) -> Arc<dyn OrderStore> {
        Arc::new(SqliteOrderStore::new(self.databases.order.clone()))
    }

    fn inventory(&self) -> Arc<dyn InventoryStore> {
        Arc::new(SqliteInventoryStore::new(self.databases.inventory.clone()))
    }

    fn payment(&self) -> Arc<dyn PaymentStore> {
        Arc::new(SqlitePaymentStore::new(self.databases.payment.clone()))
    }

    fn notification(&self) -> Arc<dyn NotificationStore> {
        Arc::new(SqliteNotificationStore::new(
            self.databases.notification.clone(),
        ))
    }

    fn query(&self) -> Arc<dyn QueryStore> {
        Arc::new(SqliteQueryStore::new(self.databases.query.clone()))
    }

    fn analytics(&self) -> Arc<dyn AnalyticsStore> {
        Arc::new(SqliteAnalyticsStore::new(self.databases.analytics.clone()))
    }

    fn audit(&self) -> AuditStores {
        let order = SqliteOrderStore::new(self.databases.order.clone());
        let inventory = SqliteInventoryStore::new(self.databases.inventory.clone());
        let query = SqliteQueryStore::new(self.databases.query.clone());
        AuditStores {
            order: Arc::new(order.clone()),
            order_audit: Arc::new(order),
            inventory: Arc::new(inventory.clone()),
            inventory_audit: Arc::new(inventory),
            query: Arc::new(query.clone()),
            query_audit: Arc::new(query),
        }
    }

    fn outbox(&self, service: Queue) -> Arc<dyn OutboxReader> {
        Arc::new(SqliteOutbox::new(self.databases.get(service).clone()))
    }
}

/// One test per contract check, named after it, on the store of the check's module.
macro_rules! contracts {
    ($($(#[$attribute:meta])* $module:ident::$check:ident;)*) => {$(
        $(#[$attribute])*
        async fn $check() {
            let stores = Sqlite::open().await;
            store_contract::$module::$check(stores.$module()).await;
        }
    )*};
}

testkit::for_each_store_contract_check!(contracts);

#[tokio::test]
async fn a_message_is_marked_handled_once() {
    let stores = Sqlite::open().await;
    messaging::a_message_is_marked_handled_once(stores.order()).await;
}

#[tokio::test]
async fn messages_marked_handled_together_are_answered_each_in_turn() {
    let stores = Sqlite::open().await;
    messaging::messages_marked_handled_together_are_answered_each_in_turn(stores.analytics()).await;
}

#[tokio::test]
async fn a_rolled_back_message_is_not_marked_handled() {
    let stores = Sqlite::open().await;
    messaging::a_rolled_back_message_is_not_marked_handled(stores.order()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_of_one_message_mark_it_handled_once() {
    let stores = Sqlite::open().await;
    messaging::concurrent_deliveries_of_one_message_mark_it_handled_once(stores.inventory()).await;
}

#[tokio::test]
async fn outbox_messages_are_pending_only_once_committed() {
    let stores = Sqlite::open().await;
    messaging::outbox_messages_are_pending_only_once_committed(
        stores.order(),
        stores.outbox(Queue::Order),
    )
    .await;
}

#[tokio::test]
async fn pending_messages_come_in_commit_order_and_leave_once_published() {
    let stores = Sqlite::open().await;
    messaging::pending_messages_come_in_commit_order_and_leave_once_published(
        stores.order(),
        stores.outbox(Queue::Order),
    )
    .await;
}

#[tokio::test]
async fn a_decision_s_messages_token_and_deadline_are_written_together() {
    let stores = Sqlite::open().await;
    store_contract::order::a_decision_s_messages_token_and_deadline_are_written_together(
        stores.order(),
        stores.outbox(Queue::Order),
    )
    .await;
}

#[tokio::test]
async fn a_relay_marks_a_batch_published_while_reading_the_next() {
    let stores = Sqlite::open().await;
    messaging::a_relay_marks_a_batch_published_while_reading_the_next(
        stores.order(),
        stores.outbox(Queue::Order),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_with_outbox_messages_wakes_a_waiting_relay() {
    let stores = Sqlite::open().await;
    messaging::a_commit_with_outbox_messages_wakes_a_waiting_relay(
        stores.payment(),
        stores.outbox(Queue::Payment),
    )
    .await;
}

#[tokio::test]
async fn every_service_database_keeps_an_inbox_and_an_outbox() {
    async fn check(source: impl UnitOfWorkSource + Clone, outbox: Arc<dyn OutboxReader>) {
        messaging::a_message_is_marked_handled_once(source.clone()).await;
        messaging::outbox_messages_are_pending_only_once_committed(source, outbox).await;
    }
    let stores = Sqlite::open().await;
    check(stores.order(), stores.outbox(Queue::Order)).await;
    check(stores.inventory(), stores.outbox(Queue::Inventory)).await;
    check(stores.payment(), stores.outbox(Queue::Payment)).await;
    check(stores.notification(), stores.outbox(Queue::Notification)).await;
    check(stores.query(), stores.outbox(Queue::Query)).await;
    check(stores.analytics(), stores.outbox(Queue::Analytics)).await;
}
