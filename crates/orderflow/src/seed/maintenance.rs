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
    for service in Queue::ALL {
        let path = data_dir.join(format!("{}.db", service.name()));
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        let mut connection = sqlx::SqliteConnection::connect_with(&options)
            .await
            .with_context(|| format!("open {}", path.display()))?;
        for statement in ["ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"] {
            sqlx::query(statement)
                .execute(&mut connection)
                .await
                .with_context(|| format!("{statement} in {}", path.display()))?;
        }
        connection.close().await.context("close")?;
    }
    Ok(())
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
