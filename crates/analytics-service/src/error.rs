//! What the analytics service's reads fail with; the HTTP layer maps each variant once.

/// A failed analytics read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client asked for something the API does not answer (HTTP 422).
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// `Result` with the analytics service's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
