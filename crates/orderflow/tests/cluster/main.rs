//! The scaled-out mode checked from outside: `scripts/local-cluster` runs every service as its
//! own process on PostgreSQL, RabbitMQ and Redis, and the tests talk to the gateway.

mod bench;
mod checks;
mod harness;
mod load;
mod poison;
mod scenarios;
