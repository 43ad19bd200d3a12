//! Moving messages between services: the transport ports ([`Publisher`], [`QueueConsumer`],
//! [`DeadLetters`]), the retry and dead-letter policy, the consumer loop that classifies every
//! failure, the outbox relay, and the record of the process's own outages they report to; for
//! tests, a fault-injecting decorator over any transport ([`faults`]).
//!
//! Delivery is at-least-once; handlers make effects exactly-once with the inbox. Only a message
//! that fails by its own fault uses up attempts; an outage is waited out without end.

mod consumer;
pub mod faults;
mod outages;
mod ports;
mod relay;
mod retry;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod consumer_tests;
#[cfg(test)]
mod outage_tests;
#[cfg(test)]
mod relay_tests;
#[cfg(test)]
mod trace_tests;

pub use consumer::{HandleError, Handler, Intake, each_unless_together, handle_each, run_consumer};
pub use outages::{OutageReporter, Outages};
pub use ports::{DeadLetter, DeadLetters, Delivery, Publisher, QueueConsumer, TransportError};
pub use relay::run_relay;
pub use retry::{OUTAGE_MAX_DELAY, RetryPolicy};
