//! The inventory service's store: stock levels and reservations. Stock is conserved
//! (`available + reserved + sold = initial + restocked`) and never below zero, whatever the
//! concurrency.

use std::sync::Arc;
use std::time::Duration;

use contracts::StockLine;
use contracts::value::{OrderId, Quantity};
use inventory_domain::{InsufficientStock, ReservationStatus, StockError, StockLevel};
use store::inventory::InventoryStore;

use super::{new_order_id, sku};

/// Stock is created once per product (creating it again changes nothing) and listed by sku.
pub async fn stock_is_created_once_and_listed_by_sku(store: Arc<dyn InventoryStore>) {
    create_stock(&store, &[("product-002", 5), ("product-001", 3)]).await;
    create_stock(&store, &[("product-001", 10)]).await;

    assert_eq!(
        store.stock_levels().await.expect("stock levels"),
        [
            (sku("product-001"), StockLevel::new(3)),
            (sku("product-002"), StockLevel::new(5)),
        ]
    );
}

/// A reservation holds every line, or none and reports the first line that cannot be served,
/// with what was requested and what is available: the transaction holds nothing for that
/// order and goes on to serve the next.
pub async fn a_reservation_takes_every_line_or_reports_the_first_short_one(
    store: Arc<dyn InventoryStore>,
) {
    create_stock(&store, &[("product-001", 5), ("product-002", 1)]).await;
    let short = new_order_id();
    let served = new_order_id();
    let mut tx = store.begin().await.expect("begin");
    let outcome = tx
        .reserve(short, &lines(&[("product-001", 2), ("product-002", 2)]))
        .await
        .expect("reserve");
    assert_eq!(
        outcome,
        Err(InsufficientStock {
            sku: sku("product-002"),
            requested: 2,
            available: 1,
        })
    );
    assert_eq!(tx.reservation(short).await.expect("reservation"), None);
    tx.reserve(served, &lines(&[("product-001", 3), ("product-002", 1)]))
        .await
        .expect("reserve")
        .expect("the short order took nothing");
    assert_eq!(
        tx.reservation(served).await.expect("reservation"),
        Some(ReservationStatus::Held)
    );
    tx.commit().await.expect("commit");
    assert_eq!(
        levels(&store).await,
        [
            StockLevel {
                available: 2,
                reserved: 3,
                ..StockLevel::new(5)
            },
            StockLevel {
                available: 0,
                reserved: 1,
                ..StockLevel::new(1)
            },
        ]
    );
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.reservation(short).await.expect("reservation"), None);
}

/// Two transactions each deciding about two orders, whose products they touch in opposite
/// orders (one sells a reservation of one product and reserves the other, the other reserves
/// the first and releases a reservation of the second), both finish when each first takes its
/// orders' locks: the second waits for the first instead of deadlocking with it.
pub async fn transactions_deciding_about_several_orders_lock_them_first_and_all_finish(
    store: Arc<dyn InventoryStore>,
) {
    create_stock(&store, &[("product-001", 10), ("product-002", 10)]).await;
    let sold = reserve(&store, &[("product-002", 1)]).await;
    let released = reserve(&store, &[("product-002", 2)]).await;
    let (first, second) = (new_order_id(), new_order_id());
    let first_lines = lines(&[("product-001", 1)]);
    let second_lines = lines(&[("product-001", 3)]);
    let (second_started, mut started) = tokio::sync::mpsc::channel::<()>(1);

    let one = tokio::spawn({
        let store = Arc::clone(&store);
        let first_lines = first_lines.clone();
        async move {
            let mut tx = store.begin().await?;
            tx.lock_orders_and_stock(&[sold, first], &first_lines.iter().collect::<Vec<_>>())
                .await?;
            tx.commit_reservation(sold).await?;
            // Without the locks, the other would now hold product-001 and wait for
            // product-002: a cycle.
            let _ = tokio::time::timeout(Duration::from_millis(300), started.recv()).await;
            tx.reserve(first, &first_lines)
                .await?
                .expect("enough stock");
            tx.commit().await
        }
    });
    let other = tokio::spawn({
        let store = Arc::clone(&store);
        let second_lines = second_lines.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut tx = store.begin().await?;
            tx.lock_orders_and_stock(
                &[released, second],
                &second_lines.iter().collect::<Vec<_>>(),
            )
            .await?;
            tx.reserve(second, &second_lines)
                .await?
                .expect("enough stock");
            let _ = second_started.send(()).await;
            tx.release(released).await?;
            tx.commit().await
        }
    });
    one.await
        .expect("first task")
        .expect("the first transaction finishes");
    other
        .await
        .expect("second task")
        .expect("the second transaction finishes");

    let levels = levels(&store).await;
    assert_eq!(
        levels,
        [
            StockLevel {
                available: 6,
                reserved: 4,
                ..StockLevel::new(10)
            },
            StockLevel {
                available: 9,
                sold: 1,
                ..StockLevel::new(10)
            },
        ]
    );
    assert!(levels.iter().all(StockLevel::is_conserved));
}

/// A product without stock reports nothing available.
pub async fn an_unknown_product_has_nothing_available(store: Arc<dyn InventoryStore>) {
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.reserve(new_order_id(), &lines(&[("no-such-product", 1)]))
            .await
            .expect("reserve"),
        Err(InsufficientStock {
            sku: sku("no-such-product"),
            requested: 1,
            available: 0,
        })
    );
}

/// Fifty orders reserving one unit each at once against twenty units: exactly twenty are
/// served, the others are told nothing is available, and stock ends at zero, conserved.
pub async fn concurrent_reservations_never_take_more_than_the_stock(
    store: Arc<dyn InventoryStore>,
) {
    const STOCK: u32 = 20;
    const ORDERS: usize = 50;
    create_stock(&store, &[("product-001", STOCK)]).await;
    let orders: Vec<_> = (0..ORDERS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut tx = store.begin().await.expect("begin");
                let outcome = tx
                    .reserve(new_order_id(), &lines(&[("product-001", 1)]))
                    .await
                    .expect("reserve");
                if outcome.is_ok() {
                    tx.commit().await.expect("commit");
                }
                outcome
            })
        })
        .collect();
    let mut served = 0;
    for order in orders {
        match order.await.expect("order task") {
            Ok(()) => served += 1,
            Err(insufficient) => assert_eq!(insufficient.available, 0),
        }
    }
    assert_eq!(served, STOCK);
    let level = levels(&store).await[0];
    assert_eq!(
        level,
        StockLevel {
            available: 0,
            reserved: STOCK,
            ..StockLevel::new(STOCK)
        }
    );
    assert!(level.is_conserved());
}

/// Orders reserving the same products listed in opposite orders, at once, all finish (none
/// deadlocks into an error), and stock is shared out exactly.
pub async fn concurrent_reservations_of_several_products_all_finish(
    store: Arc<dyn InventoryStore>,
) {
    create_stock(&store, &[("product-001", 10), ("product-002", 10)]).await;
    let orders: Vec<_> = (0..16)
        .map(|n| {
            let store = Arc::clone(&store);
            let order = if n % 2 == 0 {
                [("product-001", 1), ("product-002", 1)]
            } else {
                [("product-002", 1), ("product-001", 1)]
            };
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                let outcome = tx.reserve(new_order_id(), &lines(&order)).await?;
                if outcome.is_ok() {
                    tx.commit().await?;
                }
                Ok::<_, store::StoreError>(outcome.is_ok())
            })
        })
        .collect();
    let mut served = 0;
    for order in orders {
        if order
            .await
            .expect("order task")
            .expect("a reservation finishes without a store error")
        {
            served += 1;
        }
    }
    assert_eq!(served, 10);
    for level in levels(&store).await {
        assert_eq!(level.available, 0);
        assert!(level.is_conserved());
    }
}

/// A transaction about an order that starts while another one is reserving for it (a release
/// racing the reservation) reads the reservation once that one committed, not before.
pub async fn a_release_racing_the_reservation_of_its_order_sees_it(store: Arc<dyn InventoryStore>) {
    create_stock(&store, &[("product-001", 5)]).await;
    let order = new_order_id();
    let mut reserving = store.begin().await.expect("begin");
    assert_eq!(
        reserving.reservation(order).await.expect("reservation"),
        None
    );
    reserving
        .reserve(order, &lines(&[("product-001", 1)]))
        .await
        .expect("reserve")
        .expect("enough stock");

    let releasing = tokio::spawn({
        let store = Arc::clone(&store);
        async move {
            let mut tx = store.begin().await.expect("begin");
            tx.reservation(order).await.expect("reservation")
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    reserving.commit().await.expect("commit");

    assert_eq!(
        releasing.await.expect("releasing task"),
        Some(ReservationStatus::Held)
    );
}

/// Releasing a held reservation gives its units back to available stock.
pub async fn releasing_a_reservation_returns_its_units(store: Arc<dyn InventoryStore>) {
    create_stock(&store, &[("product-001", 5), ("product-002", 5)]).await;
    let order = reserve(&store, &[("product-001", 2), ("product-002", 3)]).await;

    let mut tx = store.begin().await.expect("begin");
    tx.release(order).await.expect("release");
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.reservation(order).await.expect("reservation"),
        Some(ReservationStatus::Released)
    );
    drop(tx);
    assert_eq!(
        levels(&store).await,
        [StockLevel::new(5), StockLevel::new(5)]
    );
}

/// Committing a held reservation turns its units into sold stock.
pub async fn committing_a_reservation_turns_its_units_into_sold_stock(
    store: Arc<dyn InventoryStore>,
) {
    create_stock(&store, &[("product-001", 5)]).await;
    let order = reserve(&store, &[("product-001", 2)]).await;

    let mut tx = store.begin().await.expect("begin");
    tx.commit_reservation(order)
        .await
        .expect("commit reservation");
    assert_eq!(
        tx.reservation(order).await.expect("reservation"),
        Some(ReservationStatus::Committed)
    );
    tx.commit().await.expect("commit");

    let level = levels(&store).await[0];
    assert_eq!(
        level,
        StockLevel {
            available: 3,
            sold: 2,
            ..StockLevel::new(5)
        }
    );
    assert!(level.is_conserved());
}

/// An adjustment that would take available stock below zero is refused with the level it saw;
/// others are counted as restocked, and stock stays conserved.
pub async fn an_adjustment_below_zero_is_refused(store: Arc<dyn InventoryStore>) {
    create_stock(&store, &[("product-001", 5)]).await;
    reserve(&store, &[("product-001", 2)]).await;

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.adjust(&sku("product-001"), -4).await.expect("adjust"),
        Err(StockError::BelowZero {
            delta: -4,
            available: 3
        })
    );
    let restocked = tx
        .adjust(&sku("product-001"), 10)
        .await
        .expect("adjust")
        .expect("a restock is allowed");
    tx.commit().await.expect("commit");
    assert_eq!(
        restocked,
        StockLevel {
            available: 13,
            reserved: 2,
            restocked: 10,
            ..StockLevel::new(5)
        }
    );

    let mut tx = store.begin().await.expect("begin");
    let emptied = tx
        .adjust(&sku("product-001"), -13)
        .await
        .expect("adjust")
        .expect("down to zero is allowed");
    tx.commit().await.expect("commit");
    assert_eq!(emptied.available, 0);
    assert_eq!(emptied.restocked, -3);
    let level = levels(&store).await[0];
    assert_eq!(level, emptied);
    assert!(level.is_conserved());
}

fn lines(lines: &[(&str, u32)]) -> Vec<StockLine> {
    lines
        .iter()
        .map(|&(product_id, units)| StockLine {
            product_id: sku(product_id),
            quantity: Quantity::new(units).expect("the suite's quantities are valid"),
        })
        .collect()
}

async fn create_stock(store: &Arc<dyn InventoryStore>, stock: &[(&str, u32)]) {
    let mut tx = store.begin().await.expect("begin");
    for &(product_id, initial) in stock {
        tx.create_stock(&sku(product_id), initial)
            .await
            .expect("create stock");
    }
    tx.commit().await.expect("commit");
}

/// Reserves `wanted` for a new order, which it returns.
async fn reserve(store: &Arc<dyn InventoryStore>, wanted: &[(&str, u32)]) -> OrderId {
    let order = new_order_id();
    let mut tx = store.begin().await.expect("begin");
    tx.reserve(order, &lines(wanted))
        .await
        .expect("reserve")
        .expect("enough stock");
    tx.commit().await.expect("commit");
    order
}

/// Every product's level, by sku.
async fn levels(store: &Arc<dyn InventoryStore>) -> Vec<StockLevel> {
    store
        .stock_levels()
        .await
        .expect("stock levels")
        .into_iter()
        .map(|(_, level)| level)
        .collect()
}
