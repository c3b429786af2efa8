//! Every route is added with its access rule ([`Routes`]), so none can be added without one; the gate
//! ([`gate`]) enforces the rule of the route a request matched (axum's `MatchedPath`), and a matched route
//! that has no rule is refused (default deny). Requests that match no route (the app's files, the JSON 404
//! of unknown API paths) are public.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use axum::Router;

use super::rules::{decide, Context, Rule};
use super::principal::Identified;
use super::{csrf, Auth};
use crate::error::AppError;
use crate::state::AppState;

/// One row of the access table: `method path` requires `rule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub method: Method,
    /// The full path as axum matches it, e.g. `/api/v1/boards/{id}`.
    pub path: String,
    pub rule: Rule,
}

/// A router under construction that records the rule of every route; see the module docs.
pub struct Routes {
    prefix: &'static str,
    router: Router<AppState>,
    table: Vec<RouteRule>,
}

impl Routes {
    /// Routes whose paths will be nested under `prefix` (`""` for the top level).
    pub fn new(prefix: &'static str) -> Self {
        Routes { prefix, router: Router::new(), table: Vec::new() }
    }

    /// Adds `method path`, served by `service` (which must serve exactly that method), under `rule`.
    pub fn route(mut self, path: &str, method: Method, service: MethodRouter<AppState>, rule: Rule) -> Self {
        self.router = self.router.route(path, service);
        self.table.push(RouteRule { method, path: format!("{}{path}", self.prefix), rule });
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H, rule: Rule) -> Self {
        self.route(path, Method::GET, routing::get(handler), rule)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H, rule: Rule) -> Self {
        self.route(path, Method::POST, routing::post(handler), rule)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H, rule: Rule) -> Self {
        self.route(path, Method::PUT, routing::put(handler), rule)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H, rule: Rule) -> Self {
        self.route(path, Method::DELETE, routing::delete(handler), rule)
    }

    /// Adds another set of routes (with their rules) at the same level.
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// Changes the router (a fallback, a layer) without adding routes.
    pub fn map_router(mut self, f: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = f(self.router);
        self
    }

    /// Nests `inner` (built with `Routes::new(prefix)`) under its prefix.
    pub fn nest(mut self, inner: Routes) -> Self {
        self.router = self.router.nest(inner.prefix, inner.router);
        self.table.extend(inner.table);
        self
    }

    /// The access table recorded so far.
    pub fn table(&self) -> &[RouteRule] {
        &self.table
    }

    /// The router, and the table the gate enforces.
    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteRule>) {
        (self.router, self.table)
    }
}

/// What the gate needs: the auth state and the access table.
pub struct Gate {
    auth: Arc<Auth>,
    rules: HashMap<(Method, String), Rule>,
    paths: HashSet<String>,
}

impl Gate {
    pub fn new(auth: Arc<Auth>, table: &[RouteRule]) -> Arc<Self> {
        let rules = table.iter().map(|r| ((r.method.clone(), r.path.clone()), r.rule)).collect();
        let paths = table.iter().map(|r| r.path.clone()).collect();
        Arc::new(Gate { auth, rules, paths })
    }

    /// The rule of the matched route; `Err` with the answer when there is none.
    fn rule(&self, method: &Method, matched: Option<&str>) -> Result<Rule, AppError> {
        let Some(path) = matched else { return Ok(Rule::Public) };
        // HEAD is served by the GET handler.
        let method = if method == Method::HEAD { Method::GET } else { method.clone() };
        if let Some(rule) = self.rules.get(&(method, path.to_string())) {
            return Ok(*rule);
        }
        if self.paths.contains(path) {
            return Err(AppError::MethodNotAllowed(format!("{path} does not take this method")));
        }
        tracing::error!(route = path, "a route without an access rule was requested: refused (add it through auth::Routes)");
        Err(AppError::Forbidden("this route has no access rule".into()))
    }

    /// Decides a request; on success the principal is put in the request for handlers.
    fn admit(&self, req: &mut Request, board: Option<&str>) -> Result<(), AppError> {
        let matched = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
        let rule = self.rule(req.method(), matched.as_deref())?;
        let identified = self.auth.authorize(rule, req.headers(), board, crate::store::now_ms())?;
        let host = self.auth.request_host(req.headers(), req.uri());
        csrf::check(req.method(), req.headers(), host.as_deref(), identified.strictness)?;
        req.extensions_mut().insert(identified.principal);
        Ok(())
    }
}

impl Auth {
    /// Who is asking ([`Auth::identify`]) and whether `rule` lets them: the one decision behind the gate
    /// and the OTLP/gRPC endpoint (`crate::ingest::grpc`, which has no route table). `board` is the path's
    /// `{id}`, for [`Rule::ReadSharedBoard`]. Memory only.
    pub fn authorize(&self, rule: Rule, headers: &HeaderMap, board: Option<&str>, now_ms: i64) -> Result<Identified, AppError> {
        let identified = self.identify(headers, now_ms);
        if rule != Rule::Public {
            if let (true, Some(why)) = (identified.bad_authorization, identified.refused) {
                return Err(AppError::Unauthenticated(why.into()));
            }
        }
        let cx = Context {
            anonymous_viewers: self.settings().anonymous_viewers,
            legacy_ingest: self.config.legacy_ingest_token.is_some(),
            board,
        };
        decide(rule, &identified.principal, cx).map_err(|e| match (e, identified.refused) {
            // The session cookie was there but had ended: say so, the app shows its sign-in page.
            (AppError::Unauthenticated(_), Some(why)) => AppError::Unauthenticated(why.into()),
            (e, _) => e,
        })?;
        Ok(identified)
    }
}

/// The middleware: see the module docs. Applied to the whole router with `Router::layer`, so it runs after
/// routing (the matched path and its parameters are known).
pub async fn gate(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    // The path's `{id}` (a board's, for share links), read with axum's own extractor.
    let (mut parts, body) = req.into_parts();
    let board = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| params.iter().find(|(k, _)| *k == "id").map(|(_, v)| v.to_string()));
    let mut req = Request::from_parts(parts, body);
    match gate.admit(&mut req, board.as_deref()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
