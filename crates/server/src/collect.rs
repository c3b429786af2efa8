//! Collectors: tasks that pull data from monitored systems on a timer (PostgreSQL, and the host Sightline runs on), as opposed to
//! `ingest`, which receives pushed data. They keep their samples in memory and in their own durable logs
//! ([`durable`]); nothing goes through the trace store (`TraceStore`).

pub mod durable;
pub mod host;
pub mod postgres;
