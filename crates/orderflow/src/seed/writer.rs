//! Replays seeded orders through the store ports, one transaction per service per batch.
//!
//! The inventory's transaction commits first: if the stock moved under the seed (an
//! installation taking orders meanwhile), the batch stops there and nothing else of it is
//! written. The other four services' transactions then run side by side.

use std::sync::Arc;

use anyhow::Context as _;
use contracts::value::Sku;
use store::inventory::InventoryStore;
use store::notification::NotificationStore;
use store::order::OrderStore;
use store::payment::PaymentStore;
use store::query::QueryStore;
use uuid::Uuid;

use super::simulation::{InventoryWrite, OrderWrite, PaymentWrite, SeededOrder};

/// Every service's store, of one installation.
#[derive(Clone)]
pub struct Stores {
    pub orders: Arc<dyn OrderStore>,
    pub inventory: Arc<dyn InventoryStore>,
    pub payments: Arc<dyn PaymentStore>,
    pub notifications: Arc<dyn NotificationStore>,
    pub queries: Arc<dyn QueryStore>,
}

/// Writes a batch of seeded orders into every service's store.
pub(crate) async fn write_batch(stores: &Stores, batch: &[SeededOrder]) -> anyhow::Result<()> {
    write_inventory(stores.inventory.as_ref(), batch)
        .await
        .context("write the inventory")?;
    tokio::try_join!(
        async {
            write_orders(stores.orders.as_ref(), batch)
                .await
                .context("write the order events")
        },
        async {
            write_payments(stores.payments.as_ref(), batch)
                .await
                .context("write the payments")
        },
        async {
            write_notifications(stores.notifications.as_ref(), batch)
                .await
                .context("write the notifications")
        },
        async {
            write_read_model(stores.queries.as_ref(), batch)
                .await
                .context("write the read model")
        },
    )?;
    Ok(())
}

/// Restocks each product by its amount, as an operator would.
pub(crate) async fn restock(
    inventory: &dyn InventoryStore,
    restocks: &[(Sku, i64)],
) -> anyhow::Result<()> {
    let mut tx = inventory.begin().await?;
    for (sku, delta) in restocks {
        adjust(tx.as_mut(), sku, *delta).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn already_handled(message_id: Uuid) -> anyhow::Error {
    anyhow::anyhow!("message {message_id} was handled before: seeded twice?")
}

async fn adjust(
    tx: &mut dyn store::inventory::InventoryTx,
    sku: &Sku,
    delta: i64,
) -> anyhow::Result<()> {
    tx.adjust(sku, delta)
        .await?
        .map_err(|rejected| anyhow::anyhow!("restock {sku} by {delta}: {rejected}"))?;
    Ok(())
}

async fn write_inventory(
    inventory: &dyn InventoryStore,
    batch: &[SeededOrder],
) -> anyhow::Result<()> {
    let mut tx = inventory.begin().await?;
    for write in batch.iter().flat_map(|order| &order.inventory) {
        match write {
            InventoryWrite::Restock(sku, delta) => adjust(tx.as_mut(), sku, *delta).await?,
            InventoryWrite::Handled(message_id) => {
                if !tx.mark_handled(*message_id).await? {
                    return Err(already_handled(*message_id));
                }
            }
            InventoryWrite::Reserve(order_id, lines) => {
                tx.reserve(*order_id, lines).await?.map_err(|short| {
                    anyhow::anyhow!(
                        "the stock changed while seeding ({short}): seed an installation that \
                         is not taking orders"
                    )
                })?;
            }
            InventoryWrite::Commit(order_id) => tx.commit_reservation(*order_id).await?,
            InventoryWrite::Release(order_id) => tx.release(*order_id).await?,
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn write_orders(orders: &dyn OrderStore, batch: &[SeededOrder]) -> anyhow::Result<()> {
    let mut tx = orders.begin().await?;
    for write in batch.iter().flat_map(|order| &order.order) {
        match write {
            OrderWrite::Handled(message_id) => {
                if !tx.mark_handled(*message_id).await? {
                    return Err(already_handled(*message_id));
                }
            }
            OrderWrite::Append {
                order_id,
                expected_version,
                events,
            } => tx.append(*order_id, *expected_version, events).await?,
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn write_payments(payments: &dyn PaymentStore, batch: &[SeededOrder]) -> anyhow::Result<()> {
    let mut tx = payments.begin().await?;
    for write in batch.iter().flat_map(|order| &order.payment) {
        match write {
            PaymentWrite::Pending(payment) => {
                anyhow::ensure!(
                    tx.insert_pending(payment).await?,
                    "order {} has a payment already: seeded twice?",
                    payment.order_id
                );
            }
            PaymentWrite::Handled(message_id) => {
                if !tx.mark_handled(*message_id).await? {
                    return Err(already_handled(*message_id));
                }
            }
            PaymentWrite::Status(order_id, status, reason) => {
                tx.set_status(*order_id, *status, reason.as_deref()).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn write_notifications(
    notifications: &dyn NotificationStore,
    batch: &[SeededOrder],
) -> anyhow::Result<()> {
    let mut tx = notifications.begin().await?;
    for notification in batch.iter().flat_map(|order| &order.notifications) {
        if !tx.mark_handled(notification.message_id).await? {
            return Err(already_handled(notification.message_id));
        }
        tx.record_sent(notification).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn write_read_model(queries: &dyn QueryStore, batch: &[SeededOrder]) -> anyhow::Result<()> {
    let mut tx = queries.begin().await?;
    for order in batch {
        for envelope in &order.kept_events {
            if !tx.mark_handled(envelope.message_id).await? {
                return Err(already_handled(envelope.message_id));
            }
            tx.keep_event(envelope).await?;
        }
        if let Some(view) = &order.view {
            tx.save_view(view).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
