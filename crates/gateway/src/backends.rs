//! What the API calls, as ports: each is served in-process by the service that owns it, or,
//! when that service runs in another process, over HTTP by [`crate::remote::Remote`]. The
//! handlers cannot tell the difference, so one router serves the embedded mode, the gateway
//! process and every service process.

use analytics_service::AnalyticsService;
use api::{
    AnalyticsSeries, AnalyticsSummary, AnalyticsWindow, CatalogItem, ListQuery, Notification,
    OrderPage, OrderView, ProductSales, ProductsQuery, SeriesQuery, StockView, UpdateNotice,
};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::{OrderId, Sku};
use inventory_service::{AdjustError, InventoryService};
use notification_service::NotificationService;
use order_service::{OrderRequest, OrderService, Placed};
use query_service::QueryService;

use store::order::IdempotencyKey;

use crate::answers::{catalog_item, sent_notification, stock_view};
use crate::auth::Caller;
use crate::error::ApiError;

/// The order service's commands and its own reads.
#[async_trait]
pub trait OrderCommands: Send + Sync {
    /// Places `request` for `caller`, whose `Idempotency-Key`s are scoped to them.
    async fn place_order(
        &self,
        request: &OrderRequest,
        idempotency_key: Option<&str>,
        caller: &Caller,
    ) -> Result<Placed, ApiError>;
    /// Cancels an order `caller` may cancel (theirs, or any for the admin); returns its status
    /// after the cancel. Someone else's order is not found.
    async fn cancel_order(&self, order_id: OrderId, caller: &Caller) -> Result<String, ApiError>;
    /// The order's events; empty for an unknown order.
    async fn events(&self, order_id: OrderId) -> Result<Vec<Envelope>, ApiError>;
    async fn catalog(&self) -> Result<Vec<CatalogItem>, ApiError>;
    /// Every order status change from now on, as the order service commits them.
    async fn updates(&self) -> Result<OrderUpdates, ApiError>;
}

/// A subscription to order status changes: ends when its source goes away.
pub type OrderUpdates = futures_util::stream::BoxStream<'static, UpdateNotice>;

/// The read model.
#[async_trait]
pub trait OrderReads: Send + Sync {
    async fn order(&self, order_id: OrderId) -> Result<Option<OrderView>, ApiError>;
    /// The orders `caller` may see (theirs, or all for the admin) that match `query`.
    async fn list(&self, query: ListQuery, caller: &Caller) -> Result<OrderPage, ApiError>;
    async fn rebuild(&self) -> Result<usize, ApiError>;
}

/// Stock levels.
#[async_trait]
pub trait Stock: Send + Sync {
    async fn levels(&self) -> Result<Vec<StockView>, ApiError>;
    async fn adjust(&self, sku: &Sku, delta: i64) -> Result<StockView, ApiError>;
}

/// Notifications sent.
#[async_trait]
pub trait Mailbox: Send + Sync {
    async fn sent(
        &self,
        order_id: Option<OrderId>,
        limit: usize,
    ) -> Result<Vec<Notification>, ApiError>;
}

/// The analytics service's reads.
#[async_trait]
pub trait Analytics: Send + Sync {
    async fn summary(&self, window: AnalyticsWindow) -> Result<AnalyticsSummary, ApiError>;
    async fn series(&self, query: SeriesQuery) -> Result<AnalyticsSeries, ApiError>;
    async fn products(&self, query: ProductsQuery) -> Result<Vec<ProductSales>, ApiError>;
}

#[async_trait]
impl OrderCommands for OrderService {
    async fn place_order(
        &self,
        request: &OrderRequest,
        idempotency_key: Option<&str>,
        caller: &Caller,
    ) -> Result<Placed, ApiError> {
        let key = idempotency_key.map(|key| IdempotencyKey {
            scope: caller.idempotency_scope(request),
            key: key.to_owned(),
        });
        // The request's span is current here: the order's first messages continue its trace.
        let traceparent = trace_context::current_traceparent();
        Ok(
            OrderService::place_order_in_trace(self, request, key.as_ref(), traceparent.as_deref())
                .await?,
        )
    }

    async fn cancel_order(&self, order_id: OrderId, caller: &Caller) -> Result<String, ApiError> {
        let owner = caller.owner("cancel an order")?;
        Ok(OrderService::cancel_order(self, order_id, owner)
            .await?
            .status
            .as_str()
            .to_owned())
    }

    async fn events(&self, order_id: OrderId) -> Result<Vec<Envelope>, ApiError> {
        Ok(OrderService::events(self, order_id).await?)
    }

    async fn catalog(&self) -> Result<Vec<CatalogItem>, ApiError> {
        Ok(self
            .products()
            .await?
            .into_iter()
            .map(catalog_item)
            .collect())
    }

    async fn updates(&self) -> Result<OrderUpdates, ApiError> {
        Ok(crate::updates::from_broadcast(self.subscribe_updates()))
    }
}

#[async_trait]
impl OrderReads for QueryService {
    async fn order(&self, order_id: OrderId) -> Result<Option<OrderView>, ApiError> {
        Ok(QueryService::order(self, order_id).await?)
    }

    async fn list(&self, query: ListQuery, caller: &Caller) -> Result<OrderPage, ApiError> {
        let owner = caller.owner("list orders")?;
        Ok(QueryService::list(self, query, owner).await?)
    }

    async fn rebuild(&self) -> Result<usize, ApiError> {
        Ok(QueryService::rebuild(self).await?)
    }
}

#[async_trait]
impl Stock for InventoryService {
    async fn levels(&self) -> Result<Vec<StockView>, ApiError> {
        let levels = self.stock_levels().await?;
        Ok(levels
            .into_iter()
            .map(|(sku, level)| stock_view(sku, level))
            .collect())
    }

    async fn adjust(&self, sku: &Sku, delta: i64) -> Result<StockView, ApiError> {
        match self.adjust_stock(sku, delta).await {
            Ok(level) => Ok(stock_view(sku.clone(), level)),
            Err(AdjustError::UnknownProduct(sku)) => {
                Err(ApiError::NotFound(format!("no product with id {sku}")))
            }
            Err(AdjustError::Rejected(rejection)) => {
                Err(ApiError::invalid("delta", rejection.to_string()))
            }
            Err(AdjustError::Store(error)) => Err(error.into()),
        }
    }
}

#[async_trait]
impl Mailbox for NotificationService {
    async fn sent(
        &self,
        order_id: Option<OrderId>,
        limit: usize,
    ) -> Result<Vec<Notification>, ApiError> {
        let sent = NotificationService::sent(self, order_id, limit).await?;
        Ok(sent.into_iter().map(sent_notification).collect())
    }
}

#[async_trait]
impl Analytics for AnalyticsService {
    async fn summary(&self, window: AnalyticsWindow) -> Result<AnalyticsSummary, ApiError> {
        Ok(AnalyticsService::summary(self, window).await?)
    }

    async fn series(&self, query: SeriesQuery) -> Result<AnalyticsSeries, ApiError> {
        Ok(AnalyticsService::series(self, query).await?)
    }

    async fn products(&self, query: ProductsQuery) -> Result<Vec<ProductSales>, ApiError> {
        Ok(AnalyticsService::products(self, query).await?)
    }
}
