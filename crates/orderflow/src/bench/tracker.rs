//! Learns when orders end from the server's stream of order updates (`GET
//! /api/v1/order-updates`), not by polling: one subscription for the whole run. Only when the
//! stream says it lagged, or breaks, are the orders still awaited read once each, so the
//! bench's own requests stay a small share of the server's work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use api::{OrderStatus, UpdateNotice};
use api_client::ApiClient;
use tokio::sync::oneshot;
use uuid::Uuid;

/// How an order ended, and when the bench learned it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ended {
    pub(crate) status: OrderStatus,
    pub(crate) seen: Instant,
}

enum Entry {
    Awaited(oneshot::Sender<Ended>),
    /// Ended before the bench asked for it (the POST's answer arrived after the end).
    Ended(Ended),
}

/// The orders awaited, and what the stream said.
#[derive(Clone)]
pub(crate) struct Tracker {
    entries: Arc<Mutex<HashMap<Uuid, Entry>>>,
    client: ApiClient,
    /// Stream events received (updates and lag notices).
    pub(crate) messages: Arc<AtomicU64>,
    /// Orders read with `GET /orders/{id}` after a lag or a break of the stream.
    pub(crate) reads: Arc<AtomicU64>,
}

impl Tracker {
    /// Subscribes to the stream and follows it until the returned task is aborted.
    ///
    /// # Errors
    /// When the stream cannot be opened.
    pub(crate) async fn start(
        client: ApiClient,
    ) -> anyhow::Result<(Self, tokio::task::JoinHandle<()>)> {
        let stream = client.order_updates().await?;
        let tracker = Self {
            entries: Arc::default(),
            client,
            messages: Arc::default(),
            reads: Arc::default(),
        };
        let follower = tokio::spawn(tracker.clone().follow(stream));
        Ok((tracker, follower))
    }

    /// Waits until `order_id` ends, or `patience` passes (`None`).
    pub(crate) async fn ended(&self, order_id: Uuid, patience: Duration) -> Option<Ended> {
        let (sender, receiver) = oneshot::channel();
        {
            let mut entries = self.lock();
            if let Some(Entry::Ended(ended)) = entries.remove(&order_id) {
                return Some(ended);
            }
            entries.insert(order_id, Entry::Awaited(sender));
        }
        let ended = tokio::time::timeout(patience, receiver).await.ok()?.ok();
        if ended.is_none() {
            self.lock().remove(&order_id);
        }
        ended
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn end(&self, order_id: Uuid, ended: Ended) {
        let mut entries = self.lock();
        match entries.remove(&order_id) {
            Some(Entry::Awaited(sender)) => {
                let _ = sender.send(ended);
            }
            // Not (yet) placed by this bench: kept in case its POST's answer is on its way.
            _ => {
                entries.insert(order_id, Entry::Ended(ended));
            }
        }
    }

    async fn follow(self, mut stream: api_client::UpdateStream) {
        loop {
            match stream.next().await {
                Some(Ok(UpdateNotice::Update(update))) => {
                    self.messages.fetch_add(1, Ordering::Relaxed);
                    if update.status.is_terminal() {
                        let seen = Instant::now();
                        self.end(
                            update.order_id,
                            Ended {
                                status: update.status,
                                seen,
                            },
                        );
                    }
                }
                Some(Ok(UpdateNotice::Lagged(skipped))) => {
                    self.messages.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(skipped, "order updates lagged; reading awaited orders");
                    self.read_awaited().await;
                }
                Some(Err(error)) => tracing::warn!(%error, "order update unreadable"),
                None => {
                    tracing::warn!("order updates stream ended; subscribing again");
                    stream = self.resubscribe().await;
                    self.read_awaited().await;
                }
            }
        }
    }

    async fn resubscribe(&self) -> api_client::UpdateStream {
        loop {
            match self.client.order_updates().await {
                Ok(stream) => return stream,
                Err(error) => tracing::warn!(%error, "subscribe to order updates"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Reads each awaited order once, ending those that ended while updates were missed.
    async fn read_awaited(&self) {
        let awaited: Vec<Uuid> = self
            .lock()
            .iter()
            .filter(|(_, entry)| matches!(entry, Entry::Awaited(_)))
            .map(|(id, _)| *id)
            .collect();
        for order_id in awaited {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let Ok(view) = self.client.order(order_id).await else {
                continue;
            };
            if let Some(status) = OrderStatus::parse(&view.status).filter(|s| s.is_terminal()) {
                self.end(
                    order_id,
                    Ended {
                        status,
                        seen: Instant::now(),
                    },
                );
            }
        }
    }
}
