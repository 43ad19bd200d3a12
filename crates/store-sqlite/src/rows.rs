//! Statements run on a connection through its statement cache, and their result rows read
//! into owned values, so that the row mappings `store_sql` shares with PostgreSQL (which read
//! columns by name) apply to them.

use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension as _, Params};
use store::StoreError;
use store_sql::SqlRow;

/// One result row, its values owned.
#[derive(Debug)]
pub(crate) struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    fn value(&self, column: &str) -> store::Result<&Value> {
        self.columns
            .iter()
            .position(|name| name == column)
            .and_then(|index| self.values.get(index))
            .ok_or_else(|| unreadable(column, "no such column"))
    }
}

impl SqlRow for Row {
    fn text(&self, column: &str) -> store::Result<String> {
        match self.value(column)? {
            Value::Text(text) => Ok(text.clone()),
            other => Err(unreadable(column, other.data_type())),
        }
    }

    fn optional_text(&self, column: &str) -> store::Result<Option<String>> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text.clone())),
            other => Err(unreadable(column, other.data_type())),
        }
    }

    fn integer(&self, column: &str) -> store::Result<i64> {
        match self.value(column)? {
            Value::Integer(integer) => Ok(*integer),
            other => Err(unreadable(column, other.data_type())),
        }
    }
}

/// A column that is missing or of another type: the query and the schema disagree, a bug.
fn unreadable(column: &str, found: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("read column {column}: found {found}"))
}

/// Every row `sql` returns.
pub(crate) fn rows(
    connection: &Connection,
    sql: &str,
    params: impl Params,
) -> rusqlite::Result<Vec<Row>> {
    let mut statement = connection.prepare_cached(sql)?;
    let columns: Arc<[String]> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut found = statement.query(params)?;
    let mut rows = Vec::new();
    while let Some(row) = found.next()? {
        let values = (0..columns.len())
            .map(|index| row.get::<_, Value>(index))
            .collect::<rusqlite::Result<_>>()?;
        rows.push(Row {
            columns: Arc::clone(&columns),
            values,
        });
    }
    Ok(rows)
}

/// The first row `sql` returns, if any.
pub(crate) fn optional_row(
    connection: &Connection,
    sql: &str,
    params: impl Params,
) -> rusqlite::Result<Option<Row>> {
    Ok(rows(connection, sql, params)?.into_iter().next())
}

/// The first column of the one row `sql` returns.
pub(crate) fn scalar<T: rusqlite::types::FromSql>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
) -> rusqlite::Result<T> {
    connection
        .prepare_cached(sql)?
        .query_row(params, |row| row.get(0))
}

/// The first column of the first row `sql` returns, if any.
pub(crate) fn optional_scalar<T: rusqlite::types::FromSql>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
) -> rusqlite::Result<Option<T>> {
    connection
        .prepare_cached(sql)?
        .query_row(params, |row| row.get(0))
        .optional()
}

/// The first column of every row `sql` returns.
pub(crate) fn column<T: rusqlite::types::FromSql>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
) -> rusqlite::Result<Vec<T>> {
    connection
        .prepare_cached(sql)?
        .query_map(params, |row| row.get(0))?
        .collect()
}

/// Runs `sql`; how many rows it changed.
pub(crate) fn execute(
    connection: &Connection,
    sql: &str,
    params: impl Params,
) -> rusqlite::Result<usize> {
    connection.prepare_cached(sql)?.execute(params)
}
