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
    spawn(what, f).await.map_err(AppError::Internal)?.map_err(Into::into)
}

/// [`run`] for code with an error type of its own (the trace store answers `store::QueryError`): `f`'s
/// result as it is, or, when `f` panicked, an error naming `what`.
pub async fn spawn<T: Send + 'static>(what: &'static str, f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(move || allow(f)).await.map_err(|e| anyhow::anyhow!("{what} failed: {e}"))
}

/// Runs CPU-heavy `f` without blocking the runtime, on the calling thread when it can: on a multi-threaded
/// runtime `block_in_place` hands this worker's other tasks to another thread first, so the data `f` builds
/// stays in this thread's cache and allocator heap (ingest decodes into many small allocations that the store
/// then encodes: moving them to a pool thread cost 15–25 % of ingest throughput, BENCHMARKS.md). Elsewhere
/// (a current-thread runtime, where `block_in_place` is not allowed) it is [`run`].
pub async fn in_place<T, E>(what: &'static str, f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, AppError>
where
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
            tokio::task::block_in_place(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| allow(f))))
                .map_err(|_| AppError::Internal(anyhow::anyhow!("{what} failed: it panicked")))?
                .map_err(Into::into)
        }
        _ => run(what, f).await,
    }
}

/// Runs `f` marked as allowed to block: for code that is already on a thread of its own (the blocking
/// pool through `spawn_blocking`, a `std::thread`) but reached there another way than [`run`].
pub fn allow<T>(f: impl FnOnce() -> T) -> T {
    /// Puts the previous mark back however `f` ends: a panic must not leave a pool thread marked, or the
    /// next task that thread runs would escape the detector.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            OFF_RUNTIME.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(OFF_RUNTIME.with(|c| c.replace(true)));
    f()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    fn disk_work() -> Result<u32, AppError> {
        assert_off_runtime();
        Ok(7)
    }

    /// The detector is compiled out of release builds, so only a debug build can see it fire.
    #[cfg(debug_assertions)]
    #[test]
    fn disk_work_on_an_async_worker_panics() {
        let rt = runtime();
        let e = rt.block_on(rt.spawn(async { disk_work() })).unwrap_err();
        assert!(e.is_panic(), "{e}");
        // The thread that drives the runtime (a `#[tokio::test]` body) is inside it too.
        assert!(rt.block_on(async { std::panic::catch_unwind(disk_work) }).is_err());
        // A `spawn_blocking` that forgot `allow`: the pool's threads carry the runtime context.
        assert!(rt.block_on(rt.spawn_blocking(disk_work)).unwrap_err().is_panic());
    }

    #[test]
    fn run_allow_and_plain_threads_are_fine() {
        let rt = runtime();
        assert_eq!(rt.block_on(run("disk work", disk_work)).unwrap(), 7);
        assert_eq!(rt.block_on(rt.spawn(async { allow(disk_work) })).unwrap().unwrap(), 7);
        assert_eq!(rt.block_on(rt.spawn_blocking(|| allow(disk_work))).unwrap().unwrap(), 7);
        assert_eq!(std::thread::spawn(disk_work).join().unwrap().unwrap(), 7);
        assert_eq!(disk_work().unwrap(), 7, "a test thread without a runtime");
    }

    #[test]
    fn a_panic_in_run_is_an_internal_error_and_leaves_no_mark_behind() {
        let rt = runtime();
        let e = rt.block_on(run("exploding work", || -> Result<(), AppError> { panic!("boom") })).unwrap_err();
        assert!(matches!(&e, AppError::Internal(m) if m.to_string().contains("exploding work failed")), "{e:?}");
        // The mark is scoped: after `allow` returns (or unwinds) this thread is checked again.
        assert!(std::panic::catch_unwind(|| allow(|| panic!("inside allow"))).is_err());
        assert!(!OFF_RUNTIME.with(Cell::get));
    }
}
