//! Runs a service database's migrations, keeping their record in `_sqlx_migrations` as the
//! earlier builds (on sqlx) kept it: same table, same versions, descriptions and checksums,
//! one transaction per migration. A data directory either build wrote opens in the other.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context as _, bail};
use rusqlite::{Connection, TransactionBehavior, params};
use store_sql::migrations::Scripts;

use crate::rows;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)";

/// Applies those of `service`'s migrations that `connection`'s database has not recorded.
///
/// # Errors
/// When a migration fails, one was left half-applied, or the database records one this build
/// does not have or one whose text has changed since it ran.
pub(crate) fn run(
    connection: &mut Connection,
    scripts: &Scripts,
    service: contracts::Queue,
) -> anyhow::Result<()> {
    connection
        .execute_batch(CREATE_TABLE)
        .context("create the migrations table")?;
    let dirty: Option<i64> = rows::optional_scalar(
        connection,
        "SELECT version FROM _sqlx_migrations WHERE success = false ORDER BY version LIMIT 1",
        [],
    )
    .context("look for a half-applied migration")?;
    if let Some(version) = dirty {
        bail!("migration {version} was left half-applied");
    }
    let applied: BTreeMap<i64, Vec<u8>> = connection
        .prepare("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()
        .context("read the applied migrations")?;
    let migrator = scripts.migrator(service);
    for version in applied.keys() {
        if !migrator
            .iter()
            .any(|migration| migration.version == *version)
        {
            bail!("migration {version} was applied but is unknown to this build");
        }
    }
    for migration in migrator.iter() {
        let version = migration.version;
        if let Some(checksum) = applied.get(&version) {
            if checksum.as_slice() != &*migration.checksum {
                bail!("migration {version} was changed after it was applied");
            }
            continue;
        }
        let started = Instant::now();
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(migration.sql.as_str())
            .with_context(|| format!("apply migration {version}"))?;
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, -1)",
            params![version, &*migration.description, &*migration.checksum],
        )?;
        tx.commit()
            .with_context(|| format!("commit migration {version}"))?;
        let elapsed = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        connection.execute(
            "UPDATE _sqlx_migrations SET execution_time = ?1 WHERE version = ?2",
            params![elapsed, version],
        )?;
    }
    Ok(())
}
