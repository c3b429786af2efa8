//! The waterfall of a trace: one row per visible step (only the rows in view are in the DOM, see
//! `use_virtual_list`), a time axis over the bars, and the keyboard (↑/↓ select, ←/→ collapse and expand).

use std::collections::HashSet;
use std::sync::Arc;

use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos_use::use_event_listener;

use super::prepared::Prepared;
use super::{kind_attr, kind_label, mark, pct, ROWS_MARK};
use crate::format::duration;
use crate::hooks::{use_virtual_list_with_options, when_laid_out, UseVirtualListOptions, UseVirtualListReturn};

/// Height of one waterfall row in px: must equal `.wf-row { height }` in style/trace.css.
const ROW_HEIGHT_PX: f64 = 26.0;
/// Indentation per nesting level, px.
const INDENT_PX: u32 = 14;

/// What the waterfall shares with the rest of the trace view: which steps are collapsed, which one is
/// selected (the detail shows it), and the scroller over the visible rows.
#[derive(Clone, Copy)]
pub(super) struct Tree {
    pub collapsed: RwSignal<HashSet<usize>>,
    /// Positions of the steps not hidden under a collapsed one.
    pub visible: Memo<Vec<usize>>,
    pub selected: RwSignal<Option<usize>>,
    pub list: UseVirtualListReturn,
    pub scroller: NodeRef<Div>,
    /// The step the view was opened at (the exception, from the errors page), marked in its row.
    pub focus: Option<usize>,
}

impl Tree {
    /// Row position of a step, if it is visible.
    fn position_of(self, step: usize) -> Option<usize> {
        self.visible.with_untracked(|v| v.binary_search(&step).ok())
    }

    /// Collapses or expands step `i`. Collapsing a step that hides the selection selects the step, so the
    /// keyboard keeps a place.
    pub fn toggle(self, data: &Prepared, i: usize) {
        let collapsing = self.collapsed.try_update(|c| !c.remove(&i) && c.insert(i)).unwrap_or(false);
        let hidden = self.selected.get_untracked().is_some_and(|s| s > i && s < data.subtree_end[i]);
        if collapsing && hidden {
            self.selected.set(Some(i));
        }
    }

    /// Expands whatever hides step `s`, selects it and brings it to the middle of the view.
    pub fn show(self, data: &Prepared, s: usize) {
        self.collapsed.update(|c| {
            let mut p = data.parent[s];
            while let Some(a) = p {
                c.remove(&a);
                p = data.parent[a];
            }
        });
        self.selected.set(Some(s));
        if let Some(pos) = self.position_of(s) {
            self.list.scroll_to.run(pos);
        }
    }

    /// One key of the keyboard: ↑/↓ move the selection over the visible rows, ← collapses (or goes to the
    /// parent), → expands.
    fn key(self, data: &Prepared, key: &str) {
        let Some(cur) = self.selected.get_untracked() else { return };
        let pos = self.position_of(cur);
        let next = match (key, pos) {
            ("ArrowDown", Some(p)) => self.visible.with_untracked(|v| v.get(p + 1).copied()).or(Some(cur)),
            ("ArrowUp", Some(p)) => self.visible.with_untracked(|v| v.get(p.saturating_sub(1)).copied()),
            ("ArrowLeft", _) => {
                if data.has_children(cur) && !self.collapsed.with_untracked(|c| c.contains(&cur)) {
                    self.toggle(data, cur);
                    Some(cur)
                } else {
                    data.parent[cur].or(Some(cur))
                }
            }
            ("ArrowRight", _) => {
                if self.collapsed.with_untracked(|c| c.contains(&cur)) {
                    self.toggle(data, cur);
                }
                Some(cur)
            }
            _ => None,
        };
        if let Some(next) = next {
            self.selected.set(Some(next));
            if let Some(p) = self.position_of(next) {
                self.list.reveal.run(p);
            }
        }
    }
}

/// The waterfall's state for `data`: nothing collapsed, `focus` (else the slowest step) selected and scrolled
/// into view once the rows are laid out, the keyboard listening on the window.
pub(super) fn use_waterfall(data: Arc<Prepared>, focus: Option<usize>) -> Tree {
    let n = data.trace.steps.len();
    let start = focus.or(data.slowest());
    let collapsed = RwSignal::new(HashSet::<usize>::new());
    let visible = {
        let data = data.clone();
        Memo::new(move |_| collapsed.with(|c| data.visible(c)))
    };
    let selected = RwSignal::new(start.or(if n > 0 { Some(0) } else { None }));
    let scroller = NodeRef::<Div>::new();
    let list = use_virtual_list_with_options(
        scroller,
        Signal::derive(move || visible.with(Vec::len)),
        UseVirtualListOptions::default().row_height(ROW_HEIGHT_PX).overscan(12).initial_index(start),
    );
    let tree = Tree { collapsed, visible, selected, list, scroller, focus };

    // Once the rows are in the document: bring the start step into view, mark the time for the benchmark.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let Some(el) = scroller.get() else { return false };
        if let Some(pos) = start.and_then(|s| tree.position_of(s)) {
            list.scroll_to.run(pos);
        }
        when_laid_out(el.into(), || mark(ROWS_MARK));
        true
    });

    let _ = use_event_listener(window(), ev::keydown, move |e: web_sys::KeyboardEvent| {
        if e.ctrl_key() || e.meta_key() || e.alt_key() {
            return;
        }
        let key = e.key();
        if !matches!(key.as_str(), "ArrowUp" | "ArrowDown" | "ArrowLeft" | "ArrowRight") || in_text_field(&e) {
            return;
        }
        e.prevent_default();
        tree.key(&data, &key);
    });
    tree
}

/// The time axis over the bars and the scrolling rows.
#[component]
pub(super) fn Waterfall(data: Arc<Prepared>, tree: Tree) -> impl IntoView {
    let total_ms = data.trace.duration_ms;
    let slowest = data.slowest();
    let UseVirtualListReturn { range, total_height, offset_top, .. } = tree.list;
    let rows = move || {
        let (a, b) = range.get();
        tree.visible.with(|v| v[a.min(v.len())..b.min(v.len())].to_vec())
    };
    let row = move |i: usize| waterfall_row(&data, tree, i, slowest == Some(i));
    view! {
        <div class="wf">
            <div class="wf-head">
                <span>"Step"</span>
                <div class="wf-axis">
                    {nice_ticks(total_ms).into_iter().map(|t| {
                        let at = pct(t, total_ms);
                        let (start, end) = (t == 0.0, at > 92.0);
                        view! {
                            <span class="wf-tick" class:start=start class:end=end style:left=format!("{at:.3}%")>
                                {if t == 0.0 { "0".to_string() } else { duration(t) }}
                            </span>
                        }
                    }).collect_view()}
                </div>
                <span class="num">"Duration"</span>
            </div>
            <div class="wf-scroll" node_ref=tree.scroller data-testid="trace-scroll" role="tree" aria-label="Steps of the trace">
                <div class="wf-spacer" style:height=move || format!("{}px", total_height.get())>
                    <div class="wf-window" style:transform=move || format!("translateY({}px)", offset_top.get())>
                        <For each=rows key=|i| *i children=row />
                    </div>
                </div>
            </div>
        </div>
    }
}

/// Whether a key event goes to something that edits text, where arrows move the caret.
fn in_text_field(e: &web_sys::KeyboardEvent) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT") || el.has_attribute("contenteditable"))
}

/// Round times (steps of 1, 2, 2.5 or 5 × 10ⁿ ms) for about four gridlines across `total_ms`.
fn nice_ticks(total_ms: f64) -> Vec<f64> {
    if !total_ms.is_finite() || total_ms <= 0.0 {
        return vec![0.0];
    }
    let raw = total_ms / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    (0..=8).map(|k| k as f64 * step).take_while(|t| *t <= total_ms * 1.000_1).collect()
}

/// One waterfall row. Built only while the row is in view.
fn waterfall_row(data: &Arc<Prepared>, tree: Tree, i: usize, is_slowest: bool) -> impl IntoView {
    let Tree { selected, collapsed, .. } = tree;
    let total_ms = data.trace.duration_ms;
    let s = data.step(i);
    let error = data.is_error(i);
    let left = pct(s.offset_ms, total_ms);
    let width = pct(s.duration_ms, total_ms).min(100.0 - left);
    let is_collapsed = move || collapsed.with(|c| c.contains(&i));
    let has_children = data.has_children(i);
    let caret = if has_children { caret(data.clone(), tree, i) } else { view! { <span class="wf-caret-space"></span> }.into_any() };
    // Past 30 levels the name would leave the column; the depth is in the tooltip.
    let indent = 4 + s.depth.min(30) * INDENT_PX;
    let slowest_label = is_slowest.then(|| slowest_flag(left + width));
    let title = format!(
        "{} · depth {} · starts +{} · {}",
        s.name,
        s.depth,
        duration(s.offset_ms),
        duration(s.duration_ms)
    );
    view! {
        <div
            class=format!("wf-row kind-{}", kind_attr(s.kind))
            class:selected=move || selected.get() == Some(i)
            class:error=error
            class:critical=s.critical
            class:slowest=is_slowest
            class:focus=tree.focus == Some(i)
            data-focus=(tree.focus == Some(i)).then_some("true")
            role="treeitem"
            attr:aria-level=s.depth + 1
            aria-expanded=has_children.then(move || (!is_collapsed()).to_string())
            aria-selected=move || (selected.get() == Some(i)).to_string()
            data-testid="trace-row"
            data-step-kind=kind_attr(s.kind)
            data-slowest=is_slowest.then_some("true")
            data-index=i
            title=title
            on:click=move |_| selected.set(Some(i))
        >
            <div class="wf-name" style:padding-left=format!("{indent}px")>
                {caret}
                <span class=format!("badge kind-{}", kind_attr(s.kind))>{kind_label(s.kind)}</span>
                {error.then(|| view! { <span class="badge badge-error">"error"</span> })}
                <span class="wf-label">{s.name.clone()}</span>
            </div>
            <div class="wf-track">
                <div class="wf-bar" style:left=format!("{left:.3}%") style:width=format!("{width:.3}%")></div>
                {slowest_label}
            </div>
            <div class="wf-dur num">{duration(s.duration_ms)}</div>
        </div>
    }
}

/// The button that collapses or expands step `i`.
fn caret(data: Arc<Prepared>, tree: Tree, i: usize) -> AnyView {
    let is_collapsed = move || tree.collapsed.with(|c| c.contains(&i));
    view! {
        <button
            class="wf-caret"
            data-testid="trace-caret"
            aria-label="Collapse or expand"
            tabindex="-1"
            on:click=move |e| {
                e.stop_propagation();
                tree.toggle(&data, i);
            }
        >
            {move || if is_collapsed() { "▸" } else { "▾" }}
        </button>
    }
    .into_any()
}

/// The "slowest step" flag of a bar ending at `end` % of the track: after the bar when there is room, else
/// inside its right end.
fn slowest_flag(end: f64) -> AnyView {
    if end < 70.0 {
        view! { <span class="wf-slowest-label" style:left=format!("calc({end:.3}% + 6px)")>"◆ slowest step"</span> }.into_any()
    } else {
        view! {
            <span class="wf-slowest-label" style:right=format!("calc({:.3}% + 4px)", 100.0 - end)>"◆ slowest step"</span>
        }
        .into_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_trace() {
        assert_eq!(nice_ticks(3720.0), vec![0.0, 1000.0, 2000.0, 3000.0]);
        assert_eq!(nice_ticks(1000.0), vec![0.0, 250.0, 500.0, 750.0, 1000.0]);
        assert_eq!(nice_ticks(0.0), vec![0.0]);
        assert!(nice_ticks(0.37).len() >= 3);
    }

    #[test]
    fn virtual_range_covers_the_viewport_plus_overscan() {
        use crate::hooks::visible_range;
        assert_eq!(visible_range(10_000, 0.0, 600.0, 26.0, 12), (0, 36));
        assert_eq!(visible_range(10_000, 26.0 * 5000.0, 600.0, 26.0, 12), (4988, 5036));
        assert_eq!(visible_range(10_000, 26.0 * 10_000.0, 600.0, 26.0, 12), (9988, 10_000));
        assert_eq!(visible_range(0, 0.0, 600.0, 26.0, 12), (0, 0));
    }
}
