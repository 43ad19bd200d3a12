//! The scaled-out mode checked from outside: `scripts/local-cluster` runs every service as its
//! own process on PostgreSQL, RabbitMQ and Redis, and the tests talk to the gateway.

// The equivalence check's workload and end state, shared with `tests/equivalence`.
#[path = "../equivalence/api.rs"]
mod api;
#[path = "../equivalence/end_state.rs"]
mod end_state;
#[path = "../equivalence/workload.rs"]
mod workload;

// The dashboard's browser driver, shared with `tests/dashboard`.
#[path = "../support/archive_cli.rs"]
mod archive_cli;
#[path = "../dashboard/browser.rs"]
mod browser;

mod admission;
mod analytics;
mod bench;
mod checks;
mod dashboard;
mod equivalence;
mod harness;
mod identity;
mod kafka;
mod load;
mod outages;
mod poison;
mod poison_catalogue;
mod poison_under_kills;
mod restarts;
mod scenarios;
mod traces;
