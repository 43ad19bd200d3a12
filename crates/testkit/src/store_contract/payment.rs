//! The payment service's store: one payment per order, ever.

use std::sync::Arc;

use contracts::value::{Money, OrderId};
use payment_domain::{Payment, PaymentStatus};
use store::payment::PaymentStore;
use uuid::Uuid;

use super::new_order_id;

/// The first pending payment of an order is recorded; a later one is refused and the first
/// kept.
pub async fn a_payment_is_recorded_once_per_order(store: Arc<dyn PaymentStore>) {
    let order = new_order_id();
    let first = pending(order, 2_599);
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.insert_pending(&first).await.expect("insert"));
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert!(
        !tx.insert_pending(&pending(order, 1))
            .await
            .expect("insert again"),
        "an order's payment is never replaced"
    );
    tx.commit().await.expect("commit");

    assert_eq!(
        store.payment(order).await.expect("payment"),
        Some(first.clone())
    );
    assert_eq!(store.payments().await.expect("payments"), [first]);
    assert_eq!(store.payment(new_order_id()).await.expect("payment"), None);
}

/// Pending payments recorded together are answered each in turn: recorded, or `false` for an
/// order that already has a payment, which keeps it.
pub async fn pending_payments_recorded_together_are_answered_each_in_turn(
    store: Arc<dyn PaymentStore>,
) {
    let (paid, first_new, second_new) = (new_order_id(), new_order_id(), new_order_id());
    let earlier = pending(paid, 2_599);
    assert_eq!(
        store
            .record_pending(std::slice::from_ref(&earlier))
            .await
            .expect("record"),
        [true]
    );

    let batch = [
        pending(first_new, 100),
        pending(paid, 1),
        pending(second_new, 200),
    ];
    assert_eq!(
        store.record_pending(&batch).await.expect("record together"),
        [true, false, true]
    );
    assert!(store.record_pending(&[]).await.expect("nothing").is_empty());

    assert_eq!(store.payment(paid).await.expect("payment"), Some(earlier));
    assert_eq!(
        store.payment(first_new).await.expect("payment"),
        Some(batch[0].clone())
    );
    assert_eq!(
        store.payment(second_new).await.expect("payment"),
        Some(batch[2].clone())
    );
}

/// Of consumers charging one order at once (a redelivered command), exactly one records the
/// payment.
pub async fn concurrent_charges_of_one_order_record_one_payment(store: Arc<dyn PaymentStore>) {
    let order = new_order_id();
    let charges: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut tx = store.begin().await.expect("begin");
                let first = tx
                    .insert_pending(&pending(order, 2_599))
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
                first
            })
        })
        .collect();
    let mut recorded = 0;
    for charge in charges {
        if charge.await.expect("charge task") {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 1);
    assert_eq!(store.payments().await.expect("payments").len(), 1);
}

/// A payment moves to the status it is given; a failure keeps its reason; a status set in a
/// dropped transaction is not stored.
pub async fn a_payment_status_moves_and_a_failure_keeps_its_reason(store: Arc<dyn PaymentStore>) {
    let (paid, declined) = (pending(new_order_id(), 100), pending(new_order_id(), 200));
    let mut tx = store.begin().await.expect("begin");
    tx.insert_pending(&paid).await.expect("insert");
    tx.insert_pending(&declined).await.expect("insert");
    tx.set_status(paid.order_id, PaymentStatus::Succeeded, None)
        .await
        .expect("set status");
    tx.set_status(
        declined.order_id,
        PaymentStatus::Failed,
        Some("card declined"),
    )
    .await
    .expect("set status");
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    tx.set_status(paid.order_id, PaymentStatus::Refunded, None)
        .await
        .expect("set status");
    drop(tx);
    assert_eq!(
        store.payment(paid.order_id).await.expect("payment"),
        Some(Payment {
            status: PaymentStatus::Succeeded,
            ..paid.clone()
        })
    );

    let mut tx = store.begin().await.expect("begin");
    tx.set_status(paid.order_id, PaymentStatus::Refunded, None)
        .await
        .expect("set status");
    tx.commit().await.expect("commit");
    assert_eq!(
        store.payment(paid.order_id).await.expect("payment"),
        Some(Payment {
            status: PaymentStatus::Refunded,
            ..paid
        })
    );
    assert_eq!(
        store.payment(declined.order_id).await.expect("payment"),
        Some(Payment {
            status: PaymentStatus::Failed,
            failure_reason: Some("card declined".into()),
            ..declined
        })
    );
}

fn pending(order_id: OrderId, amount_minor: i64) -> Payment {
    Payment {
        payment_id: Uuid::now_v7(),
        order_id,
        amount: Money::new(amount_minor, "EUR"),
        status: PaymentStatus::Pending,
        failure_reason: None,
    }
}
