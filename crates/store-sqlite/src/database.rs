//! One service's database: its writer, readers and checkpointer, how work reaches them (a
//! unit of work holds the writer, inside a transaction it may share with the units after it:
//! see `group.rs`; a read holds a reader for its statements, never across an await), and the
//! queue rows handled but not deleted yet.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, MutexGuard as SyncMutexGuard, PoisonError};

use anyhow::Context as _;
use contracts::Queue;
use rusqlite::Connection;
use store_sql::migrations::Scripts;
use tokio::sync::{Mutex, Notify, OwnedMappedMutexGuard, OwnedMutexGuard, watch};
use tracing::warn;

use crate::connection::{Checkpointer, open_reader, open_writer};
use crate::error::{SqlResultExt as _, closed};
use crate::group::{Group, Verdict};
use crate::rows::execute;
use crate::unit_of_work::SqliteTx;

/// Reader connections of a database a server writes: reads run inline, in microseconds, so a
/// few serve every task.
const READERS: usize = 4;

/// One service's database file.
#[derive(Clone, Debug)]
pub struct SqliteDatabase {
    inner: Arc<Inner>,
}

/// A connection that [`SqliteDatabase::close`] has taken away when it is `None`.
type Slot = Option<Connection>;

/// The writer connection, held by one unit of work.
pub(crate) type Writer = OwnedMappedMutexGuard<Slot, Connection>;

#[derive(Debug)]
struct Inner {
    service: Queue,
    /// `BEGIN IMMEDIATE`, or a plain `BEGIN` on a read-only database (where every write fails).
    begin: &'static str,
    /// The one connection that writes, held for a whole unit of work (an async lock: a unit
    /// lives across its callers' awaits). Statements on it run inline.
    writer: Arc<Mutex<Slot>>,
    /// The transaction the writer's units share, and the units kept in it.
    group: SyncMutex<Group>,
    /// Units waiting for the writer: while there are any, the last unit's commit is left to
    /// them.
    waiting: AtomicUsize,
    /// Held for one statement or read transaction, never across an await; reads go to the
    /// writer instead when it is free.
    readers: Box<[SyncMutex<Slot>]>,
    next_reader: AtomicUsize,
    checkpointer: SyncMutex<Option<Checkpointer>>,
    /// Queue rows whose messages were handled and acknowledged, to delete in the next write
    /// on the queue (see `queue.rs`).
    handled: SyncMutex<Vec<i64>>,
    /// Woken when a transaction that wrote to the outbox commits.
    outbox_committed: Notify,
    /// Counts publishes to this database's queue; consumers wait for it to change.
    queue_filled: watch::Sender<u64>,
}

impl SqliteDatabase {
    /// Opens (creating if needed) and migrates `<data_dir>/<service>.db`.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub async fn open(data_dir: &Path, service: Queue) -> anyhow::Result<Self> {
        let path = data_dir.join(format!("{}.db", service.name()));
        crate::private_files::make_database_private(&path)
            .with_context(|| format!("make {} private", path.display()))?;
        let mut writer = open_writer(&path).with_context(|| format!("open {}", path.display()))?;
        crate::migrate::run(&mut writer, &MIGRATIONS, service)
            .with_context(|| format!("migrate {}", path.display()))?;
        let readers = open_readers(&path, READERS)?;
        let checkpointer = Checkpointer::start(&path, service.name())
            .with_context(|| format!("start checkpointing {}", path.display()))?;
        Ok(Self::assemble(
            service,
            "BEGIN IMMEDIATE",
            writer,
            readers,
            Some(checkpointer),
        ))
    }

    /// Opens an existing `<data_dir>/<service>.db` for reading only, neither creating nor
    /// migrating it: for `orderflow verify`, beside a server that may be running on it (WAL
    /// readers never block its writer). Every write through it fails.
    ///
    /// # Errors
    /// When the file does not exist or cannot be opened.
    pub async fn open_read_only(data_dir: &Path, service: Queue) -> anyhow::Result<Self> {
        let path = data_dir.join(format!("{}.db", service.name()));
        anyhow::ensure!(
            path.is_file(),
            "no {} database at {}",
            service.name(),
            path.display()
        );
        let writer =
            open_reader(&path).with_context(|| format!("open {} for reading", path.display()))?;
        let readers = open_readers(&path, 2)?;
        Ok(Self::assemble(service, "BEGIN", writer, readers, None))
    }

    fn assemble(
        service: Queue,
        begin: &'static str,
        writer: Connection,
        readers: Box<[SyncMutex<Slot>]>,
        checkpointer: Option<Checkpointer>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                service,
                begin,
                writer: Arc::new(Mutex::new(Some(writer))),
                group: SyncMutex::new(Group::default()),
                waiting: AtomicUsize::new(0),
                readers,
                next_reader: AtomicUsize::new(0),
                checkpointer: SyncMutex::new(checkpointer),
                handled: SyncMutex::new(Vec::new()),
                outbox_committed: Notify::new(),
                queue_filled: watch::Sender::new(0),
            }),
        }
    }

    pub fn service(&self) -> Queue {
        self.inner.service
    }

    /// Begins a unit of work, waiting for the writer.
    pub(crate) async fn begin(&self) -> store::Result<SqliteTx> {
        let writer = self.enter("begin transaction").await?;
        Ok(SqliteTx::new(writer, self.clone()))
    }

    /// Runs `work` as a unit of work of its own, kept if it succeeds; returns once it is
    /// committed.
    pub(crate) async fn write<T>(
        &self,
        what: &'static str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> store::Result<T> {
        let writer = self.enter(what).await?;
        let done = work(&writer);
        let verdict = self.end_unit(&writer, done.is_ok(), false);
        drop(writer);
        let value = done.or_store_error(what)?;
        committed(verdict, what).await?;
        Ok(value)
    }

    /// Takes the writer, waiting for it, and opens a unit of work on it.
    async fn enter(&self, what: &'static str) -> store::Result<Writer> {
        let waiting = Waiting::new(self);
        let writer = Arc::clone(&self.inner.writer).lock_owned().await;
        waiting.served();
        let writer = OwnedMutexGuard::try_map(writer, Option::as_mut).map_err(|_| closed(what))?;
        let opened = lock(&self.inner.group).open_unit(&writer, self.inner.begin);
        if let Err(error) = opened {
            self.end_unit(&writer, false, false);
            return Err(error).or_store_error(what);
        }
        Ok(writer)
    }

    /// Ends the unit of work open on `writer`, keeping or undoing it: kept, what it returns
    /// tells when its transaction committed (see `group.rs`).
    pub(crate) fn end_unit(
        &self,
        writer: &Connection,
        keep: bool,
        wrote_outbox: bool,
    ) -> Option<Verdict> {
        let waiting = self.inner.waiting.load(Ordering::SeqCst);
        let ended = lock(&self.inner.group).end_unit(writer, keep, wrote_outbox, waiting);
        if ended.outbox_committed {
            self.inner.outbox_committed.notify_one();
        }
        ended.verdict
    }

    /// Commits the shared transaction, if one is open, once the writer is free: for a unit
    /// that stopped waiting for the writer, to which the last unit may have left the commit.
    async fn commit_open_group(&self) {
        let writer = self.inner.writer.lock().await;
        if let Some(connection) = writer.as_ref()
            && lock(&self.inner.group).commit(connection)
        {
            self.inner.outbox_committed.notify_one();
        }
    }

    /// Runs `work` on the writer if it is free, else on a reader connection (each statement
    /// sees the database as it was when the statement began; [`in_transaction`] gives several
    /// statements one snapshot).
    pub(crate) fn read<T>(
        &self,
        what: &'static str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> store::Result<T> {
        // The writer, when it is free, reads fastest: its page cache survives its own commits,
        // where a reader's is emptied by any commit since its last read.
        if let Ok(writer) = self.inner.writer.try_lock()
            && let Some(connection) = writer.as_ref()
            && !lock(&self.inner.group).is_open()
        {
            return work(connection).or_store_error(what);
        }
        let reader = self.reader();
        let connection = reader.as_ref().ok_or_else(|| closed(what))?;
        work(connection).or_store_error(what)
    }

    /// Runs `work` (reads through [`Self::read`]) on the blocking pool instead of an async
    /// worker: for the reads of thousands of rows the archive makes, which inline would hold
    /// up every task queued on the worker behind them (measured: 10–40 ms a second, and
    /// 100 ms and more for a file's events).
    pub(crate) async fn read_off_workers<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce(&Self) -> store::Result<T> + Send + 'static,
    ) -> store::Result<T> {
        let database = self.clone();
        tokio::task::spawn_blocking(move || work(&database))
            .await
            .map_err(|stopped| {
                store::StoreError::Unavailable(anyhow::Error::new(stopped).context(what))
            })?
    }

    /// A free reader if there is one, else the next one in turn, once it is free.
    fn reader(&self) -> SyncMutexGuard<'_, Slot> {
        let readers = &self.inner.readers;
        let first = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        for offset in 0..readers.len() {
            match readers[(first + offset) % readers.len()].try_lock() {
                Ok(reader) => return reader,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        lock(&readers[first % readers.len()])
    }

    pub(crate) fn outbox_committed(&self) -> &Notify {
        &self.inner.outbox_committed
    }

    /// Tells this database's consumers that messages were put on its queue.
    pub(crate) fn signal_queue_filled(&self) {
        self.inner
            .queue_filled
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A receiver that sees every later [`SqliteDatabase::signal_queue_filled`].
    pub(crate) fn queue_changes(&self) -> watch::Receiver<u64> {
        self.inner.queue_filled.subscribe()
    }

    /// Remembers that queue row `id` was handled, to delete with the next write on the queue.
    pub(crate) fn handled(&self, id: i64) {
        lock(&self.inner.handled).push(id);
    }

    /// Takes the handled queue rows not deleted yet; [`Self::still_handled`] gives back those
    /// whose deletion did not commit.
    pub(crate) fn take_handled(&self) -> Vec<i64> {
        std::mem::take(&mut *lock(&self.inner.handled))
    }

    pub(crate) fn still_handled(&self, ids: Vec<i64>) {
        lock(&self.inner.handled).extend(ids);
    }

    /// Deletes the handled queue rows not deleted yet, in a transaction of their own.
    pub(crate) async fn delete_handled(&self) -> store::Result<()> {
        let handled = self.take_handled();
        if handled.is_empty() {
            return Ok(());
        }
        let deleted = self
            .write("delete handled messages", |connection| {
                delete_queue_rows(connection, &handled)
            })
            .await;
        if deleted.is_err() {
            self.still_handled(handled);
        }
        deleted
    }

    /// Whether the database answers a query.
    pub async fn ping(&self) -> bool {
        self.read("ping", |connection| {
            crate::rows::scalar::<i64>(connection, "SELECT 1", [])
        })
        .is_ok()
    }

    /// Deletes the handled queue rows, then closes every connection, waiting for the one in
    /// use; anything asked of the database afterwards is [`store::StoreError::Unavailable`].
    pub async fn close(&self) {
        if let Err(error) = self.delete_handled().await {
            warn!(database = self.inner.service.name(), %error, "handled messages stay queued");
        }
        {
            let mut writer = self.inner.writer.lock().await;
            if let Some(connection) = writer.as_ref() {
                // Units kept in a transaction the next unit was to commit: commit it for them.
                lock(&self.inner.group).commit(connection);
            }
            writer.take();
        }
        for reader in &self.inner.readers {
            lock(reader).take();
        }
        let checkpointer = lock(&self.inner.checkpointer).take();
        if let Some(checkpointer) = checkpointer {
            checkpointer.stop().await;
        }
    }
}

/// Counts a unit waiting for the writer while it waits. One that stops waiting without it (its
/// caller gave up) has the transaction that may have been left to it committed.
struct Waiting<'a> {
    database: &'a SqliteDatabase,
    served: bool,
}

impl<'a> Waiting<'a> {
    fn new(database: &'a SqliteDatabase) -> Self {
        database.inner.waiting.fetch_add(1, Ordering::SeqCst);
        Self {
            database,
            served: false,
        }
    }

    fn served(mut self) {
        self.served = true;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.database.inner.waiting.fetch_sub(1, Ordering::SeqCst);
        if !self.served
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let database = self.database.clone();
            runtime.spawn(async move { database.commit_open_group().await });
        }
    }
}

/// What a kept unit returns once its transaction is decided.
pub(crate) async fn committed(verdict: Option<Verdict>, what: &'static str) -> store::Result<()> {
    let Some(verdict) = verdict else {
        return Ok(());
    };
    match verdict.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(store::StoreError::Unavailable(
            anyhow::anyhow!("the transaction did not commit: {error}").context(what),
        )),
        Err(_) => Err(store::StoreError::Unavailable(
            anyhow::anyhow!("the database closed before the transaction committed").context(what),
        )),
    }
}

/// Deletes queue rows `ids`.
pub(crate) fn delete_queue_rows(connection: &Connection, ids: &[i64]) -> rusqlite::Result<()> {
    for id in ids {
        execute(connection, "DELETE FROM queue_messages WHERE id = ?", [id])?;
    }
    Ok(())
}

/// Runs `work` between `begin` and `COMMIT`, rolling back if either fails.
pub(crate) fn in_transaction<T>(
    connection: &Connection,
    begin: &str,
    work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    execute(connection, begin, [])?;
    let done = work(connection).and_then(|value| {
        execute(connection, "COMMIT", [])?;
        Ok(value)
    });
    if done.is_err() && !connection.is_autocommit() {
        let _ = execute(connection, "ROLLBACK", []);
    }
    done
}

fn open_readers(path: &Path, count: usize) -> anyhow::Result<Box<[SyncMutex<Slot>]>> {
    (0..count)
        .map(|_| open_reader(path).map(|reader| SyncMutex::new(Some(reader))))
        .collect::<rusqlite::Result<_>>()
        .with_context(|| format!("open {} for reading", path.display()))
}

/// A connection lock; one a panic poisoned is still a connection (SQLite rolls back what the
/// panicking statement left).
fn lock<T>(mutex: &SyncMutex<T>) -> SyncMutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This dialect's migrations, one file a version under `migrations/`.
const MIGRATIONS: Scripts = store_sql::embed_migrations!();
