//! The Redis view cache against the real local Redis (`REDIS_URL`, default
//! `redis://127.0.0.1:6379`), each test under its own key prefix, removed at the end.

use std::time::{Duration, Instant};

use cache_redis::RedisViewCache;
use contracts::value::OrderId;
use query_domain::{OrderView, SagaHistoryEntry};
use store::query::ViewCache as _;
use time::OffsetDateTime;
use uuid::Uuid;

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn cache(ttl: Duration) -> RedisViewCache {
    RedisViewCache::new(
        &redis_url(),
        &format!("test-{}:", Uuid::new_v4().simple()),
        ttl,
    )
    .expect("cache")
}

fn view(order_id: Uuid, steps: &[&str]) -> OrderView {
    let at = OffsetDateTime::UNIX_EPOCH;
    OrderView {
        order_id,
        status: "PENDING".into(),
        customer_email: "a@example.com".into(),
        items: vec![],
        total: "0.00".into(),
        total_minor: 0,
        currency: "USD".into(),
        cancellation_reason: None,
        created_at: at,
        updated_at: at,
        history: steps
            .iter()
            .map(|step| SagaHistoryEntry {
                step: (*step).into(),
                status: "PENDING".into(),
                at,
                detail: None,
            })
            .collect(),
    }
}

#[tokio::test]
async fn a_cached_view_is_read_back_until_it_expires() {
    let cache = cache(Duration::from_millis(300));
    let order_id = Uuid::now_v7();
    assert_eq!(
        cache.get(OrderId::new(order_id)).await,
        None,
        "a miss before anything is cached"
    );

    cache.put(&view(order_id, &["order.placed"])).await;

    assert_eq!(
        cache.get(OrderId::new(order_id)).await,
        Some(view(order_id, &["order.placed"]))
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get(OrderId::new(order_id)).await, None, "expired");
    cache.clear().await.expect("clean up");
}

#[tokio::test]
async fn an_older_view_never_replaces_a_newer_one() {
    let cache = cache(Duration::from_secs(30));
    let order_id = Uuid::now_v7();
    let newer = view(order_id, &["order.placed", "order.inventory_reserved"]);

    cache.put(&newer).await;
    cache.put(&view(order_id, &["order.placed"])).await;

    assert_eq!(cache.get(OrderId::new(order_id)).await, Some(newer));
    cache.clear().await.expect("clean up");
}

#[tokio::test]
async fn an_unreachable_redis_is_a_quick_miss_not_an_error() {
    let cache = RedisViewCache::new(
        "redis://127.0.0.1:1",
        "unreachable:",
        Duration::from_secs(30),
    )
    .expect("cache");
    let order_id = Uuid::now_v7();
    let started = Instant::now();

    cache.put(&view(order_id, &["order.placed"])).await;
    let read = cache.get(OrderId::new(order_id)).await;

    assert_eq!(read, None);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}
