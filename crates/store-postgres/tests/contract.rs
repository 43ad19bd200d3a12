//! The store contract suite (`testkit::store_contract`) against the PostgreSQL adapters: every
//! check in a fresh database of its own, under the check's own name.

use std::sync::{Arc, Mutex};

use contracts::Queue;
use store::OutboxReader;
use store::analytics::AnalyticsStore;
use store::inventory::InventoryStore;
use store::notification::NotificationStore;
use store::order::OrderStore;
use store::payment::PaymentStore;
use store::query::QueryStore;
use store_postgres::{
    PgAnalyticsStore, PgDatabase, PgInventoryStore, PgNotificationStore, PgOrderStore, PgOutbox,
    PgPaymentStore, PgQueryStore,
};
use testkit::postgres::TestDatabase;
use testkit::store_contract::audit::AuditStores;
use testkit::store_contract::{self, UnitOfWorkSource, messaging};

/// A fresh database, and the service schemas connected in it so far.
struct Postgres {
    connected: Mutex<Vec<PgDatabase>>,
    test_database: TestDatabase,
}

impl Postgres {
    async fn create() -> Self {
        Self {
            connected: Mutex::new(Vec::new()),
            test_database: TestDatabase::create()
                .await
                .expect("create a test database"),
        }
    }

    /// The schema of `service`, connected once and shared, as in a process: its stores and its
    /// relay's outbox on one pool (a commit wakes the relay of its own process).
    async fn database(&self, service: Queue) -> PgDatabase {
        let connected = self
            .connected
            .lock()
            .expect("not poisoned")
            .iter()
            .find(|database| database.service() == service)
            .cloned();
        if let Some(database) = connected {
            return database;
        }
        let database = PgDatabase::connect(self.test_database.url(), service)
            .await
            .expect("connect and migrate");
        self.connected
            .lock()
            .expect("not poisoned")
            .push(database.clone());
        database
    }

    async fn order(&self) -> Arc<dyn OrderStore> {
        Arc::new(PgOrderStore::new(self.database(Queue::Order).await))
    }

    async fn inventory(&self) -> Arc<dyn InventoryStore> {
        Arc::new(PgInventoryStore::new(self.database(Queue::Inventory).await))
    }

    async fn payment(&self) -> Arc<dyn PaymentStore> {
        Arc::new(PgPaymentStore::new(self.database(Queue::Payment).await))
    }

    async fn notification(&self) -> Arc<dyn NotificationStore> {
        Arc::new(PgNotificationStore::new(
            self.database(Queue::Notification).await,
        ))
    }

    async fn query(&self) -> Arc<dyn QueryStore> {
        Arc::new(PgQueryStore::new(self.database(Queue::Query).await))
    }

    async fn analytics(&self) -> Arc<dyn AnalyticsStore> {
        Arc::new(PgAnalyticsStore::new(self.database(Queue::Analytics).await))
    }

    async fn audit(&self) -> AuditStores {
        let order = PgOrderStore::new(self.database(Queue::Order).await);
        let inventory = PgInventoryStore::new(self.database(Queue::Inventory).await);
        let query = PgQueryStore::new(self.database(Queue::Query).await);
        AuditStores {
            order: Arc::new(order.clone()),
            order_audit: Arc::new(order),
            inventory: Arc::new(inventory.clone()),
            inventory_audit: Arc::new(inventory),
            query: Arc::new(query.clone()),
            query_audit: Arc::new(query),
        }
    }

    async fn outbox(&self, service: Queue) -> Arc<dyn OutboxReader> {
        Arc::new(PgOutbox::new(self.database(service).await))
    }

    /// Closes the pools and drops the database.
    async fn finish(self) {
        let connected = std::mem::take(&mut *self.connected.lock().expect("not poisoned"));
        for database in connected {
            database.close().await;
        }
        self.test_database
            .drop_database()
            .await
            .expect("drop the test database");
    }
}

/// One test per contract check, named after it, on the store of the check's module.
macro_rules! contracts {
    ($($(#[$attribute:meta])* $module:ident::$check:ident;)*) => {$(
        $(#[$attribute])*
        async fn $check() {
            let postgres = Postgres::create().await;
            store_contract::$module::$check(postgres.$module().await).await;
            postgres.finish().await;
        }
    )*};
}

testkit::for_each_store_contract_check!(contracts);

#[tokio::test]
async fn a_message_is_marked_handled_once() {
    let postgres = Postgres::create().await;
    messaging::a_message_is_marked_handled_once(postgres.order().await).await;
    postgres.finish().await;
}

#[tokio::test]
async fn messages_marked_handled_together_are_answered_each_in_turn() {
    let postgres = Postgres::create().await;
    messaging::messages_marked_handled_together_are_answered_each_in_turn(
        postgres.analytics().await,
    )
    .await;
    postgres.finish().await;
}

#[tokio::test]
async fn a_rolled_back_message_is_not_marked_handled() {
    let postgres = Postgres::create().await;
    messaging::a_rolled_back_message_is_not_marked_handled(postgres.order().await).await;
    postgres.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_of_one_message_mark_it_handled_once() {
    let postgres = Postgres::create().await;
    messaging::concurrent_deliveries_of_one_message_mark_it_handled_once(
        postgres.inventory().await,
    )
    .await;
    postgres.finish().await;
}

#[tokio::test]
async fn outbox_messages_are_pending_only_once_committed() {
    let postgres = Postgres::create().await;
    messaging::outbox_messages_are_pending_only_once_committed(
        postgres.order().await,
        postgres.outbox(Queue::Order).await,
    )
    .await;
    postgres.finish().await;
}

#[tokio::test]
async fn pending_messages_come_in_commit_order_and_leave_once_published() {
    let postgres = Postgres::create().await;
    messaging::pending_messages_come_in_commit_order_and_leave_once_published(
        postgres.order().await,
        postgres.outbox(Queue::Order).await,
    )
    .await;
    postgres.finish().await;
}

#[tokio::test]
async fn a_decision_s_messages_token_and_deadline_are_written_together() {
    let postgres = Postgres::create().await;
    store_contract::order::a_decision_s_messages_token_and_deadline_are_written_together(
        postgres.order().await,
        postgres.outbox(Queue::Order).await,
    )
    .await;
    postgres.finish().await;
}

#[tokio::test]
async fn a_relay_marks_a_batch_published_while_reading_the_next() {
    let postgres = Postgres::create().await;
    messaging::a_relay_marks_a_batch_published_while_reading_the_next(
        postgres.order().await,
        postgres.outbox(Queue::Order).await,
    )
    .await;
    postgres.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_with_outbox_messages_wakes_a_waiting_relay() {
    let postgres = Postgres::create().await;
    messaging::a_commit_with_outbox_messages_wakes_a_waiting_relay(
        postgres.payment().await,
        postgres.outbox(Queue::Payment).await,
    )
    .await;
    postgres.finish().await;
}

#[tokio::test]
async fn every_service_database_keeps_an_inbox_and_an_outbox() {
    async fn check(source: impl UnitOfWorkSource + Clone, outbox: Arc<dyn OutboxReader>) {
        messaging::a_message_is_marked_handled_once(source.clone()).await;
        messaging::outbox_messages_are_pending_only_once_committed(source, outbox).await;
    }
    let postgres = Postgres::create().await;
    check(postgres.order().await, postgres.outbox(Queue::Order).await).await;
    check(
        postgres.inventory().await,
        postgres.outbox(Queue::Inventory).await,
    )
    .await;
    check(
        postgres.payment().await,
        postgres.outbox(Queue::Payment).await,
    )
    .await;
    check(
        postgres.notification().await,
        postgres.outbox(Queue::Notification).await,
    )
    .await;
    check(postgres.query().await, postgres.outbox(Queue::Query).await).await;
    check(
        postgres.analytics().await,
        postgres.outbox(Queue::Analytics).await,
    )
    .await;
    postgres.finish().await;
}
