//! A consumer's channel, with its prefetch window, and its `basic.consume` stream.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use contracts::Queue;
use futures_core::Stream;
use lapin::Channel;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use transport::TransportError;

use crate::error::unavailable;
use crate::session::within;
use crate::transport::AmqpTransport;

#[derive(Debug)]
pub(super) struct Subscription {
    channel: Channel,
    stream: lapin::Consumer,
}

/// The next item of the stream.
pub(super) enum Next {
    Delivery(Box<lapin::message::Delivery>),
    /// The stream failed or the broker cancelled the consumer: subscribe again.
    Ended(TransportError),
}

impl Subscription {
    /// Opens a channel on the transport's connection (reconnecting if needed), declares the
    /// queue's retry tiers (idempotent) and starts consuming `queue`, with at most `prefetch`
    /// deliveries unsettled.
    ///
    /// # Errors
    /// [`TransportError`] when the broker cannot be reached or refuses.
    pub(super) async fn open(
        transport: &AmqpTransport,
        queue: Queue,
        prefetch: u16,
    ) -> Result<Self, TransportError> {
        let session = transport.session().await?;
        let channel = session.open_channel().await?;
        within(
            "declare the retry tiers",
            transport.topology().declare_retry_tiers(&channel, queue),
        )
        .await?;
        within(
            "set the prefetch window",
            channel.basic_qos(prefetch, BasicQosOptions::default()),
        )
        .await?;
        let stream = within(
            "start consuming",
            channel.basic_consume(
                transport.topology().queue(queue).into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
        Ok(Self { channel, stream })
    }

    pub(super) fn is_alive(&self) -> bool {
        self.channel.status().connected()
    }

    /// The next delivery, waiting for it.
    pub(super) async fn next(&mut self) -> Next {
        let stream = &mut self.stream;
        match poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await {
            Some(Ok(delivery)) => Next::Delivery(Box::new(delivery)),
            Some(Err(error)) => Next::Ended(ended(error)),
            None => Next::Ended(unavailable("the broker cancelled the consumer")),
        }
    }

    /// The next delivery if one is there already, without waiting.
    pub(super) async fn ready(&mut self) -> Option<Next> {
        let stream = &mut self.stream;
        match poll_fn(|cx| Poll::Ready(Pin::new(&mut *stream).poll_next(cx))).await {
            Poll::Pending => None,
            Poll::Ready(Some(Ok(delivery))) => Some(Next::Delivery(Box::new(delivery))),
            Poll::Ready(Some(Err(error))) => Some(Next::Ended(ended(error))),
            Poll::Ready(None) => Some(Next::Ended(unavailable(
                "the broker cancelled the consumer",
            ))),
        }
    }
}

fn ended(error: lapin::Error) -> TransportError {
    TransportError(anyhow::Error::new(error).context("consume the queue"))
}
