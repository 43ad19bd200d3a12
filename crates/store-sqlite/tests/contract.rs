//! The store contract suite (`testkit::store_contract`) against the SQLite adapters: every
//! check on a fresh data directory of its own, under the check's own name.

use std::sync::Arc;

use contracts::Queue;
use inventory_service::ports::InventoryStore;
use notification_service::ports::NotificationStore;
use order_service::ports::OrderStore;
use payment_service::ports::PaymentStore;
use query_service::ports::QueryStore;
use store::OutboxReader;
use store_sqlite::{
    Databases, SqliteInventoryStore, SqliteNotificationStore, SqliteOrderStore, SqliteOutbox,
    SqlitePaymentStore, SqliteQueryStore,
};
use tempfile::TempDir;
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

contracts! {
    #[tokio::test]
    order::events_are_appended_at_the_expected_version_and_read_in_order;
    #[tokio::test]
    order::appending_at_a_stale_version_is_a_conflict;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    order::of_concurrent_appends_at_one_version_exactly_one_wins;
    #[tokio::test]
    order::a_deadline_falls_due_only_after_its_delay;
    #[tokio::test]
    order::setting_a_deadline_replaces_the_previous_one;
    #[tokio::test]
    order::clearing_a_deadline_for_another_step_leaves_it;
    #[tokio::test]
    order::an_idempotency_key_is_taken_once;
    #[tokio::test]
    order::the_catalog_is_upserted_and_listed_by_sku;
    #[tokio::test]
    order::a_dropped_order_transaction_stores_nothing;

    #[tokio::test]
    inventory::stock_is_created_once_and_listed_by_sku;
    #[tokio::test]
    inventory::a_reservation_takes_every_line_or_reports_the_first_short_one;
    #[tokio::test]
    inventory::an_unknown_product_has_nothing_available;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    inventory::concurrent_reservations_never_take_more_than_the_stock;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    inventory::concurrent_reservations_of_several_products_all_finish;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    inventory::a_release_racing_the_reservation_of_its_order_sees_it;
    #[tokio::test]
    inventory::releasing_a_reservation_returns_its_units;
    #[tokio::test]
    inventory::committing_a_reservation_turns_its_units_into_sold_stock;
    #[tokio::test]
    inventory::an_adjustment_below_zero_is_refused;

    #[tokio::test]
    payment::a_payment_is_recorded_once_per_order;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    payment::concurrent_charges_of_one_order_record_one_payment;
    #[tokio::test]
    payment::a_payment_status_moves_and_a_failure_keeps_its_reason;

    #[tokio::test]
    notification::a_notification_is_recorded_once_per_message;
    #[tokio::test]
    notification::sent_notifications_are_newest_first_filtered_by_order_and_limited;
    #[tokio::test]
    notification::a_dropped_notification_transaction_records_nothing;

    #[tokio::test]
    query::an_order_event_is_kept_once_and_read_back_for_its_order;
    #[tokio::test]
    query::a_dropped_query_transaction_keeps_nothing;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    query::a_fold_racing_another_fold_of_its_order_sees_its_event;
    #[tokio::test]
    query::saving_a_view_again_replaces_it;
    #[tokio::test]
    query::free_text_search_takes_wildcards_literally;
    #[tokio::test]
    query::views_are_listed_newest_first_by_filter_and_before_a_cursor;
}

#[tokio::test]
async fn a_message_is_marked_handled_once() {
    let stores = Sqlite::open().await;
    messaging::a_message_is_marked_handled_once(stores.order()).await;
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
}
