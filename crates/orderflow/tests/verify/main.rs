//! `orderflow verify`: clean after real orders, and every kind of violation reported on a
//! database made to break its invariant; on embedded data directories, on PostgreSQL (with
//! RabbitMQ's dead letters), and through the command line's exit codes.

mod cli;
mod embedded;
mod golden;
mod scaled;
mod streams;
