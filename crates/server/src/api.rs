//! HTTP handlers: thin, typed input in, `ApiResult` out; the work lives in `store` and `ingest`.

pub mod health;
