//! [`ApiClient`]: where the API is, how long a call may take, the admin token, and the
//! plumbing every route shares (URLs built segment by segment, the admin header, sending).

use std::fmt;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Url};

use crate::answer::Answer;
use crate::error::{BuildError, ClientError, Result};

/// How long a call may take, connection and answer included, unless told otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one Orderflow server's public API.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    /// Where `/api/v1` is put under; a URL with a path, checked by [`ApiClient::new`].
    base: Url,
    timeout: Duration,
    admin_token: Option<String>,
    /// Presented on every route but the admin routes: a customer token, or the admin token
    /// to act as the admin there (every order).
    token: Option<String>,
}

impl ApiClient {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`, or a URL with a path
    /// prefix), without an admin token, with a timeout of 30 s per call.
    ///
    /// # Errors
    /// When `base` is not a URL that routes can be put under, or the HTTP client cannot be
    /// made.
    pub fn new(base: &str) -> Result<Self, BuildError> {
        let url = Url::parse(base).map_err(|source| BuildError::InvalidBase {
            base: base.to_owned(),
            source,
        })?;
        if url.cannot_be_a_base() {
            return Err(BuildError::NotABase(url));
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .build()
            .map_err(BuildError::Http)?;
        Ok(Self {
            http,
            base: url,
            timeout: DEFAULT_TIMEOUT,
            admin_token: None,
            token: None,
        })
    }

    /// The same client, whose calls give up after `timeout` (as [`ClientError::Unreachable`]).
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// The same client, presenting `token` to the admin routes. Without one, they answer
    /// `401` problems.
    #[must_use]
    pub fn with_admin_token(self, token: impl Into<String>) -> Self {
        Self {
            admin_token: Some(token.into()),
            ..self
        }
    }

    /// The same client, presenting `token` as `Authorization: Bearer` on the routes that are
    /// not admin routes: a customer token (from `orderflow token`, or an identity provider),
    /// or the admin token to list and cancel every order.
    #[must_use]
    pub fn with_token(self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self
        }
    }

    /// Where the server is.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `/api/v1/<segments…>`, each segment percent-encoded as one segment: an id
    /// with a `/` or a space in it stays one segment.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // `new` refused a base without a path, so there always are segments to extend.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url
    }

    /// A request to `/api/v1/<segments…>`, with this client's timeout and its token.
    pub(crate) fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let request = self.bare_request(method, segments);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A request to `/api/v1/<segments…>` with this client's timeout and no credentials.
    fn bare_request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.traced_request(method, segments).timeout(self.timeout)
    }

    /// A request to `/api/v1/<segments…>` that continues the caller's trace: it carries the
    /// current span's W3C `traceparent`, when there is one (the gateway relaying a request,
    /// a CLI command has none).
    fn traced_request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let request = self.http.request(method, self.endpoint(segments));
        match trace_context::current_traceparent() {
            Some(traceparent) => request.header(trace_context::TRACEPARENT, traceparent),
            None => request,
        }
    }

    /// A request to an admin route whose answer is a stream: without a timeout, with the
    /// admin token.
    pub(crate) fn admin_stream_request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let request = self.traced_request(method, segments);
        match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A call that had no answer.
    pub(crate) fn unreachable(&self, source: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: source.url().cloned().unwrap_or_else(|| self.base.clone()),
            source: source.without_url(),
        }
    }

    /// A request to an admin route: with the admin token, when this client has one.
    pub(crate) fn admin_request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let request = self.bare_request(method, segments);
        match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request` and reads its whole answer.
    ///
    /// # Errors
    /// [`ClientError::Unreachable`] when no whole answer arrives in time; the answer's
    /// problem when its status is not a success.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Answer> {
        let unreachable = |source| self.unreachable(source);
        let response = request.send().await.map_err(unreachable)?;
        let url = response.url().clone();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(unreachable)?;
        Answer::new(url, status, headers, body.to_vec()).successful()
    }
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ApiClient")
            .field("base", &self.base.as_str())
            .field("timeout", &self.timeout)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// Installs rustls's ring provider as the process's default unless one is: in a build where
/// reqwest has rustls without a provider of its own (the archive's Azure client asks for it),
/// making a client in a process without one panics. The binary installs it first thing; this
/// keeps every other user of the client (the gateway's remote ports, tests) from that panic.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile: the workspace's one provider, ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> ApiClient {
        ApiClient::new(base).expect("a client")
    }

    #[test]
    fn routes_are_put_under_api_v1_of_the_base_with_or_without_a_trailing_slash() {
        for base in ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"] {
            assert_eq!(
                client(base).endpoint(&["orders"]).as_str(),
                "http://127.0.0.1:8080/api/v1/orders"
            );
        }
        assert_eq!(
            client("http://proxy.example/orderflow/")
                .endpoint(&["catalog"])
                .as_str(),
            "http://proxy.example/orderflow/api/v1/catalog"
        );
    }

    #[test]
    fn an_id_is_percent_encoded_as_one_path_segment() {
        let url = client("http://127.0.0.1:8080").endpoint(&[
            "admin",
            "products",
            "a b/../c?d#e",
            "stock",
        ]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/api/v1/admin/products/a%20b%2F..%2Fc%3Fd%23e/stock"
        );
    }

    #[test]
    fn a_base_that_is_not_a_url_or_cannot_hold_routes_is_refused() {
        for not_a_url in ["127.0.0.1:8080", "not a url"] {
            assert!(
                matches!(
                    ApiClient::new(not_a_url),
                    Err(BuildError::InvalidBase { .. })
                ),
                "{not_a_url}"
            );
        }
        // Without `http://`, `localhost:8080` is a URL of the scheme `localhost`.
        for not_a_base in ["localhost:8080", "mailto:ops@example.com"] {
            assert!(
                matches!(ApiClient::new(not_a_base), Err(BuildError::NotABase(_))),
                "{not_a_base}"
            );
        }
    }

    #[test]
    fn the_admin_token_is_not_shown_when_the_client_is_debugged() {
        let client = client("http://127.0.0.1:8080")
            .with_admin_token("s3cret")
            .with_token("t0ken");
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("t0ken"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
