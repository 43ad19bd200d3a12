//! The store contract suite: what every adapter of the store ports (SQLite, PostgreSQL) must do,
//! as generic async functions over the ports, so that both adapters run the very same checks.
//!
//! Each function checks one behaviour and builds what it needs through the ports only, on an
//! empty database of its own; it panics (with what was expected) when the adapter misbehaves.
//! The adapters' test files run every function, under the function's own name:
//!
//! - [`messaging`]: the inbox records each message once, the outbox hands out only committed
//!   messages in commit order until they are published, and a commit wakes a waiting relay;
//! - [`order`]: the event store appends at an expected version (exactly one of concurrent
//!   appends wins), saga deadlines fall due by the database's clock, are postponed
//!   together and count the orders in flight, idempotency keys are scoped and expire, payment
//!   tokens are kept until taken, catalog;
//! - [`inventory`]: reservations are all-or-nothing, concurrent ones never oversell (nor
//!   deadlock), a transaction about an order waits for one already deciding about it, release
//!   and commit move units, adjustments never go below zero, stock is always conserved;
//! - [`payment`]: one payment per order, even under concurrent charges;
//! - [`notification`]: one notification per causing message; a claim to send one keeps other
//!   holders out until it lapses or is given up, and never outlives its record;
//! - [`query`]: kept events are deduplicated, a fold of an order sees the events of one that
//!   raced it, views are listed by filter, text and cursor;
//! - [`analytics`]: streamed events are kept once, increments add up per minute and per hour
//!   (concurrent ones too), an order's two moments meet whichever comes first (and when
//!   recorded at once), completion times are summed and ranked;
//! - [`audit`]: the reads `orderflow verify` audits with see what the stores wrote: streams and
//!   the read model page by order id, deadlines say how overdue they are, counters as stored.
//!
//! Functions that spawn concurrent writers need a multi-threaded runtime to mean anything.

use std::sync::Arc;

use async_trait::async_trait;
use contracts::value::{OrderId, Sku};
use contracts::{Envelope, Message, StockReserved};
use store::UnitOfWork;
use store::analytics::AnalyticsStore;
use store::inventory::InventoryStore;
use store::notification::NotificationStore;
use store::order::OrderStore;
use store::payment::PaymentStore;
use store::query::QueryStore;
use time::OffsetDateTime;
use uuid::Uuid;

pub mod analytics;
pub mod audit;
pub mod inventory;
pub mod messaging;
pub mod notification;
pub mod order;
pub mod payment;
pub mod query;

/// Starts a [`UnitOfWork`] on one service's database, whichever service it is: lets the inbox
/// and outbox checks run on every service's store.
#[async_trait]
pub trait UnitOfWorkSource: Send + Sync {
    /// # Errors
    /// [`store::StoreError`] when no transaction can be started.
    async fn begin_unit_of_work(&self) -> store::Result<Box<dyn UnitOfWork>>;
}

macro_rules! unit_of_work_source {
    ($($store:ident),*) => {$(
        #[async_trait]
        impl UnitOfWorkSource for Arc<dyn $store> {
            async fn begin_unit_of_work(&self) -> store::Result<Box<dyn UnitOfWork>> {
                let tx: Box<dyn UnitOfWork> = self.begin().await?;
                Ok(tx)
            }
        }
    )*};
}

unit_of_work_source!(
    OrderStore,
    InventoryStore,
    PaymentStore,
    NotificationStore,
    QueryStore,
    AnalyticsStore
);

/// A new order's id.
fn new_order_id() -> OrderId {
    OrderId::new(Uuid::now_v7())
}

/// A product id the suite uses.
fn sku(raw: &str) -> Sku {
    Sku::parse(raw).expect("the suite's product ids are valid")
}

/// Some message about `order_id`; what it says does not matter to a store.
fn message_about(order_id: OrderId) -> Envelope {
    Envelope::build(
        uuid::Uuid::now_v7(),
        &Message::from(StockReserved { order_id }),
    )
    .at(OffsetDateTime::now_utc())
}

/// Asserts that `result` is a [`store::StoreError::Conflict`].
fn assert_conflict<T: std::fmt::Debug>(result: store::Result<T>, what: &str) {
    match result {
        Err(store::StoreError::Conflict) => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

/// Hands the list of store contract checks, each with its test attribute, to `$runner`, a
/// macro of the adapter's test file that turns each `module::check;` into a test on its own
/// stores. The list lives here once, so every adapter runs every check.
#[macro_export]
macro_rules! for_each_store_contract_check {
    ($runner:ident) => {
        $runner! {
            #[tokio::test]
            order::events_are_appended_at_the_expected_version_and_read_in_order;
            #[tokio::test]
            order::appending_at_a_stale_version_is_a_conflict;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            order::of_concurrent_appends_at_one_version_exactly_one_wins;
            #[tokio::test]
            order::a_deadline_falls_due_only_after_its_delay;
            #[tokio::test]
            order::postponing_pushes_every_pending_deadline_back;
            #[tokio::test]
            order::the_orders_in_flight_are_those_with_a_pending_deadline;
            #[tokio::test]
            order::setting_a_deadline_replaces_the_previous_one;
            #[tokio::test]
            order::clearing_a_deadline_for_another_step_leaves_it;
            #[tokio::test]
            order::an_idempotency_key_is_taken_once;
            #[tokio::test]
            order::the_same_idempotency_key_in_two_scopes_is_two_keys;
            #[tokio::test]
            order::an_expired_idempotency_key_is_not_read_and_can_be_taken_again;
            #[tokio::test]
            order::purging_deletes_only_expired_idempotency_keys;
            #[tokio::test]
            order::a_payment_token_is_kept_until_it_is_taken_once;
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
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            inventory::transactions_deciding_about_several_orders_lock_them_first_and_all_finish;
            #[tokio::test]
            inventory::releasing_a_reservation_returns_its_units;
            #[tokio::test]
            inventory::committing_a_reservation_turns_its_units_into_sold_stock;
            #[tokio::test]
            inventory::an_adjustment_below_zero_is_refused;

            #[tokio::test]
            payment::a_payment_is_recorded_once_per_order;
            #[tokio::test]
            payment::pending_payments_recorded_together_are_answered_each_in_turn;
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
            notification::a_claim_keeps_other_holders_out_until_it_lapses;
            #[tokio::test]
            notification::a_released_claim_is_free_for_another_holder;
            #[tokio::test]
            notification::a_recorded_email_is_never_claimed_again;
            #[tokio::test]
            notification::an_email_recorded_with_its_message_is_recorded_once;

            #[tokio::test]
            query::an_order_event_is_kept_once_and_read_back_for_its_order;
            #[tokio::test]
            query::a_dropped_query_transaction_keeps_nothing;
            #[tokio::test]
            query::events_handled_and_kept_together_are_kept_once_each;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            query::a_fold_racing_another_fold_of_its_order_sees_its_event;
            #[tokio::test]
            query::saving_a_view_again_replaces_it;
            #[tokio::test]
            query::events_kept_together_are_read_back_per_order_and_views_saved_together;
            #[tokio::test]
            query::free_text_search_takes_wildcards_literally;
            #[tokio::test]
            query::views_are_listed_newest_first_by_filter_and_before_a_cursor;

            #[tokio::test]
            analytics::a_streamed_event_is_kept_once;
            #[tokio::test]
            analytics::increments_add_up_per_minute_and_per_hour;
            #[tokio::test]
            analytics::an_orders_moments_meet_whichever_comes_first;
            #[tokio::test]
            analytics::moments_noted_together_meet_as_if_noted_one_by_one;
            #[tokio::test]
            analytics::a_file_claimed_in_parts_holds_and_counts_every_part;
            #[tokio::test]
            analytics::the_aggregates_read_back_every_counter_and_order;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            analytics::concurrent_moments_of_one_order_meet_once;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            analytics::concurrent_additions_to_one_counter_all_count;

            #[tokio::test]
            audit::order_streams_are_paged_in_id_order_with_every_event;
            #[tokio::test]
            audit::pending_deadlines_say_how_long_ago_they_fell_due;
            #[tokio::test]
            audit::stock_counters_and_reservations_are_read_as_stored;
            #[tokio::test]
            audit::the_read_model_is_paged_by_order_with_kept_events_and_views;
        }
    };
}
