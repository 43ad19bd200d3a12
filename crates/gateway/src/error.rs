//! One error type for the whole API, one mapping table to status codes, and one body shape:
//! `application/problem+json` (RFC 9457) with a stable snake_case `code` and, for validation,
//! the list of problems by field. Causes of 5xx errors are logged here, once, and never shown.

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
    /// No credentials where they are needed: what to send.
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials that are wrong: an admin token or customer token that does not verify.
    #[error(transparent)]
    InvalidToken(crate::auth::TokenError),
    /// Credentials that are right, but not enough.
    #[error("{0}")]
    Forbidden(String),
    #[error("a dependency is unavailable")]
    Unavailable(#[source] anyhow::Error),
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
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
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
        if status.is_server_error() {
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
        let challenge = (status == StatusCode::UNAUTHORIZED).then(|| challenge(&self, &detail));
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
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
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
