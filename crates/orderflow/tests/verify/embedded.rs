//! `verify` on embedded data directories: clean after real orders, and each kind of violation
//! reported, alone, on a copy made to break its invariant.

use std::collections::BTreeSet;

use orderflow::verify::{Kind, Report};
use uuid::Uuid;

use crate::golden::{break_order, golden_copy, tamper, verify_now};

/// Asserts that `report` found exactly one violation, of `kind`, about `subject`.
#[track_caller]
pub(crate) fn assert_only(report: &Report, kind: Kind, subject: &str) {
    assert_eq!(report.kinds(), BTreeSet::from([kind]), "{report}");
    assert_eq!(report.violations.len(), 1, "{report}");
    assert_eq!(report.violations[0].subject, subject, "{report}");
}

fn order(id: Uuid) -> String {
    format!("order {id}")
}

#[tokio::test]
async fn a_clean_run_after_real_orders_reports_nothing() {
    let (data_dir, _) = golden_copy();

    let report = verify_now(data_dir.path()).await;

    assert!(report.is_clean(), "{report}");
    let checked = &report.checked;
    assert_eq!((checked.orders, checked.orders_in_progress), (4, 0));
    assert_eq!((checked.products, checked.views), (3, 4));
    assert_eq!((checked.reservations, checked.payments), (3, 3));
    assert_eq!(checked.dead_letters, Some(0));
    assert!(report.not_checked.is_empty());
}

#[tokio::test]
async fn oversold_stock_is_reported_as_negative() {
    let (data_dir, _) = golden_copy();
    let sql = "UPDATE stock SET available = available - 1000, restocked = restocked - 1000 \
               WHERE sku = 'product-003'";
    assert_eq!(tamper(data_dir.path(), "inventory", sql, &[]).await, 1);

    let report = verify_now(data_dir.path()).await;

    assert_only(&report, Kind::NegativeStock, "product product-003");
    assert_eq!(report.violations[0].detail, "available is -700");
}

#[tokio::test]
async fn stock_that_does_not_add_up_is_reported_unbalanced() {
    let (data_dir, _) = golden_copy();
    let sql = "UPDATE stock SET sold = sold + 1 WHERE sku = 'product-002'";
    assert_eq!(tamper(data_dir.path(), "inventory", sql, &[]).await, 1);

    let report = verify_now(data_dir.path()).await;

    assert_only(&report, Kind::StockUnbalanced, "product product-002");
}

#[tokio::test]
async fn a_second_capture_for_an_order_is_a_double_charge() {
    let (data_dir, orders) = golden_copy();
    // The payment service holds a charge other than the one the order recorded.
    let sql = "UPDATE payments SET payment_id = lower(hex(randomblob(16))) WHERE order_id = ?1";
    break_order(data_dir.path(), "payment", sql, orders.completed).await;

    let report = verify_now(data_dir.path()).await;

    assert_only(&report, Kind::DoubleCharge, &order(orders.completed));
}

#[tokio::test]
async fn a_cancelled_order_that_kept_its_charge_is_reported() {
    let (data_dir, orders) = golden_copy();
    let sql = "UPDATE payments SET status = 'succeeded' WHERE order_id = ?1";
    break_order(data_dir.path(), "payment", sql, orders.cancelled).await;

    let report = verify_now(data_dir.path()).await;

    assert_only(
        &report,
        Kind::CancelledOrderCharged,
        &order(orders.cancelled),
    );
}

#[tokio::test]
async fn an_order_paid_without_a_capture_is_reported() {
    let (data_dir, orders) = golden_copy();
    let sql = "UPDATE payments SET status = 'failed' WHERE order_id = ?1";
    break_order(data_dir.path(), "payment", sql, orders.completed).await;

    let report = verify_now(data_dir.path()).await;

    assert_only(&report, Kind::PaidWithoutCapture, &order(orders.completed));
}

#[tokio::test]
async fn a_refund_for_a_completed_order_is_reported() {
    let (data_dir, orders) = golden_copy();
    let sql = "UPDATE payments SET status = 'refunded' WHERE order_id = ?1";
    break_order(data_dir.path(), "payment", sql, orders.completed).await;

    let report = verify_now(data_dir.path()).await;

    assert_only(&report, Kind::RefundWithoutCancel, &order(orders.completed));
}

#[tokio::test]
async fn stock_still_held_for_an_ended_order_is_reported() {
    let (data_dir, orders) = golden_copy();
    let sql = "UPDATE reservations SET status = 'held' WHERE order_id = ?1";
    break_order(data_dir.path(), "inventory", sql, orders.declined).await;

    let report = verify_now(data_dir.path()).await;

    assert_only(
        &report,
        Kind::StockHeldForEndedOrder,
        &order(orders.declined),
    );
}

#[tokio::test]
async fn a_completed_order_whose_stock_was_released_is_reported() {
    let (data_dir, orders) = golden_copy();
    let sql = "UPDATE reservations SET status = 'released' WHERE order_id = ?1";
    break_order(data_dir.path(), "inventory", sql, orders.completed).await;

    let report = verify_now(data_dir.path()).await;

    assert_only(
        &report,
        Kind::ReservationContradictsOrder,
        &order(orders.completed),
    );
}

#[tokio::test]
async fn a_dead_letter_is_listed_as_a_finding() {
    let (data_dir, orders) = golden_copy();
    let parked = release_envelope(orders.cancelled);
    let sql = "INSERT INTO dead_letters (queue, message_id, envelope, error, attempts, dead_lettered_at) \
               VALUES ('inventory', ?1, ?2, 'handler rejected it', 3, 0)";
    let binds = [
        parked.message_id.to_string(),
        serde_json::to_string(&parked).expect("json"),
    ];
    assert_eq!(tamper(data_dir.path(), "inventory", sql, &binds).await, 1);

    let report = verify_now(data_dir.path()).await;

    assert_eq!(
        report.kinds(),
        BTreeSet::from([Kind::DeadLetter]),
        "{report}"
    );
    assert_eq!(report.checked.dead_letters, Some(1));
    assert!(
        report.violations[0].detail.starts_with(&format!(
            "inventory.release for order {} parked after 3 attempts",
            orders.cancelled
        )),
        "{report}"
    );
}

fn release_envelope(order_id: Uuid) -> contracts::Envelope {
    let message = contracts::Message::from(contracts::ReleaseStock {
        order_id: contracts::value::OrderId::new(order_id),
    });
    contracts::Envelope::build(Uuid::now_v7(), &message).at(time::OffsetDateTime::now_utc())
}
