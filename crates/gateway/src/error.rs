//! One error type for the whole API, one mapping table to status codes, and one body shape:
//! `application/problem+json` (RFC 9457) with a stable snake_case `code` and, for validation,
//! the list of problems by field. Causes of 5xx errors are logged here, once, and never shown.
//!
//! An answer stays small whatever was sent: at most [`MAX_PROBLEMS_LISTED`] problems are
//! listed (the detail says how many there were), and the text of each is clipped, so a client's
//! huge input is never echoed back whole.

use std::time::Duration;

use api::FieldProblem;
/// The body, shared with the API's clients.
pub(crate) use api::ProblemDetails;
use contracts::value::shown;

use axum::Json;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use order_service::{CancelError, PlaceOrderError, SagaError};

/// Everything an API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request is invalid")]
    Invalid(Vec<FieldProblem>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// No credentials where they are needed: what to send.
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials that are wrong: an admin token or customer token that does not verify.
    #[error(transparent)]
    InvalidToken(crate::auth::TokenError),
    /// Credentials that are right, but not enough.
    #[error("{0}")]
    Forbidden(String),
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    #[error("the request was not answered within {} s", .0.as_secs_f64())]
    TimedOut(Duration),
    #[error("the body is larger than the {limit} bytes a request may have")]
    TooLarge { limit: usize },
    #[error("too many requests from this client: retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("a dependency is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Refused for overload before anything changed: `503` with `Retry-After`. The detail
    /// names the reason, e.g. `overloaded: 1234 orders in flight, limit 1000`.
    #[error("{detail}")]
    Overloaded {
        detail: String,
        retry_after: Duration,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldProblem::new(field, message)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Your request is not valid",
            ),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            Self::Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Not possible in the current state",
            ),
            Self::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
            ),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token", "Invalid token"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            Self::TimedOut(_) => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "Request timeout",
            ),
            Self::TooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Body too large",
            ),
            Self::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many requests",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::Overloaded { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Too much work in flight; retry later",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let retry_after = match &self {
            Self::Overloaded { retry_after, .. } => Some(retry_after.as_secs().max(1)),
            Self::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        // A refusal for overload is the system working as meant, and may come by the thousand.
        if status.is_server_error() && retry_after.is_none() {
            let cause = match &self {
                Self::Unavailable(cause) | Self::Internal(cause) => format!("{cause:#}"),
                other => other.to_string(),
            };
            tracing::error!(code, error = cause, "request failed");
        }
        let detail = match &self {
            Self::Invalid(problems) if problems.len() == 1 => {
                format!("{}: {}", problems[0].field, problems[0].message)
            }
            Self::Invalid(problems) if problems.len() > MAX_PROBLEMS_LISTED => format!(
                "{} problems with the request; the first {MAX_PROBLEMS_LISTED} are listed",
                problems.len()
            ),
            Self::Invalid(problems) => format!("{} problems with the request", problems.len()),
            other => other.to_string(),
        };
        let challenge = (status == StatusCode::UNAUTHORIZED).then(|| challenge(&self, &detail));
        let errors = match self {
            Self::Invalid(problems) => problems
                .into_iter()
                .take(MAX_PROBLEMS_LISTED)
                .map(|problem| {
                    FieldProblem::new(
                        clip(&problem.field, MAX_FIELD_CHARS),
                        clip(&problem.message, MAX_MESSAGE_CHARS),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        let body = ProblemDetails {
            problem_type: format!("/problems/{}", code.replace('_', "-")),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: clip(&detail, MAX_MESSAGE_CHARS),
            code: code.to_owned(),
            errors,
        };
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// The most field problems one answer lists; a request with more is told how many it had.
pub(crate) const MAX_PROBLEMS_LISTED: usize = 50;
/// The longest field path an answer shows, in characters.
const MAX_FIELD_CHARS: usize = 100;
/// The longest message or detail an answer shows, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// `text` cut to `max` characters, saying so when it was.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}… (cut)", &text[..end]),
        None => text.to_owned(),
    }
}

/// The `WWW-Authenticate` challenge of a `401` (RFC 6750): `invalid_token` or
/// `invalid_request` with the detail when credentials were sent and refused.
fn challenge(error: &ApiError, detail: &str) -> header::HeaderValue {
    let code = match error {
        ApiError::InvalidToken(crate::auth::TokenError::MalformedHeader) => "invalid_request",
        ApiError::InvalidToken(_) => "invalid_token",
        _ => return header::HeaderValue::from_static("Bearer realm=\"orderflow\""),
    };
    let description: String = detail
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && !matches!(c, '"' | '\\'))
        .collect();
    header::HeaderValue::from_str(&format!(
        "Bearer realm=\"orderflow\", error=\"{code}\", error_description=\"{description}\""
    ))
    .unwrap_or_else(|_| header::HeaderValue::from_static("Bearer realm=\"orderflow\""))
}

impl From<store::StoreError> for ApiError {
    fn from(error: store::StoreError) -> Self {
        match error {
            store::StoreError::Unavailable(cause) => Self::Unavailable(cause),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<transport::TransportError> for ApiError {
    fn from(error: transport::TransportError) -> Self {
        Self::Unavailable(error.into())
    }
}

impl From<SagaError> for ApiError {
    fn from(error: SagaError) -> Self {
        match error {
            SagaError::Store(store) => store.into(),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<PlaceOrderError> for ApiError {
    fn from(error: PlaceOrderError) -> Self {
        match error {
            PlaceOrderError::Invalid(problems) => Self::Invalid(problems),
            PlaceOrderError::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            PlaceOrderError::Overloaded(overload) => Self::Overloaded {
                detail: overload.to_string(),
                retry_after: overload.retry_after,
            },
            PlaceOrderError::Store(store) => store.into(),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(error: CancelError) -> Self {
        match error {
            CancelError::NotFound(id) => Self::NotFound(format!("no order with id {id}")),
            CancelError::NotAllowed(rejection) => Self::Conflict(rejection.to_string()),
            CancelError::Failed(failure) => failure.into(),
        }
    }
}

/// The answer for a path no route matches.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", shown(uri.path())))
}

impl From<query_service::Error> for ApiError {
    fn from(error: query_service::Error) -> Self {
        match error {
            query_service::Error::InvalidCursor(invalid) => {
                Self::invalid("cursor", invalid.to_string())
            }
            query_service::Error::Store(store) => store.into(),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<analytics_service::Error> for ApiError {
    fn from(error: analytics_service::Error) -> Self {
        match error {
            analytics_service::Error::Invalid { field, message } => Self::invalid(field, message),
            analytics_service::Error::Store(store) => store.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn answer(error: ApiError) -> (Response, ProblemDetails) {
        let response = error.into_response();
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.expect("a body");
        let problem = serde_json::from_slice(&bytes).expect("a problem");
        (
            Response::from_parts(parts, axum::body::Body::empty()),
            problem,
        )
    }

    #[tokio::test]
    async fn at_most_fifty_problems_are_listed_and_the_detail_says_how_many_there_were() {
        let problems = (0..87_000)
            .map(|index| FieldProblem::new(format!("items[{index}]"), "must be an object"))
            .collect();
        let (_, problem) = answer(ApiError::Invalid(problems)).await;
        assert_eq!(problem.errors.len(), MAX_PROBLEMS_LISTED);
        assert_eq!(
            problem.detail,
            "87000 problems with the request; the first 50 are listed"
        );
    }

    #[tokio::test]
    async fn a_long_field_or_message_is_clipped() {
        let long = "x".repeat(50_000);
        let (_, problem) = answer(ApiError::invalid(long.clone(), long.clone())).await;
        assert!(problem.errors[0].field.chars().count() < 120);
        assert!(problem.errors[0].message.ends_with("… (cut)"));
        assert!(problem.detail.chars().count() < 320);
    }

    #[tokio::test]
    async fn too_many_requests_says_when_to_come_back() {
        let (response, problem) = answer(ApiError::TooManyRequests {
            retry_after_secs: 2,
        })
        .await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(problem.code, "too_many_requests");
    }
}
