//! Orders as this process last committed them, so that a reply is decided without reading the
//! order's stream first.
//!
//! A state from here may be stale: another replica, or a write this process did not see, may
//! have moved the order on. That is safe because a decision that appends events appends them
//! at the version it was made from, and an append at a stale version is a conflict, on which
//! the saga reads the order again. A decision that appends nothing has no such check, so the
//! saga makes those (late and repeated replies) from the order as read, never from here.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use contracts::value::OrderId;
use order_domain::Order;

/// Orders kept at most: past this, the cache starts over. Ended orders leave it, so it holds
/// the orders in flight, which admission keeps far below this.
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct OrderCache {
    orders: Mutex<HashMap<OrderId, (Order, u64)>>,
}

impl OrderCache {
    /// The order with its stream version, as last committed here, taken out: a decision
    /// made from it puts back the order it commits, and one that fails leaves nothing behind,
    /// so the next reply reads the order.
    pub(crate) fn take(&self, order_id: OrderId) -> Option<(Order, u64)> {
        self.orders().remove(&order_id)
    }

    /// Keeps `order` as committed at `version`; an ended order leaves the cache instead.
    pub(crate) fn put(&self, order: Order, version: u64) {
        let mut orders = self.orders();
        if order.status.is_terminal() {
            orders.remove(&order.id);
            return;
        }
        if orders.len() >= CAPACITY && !orders.contains_key(&order.id) {
            orders.clear();
        }
        orders.insert(order.id, (order, version));
    }

    fn orders(&self) -> std::sync::MutexGuard<'_, HashMap<OrderId, (Order, u64)>> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
