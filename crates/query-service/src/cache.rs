//! The in-process cache of order views, the embedded mode's [`ViewCache`]. The query service
//! keeps it fresh by writing every view it projects.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::value::OrderId;

use query_domain::OrderView;
use store::query::{ViewCache, view_version};

/// An in-process cache with a time to live and a bound on its size.
#[derive(Debug)]
pub struct MemoryViewCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<OrderId, (Instant, OrderView)>>,
}

impl MemoryViewCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }
}

impl Default for MemoryViewCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(300), 10_000)
    }
}

#[async_trait]
impl ViewCache for MemoryViewCache {
    async fn get(&self, order_id: OrderId) -> Option<OrderView> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(&order_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, view)| view.clone())
    }

    async fn put(&self, view: &OrderView) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let order_id = OrderId::new(view.order_id);
        if entries.len() >= self.capacity && !entries.contains_key(&order_id) {
            // Full: drop what has expired, and if that is not enough, start over. Cheap and
            // bounded; the read model answers the misses.
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let newer_cached = entries.get(&order_id).is_some_and(|(at, cached)| {
            at.elapsed() < self.ttl && view_version(cached) > view_version(view)
        });
        if !newer_cached {
            entries.insert(order_id, (Instant::now(), view.clone()));
        }
    }
}
