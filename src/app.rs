//! The router and the shell every page sits in.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::top_bar::{TopBar, TopBarPlaceholder};
use crate::hooks::{provide_first_paint, provide_session, use_server_health, use_theme, use_time_range, HEALTH_POLL_MS, SIGN_IN_PATH};
use crate::pages::{admin::AdminPage, sign_in::SignInPage};
use crate::pages::{apm::ApmPage, board::BoardPage, boards::BoardsPage, db::DbPage, not_found::NotFound, servers::ServersPage};
use crate::pages::{alerts::AlertsPage, cube::CubePage, errors::ErrorsPage};

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <Shell />
        </Router>
    }
}

/// Top bar, the unreachable-server banner, and the routed page. The top bar is built after the page's first
/// paint (`crate::hooks::use_first_paint`); until then a header of the same height holds its place.
#[component]
fn Shell() -> impl IntoView {
    let tr = use_time_range();
    // Applied to the page at once, top bar or not.
    let theme = use_theme();
    let page_painted = provide_first_paint();
    // Who is signed in, for every page; a 401 anywhere leads to the sign-in page.
    provide_session();
    let location = leptos_router::hooks::use_location();
    let on_sign_in = Memo::new(move |_| location.pathname.get() == SIGN_IN_PATH);
    let health = use_server_health();
    // `?kiosk=1` (a board on a wall screen): no top bar, nothing to click.
    let query = leptos_router::hooks::use_query_map();
    let kiosk = Memo::new(move |_| query.with(|q| q.get_str("kiosk") == Some("1")));
    view! {
        <Show when=move || !kiosk.get() && !on_sign_in.get()>
            <Show when=move || page_painted.get() fallback=|| view! { <TopBarPlaceholder /> }>
                <TopBar tr=tr theme=theme />
            </Show>
        </Show>
        <Show when=move || health.get() == Some(false)>
            <div class="banner banner-error" role="alert" data-testid="server-unreachable">
                <strong>"Cannot reach the Sightline server."</strong>
                {format!(
                    " Retrying every {} s; what you see may be out of date.",
                    HEALTH_POLL_MS / 1000,
                )}
            </div>
        </Show>
        <main class="page">
            <Routes fallback=|| view! { <NotFound /> }>
                <Route path=path!("/") view=move || view! { <ApmPage tr=tr /> } />
                <Route path=path!("/apm") view=move || view! { <ApmPage tr=tr /> } />
                <Route path=path!("/errors") view=move || view! { <ErrorsPage tr=tr /> } />
                <Route path=path!("/cube") view=move || view! { <CubePage tr=tr /> } />
                <Route path=path!("/boards") view=move || view! { <BoardsPage /> } />
                <Route path=path!("/boards/:id") view=move || view! { <BoardPage tr=tr /> } />
                <Route path=path!("/db") view=move || view! { <DbPage /> } />
                <Route path=path!("/db/:instance") view=move || view! { <DbPage /> } />
                <Route path=path!("/servers") view=move || view! { <ServersPage tr=tr /> } />
                <Route path=path!("/alerts") view=AlertsPage />
                <Route path=path!("/sign-in") view=SignInPage />
                <Route path=path!("/admin") view=AdminPage />
            </Routes>
        </main>
    }
}
