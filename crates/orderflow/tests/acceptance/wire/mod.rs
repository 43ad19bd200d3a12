//! The public wire formats of the HTTP API, frozen with `insta` snapshots: what a client sees
//! of a response (its status, the headers that belong to the API's contract, its body). A
//! refactor that changes any of them shows up as a diff of a file under `snapshots/` to review.
//!
//! Ids, timestamps and cursors change from run to run and are redacted; everything else is
//! compared as it is.

mod bodies;
mod openapi;
mod problems;

use std::collections::BTreeMap;
use std::time::Duration;

use insta::internals::{Content, Redaction};
use serde::Serialize;
use serde_json::Value;

use crate::helpers::TestApp;

/// The headers a client may rely on; the rest (date, length, request id) are the server's.
const CONTRACT_HEADERS: [&str; 6] = [
    "allow",
    "content-type",
    "idempotent-replayed",
    "location",
    "retry-after",
    "www-authenticate",
];

/// What a client sees of one response.
#[derive(Debug, Serialize)]
pub(crate) struct Seen {
    status: u16,
    headers: BTreeMap<&'static str, String>,
    body: Value,
}

impl Seen {
    async fn of(response: reqwest::Response) -> Self {
        let headers = CONTRACT_HEADERS
            .into_iter()
            .filter_map(|name| {
                let value = response.headers().get(name)?;
                Some((name, value.to_str().expect("visible header").to_owned()))
            })
            .collect();
        let status = response.status().as_u16();
        let body = response.json().await.expect("a JSON body");
        Self {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn body(&self) -> &Value {
        &self.body
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Replaces a value that changes from run to run with `placeholder`, but leaves `null` as it
/// is: whether a field is set is part of the format.
pub(crate) fn unless_null(placeholder: &'static str) -> Redaction {
    insta::dynamic_redaction(move |value, _| match value {
        Content::None | Content::Unit => value,
        _ => Content::from(placeholder),
    })
}

impl TestApp {
    /// POSTs an order body, under an Idempotency-Key if one is given.
    pub(crate) async fn seen_post_order(
        &self,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Seen {
        let mut request = self.http.post(self.url("/api/v1/orders")).json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        Seen::of(request.send().await.expect("post order")).await
    }

    /// POSTs a body as it is, under the given content type.
    pub(crate) async fn seen_post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &'static str,
    ) -> Seen {
        let response = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("post");
        Seen::of(response).await
    }

    /// Sends a request as it was built.
    pub(crate) async fn seen(&self, request: reqwest::RequestBuilder) -> Seen {
        Seen::of(request.send().await.expect("send")).await
    }

    pub(crate) async fn seen_get(&self, path: &str) -> Seen {
        let response = self.http.get(self.url(path)).send().await.expect("get");
        Seen::of(response).await
    }

    /// GETs with `Authorization: Bearer <token>`.
    pub(crate) async fn seen_get_as(&self, token: &str, path: &str) -> Seen {
        let request = self.http.get(self.url(path)).bearer_auth(token);
        Seen::of(request.send().await.expect("get")).await
    }

    /// POSTs without a body, with `Authorization: Bearer <token>`.
    pub(crate) async fn seen_post_as(&self, token: &str, path: &str) -> Seen {
        let request = self.http.post(self.url(path)).bearer_auth(token);
        Seen::of(request.send().await.expect("post")).await
    }

    /// POSTs an order body with `Authorization: Bearer <token>`.
    pub(crate) async fn seen_post_order_as(&self, token: &str, body: &Value) -> Seen {
        let request = self
            .http
            .post(self.url("/api/v1/orders"))
            .bearer_auth(token)
            .json(body);
        Seen::of(request.send().await.expect("post order")).await
    }

    /// Waits until the read model lists the customer's `count` orders, each one terminal, so
    /// that a page shows them as they will stay.
    pub(crate) async fn wait_until_listed_terminal(&self, customer_email: &str, count: usize) {
        let path = format!("/api/v1/orders?customer_email={customer_email}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (_, page) = self.get_json_as(&self.admin_token, &path).await;
            let orders = page["orders"].as_array().cloned().unwrap_or_default();
            let terminal = orders
                .iter()
                .filter(|o| matches!(o["status"].as_str(), Some("COMPLETED" | "CANCELLED")))
                .count();
            if orders.len() == count && terminal == count {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{customer_email}'s orders never all listed as terminal: {page}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
