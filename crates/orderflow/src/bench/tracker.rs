//! Learns when orders end from the server's stream of order updates (`GET
//! /api/v1/order-updates`), not by polling: one subscription for the whole run. Only when the
//! stream says it lagged, or breaks, are the orders still awaited read once each, so the
//! bench's own requests stay a small share of the server's work. An order the stream has said
//! nothing about for [`QUIET`] is read too, then again every [`QUIET`]: the stream may miss an
//! update without breaking (one sent by another replica of the order service, or while the
//! gateway was subscribing again to an order process that restarted), and an order that ended
//! must not be reported unfinished.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use api::{OrderStatus, UpdateNotice};
use api_client::ApiClient;
use tokio::sync::oneshot;
use uuid::Uuid;

/// How long an awaited order may go without news from the stream before it is read.
const QUIET: Duration = Duration::from_secs(5);

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

    /// Waits until `order_id` ends, or `patience` passes (`None`); reads the order every
    /// [`QUIET`] the stream says nothing about it.
    pub(crate) async fn ended(&self, order_id: Uuid, patience: Duration) -> Option<Ended> {
        let (sender, mut receiver) = oneshot::channel();
        {
            let mut entries = self.lock();
            if let Some(Entry::Ended(ended)) = entries.remove(&order_id) {
                return Some(ended);
            }
            entries.insert(order_id, Entry::Awaited(sender));
        }
        let deadline = Instant::now() + patience;
        let ended = loop {
            let slice = QUIET.min(deadline.saturating_duration_since(Instant::now()));
            match tokio::time::timeout(slice, &mut receiver).await {
                Ok(ended) => break ended.ok(),
                Err(_) if Instant::now() >= deadline => break None,
                Err(_) => {
                    if let Some(ended) = self.read(order_id).await {
                        break Some(ended);
                    }
                }
            }
        };
        // Gone already when the stream ended it; still there when read, or not ended.
        self.lock().remove(&order_id);
        ended
    }

    /// Reads an order: how it ended, if it has.
    async fn read(&self, order_id: Uuid) -> Option<Ended> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let view = self.client.order(order_id).await.ok()?;
        OrderStatus::parse(&view.status)
            .filter(|status| status.is_terminal())
            .map(|status| Ended {
                status,
                seen: Instant::now(),
            })
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
            if let Some(ended) = self.read(order_id).await {
                self.end(order_id, ended);
            }
        }
    }
}
