//! The connection to the broker and the confirmed channel publishers share, opened lazily and
//! opened again after a failure (a broker restart, a closed connection, a channel the broker
//! closed), with the topology declared again each time.
//!
//! Nothing here retries without end: a call that cannot reach the broker after a few quick
//! tries fails with [`TransportError`], and its caller (the relay, the consumer loop) backs off
//! and calls again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use backon::{ExponentialBuilder, Retryable as _};
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;
use tracing::{debug, warn};
use transport::TransportError;

use crate::error::unavailable;
use crate::topology::Topology;

/// How long opening a connection may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a readiness ping may take.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long any single broker operation (a declaration, a confirmation) may take.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a broker operation with [`OPERATION_TIMEOUT`].
///
/// # Errors
/// [`TransportError`] when the operation fails or takes too long.
pub(crate) async fn within<T, E>(
    context: &'static str,
    operation: impl Future<Output = Result<T, E>>,
) -> Result<T, TransportError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(OPERATION_TIMEOUT, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(TransportError(anyhow::Error::new(error).context(context))),
        Err(_) => Err(unavailable(format!("{context}: timed out"))),
    }
}

/// A live connection and its confirmed publishing channel.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    connection: Arc<Connection>,
    publisher: Channel,
}

impl Session {
    /// The channel every publish goes through, in confirm mode.
    pub(crate) fn publisher(&self) -> &Channel {
        &self.publisher
    }

    /// A new channel on the session's connection (for a consumer or a dead-letter scan).
    ///
    /// # Errors
    /// [`TransportError`] when the connection refuses or is gone.
    pub(crate) async fn open_channel(&self) -> Result<Channel, TransportError> {
        within("open a channel", self.connection.create_channel()).await
    }

    fn is_alive(&self) -> bool {
        self.connection.status().connected() && self.publisher.status().connected()
    }
}

/// Opens sessions on demand and keeps the current one.
#[derive(Debug)]
pub(crate) struct Connector {
    url: String,
    connection_name: String,
    topology: Topology,
    current: Mutex<Option<Session>>,
}

impl Connector {
    pub(crate) fn new(url: &str, topology: Topology) -> Self {
        Self {
            url: url.to_owned(),
            connection_name: format!("{}orderflow", topology.prefix()),
            topology,
            current: Mutex::new(None),
        }
    }

    pub(crate) fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The current session, or a new one when it died.
    ///
    /// # Errors
    /// [`TransportError`] when the broker cannot be reached after a few tries, or refuses the
    /// topology.
    pub(crate) async fn session(&self) -> Result<Session, TransportError> {
        let mut current = self.current.lock().await;
        if let Some(session) = current.as_ref()
            && session.is_alive()
        {
            return Ok(session.clone());
        }
        let previous = current.take();
        let session = self.reopen(previous).await.map_err(TransportError)?;
        *current = Some(session.clone());
        Ok(session)
    }

    /// Whether the broker answers: the current session is alive, or one can be opened within
    /// [`PING_TIMEOUT`]. A ping never waits longer, even while other callers are reconnecting
    /// one after another.
    pub(crate) async fn ping(&self) -> bool {
        if let Ok(current) = self.current.try_lock()
            && current.as_ref().is_some_and(Session::is_alive)
        {
            return true;
        }
        matches!(
            tokio::time::timeout(PING_TIMEOUT, self.session()).await,
            Ok(Ok(_))
        )
    }

    /// Closes the current connection, if any, and leaves the session in place: the next call
    /// finds it dead and opens a new one, as after a broker restart. Deliveries that were not
    /// acknowledged go back to their queues.
    pub(crate) async fn disconnect(&self) {
        let session = self.current.lock().await.clone();
        if let Some(session) = session
            && let Err(error) = within(
                "close the connection",
                session.connection.close(200, "disconnect".into()),
            )
            .await
        {
            debug!(
                error = format!("{:#}", anyhow::Error::new(error)),
                "connection was already closed"
            );
        }
    }

    async fn reopen(&self, previous: Option<Session>) -> anyhow::Result<Session> {
        if let Some(previous) = previous
            && previous.connection.status().connected()
        {
            // Only the channel died (the broker closes a channel on a failed operation).
            match self.start(previous.connection).await {
                Ok(session) => return Ok(session),
                Err(error) => warn!(
                    error = format!("{error:#}"),
                    "cannot reopen the publishing channel; reconnecting"
                ),
            }
        }
        let backoff = ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(2))
            .with_max_times(4)
            .with_jitter();
        (|| self.connect())
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .notify(|error, delay| {
                warn!(
                    error = format!("{error:#}"),
                    retry_in_ms = delay.as_millis(),
                    "cannot connect to the broker"
                );
            })
            .await
    }

    async fn connect(&self) -> anyhow::Result<Session> {
        let properties = ConnectionProperties::default()
            .with_connection_name(self.connection_name.clone().into());
        let connection =
            tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&self.url, properties))
                .await
                .context("connect to the broker: timed out")?
                .context("connect to the broker")?;
        self.start(Arc::new(connection)).await
    }

    async fn start(&self, connection: Arc<Connection>) -> anyhow::Result<Session> {
        let channel = within("open the publishing channel", connection.create_channel())
            .await
            .map_err(|error| error.0)?;
        within("declare the topology", self.topology.declare(&channel))
            .await
            .map_err(|error| error.0)?;
        within(
            "enable publisher confirms",
            channel.confirm_select(ConfirmSelectOptions::default()),
        )
        .await
        .map_err(|error| error.0)?;
        Ok(Session {
            connection,
            publisher: channel,
        })
    }
}
