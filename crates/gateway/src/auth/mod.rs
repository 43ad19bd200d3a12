//! Who is calling, and what they may do: the identity checks of the public API.
//!
//! Every process that serves the API checks the `Authorization` header itself, with the same
//! settings (one admin token, one set of JWT keys for an installation), so a service's own
//! port is as closed as the gateway's. A request is made by one [`Caller`]:
//!
//! - the **admin** (`Bearer <admin token>`): every order, the admin routes, the updates stream;
//! - a **customer** (`Bearer <JWT>` with `sub` and `email`): places orders under their own
//!   address, lists and cancels only their own orders;
//! - **anonymous** (no header): places orders (unless the server takes no anonymous orders)
//!   and reads an order by its id, nothing else.
//!
//! A header that is there but wrong (another scheme, a bad signature, an expired token) is a
//! `401`, never treated as anonymous.

mod placement;
#[cfg(test)]
mod tests;
pub mod tokens;

use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use contracts::value::Email;
use order_service::OrderRequest;

pub(crate) use placement::order_request;
pub use tokens::{SettingsError, TokenError, TokenSettings, TokenVerifier};

use crate::AppState;
use crate::error::ApiError;

/// The identity settings of an installation, checked once at start.
pub struct Authenticator {
    admin_token: String,
    tokens: Option<TokenVerifier>,
    anonymous_orders: bool,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("tokens", &self.tokens)
            .field("anonymous_orders", &self.anonymous_orders)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// # Errors
    /// [`AuthSetupError`] for an admin token or JWT secret shorter than
    /// [`tokens::MIN_SECRET_LEN`], or keys that cannot be read.
    pub fn new(
        admin_token: &str,
        tokens: &TokenSettings,
        anonymous_orders: bool,
    ) -> Result<Self, AuthSetupError> {
        if admin_token.trim().len() < tokens::MIN_SECRET_LEN {
            return Err(AuthSetupError::ShortAdminToken(admin_token.trim().len()));
        }
        Ok(Self {
            admin_token: admin_token.to_owned(),
            tokens: TokenVerifier::new(tokens)?,
            anonymous_orders,
        })
    }

    /// Whether customer tokens are accepted at all.
    pub fn takes_customer_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// Who the request's `Authorization` header says is calling.
    ///
    /// # Errors
    /// [`ApiError::InvalidToken`] for a header that is not `Bearer <token>`, or a token that
    /// is neither the admin token nor a valid customer token.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or(ApiError::InvalidToken(TokenError::MalformedHeader))?;
        if constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()) {
            return Ok(Caller::Admin);
        }
        let verifier = self
            .tokens
            .as_ref()
            .ok_or(ApiError::InvalidToken(TokenError::NotAccepted))?;
        let claims = verifier.verify(token).map_err(ApiError::InvalidToken)?;
        Ok(Caller::Customer(Customer {
            email: claims.email,
            subject: claims.subject,
            token: token.into(),
        }))
    }
}

/// Why the identity settings cannot be used; the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error(
        "the admin token is {0} characters long: it must be at least {min} (set ORDERFLOW_ADMIN_TOKEN, or leave it unset to have one generated)",
        min = tokens::MIN_SECRET_LEN
    )]
    ShortAdminToken(usize),
    #[error(transparent)]
    Tokens(#[from] SettingsError),
}

/// The token of `Bearer <token>`, the scheme in any case (RFC 9110: schemes are
/// case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// Compares without an early exit, so the time taken says nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    Customer(Customer),
    Admin,
}

/// A customer, as a verified token named them.
#[derive(Clone)]
pub struct Customer {
    pub email: Email,
    pub subject: String,
    /// The token as presented, for a call on the customer's behalf to another process.
    token: Arc<str>,
}

impl Customer {
    /// The bearer token to present on the customer's behalf.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for Customer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Customer")
            .field("email", &self.email.redacted())
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// Whose orders the caller may see and act on for `action` (e.g. "list orders"): `None`
    /// is everyone's (the admin), a customer only their own.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] for an anonymous caller.
    pub fn owner(&self, action: &str) -> Result<Option<&Email>, ApiError> {
        match self {
            Caller::Admin => Ok(None),
            Caller::Customer(customer) => Ok(Some(&customer.email)),
            Caller::Anonymous => Err(ApiError::Unauthorized(format!(
                "to {action}, send a customer token or the admin token as `Authorization: Bearer <token>`"
            ))),
        }
    }

    /// # Errors
    /// [`ApiError::Unauthorized`] for an anonymous caller, [`ApiError::Forbidden`] for a
    /// customer.
    pub fn require_admin(&self, action: &str) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Customer(_) => Err(ApiError::Forbidden(format!(
                "only the admin may {action}: a customer token is not enough"
            ))),
            Caller::Anonymous => Err(ApiError::Unauthorized(format!(
                "to {action}, send the admin token as `Authorization: Bearer <token>`"
            ))),
        }
    }

    /// Whose `Idempotency-Key`s a request's key is among: a customer's own, the admin's, or,
    /// for an anonymous caller, those sent for the same email address. Keys of different
    /// scopes never meet.
    pub fn idempotency_scope(&self, request: &OrderRequest) -> String {
        match self {
            Caller::Admin => "admin".to_owned(),
            Caller::Customer(customer) => format!("customer:{}", customer.email),
            Caller::Anonymous => format!(
                "anonymous:{}",
                request.customer_email.trim().to_ascii_lowercase()
            ),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.auth.caller(&parts.headers)
    }
}

/// Lets only the admin through (the `/admin` routes).
pub(crate) async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = state
        .auth
        .caller(request.headers())
        .and_then(|caller| caller.require_admin("use the admin API"));
    match allowed {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}
