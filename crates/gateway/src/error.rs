//! One error type for the whole API, one mapping table to status codes, and one body shape:
//! `application/problem+json` (RFC 9457) with a stable snake_case `code` and, for validation,
//! the list of problems by field. Causes of 5xx errors are logged here, once, and never shown.

use std::time::Duration;

use api::FieldProblem;
/// The body, shared with the API's clients.
pub(crate) use api::ProblemDetails;
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
    #[error("missing or wrong admin token")]
    Unauthorized,
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
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
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
            Self::Invalid(problems) => format!("{} problems with the request", problems.len()),
            other => other.to_string(),
        };
        let errors = match self {
            Self::Invalid(problems) => problems,
            _ => Vec::new(),
        };
        let body = ProblemDetails {
            problem_type: format!("/problems/{}", code.replace('_', "-")),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
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
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
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
    ApiError::NotFound(format!("no route for {}", uri.path()))
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
