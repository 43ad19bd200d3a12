//! Why a verification could not run to its end: a database or the dead letters could not be
//! read. Nothing is judged then (`orderflow verify` exits with 2).

use store::StoreError;
use transport::TransportError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {what}")]
    Store {
        what: &'static str,
        #[source]
        source: StoreError,
    },
    #[error("cannot list the dead letters")]
    DeadLetters(#[source] TransportError),
}

impl Error {
    /// Wraps a store error with what was being read, for `map_err`.
    pub(crate) fn store(what: &'static str) -> impl FnOnce(StoreError) -> Error {
        move |source| Error::Store { what, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
