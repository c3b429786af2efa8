//! Who is using the app: asked once at start (`GET /api/v1/auth/me`), again whenever an API call answers
//! 401, and set directly by sign-in. The shell provides it; pages read it with [`use_session`] to hide what
//! the role may not do (the server refuses it anyway: this only keeps buttons that would fail off screen).
//!
//! Nobody signed in (and no anonymous viewers), or a session that ended: the app goes to
//! `/sign-in?next=<the page, path and query>` and, once signed in, back there.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use sightline_model::{Me, Role, SignedInVia};

use crate::api::{self, ApiError};

/// The sign-in page's path.
pub const SIGN_IN_PATH: &str = "/sign-in";

/// What [`use_session`] gives back. Every field is `Copy`.
#[derive(Clone, Copy)]
pub struct UseSessionReturn {
    /// The server's answer; `None` until it came.
    pub me: Signal<Option<Me>>,
    /// Why asking who is signed in failed (shown in the top bar).
    pub error: Signal<Option<ApiError>>,
    /// Asks the server again.
    pub refetch: Callback<()>,
    /// Sets who is signed in without asking (sign-in answers it).
    pub set_me: Callback<Me>,
}

impl UseSessionReturn {
    /// The role requests are made with; `None` while unknown, for a share link, or for nobody.
    pub fn role(&self) -> Option<Role> {
        self.me.with(|m| m.as_ref().and_then(|m| m.role))
    }

    /// May change boards (editor or admin). False while unknown, so edit controls appear once it is known.
    pub fn can_edit(&self) -> bool {
        self.role() >= Some(Role::Editor)
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    /// Known to change nothing: a viewer, a share link, an anonymous viewer.
    pub fn read_only(&self) -> bool {
        self.me.with(|m| m.as_ref().is_some_and(|m| m.role < Some(Role::Editor)))
    }
}

/// The session of the app, provided by the shell (inside the router).
pub fn use_session() -> UseSessionReturn {
    expect_context::<UseSessionReturn>()
}

/// Asks who is signed in, provides it as context, and sends the user to the sign-in page when nobody is
/// (or their session ends: any API call answering 401). Call once, in the shell, inside the `<Router>`.
pub fn provide_session() -> UseSessionReturn {
    let me = RwSignal::new(None::<Me>);
    let error = RwSignal::new(None::<ApiError>);
    let fetch = move || {
        spawn_local(async move {
            match api::me().await {
                Ok(m) => {
                    error.set(None);
                    me.set(Some(m));
                }
                Err(e) => error.set(Some(e)),
            }
        })
    };
    fetch();

    let navigate = use_navigate();
    let to_sign_in = move || {
        let Some(loc) = web_sys::window().map(|w| w.location()) else { return };
        let path = loc.pathname().unwrap_or_default();
        // A share link's page shows its own error (expired, revoked): signing in would not fix the link.
        if path == SIGN_IN_PATH || api::share_token().is_some() {
            return;
        }
        let next = format!("{path}{}", loc.search().unwrap_or_default());
        let url = format!("{SIGN_IN_PATH}?next={}", js_sys::encode_uri_component(&next));
        navigate(&url, NavigateOptions { replace: true, ..Default::default() });
    };

    // A 401 from any call: the session ended (or never was). Ask again (the top bar follows) and sign in.
    let signed_out = api::signed_out();
    let on_401 = to_sign_in.clone();
    Effect::watch(
        move || signed_out.get(),
        move |_, _, _| {
            fetch();
            on_401();
        },
        false,
    );
    // Nobody signed in and nothing open to anonymous visitors: straight to the sign-in page.
    Effect::new(move |_| {
        let nobody = me.with(|m| m.as_ref().is_some_and(|m| m.via == SignedInVia::Anonymous && m.role.is_none()));
        if nobody {
            to_sign_in();
        }
    });

    let session = UseSessionReturn {
        me: me.into(),
        error: error.into(),
        refetch: Callback::new(move |()| fetch()),
        set_me: Callback::new(move |m: Me| {
            error.set(None);
            me.set(Some(m));
        }),
    };
    provide_context(session);
    session
}
