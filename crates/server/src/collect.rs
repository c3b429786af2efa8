//! Collectors: tasks that pull data from monitored systems on a timer (PostgreSQL, and the host Sightline runs on), as opposed to
//! `ingest`, which receives pushed data.

pub mod host;
pub mod postgres;
