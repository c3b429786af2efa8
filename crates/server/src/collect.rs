//! Collectors: tasks that pull data from monitored systems on a timer (today PostgreSQL), as opposed to
//! `ingest`, which receives pushed data.

pub mod postgres;
