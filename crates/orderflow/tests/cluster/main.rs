//! The scaled-out mode checked from outside: `scripts/local-cluster` runs every service as its
//! own process on PostgreSQL, RabbitMQ and Redis, and the tests talk to the gateway.

mod checks;
mod harness;
mod load;
mod outages;
mod poison;
mod poison_catalogue;
mod poison_under_kills;
mod scenarios;
