//! Extractors whose rejections have the API's error shape: a body that is not JSON, a query
//! string that does not parse and a path id that is not a UUID all answer problem+json. A body
//! or query string that does not fit its type names the field serde stopped at.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use contracts::value::{OrderId, Sku, shown};
use serde::de::DeserializeOwned;
use serde_json::Value;

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
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    // A body sent without a length, found too large while it was read.
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge {
                        limit: crate::limits::BODY_LIMIT_BYTES,
                    },
                    _ => ApiError::invalid("body", rejection.body_text()),
                })?;
        // Syntax first, then shape: a body that is JSON but not what `T` reads is not called
        // malformed, and its message carries no line and column of a one-line mistake.
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::invalid("body", format!("malformed JSON: {error}")))?;
        serde_path_to_error::deserialize(json)
            .map(JsonBody)
            .map_err(|error| named_problem(&error, "body"))
    }
}

/// A query string parsed into `T`.
pub(crate) struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(pairs)
            .map(QueryParams)
            .map_err(|error| named_problem(&error, "query"))
    }
}

/// The problem with the field serde stopped at (`status`, `items[0].quantity`), or with the
/// `whole` body or query string when it stopped before any field.
fn named_problem<E: std::fmt::Display>(
    error: &serde_path_to_error::Error<E>,
    whole: &str,
) -> ApiError {
    let field = if error.path().iter().next().is_some() {
        error.path().to_string()
    } else {
        whole.to_owned()
    };
    ApiError::invalid(field, error.inner().to_string())
}

/// Parses an order id from a path, once; anything else is an order that does not exist.
pub(crate) fn order_id(raw: &str) -> Result<OrderId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no order with id {}", shown(raw))))
}

/// Parses a product id from a path, once; anything else is a product that does not exist.
pub(crate) fn product_id(raw: &str) -> Result<Sku, ApiError> {
    Sku::parse(raw).map_err(|_| ApiError::NotFound(format!("no product with id {}", shown(raw))))
}

#[cfg(test)]
mod tests {
    use api::{ListQuery, PlaceOrderBody};
    use axum::body::Body;
    use order_domain::OrderStatus;

    use super::*;

    async fn query(uri: &str) -> Result<ListQuery, ApiError> {
        let request = Request::builder().uri(uri).body(()).expect("a request");
        let (mut parts, ()) = request.into_parts();
        let QueryParams(query) = QueryParams::from_request_parts(&mut parts, &()).await?;
        Ok(query)
    }

    async fn body<T: DeserializeOwned>(json: &'static str) -> Result<T, ApiError> {
        let request = Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json))
            .expect("a request");
        let JsonBody(body) = JsonBody::from_request(request, &()).await?;
        Ok(body)
    }

    fn problem(result: Result<impl std::fmt::Debug, ApiError>) -> (String, String) {
        match result {
            Err(ApiError::Invalid(problems)) if problems.len() == 1 => {
                (problems[0].field.clone(), problems[0].message.clone())
            }
            other => panic!("not one problem: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_query_string_is_read_into_its_type() {
        let read = query("/?status=paid&q=ada&limit=5").await.expect("valid");
        assert_eq!(read.status, Some(OrderStatus::Paid));
        assert_eq!(read.text.as_deref(), Some("ada"));
        assert_eq!(read.limit, Some(5));
    }

    #[tokio::test]
    async fn a_query_parameter_that_does_not_parse_is_named() {
        assert_eq!(
            problem(query("/?status=LOST").await),
            ("status".to_owned(), "unknown status `LOST`".to_owned())
        );
        assert_eq!(problem(query("/?limit=many").await).0, "limit");
    }

    #[tokio::test]
    async fn a_body_that_is_json_but_not_an_object_is_named_as_the_body() {
        assert_eq!(
            problem(body::<PlaceOrderBody>("[1, 2]").await),
            ("body".to_owned(), "expected a JSON object".to_owned())
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_called_malformed() {
        let (field, message) = problem(body::<PlaceOrderBody>("{\"item_id\": ").await);
        assert_eq!(field, "body");
        assert!(message.starts_with("malformed JSON: "), "{message}");
    }
}
