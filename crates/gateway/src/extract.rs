//! Extractors whose rejections have the API's error shape: a body that is not JSON, a query
//! string that does not parse and a path id that is not a UUID all answer problem+json.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;

/// A JSON body, parsed into `T` only after the content type was checked.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            let shown = if content_type.is_empty() {
                "none"
            } else {
                content_type
            };
            return Err(ApiError::invalid(
                "content-type",
                format!("expected `application/json`, got {shown}"),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::invalid("body", rejection.body_text()))?;
        // Syntax first, then shape: a body that is JSON but not what `T` reads is not called
        // malformed, and its message carries no line and column of a one-line mistake.
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::invalid("body", format!("malformed JSON: {error}")))?;
        T::deserialize(json)
            .map(JsonBody)
            .map_err(|error| ApiError::invalid("body", error.to_string()))
    }
}

/// A query string parsed into `T`.
pub(crate) struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_from_str(query)
            .map(QueryParams)
            .map_err(|message| ApiError::invalid("query", message))
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| "malformed query string".to_owned())?,
    )
    .map(|axum::extract::Query(value)| value)
    .map_err(|rejection| rejection.body_text())
}

/// Parses an order id from a path; anything else is an order that does not exist.
pub(crate) fn order_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no order with id {raw}")))
}
