//! Turning broker and client failures into the port's [`TransportError`], which callers treat
//! as transient: retry later.

use transport::TransportError;

/// Attaches what was attempted to a failure and makes it a [`TransportError`].
pub(crate) trait OrTransportError<T> {
    fn or_transport_error(self, context: &'static str) -> Result<T, TransportError>;
}

impl<T, E> OrTransportError<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn or_transport_error(self, context: &'static str) -> Result<T, TransportError> {
        self.map_err(|error| TransportError(anyhow::Error::new(error).context(context)))
    }
}

/// A failure with no underlying error value.
pub(crate) fn unavailable(message: impl Into<String>) -> TransportError {
    TransportError(anyhow::Error::msg(message.into()))
}
