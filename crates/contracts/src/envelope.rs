use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Message;

/// The wrapper every message travels in, whatever the transport.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique forever; consumers deduplicate on it.
    pub message_id: Uuid,
    /// The message type, e.g. `order.placed`; also the routing key.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Version of the payload's schema; old versions are upcast on read.
    pub schema_version: u32,
    /// The order this message belongs to.
    pub correlation_id: Uuid,
    /// The message that caused this one, if any.
    pub causation_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// W3C trace context of the span that produced the message.
    pub traceparent: Option<String>,
    pub payload: serde_json::Value,
}

impl Envelope {
    /// Starts an envelope for `message` in the current version of its schema. `message_id` is
    /// the caller's to draw (a UUID v7 in the services), so this crate reads no clock and draws
    /// no random number.
    pub fn build(message_id: Uuid, message: &Message) -> EnvelopeBuilder {
        EnvelopeBuilder {
            message_id,
            message_type: message.message_type(),
            schema_version: message.schema_version(),
            correlation_id: message.order_id().as_uuid(),
            payload: message.payload(),
            causation_id: None,
            traceparent: None,
        }
    }

    /// Decodes the payload, upcasting old schema versions.
    ///
    /// # Errors
    /// [`crate::DecodeError`] when the type is unknown or the payload does not match its schema.
    pub fn decode(&self) -> Result<Message, crate::DecodeError> {
        Message::decode(
            &self.message_type,
            self.schema_version,
            self.payload.clone(),
        )
    }

    /// The same envelope with its payload upcast to the current version of its schema: what
    /// old history is shown as (an old `order.placed` then holds no payment token).
    ///
    /// # Errors
    /// [`crate::DecodeError`] when the envelope cannot be decoded.
    pub fn to_current(&self) -> Result<Envelope, crate::DecodeError> {
        let message = self.decode()?;
        Ok(Envelope {
            schema_version: message.schema_version(),
            payload: message.payload(),
            ..self.clone()
        })
    }
}

/// Fills in the causal fields of an [`Envelope`].
#[derive(Debug)]
pub struct EnvelopeBuilder {
    message_id: Uuid,
    message_type: &'static str,
    schema_version: u32,
    correlation_id: Uuid,
    payload: serde_json::Value,
    causation_id: Option<Uuid>,
    traceparent: Option<String>,
}

impl EnvelopeBuilder {
    /// Marks the message as caused by `cause`, carrying its trace along.
    pub fn caused_by(mut self, cause: &Envelope) -> Self {
        self.causation_id = Some(cause.message_id);
        self.traceparent.clone_from(&cause.traceparent);
        self
    }

    pub fn traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// Finishes the envelope, stamped with the time it occurred at.
    pub fn at(self, occurred_at: OffsetDateTime) -> Envelope {
        Envelope {
            message_id: self.message_id,
            message_type: self.message_type.to_owned(),
            schema_version: self.schema_version,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            occurred_at,
            traceparent: self.traceparent,
            payload: self.payload,
        }
    }
}
