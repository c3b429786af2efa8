//! The router and the shell every page sits in.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, Lazy, LazyRoute};

use crate::components::top_bar::{TopBar, TopBarPlaceholder};
use crate::hooks::{provide_first_paint, provide_session, use_server_health, use_theme, use_time_range, UseTimeRangeReturn};
use crate::hooks::{HEALTH_POLL_MS, SIGN_IN_PATH};
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
    // For the pages loaded on first visit ([`lazy_pages`]), which build themselves from the context.
    provide_context(tr);
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
                <Route path=path!("/errors") view={Lazy::<ErrorsRoute>::new()} />
                <Route path=path!("/cube") view={Lazy::<CubeRoute>::new()} />
                <Route path=path!("/boards") view={Lazy::<BoardsRoute>::new()} />
                <Route path=path!("/boards/:id") view={Lazy::<BoardRoute>::new()} />
                <Route path=path!("/db") view={Lazy::<DbRoute>::new()} />
                <Route path=path!("/db/:instance") view={Lazy::<DbRoute>::new()} />
                <Route path=path!("/servers") view={Lazy::<ServersRoute>::new()} />
                <Route path=path!("/alerts") view={Lazy::<AlertsRoute>::new()} />
                <Route path=path!("/sign-in") view=SignInPage />
                <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} />
            </Routes>
        </main>
    }
}

/// Every page but the APM page (the first load), the sign-in page and "not found" is split out of the main
/// wasm module by the app build (`cargo xtask build`, `--cfg sightline_split`) and fetched on the first visit
/// to it, so the first load carries only what the APM page needs. A page whose code cannot be fetched (the
/// server gone) says so in its place and is fetched again on the next visit; the rest of the app goes on.
/// Without that cfg (tests, `trunk serve`) each page is an ordinary function in the main module.
macro_rules! lazy_pages {
    ($($route:ident => $load:ident($tr:pat), $preload:ident $view:block)*) => {$(
        #[derive(Clone, Copy)]
        struct $route(UseTimeRangeReturn);

        impl LazyRoute for $route {
            fn data() -> Self {
                Self(expect_context())
            }

            async fn view(this: Self) -> AnyView {
                #[cfg(sightline_split)]
                let page = $load(this.0).await;
                #[cfg(not(sightline_split))]
                let page = $load(this.0);
                page.unwrap_or_else(|e| e.into_view())
            }
        }

        #[cfg_attr(
            sightline_split,
            leptos::wasm_split::wasm_split($load, wasm_split_path = ::leptos::wasm_split, fallible, preload($preload))
        )]
        fn $load($tr: UseTimeRangeReturn) -> Result<AnyView, PageNotLoaded> {
            Ok($view.into_any())
        }

        /// Nothing to fetch: the page is in the main module.
        #[cfg(not(sightline_split))]
        async fn $preload() -> Result<(), leptos::wasm_split::SplitLoaderError> {
            Ok(())
        }
    )*};
}

/// A page's code could not be fetched (see [`lazy_pages`]).
struct PageNotLoaded(String);

impl From<leptos::wasm_split::SplitLoaderError> for PageNotLoaded {
    fn from(e: leptos::wasm_split::SplitLoaderError) -> Self {
        Self(e.to_string())
    }
}

impl PageNotLoaded {
    fn into_view(self) -> AnyView {
        view! {
            <div class="error-box" role="alert" data-testid="page-not-loaded">
                <strong>"Could not load this page"</strong>
                <ul>
                    <li>{format!("Its code did not arrive from the server ({}). Open the page again to retry.", self.0)}</li>
                </ul>
            </div>
        }
        .into_any()
    }
}

lazy_pages! {
    ErrorsRoute => errors_page(tr), preload_errors_page { view! { <ErrorsPage tr=tr /> } }
    CubeRoute => cube_page(tr), preload_cube_page { view! { <CubePage tr=tr /> } }
    BoardsRoute => boards_page(_), preload_boards_page { view! { <BoardsPage /> } }
    BoardRoute => board_page(tr), preload_board_page { view! { <BoardPage tr=tr /> } }
    DbRoute => db_page(_), preload_db_page { view! { <DbPage /> } }
    ServersRoute => servers_page(tr), preload_servers_page { view! { <ServersPage tr=tr /> } }
    AlertsRoute => alerts_page(_), preload_alerts_page { view! { <AlertsPage /> } }
    AdminRoute => admin_page(_), preload_admin_page { view! { <AdminPage /> } }
}

/// Starts fetching the code of the page a navigation link leads to (`path`, without its query) when the
/// pointer or the focus reaches the link, so the click usually finds it loaded. A failed fetch is not
/// reported here: opening the page fetches again and says so in the page's place.
pub fn preload_page(path: &str) {
    let fetch = |preload: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), leptos::wasm_split::SplitLoaderError>>>>| {
        leptos::task::spawn_local(async move {
            let _ = preload.await;
        })
    };
    match path {
        "/errors" => fetch(Box::pin(preload_errors_page())),
        "/cube" => fetch(Box::pin(preload_cube_page())),
        "/boards" => fetch(Box::pin(preload_boards_page())),
        "/db" => fetch(Box::pin(preload_db_page())),
        "/servers" => fetch(Box::pin(preload_servers_page())),
        "/alerts" => fetch(Box::pin(preload_alerts_page())),
        "/admin" => fetch(Box::pin(preload_admin_page())),
        board if board.starts_with("/boards/") => fetch(Box::pin(preload_board_page())),
        _ => {}
    }
}
