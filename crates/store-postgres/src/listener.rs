//! Wakes a relay when a transaction with outbox messages commits, in this process or any other:
//! a `LISTEN` on the service's channel, on a connection of its own, reconnecting after errors.
//!
//! It never reads or writes data. A lost connection costs only latency: the relay polls anyway,
//! and is woken once after every (re)connection for the commits nobody heard meanwhile.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::database::PgDatabase;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One listener, started on first use and stopped when dropped or when the database closes.
#[derive(Debug)]
pub(crate) struct OutboxWakeups {
    database: PgDatabase,
    notify: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl OutboxWakeups {
    pub(crate) fn new(database: PgDatabase) -> Self {
        Self {
            database,
            notify: Arc::new(Notify::new()),
            task: Mutex::new(None),
        }
    }

    /// Starts the listener unless it runs already. Must be called within a Tokio runtime.
    pub(crate) fn ensure_listening(&self) {
        let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if task.is_none() && !self.database.closed().is_cancelled() {
            *task = Some(tokio::spawn(listen(
                self.database.clone(),
                Arc::clone(&self.notify),
            )));
        }
    }

    /// Waits for a wake-up, or `timeout`. A wake-up that came while nobody waited is kept, so
    /// a commit between the relay's read and its wait is not missed.
    pub(crate) async fn wait(&self, timeout: Duration) {
        self.ensure_listening();
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }
}

impl Drop for OutboxWakeups {
    fn drop(&mut self) {
        let task = self.task.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = task.take() {
            task.abort();
        }
    }
}

/// Listens until the database closes, reconnecting with backoff.
async fn listen(database: PgDatabase, notify: Arc<Notify>) {
    let channel = database.outbox_channel();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(database.connect_options().clone());
    let mut backoff = MIN_BACKOFF;
    loop {
        let error = tokio::select! {
            () = database.closed().cancelled() => break,
            error = listen_until_error(&pool, &channel, &notify, &mut backoff) => error,
        };
        // Backoff is back at its minimum after every success: warn once per outage.
        if backoff == MIN_BACKOFF {
            warn!(
                outbox.channel = %channel,
                error = %error,
                "cannot listen for outbox commits; the relay polls meanwhile"
            );
        } else {
            debug!(outbox.channel = %channel, error = %error, "still cannot listen for outbox commits");
        }
        tokio::select! {
            () = database.closed().cancelled() => break,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    pool.close().await;
}

/// Runs one listener until it fails; resets `backoff` once listening.
async fn listen_until_error(
    pool: &sqlx::PgPool,
    channel: &str,
    notify: &Notify,
    backoff: &mut Duration,
) -> sqlx::Error {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(error) => return error,
    };
    if let Err(error) = listener.listen(channel).await {
        return error;
    }
    *backoff = MIN_BACKOFF;
    notify.notify_one();
    loop {
        // `Ok(None)`: the connection was lost and has been re-established; commits in between
        // were not heard, so the relay reads anyway.
        match listener.try_recv().await {
            Ok(_) => notify.notify_one(),
            Err(error) => return error,
        }
    }
}
