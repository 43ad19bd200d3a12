//! Who a request's `Authorization` header makes the caller ([`tokens`]), and what each caller
//! may do ([`rules`]). Tokens are minted here with the keys in `test_keys/` (made for these
//! tests only).

mod rules;
mod tokens;

use std::time::Duration;

use api::{Field, MultiItemBody, PlaceOrderBody, SingleItemBody};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse as _;
use contracts::value::Email;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use time::OffsetDateTime;

use super::tokens::{self as token_settings, MIN_SECRET_LEN, Mint};
use super::*;

const ADMIN_TOKEN: &str = "an-admin-token-of-32-characters!";
const SECRET: &str = "a-jwt-secret-of-32-characters!!!";
const EC_PRIVATE: &str = include_str!("../test_keys/ec-private.pem");
const EC_PUBLIC: &str = include_str!("../test_keys/ec-public.pem");
const RSA_PRIVATE: &str = include_str!("../test_keys/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../test_keys/rsa-public.pem");
const JWKS: &str = include_str!("../test_keys/jwks.json");

fn email(raw: &str) -> Email {
    Email::parse(raw).expect("a valid email")
}

fn settings() -> TokenSettings {
    TokenSettings {
        secret: Some(SECRET.to_owned()),
        ..TokenSettings::default()
    }
}

fn authenticator(tokens: &TokenSettings) -> Authenticator {
    Authenticator::new(ADMIN_TOKEN, tokens, true).expect("valid settings")
}

fn minted(secret: &str, customer: &str, issued_at: OffsetDateTime) -> String {
    let email = email(customer);
    let mint = Mint {
        email: &email,
        subject: None,
        issued_at,
        ttl: Duration::from_secs(3600),
        issuer: None,
        audience: None,
    };
    token_settings::mint(secret, &mint).expect("a token")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn signed(
    algorithm: Algorithm,
    kid: Option<&str>,
    key: &EncodingKey,
    claims: &serde_json::Value,
) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("a token")
}

fn claims(customer: &str) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({"sub": "user-7", "email": customer, "iat": now, "exp": now + 600})
}

fn hmac_key(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret).expect("an HMAC key")
}

fn headers(authorization: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(authorization).expect("a header value"),
    );
    headers
}

fn caller(auth: &Authenticator, authorization: &str) -> Result<Caller, ApiError> {
    auth.caller(&headers(authorization))
}

fn refusal(result: Result<Caller, ApiError>) -> TokenError {
    match result {
        Err(ApiError::InvalidToken(why)) => why,
        other => panic!("not refused as an invalid token: {other:?}"),
    }
}

fn customer_email(result: Result<Caller, ApiError>) -> String {
    match result {
        Ok(Caller::Customer(customer)) => customer.email.as_str().to_owned(),
        other => panic!("not a customer: {other:?}"),
    }
}
