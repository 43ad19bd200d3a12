//! The fault-injecting publisher: publishes some messages a second time, as a relay does when
//! it publishes a batch again after a lost confirm. RabbitMQ then holds two copies that
//! competing consumers (of different processes, too) may handle at the same time; the SQL
//! queue keeps one.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use contracts::Envelope;
use rand::Rng as _;
use rand::rngs::StdRng;

use crate::{Publisher, TransportError};

pub(super) struct FaultyPublisher {
    inner: Arc<dyn Publisher>,
    republish: f64,
    rng: Mutex<StdRng>,
}

impl FaultyPublisher {
    pub(super) fn new(inner: Arc<dyn Publisher>, republish: f64, rng: StdRng) -> Self {
        Self {
            inner,
            republish,
            rng: Mutex::new(rng),
        }
    }
}

#[async_trait]
impl Publisher for FaultyPublisher {
    async fn publish(&self, batch: &[Envelope]) -> Result<(), TransportError> {
        self.inner.publish(batch).await?;
        let again: Vec<Envelope> = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            batch
                .iter()
                .filter(|_| rng.random_bool(self.republish))
                .cloned()
                .collect()
        };
        if again.is_empty() {
            return Ok(());
        }
        metrics::counter!("orderflow_injected_faults_total", "fault" => "republish")
            .increment(again.len() as u64);
        // A failure here fails the batch, which the relay publishes again: one more copy.
        self.inner.publish(&again).await
    }
}
