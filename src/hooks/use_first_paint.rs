//! The page first, then the shell's top bar. On a cold load V8 compiles each wasm function on its first call,
//! so building the top bar (navigation, pickers, the user menu: a few hundred functions, 40–80 ms) before the
//! page delayed the page's first data by as much (BENCHMARKS.md, issue 16, ninth session). The shell builds
//! it once the page has shown what the user came for instead.
//!
//! A part of the page whose first draw is worth waiting for (the APM page's hitmap) claims the first paint
//! while the app starts ([`use_first_paint`]) and reports it after that draw. The shell goes on after the
//! frame that showed it; at once (in the first frame) when nothing claimed it; at once when the page says
//! its answer failed ([`use_end_first_paint`]: the message is the first paint); and at the latest
//! [`FIRST_PAINT_WAIT`] after the claim, so a slow answer does not keep the top bar away.

use std::time::Duration;

use leptos::prelude::*;

/// How long a claim may hold the top bar back.
pub const FIRST_PAINT_WAIT: Duration = Duration::from_millis(400);

#[derive(Clone, Copy)]
struct FirstPaint {
    claimed: StoredValue<bool>,
    reported: StoredValue<bool>,
    /// The page has painted (or nothing is waited for): the shell may build the rest.
    done: RwSignal<bool>,
}

impl FirstPaint {
    fn finish(self) {
        // The shell (and these values) may be gone by the time a timer fires.
        if self.done.try_get_untracked() == Some(false) {
            self.done.try_set(true);
        }
    }
}

/// In the shell, before the routes: whether the shell may build what comes after the page's first paint.
pub fn provide_first_paint() -> Signal<bool> {
    let fp = FirstPaint { claimed: StoredValue::new(false), reported: StoredValue::new(false), done: RwSignal::new(false) };
    provide_context(fp);
    // The routed page is built before the first frame; if it claimed nothing by then, go on.
    request_animation_frame(move || {
        if fp.claimed.try_get_value() == Some(false) {
            fp.finish();
        }
    });
    fp.done.into()
}

/// Whether the page's first paint is done (always, outside the shell): for parts of a page that can be
/// built after it, like the shell's top bar.
pub fn use_first_paint_done() -> Signal<bool> {
    use_context::<FirstPaint>().map_or_else(|| Signal::stored(true), |fp| fp.done.into())
}

/// Claims the first paint if the app is still starting, and gives back what to call after the first draw
/// that shows the page's data (later calls do nothing). Outside the shell (tests) it does nothing.
pub fn use_first_paint() -> FirstPaintReport {
    let fp = use_context::<FirstPaint>().filter(|fp| !fp.done.get_untracked() && !fp.claimed.get_value());
    if let Some(fp) = fp {
        fp.claimed.set_value(true);
        set_timeout(move || fp.finish(), FIRST_PAINT_WAIT);
    }
    FirstPaintReport(fp)
}

/// For the page that claimed the first paint, when what it shows first is not a draw (its request failed, and
/// the message is what the user sees): a function that ends the wait at once, so the top bar and the side
/// panels (with their own messages) come without [`FIRST_PAINT_WAIT`]. Does nothing outside the shell.
pub fn use_end_first_paint() -> impl Fn() + Copy {
    let fp = use_context::<FirstPaint>();
    move || {
        if let Some(fp) = fp {
            fp.finish();
        }
    }
}

/// Returned by [`use_first_paint`]; `Copy`.
#[derive(Clone, Copy)]
pub struct FirstPaintReport(Option<FirstPaint>);

impl FirstPaintReport {
    /// The data was just drawn: the shell goes on once that frame is on screen (a timer after the next
    /// animation frame), so building it does not hold back the frame that shows the data.
    pub fn painted(self) {
        if let Some(fp) = self.0.filter(|fp| fp.reported.try_get_value() == Some(false)) {
            fp.reported.set_value(true);
            request_animation_frame(move || set_timeout(move || fp.finish(), Duration::ZERO));
        }
    }
}
