//! The RabbitMQ transport: the same ports and semantics as the embedded SQL queue
//! (at-least-once delivery, retries with backoff, a dead-letter store with the error and
//! attempt count), on RabbitMQ.
//!
//! - Publishing goes to a topic exchange for events or one for commands, routed by message
//!   type, with publisher confirms; a batch is accepted only when every message is confirmed
//!   and none was returned as unroutable.
//! - Each consuming service has a durable quorum queue, a dead-letter queue, and retry tiers
//!   (TTL queues that dead-letter back into it): see [`topology`].
//! - The application counts attempts in a header; the quorum queues' delivery limit is only a
//!   high safety net.
//!
//! Unlike the SQL queue, publishing a batch twice delivers it twice: consumers' inboxes make
//! the repeat harmless. This crate never decides whether a message is poison: the consumer
//! loop in `transport` does.

mod consumer;
mod dead_letters;
mod error;
mod headers;
mod publisher;
mod session;
pub mod testing;
pub mod topology;
mod transport;

pub use consumer::AmqpQueueConsumer;
pub use topology::{Topology, is_command};
pub use transport::{AmqpSettings, AmqpTransport, QueueStats};
