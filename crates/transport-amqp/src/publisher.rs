//! Publishing with publisher confirms: a batch is accepted only once the broker confirmed
//! every message of it and returned none as unroutable.

use async_trait::async_trait;
use contracts::{Envelope, subscribers};
use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation};
use tracing::warn;
use transport::{Publisher, TransportError};

use crate::error::{OrTransportError as _, unavailable};
use crate::headers;
use crate::session::within;
use crate::transport::AmqpTransport;

/// One message to publish.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) exchange: String,
    pub(crate) routing_key: String,
    pub(crate) body: Vec<u8>,
    pub(crate) properties: BasicProperties,
}

/// Publishes every message as mandatory and waits for all the confirmations.
///
/// # Errors
/// [`TransportError`] when a message is refused (nack), returned (no queue took it), or not
/// confirmed in time, or the channel fails: then any of them may be lost, and the caller
/// publishes them again.
pub(crate) async fn publish_confirmed(
    channel: &Channel,
    messages: &[Outgoing],
) -> Result<(), TransportError> {
    let mandatory = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let mut confirms = Vec::with_capacity(messages.len());
    for message in messages {
        let exchange = ShortString::try_new(message.exchange.as_str())
            .or_transport_error("name the exchange")?;
        let routing_key = ShortString::try_new(message.routing_key.as_str())
            .or_transport_error("name the routing key")?;
        let confirm = within(
            "publish a message",
            channel.basic_publish(
                exchange,
                routing_key,
                mandatory,
                &message.body,
                message.properties.clone(),
            ),
        )
        .await?;
        confirms.push(confirm);
    }
    for (confirm, message) in confirms.into_iter().zip(messages) {
        match within("confirm a published message", confirm).await? {
            Confirmation::Ack(None) => {}
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                return Err(unavailable(format!(
                    "the broker returned a message for {} ({} {}): no queue took it",
                    message.routing_key, returned.reply_code, returned.reply_text
                )));
            }
            Confirmation::Nack(None) => {
                return Err(unavailable(format!(
                    "the broker refused a message for {}",
                    message.routing_key
                )));
            }
            Confirmation::NotRequested => {
                return Err(unavailable("the publishing channel is not in confirm mode"));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Publisher for AmqpTransport {
    async fn publish(&self, batch: &[Envelope]) -> Result<(), TransportError> {
        let topology = self.topology();
        let mut outgoing = Vec::with_capacity(batch.len());
        for envelope in batch {
            if subscribers(&envelope.message_type).is_empty() {
                // Same as the SQL queue: a type nobody subscribes to reaches no queue.
                warn!(
                    message.id = %envelope.message_id,
                    message.r#type = %envelope.message_type,
                    "no queue subscribes to this message type; not publishing it"
                );
                continue;
            }
            outgoing.push(Outgoing {
                exchange: topology.exchange_for(&envelope.message_type),
                routing_key: envelope.message_type.clone(),
                body: serde_json::to_vec(envelope).or_transport_error("encode an envelope")?,
                properties: headers::for_envelope(envelope),
            });
        }
        if outgoing.is_empty() {
            return Ok(());
        }
        let session = self.session().await?;
        publish_confirmed(session.publisher(), &outgoing).await
    }
}
