//! What the query service's use cases fail with; the HTTP layer maps each variant once.

use contracts::value::OrderId;

use query_domain::InvalidCursor;

/// A failed read or rebuild of the read model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client sent a cursor this API did not issue (HTTP 422).
    #[error(transparent)]
    InvalidCursor(#[from] InvalidCursor),
    /// A kept event cannot be decoded any more, so the order's view cannot be rebuilt.
    #[error("cannot project the view of order {order_id}")]
    Projection {
        order_id: OrderId,
        #[source]
        source: contracts::DecodeError,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// `Result` with the query service's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
