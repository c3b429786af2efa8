//! The database page: monitored PostgreSQL instances at a glance, and for the chosen one (`?instance=`)
//! its metric graphs over the last 15 minutes, the sessions of the moment clicked on a graph (`?at=`, live
//! without it) or of a window dragged on any graph (`?sel=from-to`, Esc clears), the lock tree with a
//! replay slider over stored samples, and the top statements.
//!
//! Everything polls every 2 s; the chosen instance, moment and window live in the URL so a link reproduces
//! the view.

use leptos::ev;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_use::{use_event_listener, use_interval_fn};
use sightline_model::{DbInstance, DbInstanceList, DbLockNode, DbMetricPoint, DbSession, DbStatus, DbWindowSession};
use wasm_bindgen::JsCast;

use crate::api;
use crate::components::error_view::ErrorList;
use crate::format::{clock, duration};
use crate::hooks::{now_ms, use_set_query};

/// The window the graphs show.
const WINDOW_MS: i64 = 15 * 60_000;
/// Sessions running longer than this are highlighted.
const LONG_RUNNING_MS: f64 = 5_000.0;
/// Query text shown before a row is expanded.
const SHORT_QUERY: usize = 140;
const REFRESH_MS: u64 = 2_000;

#[component]
pub fn DbPage() -> impl IntoView {
    let query = use_query_map();
    let tick = RwSignal::new(0u32);
    use_interval_fn(move || tick.update(|t| *t += 1), REFRESH_MS);
    let fetched = LocalResource::new(move || {
        tick.track();
        api::db_instances()
    });
    // Kept between polls so the page does not flicker or lose its state on every refresh.
    let list = RwSignal::new(None::<DbInstanceList>);
    Effect::new(move |_| {
        if let Some(Ok(l)) = fetched.get() {
            list.set(Some(l));
        }
    });
    // `/db/{instance}` links straight to an instance; a card click (`?instance=`) switches within the page.
    let params = use_params_map();
    let chosen = Memo::new(move |_| {
        query
            .with(|q| q.get("instance"))
            .or_else(|| params.with(|p| p.get("instance")))
            .or_else(|| list.with(|l| l.as_ref().and_then(|l| l.instances.first().map(|i| i.id.clone()))))
    });
    let at = Memo::new(move |_| query.with(|q| q.get_str("at").and_then(|v| v.parse::<i64>().ok())));
    let sel = Memo::new(move |_| query.with(|q| q.get_str("sel").and_then(parse_sel)));

    view! {
        <section class="db-page" data-testid="page-db">
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                <Transition fallback=|| ()>
                    // An element around the Suspend gives the boundary something to replace.
                    <div>{move || Suspend::new(async move { fetched.await.map(|_| ()) })}</div>
                </Transition>
            </ErrorBoundary>
            {move || list.with(|l| match l {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(l) if l.instances.is_empty() => view! { <HowToAdd /> }.into_any(),
                Some(l) => view! { <InstanceCards instances=l.instances.clone() chosen=chosen /> }.into_any(),
            })}
            {move || chosen.get().map(|id| view! { <InstanceView id=id at=at sel=sel /> })}
        </section>
    }
}

/// Shown when no instance is configured: how to add one.
#[component]
fn HowToAdd() -> impl IntoView {
    view! {
        <div class="empty-state" data-testid="db-empty">
            <h1>"Database"</h1>
            <p>"No PostgreSQL instance is monitored. Start Sightline with one (or several):"</p>
            <pre class="mono">"sightline serve --postgres postgres://monitor:PASSWORD@db-host:5432/postgres"</pre>
            <p class="muted">"or SIGHTLINE_POSTGRES=url1,url2. A role with only pg_monitor is enough: "
                <code>"CREATE ROLE monitor LOGIN PASSWORD '…' IN ROLE pg_monitor;"</code></p>
            <p class="muted">"To try it: "<code>"sightline serve --demo"</code>" starts a demo PostgreSQL with some load when PostgreSQL's server binaries are installed ("
                <code>"apt-get install postgresql"</code>")."</p>
        </div>
    }
}

fn status_label(s: DbStatus) -> &'static str {
    match s {
        DbStatus::Up => "up",
        DbStatus::Down => "down",
        DbStatus::Connecting => "connecting",
    }
}

/// Health at a glance; clicking a card opens that instance.
#[component]
fn InstanceCards(instances: Vec<DbInstance>, chosen: Memo<Option<String>>) -> impl IntoView {
    let set_query = use_set_query();
    view! {
        <div class="db-instances" data-testid="db-instances">
            {instances.into_iter().map(|i| {
                let set_query = set_query.clone();
                let id = i.id.clone();
                let is_chosen = { let id = i.id.clone(); move || chosen.get().as_deref() == Some(id.as_str()) };
                let conn = match (i.connections, i.max_connections) {
                    (Some(c), Some(m)) => format!("{c} / {m} connections"),
                    _ => String::new(),
                };
                view! {
                    <button class="panel db-card" class:selected=is_chosen data-testid="db-instance" data-id=i.id.clone()
                        data-status=status_label(i.status)
                        on:click=move |_| set_query(vec![("instance", Some(id.clone())), ("at", None), ("sel", None)])>
                        <div class="db-card-head">
                            <span class=format!("db-status db-{}", status_label(i.status))>{status_label(i.status)}</span>
                            <strong class="mono">{i.name.clone()}</strong>
                        </div>
                        <div class="muted small">"since " {clock(i.since)} " · " {i.version.clone().unwrap_or_default()} " · " {conn}</div>
                        {i.last_error.clone().filter(|_| i.status == DbStatus::Down).map(|e| view! {
                            <div class="db-error small" data-testid="db-instance-error">{e}</div>
                        })}
                    </button>
                }
            }).collect_view()}
        </div>
    }
}

/// `?sel=from-to` (epoch ms) of a dragged window.
fn parse_sel(v: &str) -> Option<(i64, i64)> {
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a < b).then_some((a, b))
}

/// One instance: graphs, sessions of the chosen moment or window, lock tree with replay, top statements.
#[component]
fn InstanceView(id: String, at: Memo<Option<i64>>, sel: Memo<Option<(i64, i64)>>) -> impl IntoView {
    let set_query = use_set_query();
    let tick = RwSignal::new(0u32);
    use_interval_fn(move || tick.update(|t| *t += 1), REFRESH_MS);
    let metrics = {
        let id = id.clone();
        LocalResource::new(move || {
            tick.track();
            let now = now_ms();
            api::db_metrics(id.clone(), now - WINDOW_MS, now + 1)
        })
    };
    let points = RwSignal::new(Vec::<DbMetricPoint>::new());
    let window = RwSignal::new((now_ms() - WINDOW_MS, now_ms()));
    Effect::new(move |_| {
        if let Some(Ok(m)) = metrics.get() {
            // A young history fills the width instead of being a sliver at the right edge.
            let first = m.points.first().map_or(m.from, |p| p.t);
            window.set((m.from.max(first - 1_000), m.to));
            points.set(m.points);
        }
    });
    let pick = {
        let set_query = set_query.clone();
        Callback::new(move |t: i64| set_query(vec![("at", Some(t.to_string())), ("sel", None)]))
    };
    let select = {
        let set_query = set_query.clone();
        Callback::new(move |(a, b): (i64, i64)| set_query(vec![("sel", Some(format!("{a}-{b}"))), ("at", None)]))
    };
    let brush = Brush { window, anchor: RwSignal::new(None), drag: RwSignal::new(None), sel, on_select: select };
    // A new selection in the URL replaces the drag that made it.
    Effect::new(move |_| {
        sel.track();
        brush.drag.set(None);
    });
    {
        let set_query = set_query.clone();
        let _ = use_event_listener(leptos::prelude::window(), ev::keydown, move |e: web_sys::KeyboardEvent| {
            if e.key() == "Escape" {
                brush.cancel();
                if sel.get_untracked().is_some() {
                    set_query(vec![("sel", None)]);
                }
            }
        });
    }
    let series = |f: fn(&DbMetricPoint) -> Option<f64>| Signal::derive(move || points.with(|p| p.iter().filter_map(|m| f(m).map(|v| (m.t, v))).collect::<Vec<_>>()));
    let live = { let set_query = set_query.clone(); move |_| set_query(vec![("at", None)]) };

    view! {
        <div class="db-detail">
            <div class="db-graphs">
                <div class="panel">
                    <div class="panel-head">
                        <h2>"Total runtime"</h2>
                        <span class="muted">"summed elapsed time of active sessions · click a moment or drag a window to see its sessions"</span>
                    </div>
                    <LineChart testid="chart-total-runtime" series=series(|m| Some(m.total_runtime_ms)) brush=brush at=at on_pick=pick unit="ms" />
                </div>
                <div class="panel">
                    <div class="panel-head"><h2>"Active sessions by wait class"</h2></div>
                    <StackedChart points=points brush=brush at=at on_pick=pick />
                </div>
                <div class="db-small-charts">
                    <div class="panel"><div class="panel-head"><h3>"Transactions / s"</h3></div>
                        <LineChart testid="chart-tps" series=series(|m| m.tps) brush=brush at=at on_pick=pick unit="" /></div>
                    <div class="panel"><div class="panel-head"><h3>"Buffer hit ratio"</h3></div>
                        <LineChart testid="chart-hit" series=series(|m| m.buffer_hit_ratio) brush=brush at=at on_pick=pick unit="" /></div>
                    <div class="panel"><div class="panel-head"><h3>"Connections"</h3></div>
                        <LineChart testid="chart-connections" series=series(|m| Some(m.connections as f64)) brush=brush at=at on_pick=pick unit="" /></div>
                    <div class="panel"><div class="panel-head"><h3>"Lock waits"</h3></div>
                        <LineChart testid="chart-lock-waits" series=series(|m| Some(m.lock_waits as f64)) brush=brush at=at on_pick=pick unit="" /></div>
                </div>
            </div>
            <aside class="db-side">
                {
                    let id = id.clone();
                    move || match sel.get() {
                        Some((from, to)) => view! { <WindowSessions id=id.clone() from=from to=to /> }.into_any(),
                        None => {
                            let live = live.clone();
                            view! {
                                <div class="panel" data-testid="db-sessions">
                                    <div class="panel-head">
                                        <h2>{move || match at.get() { Some(t) => format!("Sessions at {}", clock(t)), None => "Live sessions".to_string() }}</h2>
                                        <span class="spacer"></span>
                                        {move || at.get().is_some().then(|| view! { <button data-testid="db-live" on:click=live.clone()>"Back to live"</button> })}
                                    </div>
                                    <SessionsTable id=id.clone() at=at tick=tick />
                                </div>
                            }.into_any()
                        }
                    }
                }
            </aside>
            <div class="panel db-locks" data-testid="db-locks">
                <div class="panel-head"><h2>"Lock tree"</h2><span class="muted">"blockers first · slide to replay stored samples"</span></div>
                <LockReplay id=id.clone() at=at tick=tick />
            </div>
            <div class="panel db-statements" data-testid="db-statements">
                <div class="panel-head"><h2>"Top statements"</h2><span class="muted">"by total time, last 15 minutes (pg_stat_statements)"</span></div>
                <StatementsTable id=id tick=tick />
            </div>
        </div>
    }
}

/// X position (0..=1) of the click inside the clicked element.
fn click_fraction(e: &ev::MouseEvent) -> Option<f64> {
    let el = e.current_target()?.dyn_into::<web_sys::Element>().ok()?;
    let r = el.get_bounding_client_rect();
    (r.width() > 0.0).then(|| ((e.client_x() as f64 - r.left()) / r.width()).clamp(0.0, 1.0))
}

/// Pointer travel below which a press is a click (pick a moment), not a drag (select a window).
const DRAG_MIN_PX: i32 = 4;

/// The time window dragged on a graph. One value shared by every graph, so each highlights what is being
/// dragged or was selected; pointer events (with capture) so touch and pen drag the same way.
#[derive(Clone, Copy)]
struct Brush {
    /// The graphs' time axis.
    window: RwSignal<(i64, i64)>,
    /// Where the button went down: (time, client x), while it is held.
    anchor: RwSignal<Option<(i64, i32)>>,
    /// The window being dragged, before it is committed to the URL.
    drag: RwSignal<Option<(i64, i64)>>,
    /// The committed selection (`?sel=`).
    sel: Memo<Option<(i64, i64)>>,
    on_select: Callback<(i64, i64)>,
}

impl Brush {
    /// What the graphs highlight.
    fn shown(self) -> Option<(i64, i64)> {
        self.drag.get().or_else(|| self.sel.get())
    }

    fn time_at(self, e: &ev::PointerEvent) -> Option<i64> {
        let f = click_fraction(e)?;
        let (from, to) = self.window.get_untracked();
        Some(from + ((to - from) as f64 * f) as i64)
    }

    fn down(self, e: ev::PointerEvent) {
        if e.button() != 0 {
            return;
        }
        let Some(t) = self.time_at(&e) else { return };
        if let Some(el) = e.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
            let _ = el.set_pointer_capture(e.pointer_id());
        }
        e.prevent_default();
        self.anchor.set(Some((t, e.client_x())));
        self.drag.set(None);
    }

    fn moved(self, e: ev::PointerEvent) {
        let Some((t0, x0)) = self.anchor.get_untracked() else { return };
        if (e.client_x() - x0).abs() < DRAG_MIN_PX {
            return;
        }
        if let Some(t) = self.time_at(&e) {
            self.drag.set(Some((t0.min(t), t0.max(t))));
        }
    }

    /// A press that barely moved picks the moment (`pick` gets the raw time); a drag selects the window.
    fn up(self, e: ev::PointerEvent, pick: impl Fn(i64)) {
        let Some((t0, x0)) = self.anchor.get_untracked() else { return };
        self.anchor.set(None);
        let t = self.time_at(&e).unwrap_or(t0);
        if (e.client_x() - x0).abs() < DRAG_MIN_PX || t == t0 {
            self.drag.set(None);
            pick(t0);
        } else {
            // The drag stays drawn until the URL carries the selection (see `InstanceView`), so the
            // highlight does not blink.
            self.drag.set(Some((t0.min(t), t0.max(t))));
            self.on_select.run((t0.min(t), t0.max(t)));
        }
    }

    fn cancel(self) {
        self.anchor.set(None);
        self.drag.set(None);
    }

    /// The highlighted window as an SVG rect.
    fn view(self) -> impl IntoView {
        move || {
            self.shown().map(|(a, b)| {
                let w = self.window.get();
                let (x1, x2) = (x_of(a, w).clamp(0.0, W), x_of(b, w).clamp(0.0, W));
                view! { <rect class="db-sel" data-testid="db-sel" x=x1 y="0" width=(x2 - x1).max(1.0) height=H /> }
            })
        }
    }
}

const W: f64 = 600.0;
const H: f64 = 110.0;

fn x_of(t: i64, (from, to): (i64, i64)) -> f64 {
    (t - from) as f64 / (to - from).max(1) as f64 * W
}

/// One series as a single SVG path (one node however many points); click picks the nearest moment.
#[component]
fn LineChart(
    testid: &'static str,
    series: Signal<Vec<(i64, f64)>>,
    brush: Brush,
    at: Memo<Option<i64>>,
    on_pick: Callback<i64>,
    unit: &'static str,
) -> impl IntoView {
    let window = brush.window;
    let max = Memo::new(move |_| series.with(|s| s.iter().map(|p| p.1).fold(0.0, f64::max)));
    let path = move || {
        let w = window.get();
        let m = max.get().max(f64::EPSILON);
        series.with(|s| {
            let mut d = String::new();
            for (i, (t, v)) in s.iter().enumerate() {
                let y = H - v / m * (H - 4.0);
                d.push_str(&format!("{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, x_of(*t, w), y));
            }
            d
        })
    };
    let up = move |e: ev::PointerEvent| {
        brush.up(e, |t| {
            // Snap to the nearest sample so the sessions shown are the ones of that moment.
            let nearest = series.with_untracked(|s| s.iter().min_by_key(|p| (p.0 - t).abs()).map(|p| p.0));
            if let Some(n) = nearest {
                on_pick.run(n);
            }
        })
    };
    view! {
        <div class="db-chart" data-testid=testid>
            <span class="db-chart-max muted small">{move || format!("max {}", if unit == "ms" { duration(max.get()) } else { format!("{:.2}", max.get()) })}</span>
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none"
                on:pointerdown=move |e| brush.down(e) on:pointermove=move |e| brush.moved(e) on:pointerup=up
                on:pointercancel=move |_| brush.cancel()>
                <rect class="db-chart-bg" x="0" y="0" width=W height=H />
                {brush.view()}
                <path class="db-line" d=path />
                {move || at.get().map(|t| view! { <line class="db-at" x1=x_of(t, window.get()) x2=x_of(t, window.get()) y1="0" y2=H /> })}
            </svg>
        </div>
    }
}

/// A fixed colour per wait class, so a class keeps its colour as others come and go.
fn class_color(class: &str) -> &'static str {
    match class {
        sightline_model::CPU_CLASS => "#3fb950",
        "Lock" => "#f85149",
        "IO" => "#58a6ff",
        "LWLock" => "#d29922",
        "Client" => "#a371f7",
        "IPC" => "#db61a2",
        _ => "#8b949e",
    }
}

/// Active sessions per wait class, stacked: one area path per class.
#[component]
fn StackedChart(points: RwSignal<Vec<DbMetricPoint>>, brush: Brush, at: Memo<Option<i64>>, on_pick: Callback<i64>) -> impl IntoView {
    let window = brush.window;
    let layers = Memo::new(move |_| {
        points.with(|pts| {
            let mut classes: Vec<String> = pts.iter().flat_map(|p| p.active_by_class.keys().cloned()).collect();
            classes.sort();
            classes.dedup();
            let max = pts.iter().map(|p| p.active_by_class.values().sum::<u32>()).max().unwrap_or(0).max(1) as f64;
            let w = window.get();
            let mut base: Vec<f64> = vec![0.0; pts.len()];
            let mut out = Vec::new();
            for c in classes {
                let top: Vec<f64> = pts.iter().zip(&base).map(|(p, b)| b + *p.active_by_class.get(&c).unwrap_or(&0) as f64).collect();
                let y = |v: f64| H - v / max * (H - 4.0);
                let mut d = String::new();
                for (i, p) in pts.iter().enumerate() {
                    d.push_str(&format!("{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, x_of(p.t, w), y(top[i])));
                }
                for (i, p) in pts.iter().enumerate().rev() {
                    d.push_str(&format!("L{:.1},{:.1} ", x_of(p.t, w), y(base[i])));
                }
                d.push('Z');
                base = top;
                out.push((c, d));
            }
            (out, max)
        })
    });
    let up = move |e: ev::PointerEvent| {
        brush.up(e, |t| {
            if let Some(n) = points.with_untracked(|p| p.iter().min_by_key(|p| (p.t - t).abs()).map(|p| p.t)) {
                on_pick.run(n);
            }
        })
    };
    view! {
        <div class="db-chart" data-testid="chart-wait-classes">
            <span class="db-chart-max muted small">{move || format!("max {}", layers.with(|l| l.1))}</span>
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none"
                on:pointerdown=move |e| brush.down(e) on:pointermove=move |e| brush.moved(e) on:pointerup=up
                on:pointercancel=move |_| brush.cancel()>
                <rect class="db-chart-bg" x="0" y="0" width=W height=H />
                {move || layers.with(|l| l.0.iter().map(|(c, d)| {
                    let fill = class_color(c);
                    view! { <path d=d.clone() fill=fill opacity="0.8"><title>{c.clone()}</title></path> }
                }).collect_view())}
                {move || at.get().map(|t| view! { <line class="db-at" x1=x_of(t, window.get()) x2=x_of(t, window.get()) y1="0" y2=H /> })}
                {brush.view()}
            </svg>
            <div class="db-legend small">
                {move || layers.with(|l| l.0.iter().map(|(c, _)| {
                    let fill = class_color(c);
                    view! { <span><i style=format!("background:{fill}")></i>{c.clone()}</span> }
                }).collect_view())}
            </div>
        </div>
    }
}

fn short(q: &str) -> String {
    match q.char_indices().nth(SHORT_QUERY) {
        Some((i, _)) => format!("{}…", &q[..i]),
        None => q.to_string(),
    }
}

/// Sessions of the chosen moment (or live), sortable by elapsed time; a click shows the full text.
#[component]
fn SessionsTable(id: String, at: Memo<Option<i64>>, tick: RwSignal<u32>) -> impl IntoView {
    let fetched = LocalResource::new(move || {
        tick.track();
        api::db_sessions(id.clone(), at.get())
    });
    let longest_first = RwSignal::new(true);
    let expanded = RwSignal::new(None::<(i32, Option<i64>)>);
    let rows = RwSignal::new(None::<Vec<DbSession>>);
    Effect::new(move |_| {
        if let Some(Ok(s)) = fetched.get() {
            rows.set(Some(s.sessions));
        }
    });
    view! {
        <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
            <Transition fallback=|| ()>{move || Suspend::new(async move { fetched.await.map(|_| ()) })}</Transition>
        </ErrorBoundary>
        {move || {
            let Some(mut sessions) = rows.get() else { return view! { <p class="muted">"Loading…"</p> }.into_any() };
            if sessions.is_empty() {
                return view! { <p class="muted" data-testid="db-sessions-empty">"No active sessions."</p> }.into_any();
            }
            if !longest_first.get() {
                sessions.reverse();
            }
            view! {
                <table class="grid-table db-table">
                    <thead><tr>
                        <th>"Session"</th><th>"State / wait"</th>
                        <th class="num clickable" data-testid="sort-elapsed" on:click=move |_| longest_first.update(|v| *v = !*v)>
                            {move || if longest_first.get() { "Elapsed ▼" } else { "Elapsed ▲" }}
                        </th>
                    </tr></thead>
                    <tbody>
                        {sessions.into_iter().map(|s| {
                            let key = (s.pid, s.backend_start);
                            let full = s.query.clone().unwrap_or_default();
                            let open = move || expanded.get() == Some(key);
                            let wait = match (&s.wait_event_type, &s.wait_event) {
                                (Some(t), Some(e)) => format!("{t}: {e}"),
                                _ => s.wait_class.clone(),
                            };
                            let blocked = (!s.blocked_by.is_empty()).then(|| format!(" · blocked by {}", s.blocked_by.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")));
                            view! {
                                <tr class="clickable" class:long={s.elapsed_ms >= LONG_RUNNING_MS} data-testid="session-row" data-pid=s.pid.to_string()
                                    on:click=move |_| expanded.update(|e| *e = if *e == Some(key) { None } else { Some(key) })>
                                    <td>
                                        <div class="mono">{s.pid} " " {s.user.clone().unwrap_or_default()} "@" {s.database.clone().unwrap_or_default()}</div>
                                        <div class="muted small">{s.application_name.clone().unwrap_or_default()} " " {s.client_addr.clone().unwrap_or_default()} " " {s.backend_type.clone().unwrap_or_default()}</div>
                                        <div class="mono small db-query" data-testid="session-query">{
                                            let full = full.clone();
                                            move || if open() { full.clone() } else { short(&full) }
                                        }</div>
                                    </td>
                                    <td class="small">{s.state.clone().unwrap_or_default()}<div class="muted">{wait}{blocked}</div>
                                        {s.host_rss_bytes.map(|rss| view! {
                                            <div class="muted" data-testid="session-host" title="the backend process on this machine">
                                                {s.host_cpu_percent.map(|c| format!("CPU {c:.0} % · ")).unwrap_or_default()}
                                                {format!("RSS {:.0} MB", rss as f64 / 1048576.0)}
                                            </div>
                                        })}
                                        {s.trace_id.clone().map(|t| view! {
                                            // The APM page opens a trace from `?trace=`: the session's statement came from it.
                                            <a data-testid="session-trace" href=format!("/apm?trace={t}") on:click=|e| e.stop_propagation()>"trace"</a>
                                        })}
                                    </td>
                                    <td class="num">{duration(s.elapsed_ms)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// The sessions and statements a dragged window saw, merged over its samples; sortable by elapsed time, a
/// click shows the full statement.
#[component]
fn WindowSessions(id: String, from: i64, to: i64) -> impl IntoView {
    let set_query = use_set_query();
    let fetched = LocalResource::new(move || api::db_window_sessions(id.clone(), from, to));
    let longest_first = RwSignal::new(true);
    let expanded = RwSignal::new(None::<usize>);
    let clear = move |_| set_query(vec![("sel", None)]);
    view! {
        <div class="panel" data-testid="db-window-sessions">
            <div class="panel-head">
                <h2>{format!("Sessions {} – {}", clock(from), clock(to))}</h2>
                <span class="spacer"></span>
                <button data-testid="db-window-clear" title="Esc" on:click=clear>"Clear"</button>
            </div>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        fetched.await.map(|w| {
                            let summary = format!("{} samples · {} sessions and statements{}", w.samples, w.sessions.len() + w.truncated,
                                if w.truncated > 0 { format!(" (longest {} shown)", w.sessions.len()) } else { String::new() });
                            view! {
                                <p class="muted small" data-testid="db-window-summary">{summary}</p>
                                {window_table(w.sessions, longest_first, expanded)}
                            }
                        })
                    })}
                </Transition>
            </ErrorBoundary>
        </div>
    }
}

fn window_table(rows: Vec<DbWindowSession>, longest_first: RwSignal<bool>, expanded: RwSignal<Option<usize>>) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="muted" data-testid="db-window-empty">"No session was seen in this window."</p> }.into_any();
    }
    view! {
        <table class="grid-table db-table db-window-table">
            <thead><tr>
                <th>"Session / statement"</th><th>"Waits"</th><th class="num">"Samples"</th>
                <th class="num clickable" data-testid="sort-window-elapsed" on:click=move |_| longest_first.update(|v| *v = !*v)>
                    {move || if longest_first.get() { "Elapsed ▼" } else { "Elapsed ▲" }}
                </th>
            </tr></thead>
            <tbody>
                {move || {
                    let mut order: Vec<usize> = (0..rows.len()).collect();
                    if !longest_first.get() {
                        order.reverse();
                    }
                    order.into_iter().map(|i| {
                        let s = &rows[i];
                        let full = s.query.clone().unwrap_or_default();
                        let waits = s.waits.iter().map(|(w, n)| format!("{w} ×{n}")).collect::<Vec<_>>().join(", ");
                        let blocked = (!s.blocked_by.is_empty()).then(|| format!("blocked by {}", s.blocked_by.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")));
                        view! {
                            <tr class="clickable" class:long={s.max_elapsed_ms >= LONG_RUNNING_MS} data-testid="window-row" data-pid=s.pid.to_string()
                                on:click=move |_| expanded.update(|e| *e = if *e == Some(i) { None } else { Some(i) })>
                                <td>
                                    <div class="mono">{s.pid} " " {s.user.clone().unwrap_or_default()} "@" {s.database.clone().unwrap_or_default()}</div>
                                    <div class="muted small">{s.application_name.clone().unwrap_or_default()} " " {s.client_addr.clone().unwrap_or_default()} " " {s.state.clone().unwrap_or_default()}</div>
                                    <div class="mono small db-query" data-testid="window-query">{move || if expanded.get() == Some(i) { full.clone() } else { short(&full) }}</div>
                                </td>
                                <td class="small">{waits}{blocked.map(|b| view! { <div class="muted">{b}</div> })}</td>
                                <td class="num">{s.samples}</td>
                                <td class="num">{duration(s.max_elapsed_ms)}</td>
                            </tr>
                        }
                    }).collect_view()
                }}
            </tbody>
        </table>
    }
    .into_any()
}

/// A slider over the stored samples (jumping to those with lock waits is the point) and the tree of the
/// chosen sample.
#[component]
fn LockReplay(id: String, at: Memo<Option<i64>>, tick: RwSignal<u32>) -> impl IntoView {
    let set_query = use_set_query();
    let samples = {
        let id = id.clone();
        LocalResource::new(move || {
            tick.track();
            let now = now_ms();
            api::db_samples(id.clone(), now - WINDOW_MS, now + 1)
        })
    };
    let times = RwSignal::new(Vec::<i64>::new());
    let lock_times = RwSignal::new(Vec::<i64>::new());
    Effect::new(move |_| {
        if let Some(Ok(s)) = samples.get() {
            times.set(s.times);
            lock_times.set(s.lock_times);
        }
    });
    let fetched = LocalResource::new(move || {
        tick.track();
        api::db_locks(id.clone(), at.get())
    });
    let tree = RwSignal::new(None::<sightline_model::DbLocks>);
    Effect::new(move |_| {
        if let Some(Ok(l)) = fetched.get() {
            tree.set(Some(l));
        }
    });
    let index = move || {
        times.with(|t| match at.get() {
            Some(a) => t.partition_point(|x| *x < a).min(t.len().saturating_sub(1)),
            None => t.len().saturating_sub(1),
        })
    };
    let on_slide = move |e: ev::Event| {
        let i: usize = event_target_value(&e).parse().unwrap_or(0);
        if let Some(t) = times.with_untracked(|t| t.get(i).copied()) {
            set_query(vec![("at", Some(t.to_string())), ("sel", None)]);
        }
    };
    view! {
        <div class="db-replay">
            <input type="range" data-testid="lock-slider" min="0" prop:max=move || times.with(|t| t.len().saturating_sub(1)).to_string()
                prop:value=move || index().to_string() on:input=on_slide />
            <span class="muted small">{move || format!("{} samples, {} with lock waits", times.with(Vec::len), lock_times.with(Vec::len))}</span>
        </div>
        <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
            <Transition fallback=|| ()>{move || Suspend::new(async move { fetched.await.map(|_| ()) })}</Transition>
        </ErrorBoundary>
        {move || tree.with(|t| match t {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(t) if t.roots.is_empty() => view! {
                <p class="muted" data-testid="locks-empty">{format!("No lock waits{}.", t.at.map(|a| format!(" at {}", clock(a))).unwrap_or_default())}</p>
            }.into_any(),
            Some(t) => {
                let at = t.at.unwrap_or_else(now_ms);
                view! { <ul class="db-lock-tree">{t.roots.iter().map(|r| lock_node(r, at)).collect_view()}</ul> }.into_any()
            }
        })}
    }
}

fn lock_node(n: &DbLockNode, at: i64) -> AnyView {
    let xact = n.xact_start.map(|x| format!("transaction {}", duration((at - x).max(0) as f64))).unwrap_or_default();
    let waiting = n.waiting.as_ref().map(|w| {
        format!("waits {} for {} on {}", duration(w.waiting_ms), w.mode, w.relation.clone().unwrap_or_else(|| w.locktype.clone()))
    });
    let role = if n.waiting.is_none() { "head blocker" } else { "waiter" };
    view! {
        <li data-testid="lock-node" data-pid=n.pid.to_string() data-role=role>
            <div class="db-lock-line">
                <strong class="mono">{n.pid}</strong> " " {n.user.clone().unwrap_or_default()} " "
                <span class="muted">{n.application_name.clone().unwrap_or_default()} " · " {n.state.clone().unwrap_or_default()} " · " {xact}</span>
                {waiting.map(|w| view! { <div class="db-wait small" data-testid="lock-wait">{w}</div> })}
                <div class="mono small db-query">{n.query.clone().map(|q| short(&q)).unwrap_or_default()}</div>
            </div>
            {(!n.waiters.is_empty()).then(|| view! { <ul>{n.waiters.iter().map(|w| lock_node(w, at)).collect_view()}</ul> })}
        </li>
    }
    .into_any()
}

/// Top statements over the window (or the hint to enable pg_stat_statements).
#[component]
fn StatementsTable(id: String, tick: RwSignal<u32>) -> impl IntoView {
    let fetched = LocalResource::new(move || {
        tick.track();
        let now = now_ms();
        api::db_statements(id.clone(), now - WINDOW_MS, now + 1)
    });
    let data = RwSignal::new(None::<sightline_model::DbStatements>);
    Effect::new(move |_| {
        if let Some(Ok(s)) = fetched.get() {
            data.set(Some(s));
        }
    });
    view! {
        <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
            <Transition fallback=|| ()>{move || Suspend::new(async move { fetched.await.map(|_| ()) })}</Transition>
        </ErrorBoundary>
        {move || data.with(|d| match d {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(d) if !d.available => view! {
                <p class="muted" data-testid="statements-hint">{d.hint.clone().unwrap_or_default()}</p>
            }.into_any(),
            Some(d) if d.statements.is_empty() => view! { <p class="muted">"No statements ran in the window."</p> }.into_any(),
            Some(d) => view! {
                <table class="grid-table db-table">
                    <thead><tr><th>"Statement"</th><th class="num">"Calls"</th><th class="num">"Total"</th><th class="num">"Mean"</th><th class="num">"Rows"</th></tr></thead>
                    <tbody>
                        {d.statements.iter().take(25).map(|s| view! {
                            <tr data-testid="statement-row" title=s.query.clone()>
                                <td class="mono small db-query">{short(&s.query)}</td>
                                <td class="num">{s.calls}</td>
                                <td class="num">{duration(s.total_ms)}</td>
                                <td class="num">{duration(s.mean_ms)}</td>
                                <td class="num">{s.rows}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        })}
    }
}
