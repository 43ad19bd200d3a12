//! An answer as it arrived, read into the route's type or into the problem it reports.

use std::time::Duration;

use api::ProblemDetails;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};

/// A whole answer: its status, headers and body.
#[derive(Debug)]
pub(crate) struct Answer {
    url: Url,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    pub(crate) fn new(url: Url, status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Self {
        Self {
            url,
            status,
            headers,
            body,
        }
    }

    /// The answer, if its status is a success.
    ///
    /// # Errors
    /// [`ClientError::Problem`] for any other status with a problem+json body;
    /// [`ClientError::Unexpected`] when that body is not a problem.
    pub(crate) fn successful(self) -> Result<Self> {
        if self.status.is_success() {
            return Ok(self);
        }
        match serde_json::from_slice::<ProblemDetails>(&self.body) {
            Ok(problem) => Err(ClientError::Problem {
                status: self.status,
                problem: Box::new(problem),
                retry_after: self.retry_after(),
            }),
            Err(source) => Err(self.unexpected(source)),
        }
    }

    /// `Retry-After` in seconds; the HTTP-date form is not read (the API never sends it).
    fn retry_after(&self) -> Option<Duration> {
        let seconds = self.headers.get(RETRY_AFTER)?.to_str().ok()?;
        seconds.trim().parse().ok().map(Duration::from_secs)
    }

    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }

    /// The body, read as `T`.
    ///
    /// # Errors
    /// [`ClientError::Unexpected`] when the body is not a `T`.
    pub(crate) fn json<T: DeserializeOwned>(self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|source| self.unexpected(source))
    }

    fn unexpected(&self, source: serde_json::Error) -> ClientError {
        ClientError::Unexpected {
            url: self.url.clone(),
            status: self.status,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use api::{CancelAccepted, FieldProblem};
    use serde_json::json;

    use super::*;

    fn answer(status: u16, body: &serde_json::Value) -> Answer {
        answer_with(status, HeaderMap::new(), body)
    }

    fn answer_with(status: u16, headers: HeaderMap, body: &serde_json::Value) -> Answer {
        Answer::new(
            Url::parse("http://127.0.0.1:8080/api/v1/orders").expect("a URL"),
            StatusCode::from_u16(status).expect("a status"),
            headers,
            serde_json::to_vec(body).expect("a body"),
        )
    }

    #[test]
    fn a_problem_answer_is_its_status_and_typed_body_with_every_field_problem() {
        let body = json!({
            "type": "/problems/validation-failed", "title": "Your request is not valid",
            "status": 422, "detail": "2 problems with the request", "code": "validation_failed",
            "errors": [
                {"field": "customer_email", "message": "is missing"},
                {"field": "items[0].quantity", "message": "must be at least 1"}
            ]
        });

        let error = answer(422, &body).successful().expect_err("a problem");

        let ClientError::Problem {
            status,
            problem,
            retry_after,
        } = error
        else {
            panic!("not a problem: {error:?}");
        };
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(retry_after, None);
        assert_eq!(problem.code, "validation_failed");
        assert_eq!(
            problem.errors,
            [
                FieldProblem::new("customer_email", "is missing"),
                FieldProblem::new("items[0].quantity", "must be at least 1"),
            ]
        );
    }

    #[test]
    fn an_overloaded_answer_carries_its_retry_after_in_seconds() {
        let body = json!({
            "type": "/problems/overloaded", "title": "Too much work in flight; retry later",
            "status": 503, "detail": "overloaded: 25 orders in flight, limit 20",
            "code": "overloaded"
        });
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "4".parse().expect("a header value"));

        let error = answer_with(503, headers, &body)
            .successful()
            .expect_err("a problem");

        assert!(
            matches!(
                &error,
                ClientError::Problem { status, problem, retry_after: Some(after) }
                    if *status == StatusCode::SERVICE_UNAVAILABLE
                        && problem.code == "overloaded"
                        && *after == Duration::from_secs(4)
            ),
            "{error:?}"
        );
    }

    #[test]
    fn an_error_status_without_a_problem_body_is_an_unexpected_answer() {
        let error = answer(502, &json!("<html>Bad gateway</html>"))
            .successful()
            .expect_err("not a success");
        assert!(
            matches!(error, ClientError::Unexpected { status, .. } if status == StatusCode::BAD_GATEWAY),
            "{error:?}"
        );
    }

    #[test]
    fn a_success_whose_body_is_not_the_route_s_answer_is_an_unexpected_answer() {
        let read = answer(202, &json!({"order_id": "not a uuid"}))
            .successful()
            .expect("a success")
            .json::<CancelAccepted>();
        assert!(
            matches!(&read, Err(ClientError::Unexpected { status, .. }) if *status == StatusCode::ACCEPTED),
            "{read:?}"
        );
    }
}
