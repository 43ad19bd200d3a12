//! Settling a delivery: an ack, or a confirmed copy (to a retry tier, the dead-letter queue)
//! followed by an ack, or handing it back to the broker when the copy fails.

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::{Acker, BasicProperties};
use tracing::debug;
use transport::TransportError;

use crate::error::unavailable;
use crate::publisher::{Outgoing, publish_confirmed};
use crate::session::within;
use crate::transport::AmqpTransport;

/// What settling a delivery needs: its acker, and the message as it came, to copy it.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) acker: Acker,
    pub(super) body: Vec<u8>,
    pub(super) properties: BasicProperties,
    pub(super) attempts: u32,
    pub(super) deliveries: u32,
}

/// Acks through `acker`.
///
/// # Errors
/// [`TransportError`] when the channel is closed (the broker delivers the message again).
pub(super) async fn ack(acker: &Acker) -> Result<(), TransportError> {
    if within("ack a delivery", acker.ack(BasicAckOptions::default())).await? {
        Ok(())
    } else {
        Err(unavailable(
            "cannot ack: the delivery's channel is closed, and the broker delivers it again",
        ))
    }
}

/// Publishes a confirmed copy of `entry` (the body byte for byte, with `properties`) to
/// `routing_key` through the default exchange, then acks the original.
///
/// # Errors
/// [`TransportError`] when the copy is not confirmed (the original is then handed back, so
/// it is delivered again rather than held) or the ack fails (the original comes back too,
/// next to its copy; the inbox absorbs the repeat).
pub(super) async fn copy_then_ack(
    transport: &AmqpTransport,
    entry: InFlight,
    routing_key: String,
    properties: BasicProperties,
) -> Result<(), TransportError> {
    let copy = Outgoing {
        exchange: String::new(),
        routing_key,
        body: entry.body,
        properties,
    };
    let published = match transport.session().await {
        Ok(session) => publish_confirmed(session.publisher(), std::slice::from_ref(&copy)).await,
        Err(error) => Err(error),
    };
    if let Err(error) = published {
        give_back(&entry.acker).await;
        return Err(error);
    }
    ack(&entry.acker).await
}

/// Returns a delivery to its queue at once; if that fails too, the channel is gone and the
/// broker returns it anyway.
async fn give_back(acker: &Acker) {
    let requeue = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    if let Err(error) = within("hand a delivery back", acker.nack(requeue)).await {
        debug!(
            error = format!("{:#}", anyhow::Error::new(error)),
            "cannot hand a delivery back"
        );
    }
}

/// The current time in unix milliseconds, for `x-orderflow-dead-lettered-at`.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}
