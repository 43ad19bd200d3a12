//! The Redis view cache against the real local Redis (`REDIS_URL`, default
//! `redis://127.0.0.1:6379`), each test under its own key prefix, removed at the end.

use std::time::{Duration, Instant};

use cache_redis::RedisViewCache;
use contracts::value::OrderId;
use query_domain::{OrderView, SagaHistoryEntry};
use store::query::ViewCache as _;
use testkit::proxy::Proxy;
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

#[tokio::test]
async fn a_redis_that_goes_away_after_connecting_is_a_quick_miss_too() {
    let (mut link, url) = Proxy::in_front_of(&redis_url()).await.expect("proxy");
    let cache = RedisViewCache::new(&url, "gone:", Duration::from_secs(30)).expect("cache");
    assert!(cache.ping().await, "connected");

    link.take_down().await;
    let started = Instant::now();
    for _ in 0..50 {
        let order_id = Uuid::now_v7();
        cache.put(&view(order_id, &["order.placed"])).await;
        assert_eq!(cache.get(OrderId::new(order_id)).await, None);
    }

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a hundred calls took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_view_written_while_redis_was_down_is_not_served_stale_once_redis_is_back() {
    let (mut link, url) = Proxy::in_front_of(&redis_url()).await.expect("proxy");
    let prefix = format!("test-{}:", Uuid::new_v4().simple());
    let cache = RedisViewCache::new(&url, &prefix, Duration::from_secs(30)).expect("cache");
    let order_id = Uuid::now_v7();
    cache.put(&view(order_id, &["order.placed"])).await;

    link.take_down().await;
    cache
        .put(&view(order_id, &["order.placed", "order.cancelled"]))
        .await;
    link.bring_back().await;

    let deadline = Instant::now() + Duration::from_secs(5);
    while !cache.ping().await {
        assert!(Instant::now() < deadline, "redis never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        cache.get(OrderId::new(order_id)).await,
        None,
        "the view cached before the outage is older than the read model: a miss, not it"
    );
    cache.clear().await.expect("clean up");
}

#[tokio::test]
async fn readiness_sees_redis_go_down_and_come_back() {
    let (mut link, url) = Proxy::in_front_of(&redis_url()).await.expect("proxy");
    let cache = RedisViewCache::new(&url, "ping:", Duration::from_secs(30)).expect("cache");
    assert!(cache.ping().await, "up");

    link.take_down().await;
    let down = cache.ping().await;
    link.bring_back().await;

    assert!(!down, "down");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cache.ping().await {
        assert!(Instant::now() < deadline, "never up again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn after_more_dropped_writes_than_it_remembers_the_cache_empties_its_whole_prefix() {
    let (mut link, url) = Proxy::in_front_of(&redis_url()).await.expect("proxy");
    let prefix = format!("test-{}:", Uuid::new_v4().simple());
    let cache = RedisViewCache::new(&url, &prefix, Duration::from_secs(30)).expect("cache");
    let kept_before = Uuid::now_v7();
    cache.put(&view(kept_before, &["order.placed"])).await;

    link.take_down().await;
    for _ in 0..10_001 {
        cache.put(&view(Uuid::now_v7(), &["order.placed"])).await;
    }
    link.bring_back().await;

    let deadline = Instant::now() + Duration::from_secs(5);
    while !cache.ping().await {
        assert!(Instant::now() < deadline, "redis never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        cache.get(OrderId::new(kept_before)).await,
        None,
        "any view may be stale: every one is removed"
    );
    cache.put(&view(kept_before, &["order.placed"])).await;
    assert!(
        cache.get(OrderId::new(kept_before)).await.is_some(),
        "the cache works again"
    );
    cache.clear().await.expect("clean up");
}
