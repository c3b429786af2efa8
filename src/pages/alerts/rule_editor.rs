//! Creating or editing a rule: what it watches (a metric of the catalogue with filter and grouping, a
//! blocking database session, a silent service), when it is bad, how loud, where it goes. Beside the form
//! a live preview asks the server how the rule would have behaved over the last six hours (once the user
//! pauses typing) and draws it with the board chart: the values per group, the threshold lines, and the
//! moments it would have fired shaded.
//!
//! Saving answers every problem the server found (400) next to the form, and says when someone else saved
//! the rule meanwhile (409) instead of overwriting their change.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::{
    AlertRule, Condition, MetricCatalog, MetricInfo, MetricQueryResult, PreviewAnswer, RuleSource, Severity,
    DEFAULT_EVAL_INTERVAL_S,
};

use super::{labels_text, parse_labels, Problems};
use crate::api::{self, ApiError};
use crate::components::error_view::FetchError;
use crate::components::metric_chart::{ChartStyle, SeriesChart};
use crate::format::clock;
use crate::hooks::{now_ms, use_debounced, use_polled_resource, use_session, use_set_query};

/// The preview covers this much of the recent past.
const PREVIEW_MS: i64 = 6 * 3_600_000;
/// The preview asks once the form has not changed for this long.
const PREVIEW_DEBOUNCE_MS: u64 = 600;

/// What a rule watches, as the form's first choice.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Kind {
    #[default]
    Metric,
    BlockingSession,
    ServiceSilent,
}

const KINDS: [(Kind, &str, &str); 3] = [
    (Kind::Metric, "metric", "A metric"),
    (Kind::BlockingSession, "blocking_session", "A blocking database session"),
    (Kind::ServiceSilent, "service_silent", "A service stopped sending"),
];

/// The condition's operator.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Op {
    #[default]
    Above,
    Below,
    Outside,
    NoData,
}

const OPS: [(Op, &str, &str); 4] =
    [(Op::Above, "above", "above"), (Op::Below, "below", "below"), (Op::Outside, "outside", "outside the range"), (Op::NoData, "no_data", "has no data")];

/// The form as typed: numbers stay text until the rule is built, so a half-typed value is not lost.
#[derive(Clone, PartialEq, Debug)]
struct Draft {
    id: String,
    version: u64,
    name: String,
    kind: Kind,
    metric: String,
    /// Dimension → value; an empty value is no filter.
    filter: BTreeMap<String, String>,
    group_by: Vec<String>,
    window_s: String,
    instance: String,
    min_blocked: String,
    service: String,
    op: Op,
    threshold: String,
    low: String,
    high: String,
    for_s: String,
    interval_s: String,
    severity: Severity,
    labels: String,
    runbook: String,
    channels: Vec<String>,
    enabled: bool,
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            id: String::new(),
            version: 0,
            name: String::new(),
            kind: Kind::Metric,
            metric: "transactions.response_time.p95".into(),
            filter: BTreeMap::new(),
            group_by: Vec::new(),
            window_s: "60".into(),
            instance: String::new(),
            min_blocked: "3".into(),
            service: String::new(),
            op: Op::Above,
            threshold: "800".into(),
            low: String::new(),
            high: String::new(),
            for_s: "60".into(),
            interval_s: DEFAULT_EVAL_INTERVAL_S.to_string(),
            severity: Severity::Warning,
            labels: String::new(),
            runbook: String::new(),
            channels: Vec::new(),
            enabled: true,
        }
    }
}

fn num_text(v: f64) -> String {
    v.to_string()
}

impl Draft {
    fn of(r: &AlertRule) -> Draft {
        let mut d = Draft {
            id: r.id.clone(),
            version: r.version,
            name: r.name.clone(),
            for_s: r.for_s.to_string(),
            interval_s: r.interval_s.to_string(),
            severity: r.severity,
            labels: if r.labels.is_empty() { String::new() } else { labels_text(&r.labels) },
            runbook: r.runbook.clone(),
            channels: r.channels.clone(),
            enabled: r.enabled,
            ..Draft::default()
        };
        match &r.source {
            RuleSource::Metric { metric, filter, group_by, window_s } => {
                d.kind = Kind::Metric;
                d.metric = metric.clone();
                d.filter = filter.clone();
                d.group_by = group_by.clone();
                d.window_s = window_s.to_string();
            }
            RuleSource::BlockingSession { instance, min_blocked } => {
                d.kind = Kind::BlockingSession;
                d.instance = instance.clone().unwrap_or_default();
                d.min_blocked = min_blocked.to_string();
            }
            RuleSource::ServiceSilent { service, window_s } => {
                d.kind = Kind::ServiceSilent;
                d.service = service.clone().unwrap_or_default();
                d.window_s = window_s.to_string();
            }
        }
        (d.op, d.threshold, d.low, d.high) = match r.condition {
            Condition::Above { threshold } => (Op::Above, num_text(threshold), String::new(), String::new()),
            Condition::Below { threshold } => (Op::Below, num_text(threshold), String::new(), String::new()),
            Condition::Outside { low, high } => (Op::Outside, String::new(), num_text(low), num_text(high)),
            Condition::NoData => (Op::NoData, String::new(), String::new(), String::new()),
        };
        d
    }

    /// The rule this form describes, or what cannot be read as a number (the rest — ranges, names, the
    /// metric — the server checks and answers all at once).
    fn rule(&self) -> Result<AlertRule, Vec<String>> {
        let mut problems = Vec::new();
        let mut int = |what: &str, s: &str| -> u32 {
            s.trim().parse::<u32>().unwrap_or_else(|_| {
                problems.push(format!("{what}: “{s}” is not a whole number of 0 or more"));
                0
            })
        };
        let window_s = int("Window", &self.window_s);
        let source = match self.kind {
            Kind::Metric => RuleSource::Metric {
                metric: self.metric.clone(),
                filter: self.filter.iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| (k.clone(), v.trim().to_string())).collect(),
                group_by: self.group_by.clone(),
                window_s,
            },
            Kind::BlockingSession => RuleSource::BlockingSession {
                instance: Some(self.instance.trim().to_string()).filter(|s| !s.is_empty()),
                min_blocked: int("Blocked sessions", &self.min_blocked),
            },
            Kind::ServiceSilent => {
                RuleSource::ServiceSilent { service: Some(self.service.trim().to_string()).filter(|s| !s.is_empty()), window_s }
            }
        };
        let for_s = int("For", &self.for_s);
        let interval_s = int("Every", &self.interval_s);
        let mut float = |what: &str, s: &str| -> f64 {
            s.trim().parse::<f64>().ok().filter(|v| v.is_finite()).unwrap_or_else(|| {
                problems.push(format!("{what}: “{s}” is not a number"));
                0.0
            })
        };
        let condition = match self.op {
            Op::Above => Condition::Above { threshold: float("Threshold", &self.threshold) },
            Op::Below => Condition::Below { threshold: float("Threshold", &self.threshold) },
            Op::Outside => Condition::Outside { low: float("Low", &self.low), high: float("High", &self.high) },
            Op::NoData => Condition::NoData,
        };
        let labels = parse_labels(&self.labels).unwrap_or_else(|e| {
            problems.push(format!("Labels: {e}"));
            BTreeMap::new()
        });
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(AlertRule {
            id: self.id.clone(),
            name: self.name.trim().to_string(),
            source,
            condition,
            for_s,
            interval_s,
            severity: self.severity,
            labels,
            runbook: self.runbook.clone(),
            channels: self.channels.clone(),
            enabled: self.enabled,
            version: self.version,
        })
    }
}

/// The preview's answer as the chart's data.
fn preview_chart(p: &PreviewAnswer, metric: &str) -> MetricQueryResult {
    MetricQueryResult {
        metric: metric.to_string(),
        unit: p.unit.clone(),
        from: p.timestamps.first().copied().unwrap_or_default(),
        to: p.timestamps.last().map_or(0, |t| t + p.step_ms),
        step_ms: p.step_ms,
        timestamps: p.timestamps.clone(),
        series: p.series.clone(),
        ..Default::default()
    }
}

/// How the last save ended, when it did not.
#[derive(Clone, Debug, PartialEq)]
enum Refused {
    /// 400 or a number that does not read: every problem.
    Invalid(Vec<String>),
    /// Someone else saved a newer version (409): the server's message.
    Conflict(String),
    Other(ApiError),
}

#[component]
pub fn RuleEditor(id: Option<String>) -> impl IntoView {
    let session = use_session();
    let set_query = use_set_query();
    let draft = RwSignal::new(Draft::default());
    let editing = id.is_some();
    // An existing rule: fetched, then the form starts from it (once: a refetch does not wipe the edits).
    let loaded = RwSignal::new(!editing);
    let existing = use_polled_resource(move || {
        let id = id.clone();
        async move {
            match id {
                Some(id) => api::alert_rule(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Some(s)) = existing.data.get() {
            if !loaded.get_untracked() {
                draft.set(Draft::of(&s.rule));
                loaded.set(true);
            }
        }
    });
    let catalog = use_polled_resource(api::metric_catalog);
    let channels = use_polled_resource(api::channels);

    // The live preview: the rule as typed, once typing pauses.
    let built = Memo::new(move |_| draft.with(Draft::rule).ok());
    let settled = use_debounced::<Option<AlertRule>>(built, PREVIEW_DEBOUNCE_MS);
    let preview = use_polled_resource(move || {
        let rule = settled.get().filter(|_| loaded.get());
        async move {
            match rule {
                Some(mut rule) => {
                    // The preview is about the data: an unnamed rule is previewed all the same.
                    if rule.name.is_empty() {
                        rule.name = "preview".into();
                    }
                    let now = now_ms();
                    api::alert_preview(rule, now - PREVIEW_MS, now).await.map(Some)
                }
                None => Ok(None),
            }
        }
    });

    let refused = RwSignal::new(None::<Refused>);
    let saving = RwSignal::new(false);
    let close = {
        let set_query = set_query.clone();
        move || set_query(vec![("edit", None)])
    };
    let save = {
        let close = close.clone();
        move |_| {
            let rule = match draft.with_untracked(Draft::rule) {
                Ok(r) => r,
                Err(p) => return refused.set(Some(Refused::Invalid(p))),
            };
            saving.set(true);
            let close = close.clone();
            spawn_local(async move {
                let out = api::save_alert_rule(rule).await;
                saving.set(false);
                match out {
                    Ok(_) => {
                        refused.set(None);
                        close();
                    }
                    Err(e) if e.is_conflict() => refused.set(Some(Refused::Conflict(e.to_string()))),
                    Err(e @ ApiError::Server { status: 400, .. }) => refused.set(Some(Refused::Invalid(e.problems()))),
                    Err(e) => refused.set(Some(Refused::Other(e))),
                }
            });
        }
    };
    // After a 409: start again from the version saved meanwhile.
    let reload = move |_| {
        loaded.set(false);
        refused.set(None);
        existing.refetch.run(());
    };
    let problems = Signal::derive(move || match refused.get() {
        Some(Refused::Invalid(p)) => p,
        _ => Vec::new(),
    });

    view! {
        <div class="rule-editor" data-testid="rule-editor">
            <div class="panel rule-form">
                <div class="panel-head">
                    <h2>{if editing { "Edit rule" } else { "New rule" }}</h2>
                </div>
                <FetchError error=existing.error what="the rule" />
                <RuleFields draft=draft catalog=catalog.data channels=channels.data />
                <FetchError error=catalog.error what="the metric catalogue" inline=true testid="catalog-error" />
                <FetchError error=channels.error what="the channels" inline=true testid="channels-error" />
                <Problems problems=problems title="Not saved: the rule is not valid. Nothing was changed." testid="rule-problems" />
                {move || match refused.get() {
                    Some(Refused::Conflict(m)) => Some(view! {
                        <div class="error-box" role="alert" data-testid="rule-conflict">
                            <strong>"Someone else changed this rule since you opened it. Your edit was not saved."</strong>
                            <p class="small">{m}</p>
                            <button data-testid="reload-rule" on:click=reload>"Load their version"</button>
                        </div>
                    }.into_any()),
                    Some(Refused::Other(e)) => Some(view! {
                        <div class="error-box" role="alert" data-testid="rule-save-error"><strong>"Not saved"</strong><ul><li>{e.to_string()}</li></ul></div>
                    }.into_any()),
                    _ => None,
                }}
                <div class="modal-actions">
                    <button data-testid="cancel-rule" on:click=move |_| close()>"Cancel"</button>
                    <Show when=move || session.can_edit()>
                        <button class="primary" data-testid="save-rule" disabled=move || saving.get() || !loaded.get() on:click=save.clone()>
                            {move || if saving.get() { "Saving…" } else { "Save" }}
                        </button>
                    </Show>
                </div>
            </div>
            <div class="panel rule-preview" data-testid="rule-preview">
                <div class="panel-head">
                    <h2>"Preview"</h2>
                    <span class="muted">"the last 6 hours · shaded: when it would have fired"</span>
                    <span class="spacer"></span>
                    {move || (preview.inflight.get() > 0).then(|| view! { <span class="muted small">"updating…"</span> })}
                </div>
                <FetchError error=preview.error what="the preview" testid="preview-error" />
                <Preview answer=preview.data metric=Signal::derive(move || draft.with(|d| d.metric.clone())) />
            </div>
        </div>
    }
}

/// The chart of the preview and the list of moments the rule would have fired.
#[component]
fn Preview(answer: Signal<Option<Option<PreviewAnswer>>>, metric: Signal<String>) -> impl IntoView {
    let answer = Memo::new(move |_| answer.get().flatten());
    let data = Signal::derive(move || answer.with(|a| a.as_ref().map(|a| preview_chart(a, &metric.get())).unwrap_or_default()));
    let thresholds = Signal::derive(move || answer.with(|a| a.as_ref().map(|a| a.thresholds.clone()).unwrap_or_default()));
    let shaded = Signal::derive(move || answer.with(|a| a.iter().flat_map(|a| a.firing.iter().map(|f| (f.from_ms, f.to_ms))).collect()));
    let fired = move || {
        answer.with(|a| {
            let a = a.as_ref()?;
            Some(if a.firing.is_empty() {
                view! { <p class="muted small" data-testid="preview-fired" data-count="0">"Would not have fired in the last 6 hours."</p> }.into_any()
            } else {
                let items = a
                    .firing
                    .iter()
                    .take(20)
                    .map(|f| {
                        let group = if f.labels.is_empty() { String::new() } else { format!(" · {}", labels_text(&f.labels)) };
                        view! { <li>{format!("{} → {}{group}", clock(f.from_ms), clock(f.to_ms))}</li> }
                    })
                    .collect_view();
                view! {
                    <div data-testid="preview-fired" data-count=a.firing.len().to_string()>
                        <p class="small">{format!("Would have fired {} time{}:", a.firing.len(), if a.firing.len() == 1 { "" } else { "s" })}</p>
                        <ul class="fired-list small">{items}</ul>
                    </div>
                }
                .into_any()
            })
        })
    };
    view! {
        <Show when=move || answer.with(Option::is_some) fallback=|| view! { <p class="muted">"Fill in the rule to see how it would have behaved."</p> }>
            // What the chart was drawn for, for the browser tests: the thresholds it shows.
            <div class="preview-chart" data-testid="preview-chart"
                data-thresholds=move || thresholds.with(|t| t.iter().map(f64::to_string).collect::<Vec<_>>().join(","))>
                <SeriesChart data=data style=ChartStyle::Line stacked=false thresholds=thresholds shaded=shaded />
            </div>
            {fired}
        </Show>
    }
}

/// Every input of the form, bound to `draft`.
#[component]
fn RuleFields(draft: RwSignal<Draft>, catalog: Signal<Option<MetricCatalog>>, channels: Signal<Option<Vec<sightline_model::Channel>>>) -> impl IntoView {
    let kind = Memo::new(move |_| draft.with(|d| d.kind));
    let op = Memo::new(move |_| draft.with(|d| d.op));
    let info = Memo::new(move |_| {
        let m = draft.with(|d| d.metric.clone());
        catalog.with(|c| c.as_ref().and_then(|c| c.metrics.iter().find(|i| i.name == m).cloned()))
    });
    view! {
        <div class="form-grid">
            <TextField draft=draft label="Name" testid="rule-name-input" field=|d| &mut d.name placeholder="p95 of payment too slow" />
            <label class="field"><span>"Watches"</span>
                <select data-testid="rule-kind" prop:value=move || KINDS.iter().find(|k| k.0 == kind.get()).map(|k| k.1).unwrap_or_default()
                    on:change=move |e| {
                        let v = event_target_value(&e);
                        if let Some(k) = KINDS.iter().find(|k| k.1 == v) {
                            draft.update(|d| d.kind = k.0);
                        }
                    }>
                    {KINDS.iter().map(|k| view! { <option value=k.1>{k.2}</option> }).collect_view()}
                </select>
            </label>
            {move || match kind.get() {
                Kind::Metric => view! { <MetricFields draft=draft catalog=catalog info=info /> }.into_any(),
                Kind::BlockingSession => view! {
                    <TextField draft=draft label="Database instance (empty: every one)" testid="rule-instance" field=|d| &mut d.instance />
                    <TextField draft=draft label="Blocks at least (sessions)" testid="rule-min-blocked" field=|d| &mut d.min_blocked kind="number" />
                }.into_any(),
                Kind::ServiceSilent => view! {
                    <TextField draft=draft label="Service (empty: every one)" testid="rule-service" field=|d| &mut d.service />
                    <TextField draft=draft label="Silent for (s)" testid="rule-window" field=|d| &mut d.window_s kind="number" />
                }.into_any(),
            }}
            <label class="field"><span>"Is bad when the value is"</span>
                <select data-testid="rule-op" prop:value=move || OPS.iter().find(|o| o.0 == op.get()).map(|o| o.1).unwrap_or_default()
                    on:change=move |e| {
                        let v = event_target_value(&e);
                        if let Some(o) = OPS.iter().find(|o| o.1 == v) {
                            draft.update(|d| d.op = o.0);
                        }
                    }>
                    {OPS.iter().map(|o| view! { <option value=o.1>{o.2}</option> }).collect_view()}
                </select>
            </label>
            {move || match op.get() {
                Op::Above | Op::Below => view! {
                    <TextField draft=draft label=format!("Threshold ({})", info.with(|i| i.as_ref().map(|i| i.unit.clone()).unwrap_or_default()))
                        testid="rule-threshold" field=|d| &mut d.threshold kind="number" />
                }.into_any(),
                Op::Outside => view! {
                    <TextField draft=draft label="Low" testid="rule-low" field=|d| &mut d.low kind="number" />
                    <TextField draft=draft label="High" testid="rule-high" field=|d| &mut d.high kind="number" />
                }.into_any(),
                Op::NoData => ().into_any(),
            }}
            <TextField draft=draft label="For (s): bad this long before it fires" testid="rule-for" field=|d| &mut d.for_s kind="number" />
            <TextField draft=draft label="Evaluate every (s)" testid="rule-interval" field=|d| &mut d.interval_s kind="number" />
            <label class="field"><span>"Severity"</span>
                <select data-testid="rule-severity"
                    prop:value=move || crate::components::firing_badge::severity_name(draft.with(|d| d.severity))
                    on:change=move |e| {
                        let s = match event_target_value(&e).as_str() { "info" => Severity::Info, "critical" => Severity::Critical, _ => Severity::Warning };
                        draft.update(|d| d.severity = s);
                    }>
                    <option value="info">"info"</option>
                    <option value="warning">"warning"</option>
                    <option value="critical">"critical"</option>
                </select>
            </label>
            <TextField draft=draft label="Labels (key=value, comma separated)" testid="rule-labels" field=|d| &mut d.labels placeholder="team=payments" />
            <label class="field wide"><span>"Runbook: what to do (in every message)"</span>
                <textarea rows="3" data-testid="rule-runbook" prop:value=move || draft.with(|d| d.runbook.clone())
                    on:input=move |e| { let v = event_target_value(&e); draft.update(|d| d.runbook = v) }></textarea>
            </label>
            <fieldset class="field wide" data-testid="rule-channels"><legend>"Notify"</legend>
                {move || channels.with(|c| match c.as_deref() {
                    None | Some([]) => view! { <span class="muted small">"No channels yet (an admin adds them under Channels)."</span> }.into_any(),
                    Some(list) => list.iter().map(|c| {
                        let id = c.id.clone();
                        let checked = { let id = id.clone(); move || draft.with(|d| d.channels.contains(&id)) };
                        view! {
                            <label class="check">
                                <input type="checkbox" data-testid=format!("rule-channel-{}", c.id) prop:checked=checked
                                    on:change=move |e| {
                                        let on = event_target_checked(&e);
                                        let id = id.clone();
                                        draft.update(|d| { d.channels.retain(|x| *x != id); if on { d.channels.push(id); } });
                                    } />
                                {format!("{} ({:?})", c.name, c.kind).to_lowercase()}
                            </label>
                        }
                    }).collect_view().into_any(),
                })}
            </fieldset>
            <label class="check">
                <input type="checkbox" data-testid="rule-enabled" prop:checked=move || draft.with(|d| d.enabled)
                    on:change=move |e| { let on = event_target_checked(&e); draft.update(|d| d.enabled = on) } />
                "Enabled"
            </label>
        </div>
    }
}

/// The metric, its filter and grouping (from the metric's dimensions), and the window.
#[component]
fn MetricFields(draft: RwSignal<Draft>, catalog: Signal<Option<MetricCatalog>>, info: Memo<Option<MetricInfo>>) -> impl IntoView {
    let metrics = move || {
        let current = draft.with(|d| d.metric.clone());
        let mut list: Vec<(String, bool)> =
            catalog.with(|c| c.iter().flat_map(|c| &c.metrics).map(|m| (m.name.clone(), m.available)).collect());
        if !list.iter().any(|(n, _)| *n == current) {
            list.insert(0, (current, true));
        }
        list.into_iter()
            .map(|(n, ok)| {
                let text = if ok { n.clone() } else { format!("{n} (not collected)") };
                view! { <option value=n disabled=!ok>{text}</option> }
            })
            .collect_view()
    };
    let dims = move || info.with(|i| i.as_ref().map(|i| i.dimensions.clone()).unwrap_or_default());
    view! {
        <label class="field wide"><span>"Metric"</span>
            <select data-testid="rule-metric" prop:value=move || draft.with(|d| d.metric.clone())
                on:change=move |e| {
                    let m = event_target_value(&e);
                    let keep = catalog.with_untracked(|c| c.iter().flat_map(|c| &c.metrics).find(|i| i.name == m).map(|i| i.dimensions.clone()))
                        .unwrap_or_default();
                    draft.update(|d| {
                        d.metric = m;
                        d.filter.retain(|k, _| keep.contains(k));
                        d.group_by.retain(|k| keep.contains(k));
                    });
                }>
                {metrics}
            </select>
            <span class="muted small">{move || info.with(|i| i.as_ref().map(|i| i.description.clone()))}</span>
        </label>
        {move || {
            let dims = dims();
            (!dims.is_empty()).then(|| view! {
                <div class="field wide dims" data-testid="rule-dims">
                    <span>"Filter (empty: any) and one alert per…"</span>
                    {dims.into_iter().map(|dim| {
                        let (d1, d2, d3) = (dim.clone(), dim.clone(), dim.clone());
                        view! {
                            <div class="dim-row">
                                <span class="dim-name">{dim.clone()}</span>
                                <input type="text" placeholder="any" data-testid=format!("filter-{dim}")
                                    prop:value=move || draft.with(|d| d.filter.get(&d1).cloned().unwrap_or_default())
                                    on:input=move |e| { let v = event_target_value(&e); let k = d2.clone(); draft.update(|d| { d.filter.insert(k, v); }) } />
                                <label class="check">
                                    <input type="checkbox" data-testid=format!("groupby-{dim}")
                                        prop:checked={ let k = dim.clone(); move || draft.with(|d| d.group_by.contains(&k)) }
                                        on:change=move |e| {
                                            let on = event_target_checked(&e);
                                            let k = d3.clone();
                                            draft.update(|d| { d.group_by.retain(|x| *x != k); if on { d.group_by.push(k); } });
                                        } />
                                    "one alert per " {dim.clone()}
                                </label>
                            </div>
                        }
                    }).collect_view()}
                </div>
            })
        }}
        <TextField draft=draft label="Window (s): aggregated over" testid="rule-window" field=|d| &mut d.window_s kind="number" />
    }
}

/// A labelled input bound to one text field of the draft.
#[component]
fn TextField(
    draft: RwSignal<Draft>,
    #[prop(into)] label: String,
    testid: &'static str,
    field: fn(&mut Draft) -> &mut String,
    #[prop(optional)] kind: Option<&'static str>,
    #[prop(optional)] placeholder: &'static str,
) -> impl IntoView {
    view! {
        <label class="field"><span>{label}</span>
            <input type=kind.unwrap_or("text") data-testid=testid placeholder=placeholder
                prop:value=move || draft.with(|d| field(&mut d.clone()).clone())
                on:input=move |e| { let v = event_target_value(&e); draft.update(|d| *field(d) = v) } />
        </label>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_survives_the_form() {
        let mut d = Draft { name: "slow".into(), labels: "team=pay".into(), ..Draft::default() };
        d.filter.insert("service".into(), "payment".into());
        d.filter.insert("endpoint".into(), " ".into());
        let r = d.rule().unwrap();
        assert_eq!(r.condition, Condition::Above { threshold: 800.0 });
        match &r.source {
            RuleSource::Metric { filter, .. } => assert_eq!(filter.len(), 1, "an empty filter value is no filter"),
            other => panic!("{other:?}"),
        }
        let back = Draft::of(&r);
        assert_eq!(back.rule().unwrap(), r);
    }

    #[test]
    fn numbers_that_do_not_read_are_all_listed() {
        let d = Draft { for_s: "-5".into(), threshold: "abc".into(), window_s: "".into(), ..Draft::default() };
        let p = d.rule().unwrap_err();
        assert_eq!(p.len(), 3, "{p:?}");
    }
}
