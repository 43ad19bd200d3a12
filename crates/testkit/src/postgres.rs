//! Per-test PostgreSQL databases: each test gets a database of its own,
//! `orderflow_test_<uuid>`, created through the server's `postgres` database and dropped
//! afterwards, also when the test fails, so tests run in parallel and leave nothing behind.
//!
//! The server is the one `DATABASE_URL` names, or the usual local default. It never touches a
//! database it did not create.

use std::time::Duration;

use anyhow::Context as _;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};
use uuid::Uuid;

/// How long dropping a database may take before a failing test gives up on it.
const DROP_TIMEOUT: Duration = Duration::from_secs(30);

/// The server tests use when `DATABASE_URL` is not set.
pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server's url: `DATABASE_URL`, or [`DEFAULT_SERVER_URL`].
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned())
}

/// A database that exists for one test. Drop it with [`TestDatabase::drop_database`]; if the
/// test panics first, dropping the value drops the database (best effort).
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
    dropped: bool,
}

impl TestDatabase {
    /// Creates a new, empty database on the server.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses to create the database.
    pub async fn create() -> anyhow::Result<Self> {
        let server = server_url();
        let admin_url = with_database(&server, "postgres");
        let name = format!("orderflow_test_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .context("connect to the server's postgres database")?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let created = sqlx::query(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
                .execute(&mut admin)
                .await;
            match created {
                Ok(_) => break,
                // "source database is being accessed by other users": someone is connected to
                // the template for a moment; try again shortly.
                Err(sqlx::Error::Database(error))
                    if error.code().as_deref() == Some("55006") && attempt < 20 =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("create database {name}"));
                }
            }
        }
        let _ = admin.close().await;
        Ok(Self {
            url: with_database(&server, &name),
            name,
            admin_url,
            dropped: false,
        })
    }

    /// The url to connect to this database with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name, `orderflow_test_<uuid>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, disconnecting whoever is still connected.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses to drop it.
    pub async fn drop_database(mut self) -> anyhow::Result<()> {
        self.dropped = true;
        drop_named(&self.admin_url, &self.name).await
    }
}

impl Drop for TestDatabase {
    /// Drops the database from a thread of its own with its own runtime: `Drop` cannot await,
    /// and may run while the test's runtime is unwinding.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("start a runtime to drop the test database")?;
            runtime.block_on(async {
                tokio::time::timeout(DROP_TIMEOUT, drop_named(&admin_url, &name))
                    .await
                    .context("drop the test database in time")?
            })
        });
        match dropper.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("cannot drop test database {}: {error:#}", self.name),
            Err(_) => eprintln!(
                "cannot drop test database {}: the thread panicked",
                self.name
            ),
        }
    }
}

async fn drop_named(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(admin_url)
        .await
        .context("connect to the server's postgres database")?;
    sqlx::query(AssertSqlSafe(format!(
        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
    )))
    .execute(&mut admin)
    .await
    .with_context(|| format!("drop database {name}"))?;
    let _ = admin.close().await;
    Ok(())
}

/// `url` with its database replaced by `database`, keeping its parameters.
fn with_database(url: &str, database: &str) -> String {
    let (base, parameters) = match url.split_once('?') {
        Some((base, parameters)) => (base, Some(parameters)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |scheme_end| scheme_end + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match parameters {
        Some(parameters) => format!("{base}/{database}?{parameters}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_parameters_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432/app?sslmode=disable", "t1"),
            "postgres://u:p@db:5432/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://localhost", "t1"),
            "postgresql://localhost/t1"
        );
    }
}
