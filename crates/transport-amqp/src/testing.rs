//! Support for tests against a real broker: each test declares its topology under a prefix of
//! its own (`test-<uuid>.`), so tests run in parallel on one broker, and deletes it at the end.
//!
//! It lives beside the topology it tears down (rather than in `testkit`) so that `testkit`
//! needs no adapter, and this crate's own tests can use `testkit` without a dependency cycle.
//!
//! The broker is the one `AMQP_URL` names, or the usual local default. Nothing here touches a
//! name without a test prefix.

use std::future::Future;
use std::time::Duration;

use crate::Topology;
use anyhow::Context as _;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeleteOptions,
};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};

/// How long a test under [`with_prefix`] may run before it fails.
const TEST_TIMEOUT: Duration = Duration::from_secs(180);
/// How long deleting a test topology may take: a sick broker fails the test, never hangs it.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// The local broker's default URL (guest on the default vhost).
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The broker tests use: `AMQP_URL`, or [`DEFAULT_AMQP_URL`].
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

/// A prefix no other test uses: `test-<uuid>.`.
pub fn test_prefix() -> String {
    format!("test-{}.", uuid::Uuid::new_v4().simple())
}

/// Deletes every queue and exchange a transport may have declared under `prefix`, whatever
/// its queues and retry policy were; names that do not exist are skipped.
///
/// # Errors
/// When the broker cannot be reached or refuses a deletion. `prefix` must not be empty: that
/// would delete the production topology.
pub async fn delete_topology(url: &str, prefix: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !prefix.is_empty(),
        "refusing to delete the unprefixed topology"
    );
    tokio::time::timeout(TEARDOWN_TIMEOUT, delete_prefixed(url, prefix))
        .await
        .context("delete the test topology: timed out")?
}

async fn delete_prefixed(url: &str, prefix: &str) -> anyhow::Result<()> {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .context("connect to the broker")?;
    let channel = connection
        .create_channel()
        .await
        .context("open a channel")?;
    // Deleting a queue or exchange that does not exist is not an error in RabbitMQ.
    for queue in Topology::every_possible_queue_name(prefix) {
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .with_context(|| format!("delete queue {queue}"))?;
    }
    let topology = Topology::new(prefix, &[], &transport::RetryPolicy::default());
    for exchange in topology.exchange_names() {
        channel
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await
            .with_context(|| format!("delete exchange {exchange}"))?;
    }
    connection
        .close(200, "topology deleted".into())
        .await
        .context("close the connection")?;
    Ok(())
}

/// A message to put on a queue as it is, for tests of what consumers do with poison.
#[derive(Clone, Debug)]
pub struct RawMessage {
    /// The queue it goes to (through the default exchange), e.g. `Topology::queue`.
    pub queue_name: String,
    pub body: Vec<u8>,
    /// The `message_id` property; dead letters are listed by it.
    pub message_id: String,
    /// The `type` property, if any.
    pub message_type: Option<String>,
}

/// Publishes every message as it is, straight to its queue, with publisher confirms: a way in
/// for bodies and types no publisher of this crate would send.
///
/// # Errors
/// When the broker cannot be reached, or does not confirm a message.
pub async fn publish_raw(url: &str, messages: &[RawMessage]) -> anyhow::Result<()> {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .context("connect to the broker")?;
    let channel = connection
        .create_channel()
        .await
        .context("open a channel")?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .context("enable confirms")?;
    for message in messages {
        let mut properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(message.message_id.as_str().into());
        if let Some(message_type) = &message.message_type {
            properties = properties.with_type(message_type.as_str().into());
        }
        let confirm = channel
            .basic_publish(
                "".into(),
                message.queue_name.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &message.body,
                properties,
            )
            .await
            .context("publish")?
            .await
            .context("confirm")?;
        anyhow::ensure!(
            matches!(confirm, Confirmation::Ack(None)),
            "{} was not taken: {confirm:?}",
            message.queue_name
        );
    }
    connection
        .close(200, "published".into())
        .await
        .context("close the connection")?;
    Ok(())
}

/// Runs `test` with a fresh prefix, then deletes what was declared under it, also when the
/// test panics (the panic is raised again afterwards) or times out.
///
/// # Panics
/// When the test panics or takes longer than three minutes, or the topology cannot be
/// deleted.
pub async fn with_prefix<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let prefix = test_prefix();
    let outcome = tokio::time::timeout(TEST_TIMEOUT, tokio::spawn(test(prefix.clone()))).await;
    let deleted = delete_topology(&amqp_url(), &prefix).await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("the test was cancelled: {error}"),
        },
        Err(_) => panic!("the test under {prefix} ran longer than {TEST_TIMEOUT:?}"),
    }
    if let Err(error) = deleted {
        panic!("cannot delete the test topology {prefix}: {error:#}");
    }
}
