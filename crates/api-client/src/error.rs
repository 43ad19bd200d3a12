//! What a call of the API can fail with, and what making a client can fail with.

use std::time::Duration;

use api::ProblemDetails;
use reqwest::{StatusCode, Url};

/// The result of a call of the API.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Why a call of the API has no answer a caller can use.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: the server could not be reached, the connection broke, or the call took
    /// longer than the client's timeout. The request may or may not have been handled.
    #[error("no answer from {url}")]
    Unreachable {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    /// The server refused the request, and said why in a problem+json body.
    #[error("{status}: {}", problem.detail)]
    Problem {
        status: StatusCode,
        /// Boxed: the body is large, and most results are not problems.
        problem: Box<ProblemDetails>,
        /// When to try again, from a `Retry-After` header in seconds (an overloaded server
        /// sends one with its `503`).
        retry_after: Option<Duration>,
    },
    /// The server answered, but not with the route's answer nor with a problem: a proxy's
    /// error page, another version of the API, a truncated body.
    #[error("unexpected answer {status} from {url}")]
    Unexpected {
        url: Url,
        status: StatusCode,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The problem the server answered with, if it answered with one.
    pub fn problem(&self) -> Option<&ProblemDetails> {
        match self {
            Self::Problem { problem, .. } => Some(problem),
            Self::Unreachable { .. } | Self::Unexpected { .. } => None,
        }
    }
}

/// Why an [`ApiClient`](crate::ApiClient) could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{base} is not a URL")]
    InvalidBase {
        base: String,
        #[source]
        source: url::ParseError,
    },
    /// A URL such as `mailto:…` has no path to put the API's routes under.
    #[error("{0} cannot be the base of the API's routes")]
    NotABase(Url),
    #[error("make the HTTP client")]
    Http(#[source] reqwest::Error),
}
