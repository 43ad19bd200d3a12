//! Calls through the cluster's gateway as a customer or the admin, with customer tokens
//! signed by the cluster's secret.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Cluster, JWT_SECRET};

impl Cluster {
    /// GETs from the gateway with `Authorization: Bearer <token>`.
    pub(crate) async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.gateway))
            .bearer_auth(token)
            .send()
            .await
            .expect("get");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs to the gateway with `Authorization: Bearer <token>`, and a JSON body if any.
    pub(crate) async fn post_as(
        &self,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.gateway))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("post");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A customer token for `email`, signed with the cluster's secret.
    pub(crate) fn customer_token(email: &str) -> String {
        let email = contracts::value::Email::parse(email).expect("an email");
        let mint = gateway::auth::tokens::Mint {
            email: &email,
            subject: None,
            issued_at: time::OffsetDateTime::now_utc(),
            ttl: Duration::from_secs(3600),
            issuer: None,
            audience: None,
        };
        gateway::auth::tokens::mint(JWT_SECRET, &mint).expect("a token")
    }
}
