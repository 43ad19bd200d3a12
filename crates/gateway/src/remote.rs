//! The API's ports served by another process over HTTP: the owning service's own public
//! routes, called through [`ApiClient`]. Its problem+json answers are turned back into the
//! same [`ApiError`]s ([`api_error`]), so a client of the gateway sees what a client of the
//! service would.

use std::time::Duration;

use api::{
    AnalyticsSeries, AnalyticsSummary, AnalyticsWindow, ProductSales, ProductsQuery, SeriesQuery,
    SummaryQuery,
};
use api::{
    CatalogItem, ListQuery, Notification, NotificationQuery, OrderPage, OrderView, PlaceOrderBody,
    StockAdjustment, StockView,
};
use api_client::{ApiClient, ClientError, StatusCode};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::{OrderId, Sku};
use order_service::{OrderRequest, Placed};

use crate::auth::Caller;
use crate::backends::{Analytics, Mailbox, OrderCommands, OrderReads, OrderUpdates, Stock};
use crate::error::ApiError;

/// A service in another process, reached at its base URL (e.g. `http://127.0.0.1:8081`).
#[derive(Clone, Debug)]
pub struct Remote {
    client: ApiClient,
    /// Presented on the admin's behalf on routes that are not admin routes.
    admin_token: String,
}

impl Remote {
    /// # Errors
    /// When `base` is not a URL, or the HTTP client cannot be built.
    pub fn new(base: &str, admin_token: &str) -> anyhow::Result<Self> {
        let client = ApiClient::new(base)?.with_admin_token(admin_token);
        Ok(Self {
            client,
            admin_token: admin_token.to_owned(),
        })
    }

    /// The client presenting `caller`'s own credentials, so the other process decides as
    /// this one would.
    fn as_caller(&self, caller: &Caller) -> ApiClient {
        match caller {
            Caller::Anonymous => self.client.clone(),
            Caller::Customer(customer) => self.client.clone().with_token(customer.token()),
            Caller::Admin => self.client.clone().with_token(self.admin_token.clone()),
        }
    }

    /// The error the service answered with, as it was there.
    fn api_error(&self, error: ClientError) -> ApiError {
        api_error(self.client.base().as_str(), error)
    }
}

/// A failed call of another process's API, back as the [`ApiError`] it was there. A refusal
/// for overload passes on as it was, with its `Retry-After` (1 s if it had none).
fn api_error(base: &str, error: ClientError) -> ApiError {
    let (status, problem, retry_after) = match error {
        ClientError::Unreachable { .. } => {
            return ApiError::Unavailable(
                anyhow::Error::new(error).context(format!("call {base}")),
            );
        }
        ClientError::Unexpected { status, .. } if status == StatusCode::SERVICE_UNAVAILABLE => {
            return ApiError::Unavailable(anyhow::Error::new(error));
        }
        ClientError::Unexpected { .. } => return ApiError::Internal(error.into()),
        ClientError::Problem {
            status,
            problem,
            retry_after,
        } => (status, *problem, retry_after),
    };
    let detail = problem.detail;
    match (status, problem.code.as_str()) {
        (_, "idempotency_key_reused") => ApiError::IdempotencyKeyReused,
        (StatusCode::SERVICE_UNAVAILABLE, "overloaded") => ApiError::Overloaded {
            detail,
            retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
        },
        (StatusCode::UNPROCESSABLE_ENTITY, _) => ApiError::Invalid(problem.errors),
        (StatusCode::NOT_FOUND, _) => ApiError::NotFound(detail),
        (StatusCode::CONFLICT, _) => ApiError::Conflict(detail),
        (StatusCode::UNAUTHORIZED, _) => ApiError::Internal(anyhow::anyhow!(
            "{base} refused credentials this process accepted ({detail}): every process needs \
             the same ORDERFLOW_ADMIN_TOKEN and JWT settings"
        )),
        (StatusCode::FORBIDDEN, _) => ApiError::Forbidden(detail),
        // The service is overloaded or slow: for this process's client, it is unavailable.
        (
            StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::TOO_MANY_REQUESTS
            | StatusCode::REQUEST_TIMEOUT,
            _,
        ) => ApiError::Unavailable(anyhow::anyhow!("{base} answered {status}: {detail}")),
        (status, _) => ApiError::Internal(anyhow::anyhow!("{base} answered {status}: {detail}")),
    }
}

#[async_trait]
impl OrderCommands for Remote {
    async fn place_order(
        &self,
        request: &OrderRequest,
        idempotency_key: Option<&str>,
        caller: &Caller,
    ) -> Result<Placed, ApiError> {
        let body = PlaceOrderBody::from(request);
        let placement = self
            .as_caller(caller)
            .place_order(&body, idempotency_key)
            .await
            .map_err(|error| self.api_error(error))?;
        Ok(Placed {
            order_id: OrderId::new(placement.accepted.order_id),
            replayed: placement.replayed,
        })
    }

    async fn cancel_order(&self, order_id: OrderId, caller: &Caller) -> Result<String, ApiError> {
        let cancelled = self
            .as_caller(caller)
            .cancel_order(order_id.as_uuid())
            .await;
        Ok(cancelled.map_err(|error| self.api_error(error))?.status)
    }

    async fn events(&self, order_id: OrderId) -> Result<Vec<Envelope>, ApiError> {
        match self.client.order_events(order_id.as_uuid()).await {
            Err(error) => match self.api_error(error) {
                ApiError::NotFound(_) => Ok(Vec::new()),
                other => Err(other),
            },
            Ok(events) => Ok(events),
        }
    }

    async fn catalog(&self) -> Result<Vec<CatalogItem>, ApiError> {
        let catalog = self.client.catalog().await;
        catalog.map_err(|error| self.api_error(error))
    }

    async fn updates(&self) -> Result<OrderUpdates, ApiError> {
        let stream = self.client.order_updates().await;
        Ok(crate::updates::from_remote(
            stream.map_err(|error| self.api_error(error))?,
        ))
    }
}

#[async_trait]
impl OrderReads for Remote {
    async fn order(&self, order_id: OrderId) -> Result<Option<OrderView>, ApiError> {
        match self.client.order(order_id.as_uuid()).await {
            Err(error) => match self.api_error(error) {
                ApiError::NotFound(_) => Ok(None),
                other => Err(other),
            },
            Ok(view) => Ok(Some(view)),
        }
    }

    async fn list(&self, query: ListQuery, caller: &Caller) -> Result<OrderPage, ApiError> {
        let page = self.as_caller(caller).list_orders(&query).await;
        page.map_err(|error| self.api_error(error))
    }

    async fn rebuild(&self) -> Result<usize, ApiError> {
        let rebuilt = self.client.rebuild_projection().await;
        Ok(rebuilt.map_err(|error| self.api_error(error))?.rebuilt)
    }
}

#[async_trait]
impl Stock for Remote {
    async fn levels(&self) -> Result<Vec<StockView>, ApiError> {
        let levels = self.client.stock_levels().await;
        levels.map_err(|error| self.api_error(error))
    }

    async fn adjust(&self, sku: &Sku, delta: i64) -> Result<StockView, ApiError> {
        let adjusted = self
            .client
            .adjust_stock(sku.as_str(), StockAdjustment { delta })
            .await;
        adjusted.map_err(|error| self.api_error(error))
    }
}

#[async_trait]
impl Mailbox for Remote {
    async fn sent(
        &self,
        order_id: Option<OrderId>,
        limit: usize,
    ) -> Result<Vec<Notification>, ApiError> {
        let query = NotificationQuery {
            order_id: order_id.map(OrderId::as_uuid),
            limit: Some(limit),
        };
        let sent = self.client.notifications(&query).await;
        sent.map_err(|error| self.api_error(error))
    }
}

#[async_trait]
impl Analytics for Remote {
    async fn summary(&self, window: AnalyticsWindow) -> Result<AnalyticsSummary, ApiError> {
        let query = SummaryQuery {
            window: Some(window),
        };
        let summary = self.client.analytics_summary(&query).await;
        summary.map_err(|error| self.api_error(error))
    }

    async fn series(&self, query: SeriesQuery) -> Result<AnalyticsSeries, ApiError> {
        let series = self.client.analytics_series(&query).await;
        series.map_err(|error| self.api_error(error))
    }

    async fn products(&self, query: ProductsQuery) -> Result<Vec<ProductSales>, ApiError> {
        let products = self.client.analytics_products(&query).await;
        products.map_err(|error| self.api_error(error))
    }
}

#[cfg(test)]
mod tests {
    use api::{FieldProblem, ProblemDetails};

    use super::*;

    const BASE: &str = "http://127.0.0.1:8081/";

    fn answered(status: u16, code: &str, errors: Vec<FieldProblem>) -> ApiError {
        answered_after(status, code, errors, None)
    }

    fn answered_after(
        status: u16,
        code: &str,
        errors: Vec<FieldProblem>,
        retry_after: Option<Duration>,
    ) -> ApiError {
        let problem = ProblemDetails {
            problem_type: format!("/problems/{code}"),
            title: "a title".to_owned(),
            status,
            detail: "what went wrong".to_owned(),
            code: code.to_owned(),
            errors,
        };
        let status = StatusCode::from_u16(status).expect("a status");
        api_error(
            BASE,
            ClientError::Problem {
                status,
                problem: Box::new(problem),
                retry_after,
            },
        )
    }

    fn unreadable(status: StatusCode) -> ApiError {
        let source = serde_json::from_str::<u8>("<html>").expect_err("not JSON");
        let url = BASE.parse().expect("a URL");
        api_error(
            BASE,
            ClientError::Unexpected {
                url,
                status,
                source,
            },
        )
    }

    #[test]
    fn a_refused_request_is_the_same_error_as_it_was_in_the_service() {
        let problems = vec![FieldProblem::new("items[0].quantity", "must be at least 1")];
        assert!(matches!(
            answered(422, "validation_failed", problems.clone()),
            ApiError::Invalid(found) if found == problems
        ));
        assert!(matches!(
            answered(422, "idempotency_key_reused", Vec::new()),
            ApiError::IdempotencyKeyReused
        ));
        assert!(matches!(
            answered(404, "not_found", Vec::new()),
            ApiError::NotFound(detail) if detail == "what went wrong"
        ));
        assert!(matches!(
            answered(409, "conflict", Vec::new()),
            ApiError::Conflict(detail) if detail == "what went wrong"
        ));
    }

    #[test]
    fn a_failing_service_is_unavailable_or_internal_and_never_passes_its_status_on() {
        assert!(matches!(
            answered(503, "unavailable", Vec::new()),
            ApiError::Unavailable(_)
        ));
        assert!(matches!(
            answered(500, "internal_error", Vec::new()),
            ApiError::Internal(_)
        ));
        assert!(matches!(
            unreadable(StatusCode::SERVICE_UNAVAILABLE),
            ApiError::Unavailable(_)
        ));
        assert!(matches!(
            unreadable(StatusCode::BAD_GATEWAY),
            ApiError::Internal(_)
        ));
    }

    #[test]
    fn an_overloaded_service_s_refusal_passes_on_with_its_retry_after() {
        let overloaded =
            answered_after(503, "overloaded", Vec::new(), Some(Duration::from_secs(4)));
        assert!(
            matches!(
                &overloaded,
                ApiError::Overloaded { detail, retry_after }
                    if detail == "what went wrong" && *retry_after == Duration::from_secs(4)
            ),
            "{overloaded:?}"
        );
        assert!(matches!(
            answered_after(503, "overloaded", Vec::new(), None),
            ApiError::Overloaded { retry_after, .. } if retry_after == Duration::from_secs(1)
        ));
    }

    #[test]
    fn refused_credentials_are_an_internal_error_naming_the_service() {
        let ApiError::Internal(cause) = answered(401, "invalid_token", Vec::new()) else {
            panic!("not internal");
        };
        assert!(
            cause.to_string().starts_with(&format!(
                "{BASE} refused credentials this process accepted (what went wrong)"
            )),
            "{cause}"
        );
    }

    #[test]
    fn a_refusal_for_want_of_rights_is_the_same_refusal() {
        assert!(matches!(
            answered(403, "forbidden", Vec::new()),
            ApiError::Forbidden(detail) if detail == "what went wrong"
        ));
    }

    #[tokio::test]
    async fn a_service_that_cannot_be_reached_is_unavailable() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port");
        let remote = Remote::new(&format!("http://{closed}"), "token").expect("a remote");

        let error = remote.catalog().await.expect_err("nothing listens");

        assert!(matches!(error, ApiError::Unavailable(_)), "{error:?}");
    }
}
