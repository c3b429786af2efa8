//! The `--demo` workload: a small fintech system (gateway → balance, payment, recharge) with incidents.

use crate::state::AppState;

/// Starts the generator in the background.
pub fn spawn(_state: AppState) {
    tracing::info!("demo workload started");
}
