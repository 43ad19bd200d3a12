//! Moving messages between services: the transport ports ([`Publisher`], [`QueueConsumer`],
//! [`DeadLetters`]), the retry and dead-letter policy, the consumer loop that classifies every
//! failure, and the outbox relay; for tests, a fault-injecting decorator over any transport
//! ([`faults`]).
//!
//! Delivery is at-least-once; handlers make effects exactly-once with the inbox. Only a message
//! that fails by its own fault uses up attempts; an outage is waited out without end.

mod consumer;
pub mod faults;
mod ports;
mod relay;
mod retry;

pub use consumer::{HandleError, Handler, run_consumer};
pub use ports::{DeadLetter, DeadLetters, Delivery, Publisher, QueueConsumer, TransportError};
pub use relay::run_relay;
pub use retry::RetryPolicy;
