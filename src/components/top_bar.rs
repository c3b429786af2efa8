//! The shell's top bar: product name, navigation, firing alerts, time range, service, theme, loading state.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use sightline_model::{format_duration_ms, TimeRange, PRESETS};

use crate::api;
use crate::components::firing_badge::FiringBadge;
use crate::format::{datetime_local, parse_datetime_local};
use crate::hooks::{use_polled_resource, use_set_query, Theme, UseThemeReturn, UseTimeRangeReturn, SHARED_PARAMS};

/// Pages reachable from the navigation: (path, label, test id).
const NAV: &[(&str, &str, &str)] = &[
    ("/apm", "APM", "nav-apm"),
    ("/errors", "Errors", "nav-errors"),
    ("/cube", "Cube", "nav-cube"),
    ("/boards", "Boards", "nav-boards"),
    ("/db", "Database", "nav-db"),
    ("/servers", "Servers", "nav-servers"),
    ("/alerts", "Alerts", "nav-alerts"),
];

#[component]
pub fn TopBar(tr: UseTimeRangeReturn, theme: UseThemeReturn) -> impl IntoView {
    let query = use_query_map();
    // Navigation keeps the shared parameters (range, service) and drops page-specific ones.
    let shared_query = move || {
        let mut q = query.get();
        let keys: Vec<String> = q.latest_values().map(|(k, _)| k.to_string()).collect();
        for k in keys.iter().filter(|k| !SHARED_PARAMS.contains(&k.as_str())) {
            q.remove(k);
        }
        q.to_query_string()
    };
    let pending = crate::api::pending();
    view! {
        <header class="top-bar">
            <a class="brand" href="/apm" data-testid="brand">
                <img src="/assets/favicon.svg" alt="" width="22" height="22" />
                "Sightline"
            </a>
            <nav class="main-nav">
                {NAV
                    .iter()
                    .map(|&(path, label, testid)| {
                        view! {
                            <A
                                href=move || format!("{path}{}", shared_query())
                                attr:data-testid=testid
                                on:pointerenter=move |_| crate::app::preload_page(path)
                                on:focus=move |_| crate::app::preload_page(path)
                            >
                                {label}
                                {(path == "/alerts").then(|| view! { <FiringBadge /> })}
                            </A>
                        }
                    })
                    .collect_view()}
            </nav>
            <div class="spacer"></div>
            <ServiceSelect tr=tr />
            <TimeRangePicker tr=tr />
            <ThemeToggle theme=theme />
            <crate::components::user_menu::UserMenu />
            <div
                class="loading-bar"
                data-testid="loading"
                class:active=move || { pending.get() > 0 }
                aria-hidden="true"
            ></div>
        </header>
    }
}

/// Holds the top bar's place (its one-row height, the product name) until the page's first paint.
#[component]
pub fn TopBarPlaceholder() -> impl IntoView {
    view! {
        <header class="top-bar top-bar-placeholder" aria-busy="true">
            <a class="brand" href="/apm">
                <img src="/assets/favicon.svg" alt="" width="22" height="22" />
                "Sightline"
            </a>
        </header>
    }
}

/// Presets, a custom absolute range, and live on/off; everything goes through the URL.
#[component]
fn TimeRangePicker(tr: UseTimeRangeReturn) -> impl IntoView {
    let set_query = use_set_query();
    let custom_open = RwSignal::new(false);
    let label = move || match tr.range.get() {
        TimeRange::Relative { ms } => format!("Last {}", format_duration_ms(ms)),
        TimeRange::Absolute { from, to } => format!("{} → {}", datetime_local(from).replace('T', " "), datetime_local(to).replace('T', " ")),
    };
    let toggle_live = {
        let set_query = set_query.clone();
        move |_| {
            if let TimeRange::Relative { ms } = tr.range.get_untracked() {
                let live = !tr.live.get_untracked();
                set_query(vec![
                    ("range", Some(format_duration_ms(ms))),
                    ("live", (!live).then(|| "0".to_string())),
                ]);
            } else {
                // Going live from an absolute range: keep its length, end it now.
                let (from, to) = tr.window.get_untracked();
                set_query(vec![
                    ("from", None),
                    ("to", None),
                    ("live", None),
                    ("range", Some(format_duration_ms(((to - from) / 60_000).max(1) * 60_000))),
                ]);
            }
        }
    };

    view! {
        <div class="time-range" data-testid="time-range">
            <span class="range-label" data-testid="range-label">{label}</span>
            <div class="segmented">
                {PRESETS
                    .iter()
                    .map(|&(name, ms)| {
                        let set_query = set_query.clone();
                        view! {
                            <button
                                data-testid=format!("range-{name}")
                                class:selected=move || tr.range.get() == TimeRange::Relative { ms }
                                on:click=move |_| {
                                    set_query(vec![
                                        ("range", Some(name.to_string())),
                                        ("from", None),
                                        ("to", None),
                                    ])
                                }
                            >
                                {name}
                            </button>
                        }
                    })
                    .collect_view()}
                <button
                    data-testid="range-custom"
                    class:selected=move || matches!(tr.range.get(), TimeRange::Absolute { .. })
                    on:click=move |_| custom_open.update(|o| *o = !*o)
                >
                    "Custom"
                </button>
            </div>
            <button
                class="live-toggle"
                data-testid="live-toggle"
                class:on=move || tr.live.get()
                aria-pressed=move || tr.live.get().to_string()
                title="Follow the clock"
                on:click=toggle_live
            >
                <span class="dot"></span>
                {move || if tr.live.get() { "Live" } else { "Paused" }}
            </button>
            <Show when=move || custom_open.get()>
                <CustomRange tr=tr on_done=Callback::new(move |_| custom_open.set(false)) />
            </Show>
        </div>
    }
}

/// Two date-times for an absolute range, starting from the window shown now.
#[component]
fn CustomRange(tr: UseTimeRangeReturn, on_done: Callback<()>) -> impl IntoView {
    let set_query = use_set_query();
    let (from, to) = tr.window.get_untracked();
    let custom_from = RwSignal::new(datetime_local(from));
    let custom_to = RwSignal::new(datetime_local(to));
    let custom_error = RwSignal::new(None::<String>);
    let apply_custom = move |_| match (parse_datetime_local(&custom_from.get()), parse_datetime_local(&custom_to.get())) {
        (Some(from), Some(to)) if from < to => {
            on_done.run(());
            set_query(vec![("range", None), ("live", None), ("from", Some(from.to_string())), ("to", Some(to.to_string()))]);
        }
        (Some(_), Some(_)) => custom_error.set(Some("“From” must be before “To”.".into())),
        _ => custom_error.set(Some("Enter both dates.".into())),
    };
    view! {
        <div class="popover" data-testid="custom-range">
            <label>
                "From" <input type="datetime-local" step="1" data-testid="custom-from" bind:value=custom_from />
            </label>
            <label>
                "To" <input type="datetime-local" step="1" data-testid="custom-to" bind:value=custom_to />
            </label>
            {move || custom_error.get().map(|e| view! { <p class="field-error">{e}</p> })}
            <button class="primary" data-testid="custom-apply" on:click=apply_custom>
                "Apply"
            </button>
        </div>
    }
}

/// Picks the service every page filters by (`?service=`); lists what the server has seen. When the list
/// cannot be fetched the picker says so (a warning beside it and in the list), and still offers "all" and
/// the service in the link.
#[component]
fn ServiceSelect(tr: UseTimeRangeReturn) -> impl IntoView {
    let set_query = use_set_query();
    // Refresh the list when the window moves by a minute or more, not on every live tick.
    let minute = Memo::new(move |_| {
        let (from, to) = tr.window.get();
        (from / 60_000, to / 60_000)
    });
    let services = use_polled_resource(move || {
        let (from, to) = minute.get();
        api::services(from * 60_000, to * 60_000 + 60_000)
    });
    let problem = move || services.error.get().map(|e| format!("Could not load the services: {e}"));
    view! {
        <select
            class="service-select"
            data-testid="service-select"
            aria-label="Service"
            class:failed=move || services.error.with(Option::is_some)
            prop:value=move || tr.service.get().unwrap_or_default()
            on:change=move |ev| {
                let v = event_target_value(&ev);
                set_query(vec![("service", (!v.is_empty()).then_some(v))]);
            }
        >
            <option value="">"All services"</option>
            {move || {
                let mut names: Vec<String> = services
                    .data
                    .with(|d| d.iter().flat_map(|l| l.services.iter().map(|s| s.name.clone())).collect());
                if let Some(s) = tr.service.get() {
                    if !names.contains(&s) {
                        names.push(s);
                    }
                }
                // Each option says whether it is chosen: the list arrives after the value was set.
                let chosen = tr.service.get();
                names
                    .into_iter()
                    .map(|n| {
                        let selected = chosen.as_deref() == Some(n.as_str());
                        view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
                    })
                    .collect_view()
            }}
            {move || problem().map(|p| view! { <option disabled data-testid="services-error-option">{p}</option> })}
        </select>
        {move || problem().map(|p| view! {
            <span class="fetch-chip" role="alert" data-testid="services-error" title=p.clone()>
                "⚠ services unavailable"
            </span>
        })}
    }
}

/// Dark / light, remembered in local storage, applied as `data-theme` on `<html>` (by the shell's `use_theme`).
#[component]
fn ThemeToggle(theme: UseThemeReturn) -> impl IntoView {
    let UseThemeReturn { theme, set_theme } = theme;
    let dark = move || theme.get() == Theme::Dark;
    view! {
        <button
            class="theme-toggle"
            data-testid="theme-toggle"
            title="Switch dark / light"
            on:click=move |_| set_theme.run(if dark() { Theme::Light } else { Theme::Dark })
        >
            {move || if dark() { "☾ Dark" } else { "☀ Light" }}
        </button>
    }
}
