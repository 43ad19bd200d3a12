//! Rows and envelopes without a database, for the mapping functions' tests.

use contracts::value::OrderId;
use contracts::{Envelope, Message, StockReserved};
use store::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::SqlRow;

/// A column's value.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Text(String),
    Integer(i64),
    Null,
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for Value {
    fn from(integer: i64) -> Self {
        Self::Integer(integer)
    }
}

/// A row of named columns.
#[derive(Clone, Debug, Default)]
pub(crate) struct FakeRow(Vec<(&'static str, Value)>);

impl FakeRow {
    pub(crate) fn with(mut self, column: &'static str, value: impl Into<Value>) -> Self {
        self.0.push((column, value.into()));
        self
    }

    pub(crate) fn with_null(mut self, column: &'static str) -> Self {
        self.0.push((column, Value::Null));
        self
    }

    fn get(&self, column: &str) -> store::Result<&Value> {
        self.0
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, value)| value)
            .ok_or_else(|| mismatch(column))
    }
}

fn mismatch(column: &str) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("read column {column}"))
}

impl SqlRow for FakeRow {
    fn text(&self, column: &str) -> store::Result<String> {
        self.optional_text(column)?.ok_or_else(|| mismatch(column))
    }

    fn optional_text(&self, column: &str) -> store::Result<Option<String>> {
        match self.get(column)? {
            Value::Text(text) => Ok(Some(text.clone())),
            Value::Null => Ok(None),
            Value::Integer(_) => Err(mismatch(column)),
        }
    }

    fn integer(&self, column: &str) -> store::Result<i64> {
        match self.get(column)? {
            Value::Integer(integer) => Ok(*integer),
            Value::Text(_) | Value::Null => Err(mismatch(column)),
        }
    }
}

/// An envelope at a whole second, so that its time survives RFC 3339 exactly.
pub(crate) fn envelope() -> Envelope {
    let order_id = OrderId::new(Uuid::now_v7());
    Envelope::build(Uuid::now_v7(), &Message::from(StockReserved { order_id }))
        .at(OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("a valid time"))
}
