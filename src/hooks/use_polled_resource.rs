//! The one way the app fetches data that a view keeps showing: a `LocalResource` rerun whenever what the
//! fetcher reads changes (and, optionally, on an interval), whose last good answer is kept so polling does
//! not flicker, and whose failure is kept *beside* it so the view can always say what went wrong.
//!
//! ```ignore
//! let stats = use_polled_resource_with_options(
//!     move || api::db_metrics(id.get(), from.get(), to.get()),
//!     UsePolledResourceOptions::default().interval_ms(2_000),
//! );
//! view! {
//!     <FetchError error=stats.error what="DB metrics" />
//!     {move || stats.data.get().map(|m| view! { <Graph points=m.points /> })}
//! }
//! ```

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use leptos::prelude::*;
use leptos_use::use_interval_fn;

use crate::api::ApiError;

/// Options of [`use_polled_resource_with_options`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UsePolledResourceOptions {
    /// Refetch this often (milliseconds) while the calling component lives. Default: `None`, fetch only
    /// when a signal the fetcher reads changes (or [`UsePolledResourceReturn::refetch`] is called).
    pub interval_ms: Option<u64>,
}

impl UsePolledResourceOptions {
    pub fn interval_ms(mut self, ms: u64) -> Self {
        self.interval_ms = Some(ms);
        self
    }
}

/// What [`use_polled_resource`] gives back. Every field is `Copy`.
pub struct UsePolledResourceReturn<T: Send + Sync + 'static> {
    /// The last good answer; kept while a refetch runs and after a later failure (shown beside `error`).
    pub data: Signal<Option<T>>,
    /// Why the latest fetch failed; cleared by the next success.
    pub error: Signal<Option<ApiError>>,
    /// True until the first answer, good or bad, has arrived.
    pub loading: Signal<bool>,
    /// Fetches again now.
    pub refetch: Callback<()>,
    /// Requests of this resource on their way (a refetch in progress keeps the old data on screen).
    pub inflight: Signal<u32>,
}

impl<T: Send + Sync + 'static> Clone for UsePolledResourceReturn<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Send + Sync + 'static> Copy for UsePolledResourceReturn<T> {}

/// Fetches with `fetcher` whenever the signals it reads change. See [`use_polled_resource_with_options`].
pub fn use_polled_resource<T, Fut>(fetcher: impl Fn() -> Fut + 'static) -> UsePolledResourceReturn<T>
where
    T: Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    use_polled_resource_with_options(fetcher, UsePolledResourceOptions::default())
}

/// Fetches with `fetcher` whenever the signals it reads change, and every `interval_ms` if set. Requests
/// are aborted when the calling scope goes away (see `crate::api`), so a stale answer never lands.
pub fn use_polled_resource_with_options<T, Fut>(
    fetcher: impl Fn() -> Fut + 'static,
    options: UsePolledResourceOptions,
) -> UsePolledResourceReturn<T>
where
    T: Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let data = RwSignal::new(None::<T>);
    let fetch = move || -> ErasedFuture {
        let fut = fetcher();
        Box::pin(async move { fut.await.map(|v| Rc::new(v) as Rc<dyn Any>) })
    };
    // The answer is always a `T`: it was made just above.
    let deliver = move |v: &dyn Any| data.set(v.downcast_ref::<T>().cloned());
    let erased = polled(Box::new(fetch), Box::new(deliver), options);
    UsePolledResourceReturn {
        data: data.into(),
        error: erased.error,
        loading: erased.loading,
        refetch: erased.refetch,
        inflight: erased.inflight,
    }
}

/// An answer of any type, so the resource below exists once in the wasm instead of once per answer type.
type ErasedFuture = Pin<Box<dyn Future<Output = Result<Rc<dyn Any>, ApiError>>>>;
/// Takes a good answer (of the type the caller knows) into the caller's data signal.
type Deliver = Box<dyn Fn(&dyn Any)>;

/// [`UsePolledResourceReturn`] without the data.
struct Polled {
    error: Signal<Option<ApiError>>,
    loading: Signal<bool>,
    refetch: Callback<()>,
    inflight: Signal<u32>,
}

/// The part of [`use_polled_resource_with_options`] that does not depend on the answer's type: the
/// resource, its polling, the error and loading state. A good answer goes to `deliver`.
fn polled(
    fetch: Box<dyn Fn() -> ErasedFuture>,
    deliver: Deliver,
    options: UsePolledResourceOptions,
) -> Polled {
    let tick = RwSignal::new(0u32);
    if let Some(ms) = options.interval_ms {
        use_interval_fn(move || tick.update(|t| *t = t.wrapping_add(1)), ms);
    }
    let inflight = RwSignal::new(0u32);
    let resource = LocalResource::new(move || {
        tick.track();
        let fut = fetch();
        async move {
            inflight.update(|n| *n += 1);
            let out = fut.await;
            inflight.update(|n| *n = n.saturating_sub(1));
            out
        }
    });
    let error = RwSignal::new(None::<ApiError>);
    let loading = RwSignal::new(true);
    Effect::new(move |_| match resource.get() {
        None => {}
        Some(Ok(v)) => {
            deliver(&*v);
            error.set(None);
            loading.set(false);
        }
        Some(Err(e)) => {
            error.set(Some(e));
            loading.set(false);
        }
    });
    Polled {
        error: error.into(),
        loading: loading.into(),
        refetch: Callback::new(move |()| tick.update(|t| *t = t.wrapping_add(1))),
        inflight: inflight.into(),
    }
}
