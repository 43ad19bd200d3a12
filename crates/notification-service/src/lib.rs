//! The notification service: tells customers by email when their order completes or is
//! cancelled, and keeps a record of every email sent (the mailbox of the embedded mode).
//!
//! It owns the notification database (through [`store::notification::NotificationStore`]) and reaches the
//! outside world only through [`ports::EmailSender`]. It reacts to `order.*` events and never
//! decides anything about an order.

mod compose;
mod log_mailer;
pub mod ports;
mod service;

pub use log_mailer::LogMailer;
pub use service::{NotificationService, notification_for};
