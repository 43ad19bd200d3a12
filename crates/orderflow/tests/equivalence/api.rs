//! The public HTTP API, as the equivalence runs use it: the same calls for the embedded system
//! and for a cluster's gateway.

use std::collections::HashMap;
use std::time::Duration;

use contracts::Envelope;
use query_domain::OrderView;
use serde_json::{Value, json};

/// A client of one running system.
#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    admin_token: String,
}

impl Api {
    pub(crate) fn new(base: String, admin_token: String) -> Self {
        orderflow::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Self {
            http,
            base,
            admin_token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Places an order that must be accepted; returns its id.
    pub(crate) async fn place(&self, body: &Value) -> String {
        let response = self
            .http
            .post(self.url("/api/v1/orders"))
            .json(body)
            .send()
            .await
            .expect("post an order");
        let status = response.status();
        let answer: Value = response.json().await.expect("a json answer");
        assert_eq!(status, 202, "{body} was refused: {answer}");
        answer["order_id"].as_str().expect("an order id").to_owned()
    }

    /// Cancels an order as the admin; the cancel must be accepted.
    pub(crate) async fn cancel(&self, order_id: &str) {
        let response = self
            .http
            .post(self.url(&format!("/api/v1/orders/{order_id}/cancel")))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("post a cancel");
        let status = response.status();
        assert_eq!(
            status,
            202,
            "cancel of {order_id}: {}",
            text(response).await
        );
    }

    /// The order's view (from the read model, or its events while the read model lags).
    pub(crate) async fn order(&self, order_id: &str) -> OrderView {
        self.get(&format!("/api/v1/orders/{order_id}")).await
    }

    /// The order's own event log.
    pub(crate) async fn events(&self, order_id: &str) -> Vec<Envelope> {
        self.get(&format!("/api/v1/orders/{order_id}/events")).await
    }

    /// Every view of the read model, through the listing, which reads nothing else.
    pub(crate) async fn read_model(&self) -> Vec<OrderView> {
        let mut views = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/v1/orders?limit=100&cursor={cursor}"),
                None => "/api/v1/orders?limit=100".to_owned(),
            };
            let mut page: Value = self.get(&path).await;
            let orders = serde_json::from_value::<Vec<OrderView>>(page["orders"].take())
                .expect("a page of views");
            views.extend(orders);
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return views,
            }
        }
    }

    /// Adds `delta` units of a product's stock.
    pub(crate) async fn restock(&self, product_id: &str, delta: i64) {
        let response = self
            .http
            .post(self.url(&format!("/api/v1/admin/products/{product_id}/stock")))
            .bearer_auth(&self.admin_token)
            .json(&json!({ "delta": delta }))
            .send()
            .await
            .expect("adjust stock");
        assert!(response.status().is_success(), "{}", text(response).await);
    }

    /// A GET of the admin API.
    pub(crate) async fn admin(&self, path: &str) -> Value {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("admin get");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            text(response).await
        );
        response.json().await.expect("a json answer")
    }

    /// How many faults of each kind this process injected, from its Prometheus metrics.
    pub(crate) async fn injected_faults(&self) -> HashMap<String, u64> {
        let mut counts = HashMap::new();
        for (labels, value) in self.counter("orderflow_injected_faults_total").await {
            let fault = labels
                .split("fault=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("a fault label");
            *counts.entry(fault.to_owned()).or_default() += value;
        }
        counts
    }

    /// Emails this process handed to its mail sender, from its Prometheus metrics.
    pub(crate) async fn emails_sent(&self) -> u64 {
        let samples = self.counter("orderflow_emails_sent_total").await;
        samples.iter().map(|(_, value)| value).sum()
    }

    /// The samples of a Prometheus counter of this process: its labels, and its value.
    async fn counter(&self, name: &str) -> Vec<(String, u64)> {
        let response = self.http.get(self.url("/metrics")).send().await;
        let text = response
            .expect("get metrics")
            .text()
            .await
            .expect("metrics");
        text.lines()
            .filter_map(|line| {
                let sample = line.strip_prefix(name)?;
                let (labels, value) = sample.rsplit_once(' ')?;
                let labels = match labels {
                    "" => "",
                    braced => braced.strip_prefix('{')?.strip_suffix('}')?,
                };
                Some((labels.to_owned(), value.parse().expect("a count")))
            })
            .collect()
    }

    /// A GET as the admin, who may read and list every order.
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let request = self.http.get(self.url(path)).bearer_auth(&self.admin_token);
        let response = request.send().await.expect("get");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            text(response).await
        );
        response.json().await.expect("a json answer")
    }
}

async fn text(response: reqwest::Response) -> String {
    let status = response.status();
    format!("{status} {}", response.text().await.unwrap_or_default())
}
