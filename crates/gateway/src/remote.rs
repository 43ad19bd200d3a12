//! The API's ports served by another process over HTTP: the owning service's own public
//! routes. Its problem+json answers are turned back into the same [`ApiError`]s, so a client
//! of the gateway sees what a client of the service would.

use std::time::Duration;

use api::{CancelAccepted, FieldProblem, ListQuery, OrderAccepted, PlaceOrderBody};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::{OrderId, Sku};
use order_service::{OrderRequest, Placed};
use query_domain::OrderView;
use query_service::OrderPage;
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use store::notification::Notification;

use crate::backends::{CatalogItem, Mailbox, OrderCommands, OrderReads, Stock, StockView};
use crate::error::ApiError;

/// A service in another process, reached at `base` (e.g. `http://127.0.0.1:8081`).
#[derive(Clone, Debug)]
pub struct Remote {
    http: reqwest::Client,
    base: String,
    admin_token: String,
}

impl Remote {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &str, admin_token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            admin_token: admin_token.to_owned(),
        })
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }

    fn admin(&self, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(&self.admin_token)
    }

    async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ApiError> {
        let response = request.send().await.map_err(|error| {
            ApiError::Unavailable(anyhow::Error::new(error).context(format!("call {}", self.base)))
        })?;
        let status = response.status();
        if status.is_success() {
            return response
                .json()
                .await
                .map_err(|error| ApiError::Internal(error.into()));
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        Err(remote_error(status, &body, &self.base))
    }
}

/// The service's problem+json, back as the error it was.
fn remote_error(status: StatusCode, body: &Value, base: &str) -> ApiError {
    let detail = body["detail"].as_str().unwrap_or("no detail").to_owned();
    match (status, body["code"].as_str()) {
        (_, Some("idempotency_key_reused")) => ApiError::IdempotencyKeyReused,
        (StatusCode::UNPROCESSABLE_ENTITY, _) => {
            let problems = Vec::<FieldProblem>::deserialize(&body["errors"]).unwrap_or_default();
            ApiError::Invalid(problems)
        }
        (StatusCode::NOT_FOUND, _) => ApiError::NotFound(detail),
        (StatusCode::CONFLICT, _) => ApiError::Conflict(detail),
        (StatusCode::UNAUTHORIZED, _) => {
            ApiError::Internal(anyhow::anyhow!("{base} refused the cluster's admin token"))
        }
        (StatusCode::SERVICE_UNAVAILABLE, _) => {
            ApiError::Unavailable(anyhow::anyhow!("{base}: {detail}"))
        }
        (status, _) => ApiError::Internal(anyhow::anyhow!("{base} answered {status}: {detail}")),
    }
}

#[async_trait]
impl OrderCommands for Remote {
    async fn place_order(
        &self,
        request: &OrderRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Placed, ApiError> {
        let mut post = self
            .post("/api/v1/orders")
            .json(&PlaceOrderBody::from(request));
        if let Some(key) = idempotency_key {
            post = post.header("Idempotency-Key", key);
        }
        let response = post
            .send()
            .await
            .map_err(|error| ApiError::Unavailable(error.into()))?;
        let replayed = response.headers().contains_key("idempotent-replayed");
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            return Err(remote_error(status, &body, &self.base));
        }
        let accepted: OrderAccepted = response
            .json()
            .await
            .map_err(|error| ApiError::Internal(error.into()))?;
        Ok(Placed {
            order_id: OrderId::new(accepted.order_id),
            replayed,
        })
    }

    async fn cancel_order(&self, order_id: OrderId) -> Result<String, ApiError> {
        let cancelled: CancelAccepted = self
            .call(self.post(&format!("/api/v1/orders/{order_id}/cancel")))
            .await?;
        Ok(cancelled.status)
    }

    async fn events(&self, order_id: OrderId) -> Result<Vec<Envelope>, ApiError> {
        match self
            .call(self.get(&format!("/api/v1/orders/{order_id}/events")))
            .await
        {
            Err(ApiError::NotFound(_)) => Ok(Vec::new()),
            other => other,
        }
    }

    async fn catalog(&self) -> Result<Vec<CatalogItem>, ApiError> {
        self.call(self.get("/api/v1/catalog")).await
    }
}

#[async_trait]
impl OrderReads for Remote {
    async fn order(&self, order_id: OrderId) -> Result<Option<OrderView>, ApiError> {
        match self
            .call(self.get(&format!("/api/v1/orders/{order_id}")))
            .await
        {
            Err(ApiError::NotFound(_)) => Ok(None),
            other => other.map(Some),
        }
    }

    async fn list(&self, query: ListQuery) -> Result<OrderPage, ApiError> {
        self.call(self.get("/api/v1/orders").query(&query)).await
    }

    async fn rebuild(&self) -> Result<usize, ApiError> {
        let answer: Value = self
            .call(self.admin(self.post("/api/v1/admin/projections/rebuild")))
            .await?;
        Ok(answer["rebuilt"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0))
    }
}

#[async_trait]
impl Stock for Remote {
    async fn levels(&self) -> Result<Vec<StockView>, ApiError> {
        self.call(self.admin(self.get("/api/v1/admin/stock"))).await
    }

    async fn adjust(&self, sku: &Sku, delta: i64) -> Result<StockView, ApiError> {
        let request = self
            .post(&format!("/api/v1/admin/products/{sku}/stock"))
            .json(&json!({ "delta": delta }));
        self.call(self.admin(request)).await
    }
}

#[async_trait]
impl Mailbox for Remote {
    async fn sent(
        &self,
        order_id: Option<OrderId>,
        limit: usize,
    ) -> Result<Vec<Notification>, ApiError> {
        let mut params = vec![("limit", limit.to_string())];
        params.extend(order_id.map(|id| ("order_id", id.to_string())));
        self.call(
            self.admin(self.get("/api/v1/admin/notifications"))
                .query(&params),
        )
        .await
    }
}
