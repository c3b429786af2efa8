//! HTTP handlers: thin, typed input in, `ApiResult` out; the work lives in `store` and `ingest`.

pub mod active;
pub mod alerts;
pub mod auth;
pub mod compare;
pub mod boards;
pub mod cube;
pub mod db;
pub mod deploys;
pub mod errors;
pub mod health;
pub mod hitmap;
pub mod host;
pub mod metrics;
pub mod notes;
pub mod otlp;
pub mod own_metrics;
pub mod services;
pub mod settings;
pub mod shares;
pub mod traces;
pub mod tokens;
pub mod transactions;
pub mod users;
pub mod window;
