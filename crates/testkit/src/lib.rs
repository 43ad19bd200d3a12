//! Test support, used only as a dev-dependency: per-test PostgreSQL databases and RabbitMQ
//! name prefixes (so tests run in parallel and leave nothing behind), and the contract suites
//! that every adapter of a port must pass, whatever its technology.

pub mod amqp;
pub mod postgres;
pub mod store_contract;
pub mod transport_contract;
