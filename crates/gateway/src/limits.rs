//! The limits every request meets at the edge, as layers around the routes: a per-client rate
//! limit, a deadline for the answer, a cap on the body, and one error shape for the answers
//! the framework gives by itself (an unknown method, a body too large), so that every error
//! leaves as problem+json.
//!
//! Limits on the connection (how long a client may take to send a request's head, how many
//! connections are open at once) are the server's: see [`crate::server`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::ApiError;

/// The largest request body, in bytes.
pub(crate) const BODY_LIMIT_BYTES: usize = 256 * 1024;

/// How often the rate limiter forgets clients it has not seen for a while.
const FORGET_CLIENTS_EVERY: Duration = Duration::from_secs(60);

/// The limits on requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// Longest time to answer a request (its body read included); then `408`.
    pub timeout: Duration,
    /// Requests per client; `None`: no limit.
    pub rate: Option<RateLimit>,
}

/// A token bucket per client (its IP address): `burst` requests at once, refilled at
/// `per_second`. A request that finds the bucket empty is answered `429` with `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            rate: Some(RateLimit {
                per_second: 500,
                burst: 1000,
            }),
        }
    }
}

/// `routes` inside the request limits, from the outside in: the error shape, the rate limit
/// (the cheapest refusal, before any work), the deadline, the body cap.
pub(crate) fn apply(routes: Router, limits: &RequestLimits) -> Router {
    let routes = routes
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn_with_state(limits.timeout, deadline));
    let routes = match limits.rate.and_then(rate_limit) {
        Some(layer) => routes.layer(layer),
        None => routes,
    };
    routes.layer(middleware::map_response(one_error_shape))
}

/// Answers `408` when the request is not answered within `timeout`. The handler is dropped
/// then: a transaction it had open is rolled back.
async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut(timeout).into_response(),
    }
}

type Limiter = governor::RateLimiter<
    IpAddr,
    governor::state::keyed::DefaultKeyedStateStore<IpAddr>,
    governor::clock::DefaultClock,
    NoOpMiddleware,
>;

/// The rate limit's layer; `None` when the setting cannot limit anything (zero).
fn rate_limit(
    rate: RateLimit,
) -> Option<GovernorLayer<ClientIp, NoOpMiddleware, axum::body::Body>> {
    let period = Duration::from_secs(1).checked_div(rate.per_second)?;
    let config: GovernorConfig<ClientIp, NoOpMiddleware> = GovernorConfigBuilder::default()
        .key_extractor(ClientIp)
        .period(period.max(Duration::from_nanos(1)))
        .burst_size(rate.burst)
        .finish()?;
    forget_idle_clients(Arc::downgrade(config.limiter()));
    Some(GovernorLayer::new(config).error_handler(|error| {
        match error {
            // Governor rounds the wait down to whole seconds: one more never sends a client back
            // too early.
            GovernorError::TooManyRequests { wait_time, .. } => ApiError::TooManyRequests {
                retry_after_secs: wait_time + 1,
            }
            .into_response(),
            other => ApiError::Internal(anyhow::anyhow!("rate limiter: {other}")).into_response(),
        }
    }))
}

/// Drops the buckets of clients not seen for a while, so that many clients do not grow the
/// limiter without end; stops when the limiter is gone.
fn forget_idle_clients(limiter: Weak<Limiter>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut every = tokio::time::interval(FORGET_CLIENTS_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let Some(limiter) = limiter.upgrade() else {
                return;
            };
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
}

/// Keys the rate limit by the client's IP address, as the server saw the connection. A request
/// that reached the routes some other way (no connection info) shares one bucket.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientIp;

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip()))
    }
}

/// Gives the error answers that the framework makes itself (`405` for a method a route does
/// not have, `413` for a body too large, …), which have an empty or plain-text body, the API's
/// problem+json shape. Headers stay (`Allow` on a `405`). Answers that already have a JSON
/// body (problems, the readiness report) are left alone.
async fn one_error_shape(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if content_type.contains("json") {
        return response;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge {
            limit: BODY_LIMIT_BYTES,
        },
        StatusCode::REQUEST_TIMEOUT => ApiError::TimedOut(Duration::ZERO),
        StatusCode::NOT_FOUND => ApiError::NotFound("not found".to_owned()),
        StatusCode::SERVICE_UNAVAILABLE => {
            ApiError::Unavailable(anyhow::anyhow!("answered {status} without a body"))
        }
        other => ApiError::Internal(anyhow::anyhow!("answered {other} without a body")),
    };
    let (mut parts, _) = response.into_parts();
    let shaped = error.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in shaped.headers() {
        parts.headers.insert(name, value.clone());
    }
    parts.status = shaped.status();
    Response::from_parts(parts, shaped.into_body())
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::routing::{get, post};
    use tower::ServiceExt as _;

    use super::*;

    fn app(limits: &RequestLimits) -> Router {
        let routes = Router::new()
            .route("/fast", get(|| async { "ok" }))
            .route("/echo", post(|body: axum::body::Bytes| async move { body }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "late"
                }),
            );
        apply(routes, limits)
    }

    fn from(ip: [u8; 4], uri: &str) -> Request {
        let mut request = Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("a request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
        request
    }

    async fn problem(response: Response) -> api::ProblemDetails {
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        serde_json::from_slice(&bytes).expect("a problem")
    }

    fn no_rate_limit() -> RequestLimits {
        RequestLimits {
            rate: None,
            ..RequestLimits::default()
        }
    }

    #[tokio::test]
    async fn a_client_past_its_burst_is_told_to_come_back_while_another_is_served() {
        let app = app(&RequestLimits {
            timeout: Duration::from_secs(5),
            rate: Some(RateLimit {
                per_second: 1,
                burst: 3,
            }),
        });
        for _ in 0..3 {
            let answer = app.clone().oneshot(from([127, 0, 0, 1], "/fast")).await;
            assert_eq!(answer.expect("an answer").status(), StatusCode::OK);
        }
        let refused = app
            .clone()
            .oneshot(from([127, 0, 0, 1], "/fast"))
            .await
            .expect("an answer");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = refused.headers()[header::RETRY_AFTER]
            .to_str()
            .expect("text")
            .parse()
            .expect("seconds");
        assert!((1..=2).contains(&retry_after), "{retry_after}");
        assert_eq!(problem(refused).await.code, "too_many_requests");
        let other = app.oneshot(from([127, 0, 0, 2], "/fast")).await;
        assert_eq!(other.expect("an answer").status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_rate_of_zero_is_no_limit() {
        let app = app(&RequestLimits {
            timeout: Duration::from_secs(5),
            rate: Some(RateLimit {
                per_second: 0,
                burst: 0,
            }),
        });
        for _ in 0..20 {
            let answer = app.clone().oneshot(from([127, 0, 0, 1], "/fast")).await;
            assert_eq!(answer.expect("an answer").status(), StatusCode::OK);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_not_answered_in_time_is_a_408_problem() {
        let limits = RequestLimits {
            timeout: Duration::from_secs(2),
            rate: None,
        };
        let answer = app(&limits)
            .oneshot(from([127, 0, 0, 1], "/slow"))
            .await
            .expect("an answer");
        assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(problem(answer).await.code, "request_timeout");
    }

    #[tokio::test]
    async fn a_method_a_route_does_not_have_is_a_405_problem_that_names_the_allowed_ones() {
        let mut request = from([127, 0, 0, 1], "/fast");
        *request.method_mut() = axum::http::Method::DELETE;
        let answer = app(&no_rate_limit())
            .oneshot(request)
            .await
            .expect("an answer");
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(answer.headers().contains_key(header::ALLOW));
        assert_eq!(problem(answer).await.code, "method_not_allowed");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_a_413_problem() {
        let mut request = from([127, 0, 0, 1], "/echo");
        *request.method_mut() = axum::http::Method::POST;
        *request.body_mut() = Body::from(vec![b'x'; BODY_LIMIT_BYTES + 1]);
        request
            .headers_mut()
            .insert(header::CONTENT_LENGTH, (BODY_LIMIT_BYTES + 1).into());
        let answer = app(&no_rate_limit())
            .oneshot(request)
            .await
            .expect("an answer");
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(problem(answer).await.code, "payload_too_large");
    }
}
