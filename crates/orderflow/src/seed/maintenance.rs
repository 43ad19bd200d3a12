//! After a bulk write, the query planner's statistics: `ANALYZE` in each SQLite file (and a WAL
//! checkpoint, so the files hold what was written), `VACUUM ANALYZE` on PostgreSQL. The store
//! ports have no such operation, so this speaks to the databases directly, like
//! `create_database_if_missing`.

use std::path::Path;

use anyhow::Context as _;
use contracts::Queue;
use sqlx::Connection as _;

/// Analyzes every service's SQLite file in `data_dir`, which no process may be writing.
///
/// # Errors
/// When a file cannot be opened or analyzed.
pub(crate) async fn analyze_sqlite(data_dir: &Path) -> anyhow::Result<()> {
    let data_dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        for service in Queue::ALL {
            let path = data_dir.join(format!("{}.db", service.name()));
            let connection = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
            )
            .with_context(|| format!("open {}", path.display()))?;
            connection
                .execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")
                .with_context(|| format!("ANALYZE and checkpoint {}", path.display()))?;
        }
        Ok(())
    })
    .await
    .context("the analyze task")?
}

/// `VACUUM ANALYZE` on the database at `database_url`, every service's schema at once.
///
/// # Errors
/// When the database cannot be reached or the command fails.
pub(crate) async fn vacuum_analyze_postgres(database_url: &str) -> anyhow::Result<()> {
    let mut connection = sqlx::PgConnection::connect(database_url)
        .await
        .context("connect to the database")?;
    sqlx::query("VACUUM ANALYZE")
        .execute(&mut connection)
        .await
        .context("VACUUM ANALYZE")?;
    connection.close().await.context("close")?;
    Ok(())
}
