//! `GET /api/v1/order-updates`: order status changes as server-sent events, from the order
//! service's broadcast in its own process, or relayed from the order process's same route.
//!
//! A subscriber that reads too slowly is not waited for: it receives a `lagged` event saying
//! how many updates it missed, then the newest ones.

use api::{LAGGED_EVENT, UPDATE_EVENT, UpdateNotice};
use api_client::UpdateStream;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::AppState;
use crate::auth::Caller;
use crate::backends::OrderUpdates;
use crate::error::ApiError;
use crate::server::ShuttingDown;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/order-updates", get(order_updates))
}

/// Follow every order's status changes (server-sent events); the admin's only.
///
/// Each `update` event's data is an `OrderUpdate` (JSON); a `lagged` event's data is how many
/// updates this subscriber missed because it read too slowly. Only changes committed after
/// the subscription are sent. The stream ends when the process begins to shut down, so a
/// subscriber does not hold up its stop; it subscribes again to the process that replaces it.
#[utoipa::path(
    get, path = "/api/v1/order-updates", tag = "orders", security(("admin_token" = [])),
    responses((status = 200, content_type = "text/event-stream", body = api::OrderUpdate,
        description = "`update` events (an OrderUpdate each) and `lagged` events (a count)"),
        (status = 401, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "No token, or one that is not valid"),
        (status = 403, body = crate::error::ProblemDetails, content_type = "application/problem+json",
         description = "A customer token: the stream carries every order")),
)]
pub(crate) async fn order_updates(
    State(state): State<AppState>,
    caller: Caller,
    shutting_down: Option<Extension<ShuttingDown>>,
) -> Result<Sse<impl Stream<Item = Result<Event, axum::Error>>>, ApiError> {
    // Every order's id goes by on it, and an id is what lets anyone read an order.
    caller.require_admin("follow every order's updates")?;
    let updates = state.orders.updates().await?;
    let Extension(shutting_down) = shutting_down.unwrap_or_default();
    let events = updates
        .take_until(shutting_down.signalled())
        .map(|notice| match notice {
            UpdateNotice::Update(update) => Event::default().event(UPDATE_EVENT).json_data(update),
            UpdateNotice::Lagged(skipped) => Ok(Event::default()
                .event(LAGGED_EVENT)
                .data(skipped.to_string())),
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The updates of a broadcast in this process.
pub(crate) fn from_broadcast(receiver: broadcast::Receiver<api::OrderUpdate>) -> OrderUpdates {
    stream::unfold(receiver, |mut receiver| async move {
        match receiver.recv().await {
            Ok(update) => Some((UpdateNotice::Update(update), receiver)),
            Err(RecvError::Lagged(skipped)) => Some((UpdateNotice::Lagged(skipped), receiver)),
            Err(RecvError::Closed) => None,
        }
    })
    .boxed()
}

/// The updates streamed by another process; ends when its stream breaks, so the client's
/// stream ends too and it can subscribe again.
pub(crate) fn from_remote(remote: UpdateStream) -> OrderUpdates {
    stream::unfold(remote, |mut remote| async move {
        loop {
            match remote.next().await? {
                Ok(notice) => return Some((notice, remote)),
                Err(error) => {
                    tracing::warn!(error = %error, "order updates relayed from another process");
                    if matches!(error, api_client::ClientError::Unreachable { .. }) {
                        return None;
                    }
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use api::{OrderStatus, OrderUpdate};
    use time::OffsetDateTime;

    use super::*;

    fn update(n: u128) -> OrderUpdate {
        OrderUpdate {
            order_id: uuid::Uuid::from_u128(n),
            status: OrderStatus::Pending,
            placed_at: OffsetDateTime::UNIX_EPOCH,
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_fell_behind_is_told_how_many_updates_it_missed_then_reads_on() {
        let (sender, receiver) = broadcast::channel(2);
        let mut updates = from_broadcast(receiver);
        for n in 0..5 {
            sender.send(update(n)).expect("a subscriber");
        }
        drop(sender);

        let notices: Vec<UpdateNotice> = updates.by_ref().collect().await;

        assert_eq!(
            notices,
            [
                UpdateNotice::Lagged(3),
                UpdateNotice::Update(update(3)),
                UpdateNotice::Update(update(4)),
            ]
        );
    }
}
