//! The server's own logs: structured, filtered by `SIGHTLINE_LOG` / `RUST_LOG`.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber; `filter` is an `EnvFilter` directive such as `info,sightline_server=debug`.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt().with_env_filter(filter).with_target(true).try_init();
}
