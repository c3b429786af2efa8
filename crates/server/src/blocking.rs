//! Work that must not run on the async runtime's worker threads — disk (fjall, files), and CPU-heavy
//! loops — goes through [`run`], which moves it to tokio's blocking pool.
//!
//! [`assert_off_runtime`] is the regression detector: the functions that write to disk call it first, and
//! in debug builds (every test) it panics when it finds itself on an async worker thread, i.e. when a
//! caller forgot [`run`]. Plain threads (a collector's own `std::thread`, a benchmark, a unit test without
//! a runtime) and the blocking pool are fine.

use std::cell::Cell;

use crate::error::AppError;

thread_local! {
    /// Set while a closure given to [`run`] (or [`allow`]) executes on this thread.
    static OFF_RUNTIME: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on the blocking pool and waits for it without blocking the caller's worker thread. A panic in
/// `f` becomes [`AppError::Internal`] naming `what`, so one bad request cannot take a handler down with it.
pub async fn run<T, E>(what: &'static str, f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, AppError>
where
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || allow(f))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{what} failed: {e}")))?
        .map_err(Into::into)
}

/// Runs `f` marked as allowed to block: for code that is already on a thread of its own (the blocking
/// pool through `spawn_blocking`, a `std::thread`) but reached there another way than [`run`].
pub fn allow<T>(f: impl FnOnce() -> T) -> T {
    let before = OFF_RUNTIME.with(|c| c.replace(true));
    let out = f();
    OFF_RUNTIME.with(|c| c.set(before));
    out
}

/// Panics (debug builds only) when called inside a tokio runtime's context outside [`run`]/[`allow`],
/// i.e. on an async worker thread or from a `spawn_blocking` that forgot [`allow`]: put it at the top of
/// every function that touches the disk or loops over a whole history. (The blocking pool's threads carry
/// the runtime context too, so the mark set by [`run`]/[`allow`] is what tells them apart.)
#[track_caller]
pub fn assert_off_runtime() {
    if cfg!(debug_assertions) && !OFF_RUNTIME.with(Cell::get) && tokio::runtime::Handle::try_current().is_ok() {
        panic!("blocking work on an async worker thread: wrap the call in crate::blocking::run");
    }
}
