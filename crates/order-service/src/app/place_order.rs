//! A customer places an order: validate everything at once, price it from the catalog, and
//! start the saga, all in one transaction with the idempotency key.

use std::collections::BTreeMap;

use api::FieldProblem;
use contracts::value::{Email, OrderId, Quantity, Sku};
use order_domain::saga::{self, SagaStep};
use order_domain::{OrderCommand, PricedLine};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::order_request::OrderRequest;
use crate::app::saga_runner::SagaError;
use crate::{OrderService, Overload};
use store::order::{IdempotencyKey, IdempotentRequest, Product};

/// The default test card: always succeeds.
pub const DEFAULT_PAYMENT_TOKEN: &str = "tok_visa";

/// Why an order was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PlaceOrderError {
    #[error("the order is invalid")]
    Invalid(Vec<FieldProblem>),
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// Too many orders in flight: refused before anything was read or written.
    #[error(transparent)]
    Overloaded(#[from] Overload),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// An accepted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub order_id: OrderId,
    /// The same request was accepted before under the same idempotency key.
    pub replayed: bool,
}

/// A request that passed validation.
struct ValidOrder {
    customer_email: Email,
    lines: Vec<PricedLine>,
    payment_token: String,
}

impl ValidOrder {
    /// A stable fingerprint of what was asked, for idempotency keys: same order, same hash,
    /// whatever the JSON shape or line order.
    fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.customer_email.as_str());
        for line in &self.lines {
            hasher.update(format!("|{}x{}", line.sku, line.quantity.get()));
        }
        hasher.update(format!("|{}", self.payment_token));
        format!("{:x}", hasher.finalize())
    }
}

/// Checks every field and reports every problem, not only the first. Lines for the same
/// product are merged into one.
fn validate(request: &OrderRequest, catalog: &[Product]) -> Result<ValidOrder, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let customer_email = Email::parse(&request.customer_email)
        .map_err(|message| problems.push(FieldProblem::new("customer_email", message)))
        .ok();
    if request.items.is_empty() {
        problems.push(FieldProblem::new(
            "items",
            "an order needs at least one item",
        ));
    }
    let mut merged: BTreeMap<Sku, (i64, &Product)> = BTreeMap::new();
    for (index, line) in request.items.iter().enumerate() {
        let sku = match Sku::parse(&line.product_id) {
            Ok(sku) => sku,
            Err(message) => {
                problems.push(FieldProblem::new(
                    format!("items[{index}].product_id"),
                    message,
                ));
                continue;
            }
        };
        let Some(product) = catalog.iter().find(|p| p.sku == sku) else {
            problems.push(FieldProblem::new(
                format!("items[{index}].product_id"),
                format!("unknown product `{sku}`"),
            ));
            continue;
        };
        if !(1..=i64::from(Quantity::MAX)).contains(&line.quantity) {
            problems.push(FieldProblem::new(
                format!("items[{index}].quantity"),
                format!(
                    "quantity must be between 1 and {}, got {}",
                    Quantity::MAX,
                    line.quantity
                ),
            ));
            continue;
        }
        merged.entry(sku).or_insert((0, product)).0 += line.quantity;
    }
    let mut lines = Vec::with_capacity(merged.len());
    for (sku, (quantity, product)) in merged {
        match u32::try_from(quantity)
            .map_err(|e| e.to_string())
            .and_then(Quantity::new)
        {
            Ok(quantity) => lines.push(PricedLine {
                sku,
                name: product.name.clone(),
                quantity,
                unit_price: product.price.clone(),
            }),
            Err(message) => problems.push(FieldProblem::new(
                "items",
                format!("{sku}: lines add up to more than allowed: {message}"),
            )),
        }
    }
    let mut currencies: Vec<&str> = lines
        .iter()
        .map(|line| line.unit_price.currency())
        .collect();
    currencies.sort_unstable();
    currencies.dedup();
    if currencies.len() > 1 {
        problems.push(FieldProblem::new(
            "items",
            "all items of an order must be priced in one currency",
        ));
    }
    let payment_token = request
        .payment_token
        .clone()
        .unwrap_or_else(|| DEFAULT_PAYMENT_TOKEN.to_owned());
    let token_ok = payment_token.starts_with("tok_")
        && payment_token.len() <= 64
        && payment_token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !token_ok {
        problems.push(FieldProblem::new(
            "payment_token",
            "a payment token looks like `tok_visa`",
        ));
    }
    match customer_email {
        Some(customer_email) if problems.is_empty() => Ok(ValidOrder {
            customer_email,
            lines,
            payment_token,
        }),
        _ => Err(problems),
    }
}

impl OrderService {
    /// Accepts an order and starts its saga. With an idempotency key, the same request gets the
    /// same order back; another request under the same key (in the same scope, and not yet
    /// expired) is refused. The payment token is kept apart from the order's events.
    ///
    /// Admission comes first, from measures kept in memory: an order refused for overload
    /// costs no read and no write, and its idempotency key is not remembered.
    ///
    /// # Errors
    /// [`PlaceOrderError`]; nothing is stored then.
    pub async fn place_order(
        &self,
        request: &OrderRequest,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<Placed, PlaceOrderError> {
        self.place_order_in_trace(request, idempotency_key, None)
            .await
    }

    /// Like [`OrderService::place_order`], with the W3C `traceparent` of the request that
    /// placed it: the order's first messages carry it, and every message after them continues
    /// that trace. The caller (the HTTP edge) reads it; this crate knows no tracing system.
    ///
    /// # Errors
    /// [`PlaceOrderError`]; nothing is stored then.
    pub async fn place_order_in_trace(
        &self,
        request: &OrderRequest,
        idempotency_key: Option<&IdempotencyKey>,
        traceparent: Option<&str>,
    ) -> Result<Placed, PlaceOrderError> {
        let ticket = self.admission.admit()?;
        let catalog = self.pricing_catalog().await?;
        let order = validate(request, &catalog).map_err(PlaceOrderError::Invalid)?;
        let fingerprint = order.fingerprint();
        if let Some(key) = idempotency_key
            && let Some(placed) = self.earlier_request(key, &fingerprint).await?
        {
            return Ok(placed);
        }
        let order_id = OrderId::new(Uuid::now_v7());
        let decision = saga::start(OrderCommand::Place {
            order_id,
            customer_email: order.customer_email,
            lines: order.lines,
            payment_reference: contracts::payment_reference(order_id, &order.payment_token),
            at: OffsetDateTime::now_utc(),
        })
        .map_err(|rejection| {
            PlaceOrderError::Invalid(vec![FieldProblem::new("items", rejection.to_string())])
        })?;
        debug_assert_eq!(
            decision.deadline,
            saga::Deadline::Set(SagaStep::AwaitingStock)
        );

        let mut tx = self.store.begin().await?;
        if let Some(key) = idempotency_key {
            let request = IdempotentRequest {
                request_hash: fingerprint.clone(),
                order_id,
            };
            match tx
                .remember_request(key, &request, self.idempotency_ttl)
                .await
            {
                // Another request with this key won the race: answer as it was answered.
                Err(store::StoreError::Conflict) => {
                    drop(tx);
                    return self
                        .earlier_request(key, &fingerprint)
                        .await?
                        .ok_or(PlaceOrderError::IdempotencyKeyReused);
                }
                other => other?,
            }
        }
        let events = decision.events.clone();
        self.write(
            &mut *tx,
            (order_id, 0),
            decision,
            (None, traceparent),
            None,
            Some(&order.payment_token),
        )
        .await
        .map_err(|error| match error {
            SagaError::Store(store) => PlaceOrderError::Store(store),
            // Placing sends no charge, so no token is looked for.
            other => PlaceOrderError::Store(store::StoreError::Unexpected(other.into())),
        })?;
        tx.commit().await?;
        ticket.placed();
        if let Some(order) = self.committed(None, &events) {
            self.orders.put(order, events.len() as u64);
        }
        Ok(Placed {
            order_id,
            replayed: false,
        })
    }

    async fn earlier_request(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<Placed>, PlaceOrderError> {
        match self
            .store
            .idempotent_request(key, self.idempotency_ttl)
            .await?
        {
            Some(earlier) if earlier.request_hash == fingerprint => Ok(Some(Placed {
                order_id: earlier.order_id,
                replayed: true,
            })),
            Some(_) => Err(PlaceOrderError::IdempotencyKeyReused),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use contracts::value::Money;

    use super::*;
    use crate::app::order_request::RequestedLine;

    fn catalog() -> Vec<Product> {
        crate::catalog::DEMO_CATALOG
            .iter()
            .map(|(sku, name, price, _)| Product {
                sku: Sku::parse(sku).expect("a demo sku is valid"),
                name: (*name).into(),
                price: Money::new(*price, "USD"),
            })
            .collect()
    }

    fn line(product_id: &str, quantity: i64) -> RequestedLine {
        RequestedLine {
            product_id: product_id.into(),
            quantity,
        }
    }

    fn fields(problems: &[FieldProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn every_problem_of_a_request_is_reported_at_once() {
        let request = OrderRequest {
            customer_email: "not-an-email".into(),
            items: vec![
                line("invalid-product", 1),
                line("product-001", 0),
                line("product-002", 1001),
            ],
            payment_token: None,
        };
        let problems = validate(&request, &catalog()).err().expect("invalid");
        assert_eq!(
            fields(&problems),
            [
                "customer_email",
                "items[0].product_id",
                "items[1].quantity",
                "items[2].quantity"
            ]
        );
        assert!(
            problems[1].message.contains("invalid-product"),
            "{problems:?}"
        );
    }

    #[test]
    fn an_order_without_items_is_rejected() {
        let request = OrderRequest {
            customer_email: "a@b.co".into(),
            items: vec![],
            payment_token: None,
        };
        let problems = validate(&request, &catalog()).err().expect("invalid");
        assert_eq!(fields(&problems), ["items"]);
    }

    #[test]
    fn duplicate_product_lines_are_merged_and_priced_from_the_catalog() {
        let request = OrderRequest {
            customer_email: "a@b.co".into(),
            items: vec![line("product-002", 2), line("product-002", 3)],
            payment_token: None,
        };
        let order = validate(&request, &catalog()).expect("valid");
        assert_eq!(order.lines.len(), 1);
        assert_eq!(order.lines[0].quantity.get(), 5);
        assert_eq!(order.lines[0].unit_price, Money::new(2_599, "USD"));
        assert_eq!(order.payment_token, DEFAULT_PAYMENT_TOKEN);
    }

    #[test]
    fn merged_lines_over_the_limit_are_rejected() {
        let request = OrderRequest {
            customer_email: "a@b.co".into(),
            items: vec![line("product-002", 600), line("product-002", 600)],
            payment_token: None,
        };
        let problems = validate(&request, &catalog()).err().expect("invalid");
        assert_eq!(fields(&problems), ["items"]);
    }

    #[test]
    fn products_priced_in_two_currencies_are_not_ordered_together() {
        let mut catalog = catalog();
        catalog[1].price = Money::new(2_599, "EUR");
        let request = OrderRequest {
            customer_email: "a@b.co".into(),
            items: vec![line("product-001", 1), line("product-002", 1)],
            payment_token: None,
        };
        let problems = validate(&request, &catalog).err().expect("invalid");
        assert_eq!(fields(&problems), ["items"]);
    }

    #[test]
    fn the_same_order_in_another_shape_has_the_same_fingerprint() {
        let one = OrderRequest {
            customer_email: "A@B.co".into(),
            items: vec![line("product-001", 1), line("product-002", 2)],
            payment_token: None,
        };
        let other = OrderRequest {
            customer_email: "a@b.co".into(),
            items: vec![
                line("product-002", 1),
                line("product-001", 1),
                line("product-002", 1),
            ],
            payment_token: Some("tok_visa".into()),
        };
        let third = OrderRequest {
            items: vec![line("product-001", 2)],
            ..one.clone()
        };
        let fingerprint = |r: &OrderRequest| validate(r, &catalog()).expect("valid").fingerprint();
        assert_eq!(fingerprint(&one), fingerprint(&other));
        assert_ne!(fingerprint(&one), fingerprint(&third));
    }
}
