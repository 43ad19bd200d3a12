//! What the order service tells after each committed change: the lifecycle counters and
//! histogram of `/metrics`, an [`OrderUpdate`] to every subscriber of the in-process
//! broadcast (which the API streams as `GET /api/v1/order-updates`), and admission, which
//! counts the sagas that ended.
//!
//! Both happen only after the transaction that appended the events committed, and only for
//! events that were appended: a redelivered message is a duplicate and changes nothing, so an
//! order is counted completed or cancelled once.

use api::OrderUpdate;
use order_domain::{Order, OrderEvent, OrderStatus};
use tokio::sync::broadcast;

use crate::OrderService;

/// How many updates a subscriber may fall behind before it is told it lagged.
pub(crate) const UPDATES_CAPACITY: usize = 16 * 1024;

impl OrderService {
    /// Every order status change committed from now on, in commit order per order. A
    /// subscriber that falls more than a few thousand updates behind receives
    /// [`broadcast::error::RecvError::Lagged`] and then the newest updates.
    pub fn subscribe_updates(&self) -> broadcast::Receiver<OrderUpdate> {
        self.updates.subscribe()
    }

    /// Counts and announces the events just committed, folding them onto the order as it was
    /// before them (`None` before it was placed); returns the order after them.
    pub(crate) fn committed(&self, before: Option<Order>, events: &[OrderEvent]) -> Option<Order> {
        let mut state = before;
        for event in events {
            state = order_domain::evolve(state, event);
            let Some(order) = &state else { continue };
            count(order);
            if order.status.is_terminal() {
                self.admission.ended();
            }
            // No subscriber is not an error: nobody is listening.
            let _ = self.updates.send(OrderUpdate {
                order_id: order.id.as_uuid(),
                status: order.status,
                placed_at: order.placed_at,
                at: order.updated_at,
            });
        }
        state
    }
}

fn count(order: &Order) {
    let outcome = match order.status {
        OrderStatus::Pending => {
            metrics::counter!("orderflow_orders_placed_total").increment(1);
            return;
        }
        OrderStatus::Completed => {
            metrics::counter!("orderflow_orders_completed_total").increment(1);
            // The dashboard's revenue: what completed orders charged, in minor units.
            metrics::counter!("orderflow_revenue_minor_total", "currency" => order.total.currency().to_owned())
                .increment(u64::try_from(order.total.minor()).unwrap_or(0));
            "completed"
        }
        OrderStatus::Cancelled => {
            metrics::counter!("orderflow_orders_cancelled_total").increment(1);
            "cancelled"
        }
        OrderStatus::InventoryReserved | OrderStatus::Paid => return,
    };
    let seconds = (order.updated_at - order.placed_at).as_seconds_f64();
    metrics::histogram!("orderflow_order_seconds", "outcome" => outcome).record(seconds.max(0.0));
}

/// A sender with no subscriber yet.
pub(crate) fn channel() -> broadcast::Sender<OrderUpdate> {
    broadcast::channel(UPDATES_CAPACITY).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[test]
    fn an_update_without_subscribers_is_dropped_quietly() {
        let sender = channel();
        assert_eq!(sender.receiver_count(), 0);
        let _ = sender.send(OrderUpdate {
            order_id: uuid::Uuid::nil(),
            status: OrderStatus::Pending,
            placed_at: OffsetDateTime::UNIX_EPOCH,
            at: OffsetDateTime::UNIX_EPOCH,
        });
        assert_eq!(sender.len(), 0);
    }
}
