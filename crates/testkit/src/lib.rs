//! Test support, used only as a dev-dependency: per-test PostgreSQL databases (so tests run in
//! parallel and leave nothing behind), the contract suites that every adapter of a port must
//! pass, whatever its technology, a TCP proxy that takes a shared server down for one test, and
//! an OTLP/HTTP receiver that collects the spans the processes under test export, Azurite
//! (the Azure Blob emulator) and moto (an S3-compatible server) with a container or bucket per
//! test for the archive's blob store, and blocks
//! of free ports outside the ephemeral range for the processes a test starts.
//! It depends on ports only, never on an adapter or a service; RabbitMQ's per-test prefixes
//! live in `transport_amqp::testing`.

pub mod azurite;
pub mod blob_contract;
pub mod moto;
pub mod otlp;
pub mod ports;
pub mod postgres;
pub mod proxy;
pub mod store_contract;
pub mod transport_contract;
