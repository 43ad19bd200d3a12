//! One service database's migrations: the messaging tables every service has (inbox, outbox,
//! queue) as version 1, then the service's own tables as version `100 × n + 1`, and later
//! changes to them as `100 × n + 2`, ….
//!
//! Each SQL adapter writes them in its dialect under its own `migrations/`, one file a
//! version, named alike in both (`0001_messaging.sql`, `0101_order.sql`, …);
//! [`embed_migrations!`](crate::embed_migrations) embeds the calling crate's files. The
//! versions and descriptions are written once, here: a database migrated by an earlier
//! build must find the same ones.

use contracts::Queue;
use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// The SQL text of every migration of one dialect.
#[derive(Clone, Copy, Debug)]
pub struct Scripts {
    pub messaging: &'static str,
    pub order: &'static str,
    /// Scoped, expiring idempotency keys; payment tokens kept apart from the events.
    pub order_keys_and_tokens: &'static str,
    pub inventory: &'static str,
    pub payment: &'static str,
    pub notification: &'static str,
    /// Claims that keep replicas from sending one email twice.
    pub notification_claims: &'static str,
    pub query: &'static str,
    pub analytics: &'static str,
}

impl Scripts {
    /// The migrations of `service`'s database: the messaging tables, then its own.
    pub fn migrator(&self, service: Queue) -> Migrator {
        let own = match service {
            Queue::Order => vec![
                (101, "order", self.order),
                (102, "order keys and tokens", self.order_keys_and_tokens),
            ],
            Queue::Inventory => vec![(201, "inventory", self.inventory)],
            Queue::Payment => vec![(301, "payment", self.payment)],
            Queue::Notification => vec![
                (401, "notification", self.notification),
                (402, "notification claims", self.notification_claims),
            ],
            Queue::Query => vec![(501, "query", self.query)],
            Queue::Analytics => vec![(601, "analytics", self.analytics)],
        };
        let migrations = std::iter::once((1, "messaging", self.messaging))
            .chain(own)
            .map(|(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations)
    }
}

/// The calling crate's [`Scripts`], embedded at compile time from its `migrations/` folder.
#[macro_export]
macro_rules! embed_migrations {
    () => {
        $crate::migrations::Scripts {
            messaging: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0001_messaging.sql"
            )),
            order: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0101_order.sql"
            )),
            order_keys_and_tokens: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0102_order_keys_and_tokens.sql"
            )),
            inventory: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0201_inventory.sql"
            )),
            payment: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0301_payment.sql"
            )),
            notification: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0401_notification.sql"
            )),
            notification_claims: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0402_notification_claims.sql"
            )),
            query: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0501_query.sql"
            )),
            analytics: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/0601_analytics.sql"
            )),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPTS: Scripts = Scripts {
        messaging: "CREATE TABLE inbox (id TEXT)",
        order: "CREATE TABLE events (id TEXT)",
        order_keys_and_tokens: "CREATE TABLE payment_tokens (id TEXT)",
        inventory: "CREATE TABLE stock (id TEXT)",
        payment: "CREATE TABLE payments (id TEXT)",
        notification: "CREATE TABLE notifications (id TEXT)",
        notification_claims: "CREATE TABLE notification_claims (id TEXT)",
        query: "CREATE TABLE order_views (id TEXT)",
        analytics: "CREATE TABLE analytics_counters (id TEXT)",
    };

    #[test]
    fn a_service_database_gets_the_messaging_tables_then_its_own() {
        let migrator = SCRIPTS.migrator(Queue::Payment);
        let migrations: Vec<_> = migrator
            .iter()
            .map(|m| (m.version, m.description.as_ref(), m.sql.as_str()))
            .collect();
        assert_eq!(
            migrations,
            [
                (1, "messaging", SCRIPTS.messaging),
                (301, "payment", SCRIPTS.payment),
            ]
        );
    }

    #[test]
    fn the_order_service_gets_its_later_change_after_its_tables() {
        let versions: Vec<(i64, String)> = SCRIPTS
            .migrator(Queue::Order)
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        assert_eq!(
            versions,
            [
                (1, "messaging".to_owned()),
                (101, "order".to_owned()),
                (102, "order keys and tokens".to_owned()),
            ]
        );
    }

    #[test]
    fn every_service_has_its_own_version_named_for_it() {
        let own: Vec<(i64, String)> = Queue::ALL
            .into_iter()
            .map(|service| {
                let migrator = SCRIPTS.migrator(service);
                let first = migrator.iter().nth(1).expect("the service's own migration");
                (first.version, first.description.to_string())
            })
            .collect();
        let expected: Vec<(i64, String)> = Queue::ALL
            .into_iter()
            .zip([101, 201, 301, 401, 501, 601])
            .map(|(service, version)| (version, service.name().to_owned()))
            .collect();
        assert_eq!(own, expected);
    }
}
