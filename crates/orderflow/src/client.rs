//! The CLI's commands against a running server, through the API's typed client: each answer
//! is printed as the JSON the server sent, each problem as its detail and its fields.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context as _, bail};
use api::{Field, ListQuery, MultiItemBody, OrderItemBody, OrderStatus, OrderView, PlaceOrderBody};
use api_client::{ApiClient, ClientError};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::cli::{AdminArgs, DlqCommand, OrderCommand};

/// How long `--wait` waits for an order to finish.
const WAIT: Duration = Duration::from_secs(60);
/// How often `--wait` asks for the order.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A client of one Orderflow server.
pub struct Client {
    api: ApiClient,
}

impl Client {
    /// # Errors
    /// When `base` is not a URL, or the HTTP client cannot be built.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let api = ApiClient::new(base).with_context(|| format!("a client of {base}"))?;
        Ok(Self { api })
    }

    /// The same client, presenting `token` (a customer token or the admin token) when there
    /// is one.
    #[must_use]
    pub fn with_token(self, token: Option<String>) -> Self {
        match token {
            Some(token) => Self {
                api: self.api.with_token(token),
            },
            None => self,
        }
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
                let body = order_body(email, &items, payment_token)?;
                let placed = self
                    .api
                    .place_order(&body, idempotency_key.as_deref())
                    .await;
                let accepted = answer(placed)?.accepted;
                if !wait {
                    return printable(&accepted);
                }
                let order = self.wait_until_terminal(accepted.order_id, WAIT).await?;
                printable(&order)
            }
            OrderCommand::Get { id } => printable(&answer(self.api.order(order_id(&id)?).await)?),
            OrderCommand::List {
                email,
                status,
                limit,
                cursor,
            } => {
                let query = ListQuery {
                    customer_email: email,
                    status: status
                        .map(OrderStatus::try_from)
                        .transpose()
                        .map_err(anyhow::Error::msg)?,
                    text: None,
                    limit: limit.map(usize::try_from).transpose()?,
                    cursor,
                };
                printable(&answer(self.api.list_orders(&query).await)?)
            }
            OrderCommand::Cancel { id } => {
                printable(&answer(self.api.cancel_order(order_id(&id)?).await)?)
            }
        }
    }

    /// Polls an order until it is COMPLETED or CANCELLED.
    ///
    /// # Errors
    /// When the order cannot be read, or does not finish within `timeout`.
    pub async fn wait_until_terminal(
        &self,
        id: Uuid,
        timeout: Duration,
    ) -> anyhow::Result<OrderView> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let order = answer(self.api.order(id).await)?;
            if OrderStatus::parse(&order.status).is_some_and(OrderStatus::is_terminal) {
                return Ok(order);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("order {id} is still {} after {timeout:?}", order.status);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
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
        let api = self.api.clone().with_admin_token(token);
        match command {
            DlqCommand::List => printable(&answer(api.dead_letters().await)?),
            DlqCommand::Replay { id } => printable(&answer(api.replay_dead_letter(&id).await)?),
            // The server answers a discard with no body: `null` is printed.
            DlqCommand::Discard { id } => printable(&answer(api.discard_dead_letter(&id).await)?),
        }
    }
}

/// The answer of a call, or what to tell the user: the problem's status and detail (and when
/// to retry, if the server said), then each field's problem on a line of its own.
fn answer<T>(result: Result<T, ClientError>) -> anyhow::Result<T> {
    result.map_err(|error| match error {
        ClientError::Problem {
            status,
            problem,
            retry_after,
        } => {
            let mut message = format!("{status}: {}", problem.detail);
            if let Some(after) = retry_after {
                let _ = write!(message, " (retry after {} s)", after.as_secs());
            }
            for field in &problem.errors {
                let _ = write!(message, "\n  {}: {}", field.field, field.message);
            }
            anyhow::anyhow!(message)
        }
        other => other.into(),
    })
}

fn printable(answer: &impl Serialize) -> anyhow::Result<Value> {
    serde_json::to_value(answer).context("show the answer")
}

fn order_id(id: &str) -> anyhow::Result<Uuid> {
    id.parse()
        .with_context(|| format!("`{id}` is not an order id (a UUID)"))
}

/// The several-items body: `--item product-002:5` is 5 of `product-002`.
fn order_body(
    email: String,
    items: &[String],
    payment_token: Option<String>,
) -> anyhow::Result<PlaceOrderBody> {
    let items = items
        .iter()
        .map(|item| parse_item(item).map(Field::Valid))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(PlaceOrderBody::Multi(MultiItemBody {
        customer_email: Field::Valid(email),
        items: Field::Valid(items),
        payment_token: payment_token.map_or(Field::Missing, Field::Valid),
    }))
}

/// `product-002:5` → 5 of `product-002`; `product-002` → 1 of it.
fn parse_item(item: &str) -> anyhow::Result<OrderItemBody> {
    let (product_id, quantity) = match item.split_once(':') {
        Some((id, quantity)) => (
            id,
            quantity
                .parse::<i64>()
                .with_context(|| format!("bad quantity in `{item}`"))?,
        ),
        None => (item, 1),
    };
    Ok(OrderItemBody {
        product_id: Field::Valid(product_id.to_owned()),
        quantity: Field::Valid(quantity),
    })
}
