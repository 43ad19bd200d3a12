//! The HTTP client behind the CLI's commands.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::cli::{AdminArgs, DlqCommand, OrderCommand};

/// A client of one Orderflow server.
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let body: Value = if status == reqwest::StatusCode::NO_CONTENT {
            Value::Null
        } else {
            response.json().await.context("read response")?
        };
        if status.is_success() {
            return Ok(body);
        }
        let mut message = format!(
            "{status}: {}",
            body["detail"].as_str().unwrap_or("request failed")
        );
        for problem in body["errors"].as_array().into_iter().flatten() {
            message.push_str(&format!(
                "\n  {}: {}",
                problem["field"].as_str().unwrap_or("?"),
                problem["message"].as_str().unwrap_or("?")
            ));
        }
        bail!(message)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs an `orderflow order ...` command and returns what to print.
    ///
    /// # Errors
    /// When the server refuses the request or cannot be reached.
    pub async fn order(&self, command: OrderCommand) -> anyhow::Result<Value> {
        match command {
            OrderCommand::Place {
                email,
                items,
                payment_token,
                idempotency_key,
                wait,
            } => {
                let items = items
                    .iter()
                    .map(|item| parse_item(item))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let mut body = json!({ "customer_email": email, "items": items });
                if let Some(token) = payment_token {
                    body["payment_token"] = json!(token);
                }
                let mut request = self.http.post(self.url("/api/v1/orders")).json(&body);
                if let Some(key) = idempotency_key {
                    request = request.header("Idempotency-Key", key);
                }
                let accepted = self.send(request).await?;
                if !wait {
                    return Ok(accepted);
                }
                let id = accepted["order_id"]
                    .as_str()
                    .context("no order id in the answer")?
                    .to_owned();
                self.wait_until_terminal(&id, Duration::from_secs(60)).await
            }
            OrderCommand::Get { id } => {
                self.send(self.http.get(self.url(&format!("/api/v1/orders/{id}"))))
                    .await
            }
            OrderCommand::List {
                email,
                status,
                limit,
                cursor,
            } => {
                let mut query = Vec::new();
                query.extend(email.map(|v| ("customer_email", v)));
                query.extend(status.map(|v| ("status", v)));
                query.extend(limit.map(|v| ("limit", v.to_string())));
                query.extend(cursor.map(|v| ("cursor", v)));
                self.send(self.http.get(self.url("/api/v1/orders")).query(&query))
                    .await
            }
            OrderCommand::Cancel { id } => {
                self.send(
                    self.http
                        .post(self.url(&format!("/api/v1/orders/{id}/cancel"))),
                )
                .await
            }
        }
    }

    /// Polls an order until it is COMPLETED or CANCELLED.
    ///
    /// # Errors
    /// When the order does not finish within `timeout`.
    pub async fn wait_until_terminal(&self, id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let order = self
                .send(self.http.get(self.url(&format!("/api/v1/orders/{id}"))))
                .await?;
            if matches!(order["status"].as_str(), Some("COMPLETED" | "CANCELLED")) {
                return Ok(order);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("order {id} is still {} after {timeout:?}", order["status"]);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs an `orderflow dlq ...` command and returns what to print.
    ///
    /// # Errors
    /// When the server refuses the request or cannot be reached.
    pub async fn dlq(&self, admin: &AdminArgs, command: DlqCommand) -> anyhow::Result<Value> {
        let token = match &admin.admin_token {
            Some(token) => token.clone(),
            None => std::fs::read_to_string(admin.data_dir.join("admin-token"))
                .map(|t| t.trim().to_owned())
                .context("no admin token: pass --admin-token or set ORDERFLOW_ADMIN_TOKEN")?,
        };
        let request = match command {
            DlqCommand::List => self.http.get(self.url("/api/v1/admin/dead-letters")),
            DlqCommand::Replay { id } => self
                .http
                .post(self.url(&format!("/api/v1/admin/dead-letters/{id}/replay"))),
            DlqCommand::Discard { id } => self
                .http
                .delete(self.url(&format!("/api/v1/admin/dead-letters/{id}"))),
        };
        self.send(request.bearer_auth(token)).await
    }
}

/// `product-002:5` → `{"product_id": "product-002", "quantity": 5}`.
fn parse_item(item: &str) -> anyhow::Result<Value> {
    let (product_id, quantity) = match item.split_once(':') {
        Some((id, quantity)) => (
            id,
            quantity
                .parse::<i64>()
                .with_context(|| format!("bad quantity in `{item}`"))?,
        ),
        None => (item, 1),
    };
    Ok(json!({ "product_id": product_id, "quantity": quantity }))
}
