//! Silences: mute a rule (or any rule) whose instances match label pairs, until a time, with a reason.
//! Active ones are listed (the expired ones on demand); an editor creates and expires them. What they mute
//! shows as "silenced" in the rules list.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::Silence;

use super::{labels_text, parse_labels, Problems};
use crate::api::{self, ApiError};
use crate::components::error_view::FetchError;
use crate::format::{date_time, parse_datetime_local};
use crate::hooks::{now_ms, use_polled_resource, use_session};

#[component]
pub fn SilencesTab() -> impl IntoView {
    let session = use_session();
    let show_expired = RwSignal::new(false);
    let list = use_polled_resource(move || api::silences(show_expired.get()));
    let creating = RwSignal::new(false);
    view! {
        <div class="panel">
            <div class="panel-head">
                <h2>"Silences"</h2>
                <span class="muted">"muted alerts send nothing and show as silenced"</span>
                <span class="spacer"></span>
                <label class="check small">
                    <input type="checkbox" data-testid="show-expired" prop:checked=move || show_expired.get()
                        on:change=move |e| show_expired.set(event_target_checked(&e)) />
                    "show expired"
                </label>
                <Show when=move || session.can_edit()>
                    <button class="primary" data-testid="new-silence" on:click=move |_| creating.set(true)>"New silence"</button>
                </Show>
            </div>
            <Show when=move || creating.get()>
                <SilenceForm on_done=Callback::new(move |saved: bool| { creating.set(false); if saved { list.refetch.run(()); } }) />
            </Show>
            <FetchError error=list.error what="the silences" />
            {move || list.data.get().map(|ss| {
                if ss.is_empty() {
                    return view! { <p class="empty-note" data-testid="silences-empty">"No silences."</p> }.into_any();
                }
                let rows = ss.into_iter().map(|s| view! { <SilenceRow s=s refetch=list.refetch /> }).collect_view();
                view! {
                    <table class="grid-table" data-testid="silences-table">
                        <thead><tr><th>"Rule"</th><th>"Matching"</th><th>"Until"</th><th>"Reason"</th><th>"By"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }
                .into_any()
            })}
        </div>
    }
}

#[component]
fn SilenceRow(s: Silence, refetch: Callback<()>) -> impl IntoView {
    let session = use_session();
    let error = RwSignal::new(None::<ApiError>);
    let expired = s.until_ms <= now_ms();
    let expire = {
        let id = s.id.clone();
        move |_| {
            let id = id.clone();
            spawn_local(async move {
                match api::delete_silence(id).await {
                    Ok(()) => refetch.run(()),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    view! {
        <tr data-testid="silence-row" class:expired=expired>
            <td>{s.rule_id.clone().unwrap_or_else(|| "any rule".into())}</td>
            <td class="mono small">{labels_text(&s.matchers)}</td>
            <td class="small">{date_time(s.until_ms)}{expired.then_some(" (expired)")}</td>
            <td>{s.reason.clone()}</td>
            <td class="small muted">{format!("{} · {}", s.created_by, date_time(s.created_ms))}</td>
            <td><div class="row-actions">
                <Show when=move || session.can_edit() && !expired>
                    <button data-testid="expire-silence" on:click=expire.clone()>"Expire now"</button>
                </Show>
                <FetchError error=error what="(expire failed)" inline=true testid="expire-error" />
            </div></td>
        </tr>
    }
}

/// A duration such as `30m`, `2h`, `1d`, `90s` in ms.
fn parse_for(s: &str) -> Option<i64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    (n > 0).then_some(n * ms)
}

#[component]
fn SilenceForm(on_done: Callback<bool>) -> impl IntoView {
    let rules = use_polled_resource(api::alerts);
    let rule = RwSignal::new(String::new());
    let matchers = RwSignal::new(String::new());
    let for_text = RwSignal::new("2h".to_string());
    let until_text = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let problems = RwSignal::new(Vec::<String>::new());
    let save = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let mut p = Vec::new();
        let m = parse_labels(&matchers.get_untracked()).unwrap_or_else(|e| {
            p.push(format!("Matching: {e}"));
            Default::default()
        });
        let until = match until_text.get_untracked() {
            u if !u.is_empty() => parse_datetime_local(&u),
            _ => parse_for(&for_text.get_untracked()).map(|d| now_ms() + d),
        };
        if until.is_none() {
            p.push("Say for how long (e.g. 30m, 2h, 1d) or until when.".into());
        }
        if !p.is_empty() {
            return problems.set(p);
        }
        let silence = Silence {
            id: String::new(),
            rule_id: Some(rule.get_untracked()).filter(|r| !r.is_empty()),
            matchers: m,
            until_ms: until.unwrap_or_default(),
            reason: reason.get_untracked().trim().to_string(),
            created_by: String::new(),
            created_ms: 0,
        };
        spawn_local(async move {
            match api::create_silence(silence).await {
                Ok(_) => on_done.run(true),
                Err(e) => problems.set(e.problems()),
            }
        });
    };
    view! {
        <form class="alert-form" data-testid="silence-form" on:submit=save>
            <h3>"New silence"</h3>
            <Problems problems=problems title="Not created:" testid="silence-problems" />
            <div class="form-grid">
                <label class="field"><span>"Rule"</span>
                    <select data-testid="silence-rule" on:change=move |e| rule.set(event_target_value(&e))>
                        <option value="">"any rule"</option>
                        {move || rules.data.get().map(|o| o.rules.into_iter().map(|r| view! { <option value=r.rule.id.clone()>{r.rule.name}</option> }).collect_view())}
                    </select>
                </label>
                <label class="field"><span>"Matching labels (key=value, …)"</span>
                    <input type="text" data-testid="silence-matchers" placeholder="service=payment" prop:value=move || matchers.get()
                        on:input=move |e| matchers.set(event_target_value(&e)) />
                </label>
                <label class="field"><span>"For (30m, 2h, 1d)"</span>
                    <input type="text" data-testid="silence-for" prop:value=move || for_text.get() on:input=move |e| for_text.set(event_target_value(&e)) />
                </label>
                <label class="field"><span>"…or until"</span>
                    <input type="datetime-local" data-testid="silence-until" prop:value=move || until_text.get() on:input=move |e| until_text.set(event_target_value(&e)) />
                </label>
                <label class="field wide"><span>"Reason"</span>
                    <input type="text" data-testid="silence-reason" placeholder="maintenance of the payment DB" prop:value=move || reason.get()
                        on:input=move |e| reason.set(event_target_value(&e)) />
                </label>
            </div>
            <FetchError error=rules.error what="the rules" inline=true />
            <div class="modal-actions">
                <button type="button" on:click=move |_| on_done.run(false)>"Cancel"</button>
                <button type="submit" class="primary" data-testid="save-silence">"Create"</button>
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_for;

    #[test]
    fn durations_read() {
        assert_eq!(parse_for("30m"), Some(1_800_000));
        assert_eq!(parse_for("2h"), Some(7_200_000));
        assert_eq!(parse_for(" 1d "), Some(86_400_000));
        assert_eq!(parse_for("90 s"), Some(90_000));
        assert_eq!(parse_for("2"), None);
        assert_eq!(parse_for("0h"), None);
    }
}
