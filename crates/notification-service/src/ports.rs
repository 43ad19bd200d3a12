//! The notification service's ports: its record of sent emails and its way of sending them
//! both live in [`store::notification`], beside each other, so that an email adapter depends
//! on the ports alone and never on this service.

pub use store::notification::{EmailSender, SendError};
