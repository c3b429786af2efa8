//! Users: list, add (with a role and a password, or one made by the server and shown once), change a
//! role, set a new password (which signs the user out everywhere), remove after confirming.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::{NewUser, Role, UserInfo, UserUpdate};

use super::{Confirm, Outcome, OutcomeLine};
use crate::api;
use crate::components::copy_button::CopyButton;
use crate::components::error_view::FetchError;
use crate::format::date_time;
use crate::hooks::{use_polled_resource, use_session};

#[component]
pub fn UsersPanel(changed: RwSignal<u32>) -> impl IntoView {
    let users = use_polled_resource(api::users);
    let outcome = RwSignal::new(None::<Outcome>);
    let removing = RwSignal::new(None::<String>);
    // Any change: say what happened, show the list as stored, and let the audit log follow.
    let done = Callback::new(move |o: Outcome| {
        outcome.set(Some(o));
        users.refetch.run(());
        changed.update(|n| *n += 1);
    });
    let remove = move |name: String| {
        removing.set(None);
        spawn_local(async move {
            done.run(match api::delete_user(name.clone()).await {
                Ok(()) => Ok(format!("Removed {name}; their sessions have ended.")),
                Err(e) => Err(format!("{name} not removed: {e}")),
            });
        });
    };
    view! {
        <div class="panel admin-panel" data-testid="admin-users">
            <h2>"Users"</h2>
            <FetchError error=users.error what="the users" />
            {move || users.data.get().map(|list| view! {
                <table class="grid-table" data-testid="users-table">
                    <thead><tr><th>"Name"</th><th>"Role"</th><th>"Added"</th><th></th></tr></thead>
                    <tbody>
                        {list.users.into_iter().map(|u| view! {
                            <UserRow user=u done=done remove=Callback::new(move |n| removing.set(Some(n))) />
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            <OutcomeLine outcome=outcome testid="users-outcome" />
            <AddUser done=done />
            {move || removing.get().map(|name| {
                let n = name.clone();
                view! {
                    <Confirm title=format!("Remove {name}?")
                        text="They are signed out everywhere and can no longer sign in. Boards they saved keep their name in the history."
                        yes="Remove" on_yes=Callback::new(move |_| remove(n.clone()))
                        on_no=Callback::new(move |_| removing.set(None)) />
                }
            })}
        </div>
    }
}

/// One user: the role picker, and the password form when opened.
#[component]
fn UserRow(user: UserInfo, done: Callback<Outcome>, remove: Callback<String>) -> impl IntoView {
    let session = use_session();
    let is_me = session.me.with_untracked(|m| m.as_ref().and_then(|m| m.name.as_deref()) == Some(user.name.as_str()));
    let setting_password = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let name = StoredValue::new(user.name.clone());
    // A refused change puts the picker back on the stored role: the row is patched in place when the list
    // comes back, which leaves a `<select>` the user changed as it was.
    let set_role = move |e: leptos::ev::Event| {
        let select = event_target::<web_sys::HtmlSelectElement>(&e);
        let Ok(role) = select.value().parse::<Role>() else { return };
        let n = name.get_value();
        spawn_local(async move {
            done.run(match api::update_user(n.clone(), UserUpdate { role: Some(role), password: None }).await {
                Ok(u) => Ok(format!("{} is now {}.", u.name, u.role)),
                Err(e) => {
                    select.set_value(user.role.as_str());
                    Err(format!("{n}: role not changed: {e}"))
                }
            });
        });
    };
    let set_password = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        setting_password.set(false);
        let (n, update) = (name.get_value(), UserUpdate { role: None, password: Some(password.get_untracked()) });
        password.set(String::new());
        spawn_local(async move {
            done.run(match api::update_user(n.clone(), update).await {
                Ok(u) => Ok(format!("New password set for {}; their sessions have ended.", u.name)),
                Err(e) => Err(format!("{n}: password not changed: {e}")),
            });
        });
    };
    view! {
        <tr data-testid="user-row" data-user=user.name.clone()>
            <td>
                <strong>{user.name.clone()}</strong>
                {is_me.then(|| view! { " " <span class="chip">"you"</span> })}
            </td>
            <td>
                <select data-testid="user-role-select" aria-label=format!("Role of {}", user.name) on:change=set_role>
                    {Role::ALL.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == user.role>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </td>
            <td class="muted small">{date_time(user.created_ms)}</td>
            <td>
                <div class="row-actions">
                    <Show when=move || setting_password.get() fallback=move || view! {
                        <button data-testid="user-set-password" on:click=move |_| setting_password.set(true)>"Set password"</button>
                    }>
                        <form class="inline-form" on:submit=set_password>
                            <input type="password" autocomplete="new-password" placeholder="new password (8+)"
                                data-testid="user-new-password" bind:value=password />
                            <button type="submit" class="primary" data-testid="user-password-save">"Set"</button>
                            <button type="button" on:click=move |_| setting_password.set(false)>"Cancel"</button>
                        </form>
                    </Show>
                    <button class="danger" data-testid="user-remove" on:click=move |_| remove.run(name.get_value())>"Remove"</button>
                </div>
            </td>
        </tr>
    }
}

/// The form that adds a user; a password left empty is made by the server and shown here once.
#[component]
fn AddUser(done: Callback<Outcome>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let password = RwSignal::new(String::new());
    let generated = RwSignal::new(None::<(String, String)>);
    let add = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let pw = password.get_untracked();
        let new = NewUser { name: name.get_untracked().trim().to_string(), role: role.get_untracked(), password: (!pw.is_empty()).then_some(pw) };
        generated.set(None);
        spawn_local(async move {
            match api::create_user(new).await {
                Ok(c) => {
                    name.set(String::new());
                    password.set(String::new());
                    if let Some(pw) = c.generated_password {
                        generated.set(Some((c.user.name.clone(), pw)));
                    }
                    done.run(Ok(format!("Added {} as {}.", c.user.name, c.user.role)));
                }
                Err(e) => done.run(Err(format!("Not added: {e}"))),
            }
        });
    };
    view! {
        <form class="admin-form" on:submit=add data-testid="user-add-form">
            <h3>"Add a user"</h3>
            <div class="inline-form">
                <input type="text" placeholder="name" autocomplete="off" data-testid="user-add-name" bind:value=name />
                <select data-testid="user-add-role" aria-label="Role"
                    on:change=move |e| { if let Ok(r) = event_target_value(&e).parse() { role.set(r) } }>
                    {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == Role::Viewer>{r.as_str()}</option> }).collect_view()}
                </select>
                <input type="password" placeholder="password (empty: make one)" autocomplete="new-password"
                    data-testid="user-add-password" bind:value=password />
                <button type="submit" class="primary" data-testid="user-add">"Add"</button>
            </div>
            <p class="muted small">"Viewers read everything and change nothing; editors also change boards; admins also manage users, tokens and settings."</p>
            {move || generated.get().map(|(who, pw)| {
                let p = pw.clone();
                view! {
                    <div class="secret-box" data-testid="user-generated">
                        <p class="small"><strong>{format!("The password of {who}, shown only this once:")}</strong>" give it to them; they can change it from their menu."</p>
                        <div class="inline-form">
                            <input class="mono" readonly data-testid="user-generated-password" prop:value=pw />
                            <CopyButton text=p />
                            <button type="button" on:click=move |_| generated.set(None)>"Done"</button>
                        </div>
                    </div>
                }
            })}
        </form>
    }
}
