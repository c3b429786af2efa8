//! The generator: one call builds one whole, finished transaction of the simulated fintech system as the
//! spans its services' OpenTelemetry Java agents would report. Pure (randomness comes from the caller's
//! RNG, time from `end_ns`), so tests can check every property on thousands of seeded transactions.
//!
//! The system: `gateway` (public API) → `balance`, `payment`, `recharge` over HTTP with W3C trace
//! context, each with its own PostgreSQL database; `payment` and `recharge` also debit accounts through
//! `balance`; `recharge` calls an external telecom API. Time is laid out with one cursor, because every
//! request is handled synchronously on one worker thread per service, as in a servlet container.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use rand::Rng;

use super::catalog::{self, Exception, Query};
use super::incidents::Incidents;
use super::otlp::{kv, kv_int, DemoSpan, Instance, Service};

/// The read timeout recharge's HTTP client uses for the telecom API.
pub const TELCO_TIMEOUT_MS: f64 = 3000.0;
/// `url.full` of the external telecom API.
pub const TELCO_URL: &str = "https://api.telco.example/topup";

const SCOPE_METHODS: &str = "io.opentelemetry.methods";
const SCOPE_JDBC: &str = "io.opentelemetry.jdbc";
const SCOPE_HTTP_CLIENT: &str = "io.opentelemetry.http-url-connection";

/// W3C trace flag "sampled" plus OTLP's "is-remote is known" bit; the remote bit marks a parent in another process.
const FLAGS_SAMPLED_LOCAL: u32 = 0x101;
const FLAGS_SAMPLED_REMOTE: u32 = 0x301;

/// The public API of the gateway, one kind of transaction each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Pay,
    Balance,
    Recharge,
    History,
}

impl Endpoint {
    /// Every endpoint, for tests and iteration.
    pub const ALL: [Endpoint; 4] = [Endpoint::Pay, Endpoint::Balance, Endpoint::Recharge, Endpoint::History];

    /// HTTP method.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Pay | Endpoint::Recharge => "POST",
            Endpoint::Balance | Endpoint::History => "GET",
        }
    }

    /// `http.route` at the gateway.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::Pay => "/api/v1/pay",
            Endpoint::Balance => "/api/v1/balance",
            Endpoint::Recharge => "/api/v1/recharge",
            Endpoint::History => "/api/v1/history",
        }
    }

    /// Traffic mix: mostly balance checks and payments.
    fn pick<R: Rng + ?Sized>(rng: &mut R) -> Self {
        match rng.random_range(0..100) {
            0..40 => Endpoint::Balance,
            40..70 => Endpoint::Pay,
            70..85 => Endpoint::History,
            _ => Endpoint::Recharge,
        }
    }
}

/// One finished transaction: the spans of one trace, the gateway's SERVER span first.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub endpoint: Endpoint,
    pub spans: Vec<DemoSpan>,
}

impl Transaction {
    /// The gateway's SERVER span, the transaction the user sees in the hitmap.
    pub fn root(&self) -> &Span {
        &self.spans[0].span
    }

    /// Response time as the gateway measured it.
    pub fn duration_ns(&self) -> u64 {
        let r = self.root();
        r.end_time_unix_nano - r.start_time_unix_nano
    }

    /// Moves every timestamp `delta_ns` later (used to turn a finished transaction into one still running).
    pub fn shift_later(&mut self, delta_ns: u64) {
        for s in &mut self.spans {
            s.span.start_time_unix_nano += delta_ns;
            s.span.end_time_unix_nano += delta_ns;
            for e in &mut s.span.events {
                e.time_unix_nano += delta_ns;
            }
        }
    }
}

/// A random transaction (endpoint from the traffic mix) that ends at `end_ns`, under `incidents`.
pub fn transaction<R: Rng + ?Sized>(rng: &mut R, end_ns: u64, incidents: &Incidents) -> Transaction {
    let endpoint = Endpoint::pick(rng);
    transaction_for(rng, endpoint, end_ns, incidents)
}

/// A transaction on a given endpoint that ends at `end_ns`, under `incidents`.
pub fn transaction_for<R: Rng + ?Sized>(rng: &mut R, endpoint: Endpoint, end_ns: u64, incidents: &Incidents) -> Transaction {
    let mut trace_id = vec![0u8; 16];
    while trace_id.iter().all(|b| *b == 0) {
        rng.fill(&mut trace_id[..]);
    }
    // The fate of the telecom call is decided up front: a timed-out request spends 3 s waiting on a socket,
    // and the rest of its work is ordinary, so its response time lands in a tight band just above 3 s.
    let telco_timeout =
        endpoint == Endpoint::Recharge && rng.random_bool(if incidents.recharge_timeout { 0.85 } else { 0.001 });
    // Per-request contention (CPU, connection pool, locks): the main source of the long tail.
    let mut load = lognormal(rng, 1.0, 0.55).clamp(0.3, 12.0);
    if telco_timeout {
        load = load.min(2.0);
    }
    let mut b = Builder { rng, trace_id, t: 0, load, rare_waits: !telco_timeout, telco_timeout, inc: *incidents, spans: Vec::with_capacity(24) };
    gateway(&mut b, endpoint);
    let duration = b.spans[0].span.end_time_unix_nano;
    let base = end_ns.saturating_sub(duration);
    let mut spans = b.spans;
    for s in &mut spans {
        s.span.start_time_unix_nano += base;
        s.span.end_time_unix_nano += base;
        for e in &mut s.span.events {
            e.time_unix_nano += base;
        }
    }
    Transaction { endpoint, spans }
}

/// Standard log-normal sample with the given median (Box–Muller; `rand_distr` is not a dependency).
pub fn lognormal<R: Rng + ?Sized>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

/// Which process and worker thread handle one service's part of a request.
struct Ctx {
    instance: Instance,
    thread_name: String,
    thread_id: i64,
}

/// What a service answered; `error` is the exception that escaped its controller, if any.
struct Reply {
    status: u16,
    error: Option<Exception>,
}

impl From<Result<u16, Exception>> for Reply {
    fn from(r: Result<u16, Exception>) -> Self {
        match r {
            Ok(status) => Reply { status, error: None },
            Err(e) => Reply { status: e.http_status, error: Some(e) },
        }
    }
}

struct Builder<'r, R: Rng + ?Sized> {
    rng: &'r mut R,
    trace_id: Vec<u8>,
    /// Cursor: nanoseconds since the transaction started.
    t: u64,
    load: f64,
    /// Whether rare stalls (row locks, GC pauses) may happen in this transaction.
    rare_waits: bool,
    telco_timeout: bool,
    inc: Incidents,
    spans: Vec<DemoSpan>,
}

impl<R: Rng + ?Sized> Builder<'_, R> {
    fn ctx(&mut self, service: Service) -> Ctx {
        let mut instance = Instance::new(service, self.rng.random_range(0..service.instances()));
        if service == Service::Payment {
            instance.version = self.inc.payment_version;
        }
        let (prefix, first_id, size) = service.thread_pool();
        let n = self.rng.random_range(1..=size);
        Ctx { instance, thread_name: format!("{prefix}{n}"), thread_id: first_id + i64::from(n) - 1 }
    }

    fn advance_ms(&mut self, ms: f64) {
        self.t += (ms.max(0.0) * 1e6) as u64;
    }

    /// CPU or I/O work of typical length `median_ms`, scaled by this request's contention.
    fn work(&mut self, median_ms: f64, sigma: f64) {
        let mut ms = lognormal(self.rng, median_ms, sigma) * self.load;
        if self.rare_waits && self.rng.random_bool(0.0015) {
            ms += lognormal(self.rng, 180.0, 0.7); // stop-the-world GC pause
        }
        self.advance_ms(ms);
    }

    fn open(&mut self, ctx: &Ctx, scope: &'static str, parent: Option<usize>, kind: SpanKind, name: String, mut attributes: Vec<KeyValue>) -> usize {
        let mut span_id = vec![0u8; 8];
        while span_id.iter().all(|b| *b == 0) {
            self.rng.fill(&mut span_id[..]);
        }
        let (parent_span_id, flags) = match parent {
            Some(p) => {
                let remote = self.spans[p].instance != ctx.instance;
                (self.spans[p].span.span_id.clone(), if remote { FLAGS_SAMPLED_REMOTE } else { FLAGS_SAMPLED_LOCAL })
            }
            None => (Vec::new(), FLAGS_SAMPLED_LOCAL),
        };
        attributes.push(kv_int("thread.id", ctx.thread_id));
        attributes.push(kv("thread.name", ctx.thread_name.clone()));
        self.spans.push(DemoSpan {
            instance: ctx.instance,
            scope,
            span: Span {
                trace_id: self.trace_id.clone(),
                span_id,
                trace_state: String::new(),
                parent_span_id,
                flags,
                name,
                kind: kind as i32,
                start_time_unix_nano: self.t,
                end_time_unix_nano: 0,
                attributes,
                dropped_attributes_count: 0,
                events: Vec::new(),
                dropped_events_count: 0,
                links: Vec::new(),
                dropped_links_count: 0,
                status: None,
            },
        });
        self.spans.len() - 1
    }

    fn close(&mut self, span: usize) {
        self.spans[span].span.end_time_unix_nano = self.t;
    }

    fn attr(&mut self, span: usize, kv: KeyValue) {
        self.spans[span].span.attributes.push(kv);
    }

    fn error_status(&mut self, span: usize, message: String) {
        self.spans[span].span.status = Some(Status { message, code: StatusCode::Error as i32 });
    }

    /// Records `e` as the agent does: an `exception` event now and ERROR status.
    fn fail(&mut self, span: usize, e: &Exception) {
        let event = Event {
            time_unix_nano: self.t,
            name: "exception".into(),
            attributes: vec![
                kv("exception.type", e.ty),
                kv("exception.message", e.message.clone()),
                kv("exception.stacktrace", e.stacktrace.clone()),
            ],
            dropped_attributes_count: 0,
        };
        self.spans[span].span.events.push(event);
        self.error_status(span, format!("{}: {}", e.ty, e.message));
    }

    /// An INTERNAL span for one instrumented Java method; an exception escaping `f` is recorded on it.
    fn method<T>(
        &mut self,
        ctx: &Ctx,
        parent: usize,
        class: &'static str,
        function: &'static str,
        f: impl FnOnce(&mut Self, usize) -> Result<T, Exception>,
    ) -> Result<T, Exception> {
        let simple = class.rsplit('.').next().unwrap_or(class);
        let attrs = vec![kv("code.namespace", class), kv("code.function", function)];
        let span = self.open(ctx, SCOPE_METHODS, Some(parent), SpanKind::Internal, format!("{simple}.{function}"), attrs);
        self.work(0.03, 0.5);
        let r = f(self, span);
        if let Err(e) = &r {
            self.fail(span, e);
        }
        self.close(span);
        r
    }

    /// A database CLIENT span for `q`, lasting its usual time (or exactly `fixed_ms` when given).
    fn sql(&mut self, ctx: &Ctx, parent: usize, q: &Query, fixed_ms: Option<f64>) -> usize {
        let (namespace, host) = catalog::database(ctx.instance.service);
        let attrs = vec![
            kv("db.system", "postgresql"),
            kv("db.system.name", "postgresql"),
            kv("db.namespace", namespace),
            kv("db.collection.name", q.table),
            kv("db.operation.name", q.op),
            kv("db.query.text", q.text),
            kv("db.statement", q.text),
            kv("server.address", host),
            kv_int("server.port", 5432),
        ];
        let span = self.open(ctx, SCOPE_JDBC, Some(parent), SpanKind::Client, format!("{} {}", q.op, q.table), attrs);
        match fixed_ms {
            Some(ms) => self.advance_ms(ms),
            None => {
                if self.rare_waits && self.rng.random_bool(0.008) {
                    let wait = lognormal(self.rng, 150.0, 0.9); // row lock or pool wait
                    self.advance_ms(wait);
                }
                self.work(q.median_ms, 0.35);
            }
        }
        self.close(span);
        span
    }

    /// The SERVER span of `service` handling a request from CLIENT span `caller`, around `handler`.
    fn serve(
        &mut self,
        service: Service,
        caller: usize,
        (method, route, path, query): (&'static str, &'static str, &str, Option<&str>),
        handler: impl FnOnce(&mut Self, &Ctx, usize) -> Reply,
    ) -> Reply {
        let ctx = self.ctx(service);
        let mut attrs = vec![
            kv("http.request.method", method),
            kv("url.scheme", "http"),
            kv("url.path", path),
            kv("http.route", route),
            kv("server.address", service.name()),
            kv_int("server.port", i64::from(service.port())),
            kv("client.address", self.spans[caller].instance.host_ip()),
            kv("network.protocol.version", "1.1"),
            kv("user_agent.original", "Java/21.0.5"),
        ];
        if let Some(q) = query {
            attrs.push(kv("url.query", q));
        }
        let span = self.open(&ctx, service.server_scope(), Some(caller), SpanKind::Server, format!("{method} {route}"), attrs);
        self.work(0.08, 0.5); // filters, request body parsing
        let reply = handler(self, &ctx, span);
        self.work(0.1, 0.5); // response serialisation
        self.finish_server(span, &reply);
        self.close(span);
        reply
    }

    fn finish_server(&mut self, span: usize, reply: &Reply) {
        self.attr(span, kv_int("http.response.status_code", i64::from(reply.status)));
        // Semantic conventions: on SERVER spans only 5xx is an error.
        if reply.status >= 500 {
            match &reply.error {
                Some(e) => {
                    self.attr(span, kv("error.type", e.ty));
                    self.fail(span, e);
                }
                None => {
                    self.attr(span, kv("error.type", reply.status.to_string()));
                    self.error_status(span, String::new());
                }
            }
        }
    }

    /// An outbound HTTP CLIENT span to `target`, whose SERVER span becomes its child in the same trace.
    fn call(
        &mut self,
        ctx: &Ctx,
        parent: usize,
        target: Service,
        (method, route, path, query): (&'static str, &'static str, &str, Option<&str>),
        handler: impl FnOnce(&mut Self, &Ctx, usize) -> Reply,
    ) -> Reply {
        let url = match query {
            Some(q) => format!("http://{}:{}{path}?{q}", target.name(), target.port()),
            None => format!("http://{}:{}{path}", target.name(), target.port()),
        };
        let attrs = vec![
            kv("http.request.method", method),
            kv("url.full", url),
            kv("url.template", route),
            kv("server.address", target.name()),
            kv_int("server.port", i64::from(target.port())),
            kv("network.protocol.version", "1.1"),
        ];
        // Semantic conventions: `{method} {url.template}` when the template is known, so a running step
        // reads "POST /recharges" rather than "POST".
        let span = self.open(ctx, SCOPE_HTTP_CLIENT, Some(parent), SpanKind::Client, format!("{method} {route}"), attrs);
        self.work(0.25, 0.4); // connection from the pool, request written
        let reply = self.serve(target, span, (method, route, path, query), handler);
        self.work(0.2, 0.4); // response read
        self.client_status(span, reply.status);
        self.close(span);
        reply
    }

    fn client_status(&mut self, span: usize, status: u16) {
        self.attr(span, kv_int("http.response.status_code", i64::from(status)));
        // Semantic conventions: on CLIENT spans 4xx and 5xx are errors.
        if status >= 400 {
            self.attr(span, kv("error.type", status.to_string()));
            self.error_status(span, String::new());
        }
    }

    /// recharge → telecom API: the external call that hangs during the recharge-timeout incident.
    fn telco_topup(&mut self, ctx: &Ctx, parent: usize) -> Result<(), Exception> {
        let attrs = vec![
            kv("http.request.method", "POST"),
            kv("url.full", TELCO_URL),
            kv("url.template", "/topup"),
            kv("server.address", "api.telco.example"),
            kv_int("server.port", 443),
            kv("network.protocol.version", "1.1"),
        ];
        let span = self.open(ctx, SCOPE_HTTP_CLIENT, Some(parent), SpanKind::Client, "POST /topup".into(), attrs);
        if self.telco_timeout {
            let connect = self.rng.random_range(0.5..4.0);
            self.advance_ms(connect + TELCO_TIMEOUT_MS);
            let e = catalog::telco_read_timeout();
            self.attr(span, kv("error.type", e.ty));
            self.fail(span, &e);
            self.close(span);
            return Err(e);
        }
        // The operator is struggling for everyone during the incident; the survivors are slow too.
        let median = if self.inc.recharge_timeout { 450.0 } else { 170.0 };
        let ms = lognormal(self.rng, median, 0.45).min(TELCO_TIMEOUT_MS - 100.0);
        self.advance_ms(ms);
        if self.rng.random_bool(0.005) {
            self.client_status(span, 503);
            self.close(span);
            return Err(catalog::upstream_error(503, Service::Recharge, "com.fintech.recharge.telco.TelcoClient.topUp(TelcoClient.java:71)"));
        }
        self.client_status(span, 200);
        self.close(span);
        Ok(())
    }
}

fn account<R: Rng + ?Sized>(rng: &mut R) -> String {
    format!("ACC-{:06}", rng.random_range(1..200_000))
}

/// A 2xx/4xx answer passes through as a status; a 5xx becomes the exception Spring's RestTemplate throws.
fn expect_ok(reply: Reply, caller: Service, call_site: &'static str) -> Result<u16, Exception> {
    if reply.status >= 500 {
        Err(catalog::upstream_error(reply.status, caller, call_site))
    } else {
        Ok(reply.status)
    }
}

const USER_AGENTS: &[&str] = &[
    "FintechApp/5.3.1 (Android 14; Pixel 8)",
    "FintechApp/5.3.1 (iOS 18.1; iPhone15,2)",
    "FintechApp/5.2.9 (Android 13; SM-A546B)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
];

fn gateway<R: Rng + ?Sized>(b: &mut Builder<'_, R>, endpoint: Endpoint) {
    let ctx = b.ctx(Service::Gateway);
    let (method, route) = (endpoint.method(), endpoint.route());
    let mut attrs = vec![
        kv("http.request.method", method),
        kv("url.scheme", "https"),
        kv("url.path", route),
        kv("http.route", route),
        kv("server.address", "api.fintech.example"),
        kv_int("server.port", 443),
        kv("client.address", format!("198.51.100.{}", b.rng.random_range(1..255))),
        kv("user_agent.original", USER_AGENTS[b.rng.random_range(0..USER_AGENTS.len())]),
        kv("network.protocol.version", "1.1"),
    ];
    if endpoint == Endpoint::History {
        attrs.push(kv("url.query", "page=1&size=20"));
    }
    let root = b.open(&ctx, Service::Gateway.server_scope(), None, SpanKind::Server, format!("{method} {route}"), attrs);
    b.work(0.12, 0.5);
    let authorized = b
        .method(&ctx, root, "com.fintech.gateway.security.JwtAuthenticationFilter", "doFilterInternal", |b, _| {
            b.work(0.45, 0.4);
            Ok(!b.rng.random_bool(0.004))
        })
        .unwrap_or(false);
    let result = if !authorized {
        Ok(401)
    } else {
        let acct = account(b.rng);
        match endpoint {
            Endpoint::Pay => b.method(&ctx, root, "com.fintech.gateway.web.PaymentProxyController", "pay", |b, m| {
                let r = b.call(&ctx, m, Service::Payment, ("POST", "/payments", "/payments", None), payment_create);
                expect_ok(r, Service::Gateway, "com.fintech.gateway.web.PaymentProxyController.pay(PaymentProxyController.java:39)")
            }),
            Endpoint::Balance => b.method(&ctx, root, "com.fintech.gateway.web.BalanceProxyController", "balance", |b, m| {
                let path = format!("/balances/{acct}");
                let r = b.call(&ctx, m, Service::Balance, ("GET", "/balances/{accountId}", &path, None), balance_get);
                expect_ok(r, Service::Gateway, "com.fintech.gateway.web.BalanceProxyController.balance(BalanceProxyController.java:33)")
            }),
            Endpoint::Recharge => b.method(&ctx, root, "com.fintech.gateway.web.RechargeProxyController", "recharge", |b, m| {
                let r = b.call(&ctx, m, Service::Recharge, ("POST", "/recharges", "/recharges", None), recharge_create);
                expect_ok(r, Service::Gateway, "com.fintech.gateway.web.RechargeProxyController.recharge(RechargeProxyController.java:36)")
            }),
            Endpoint::History => b.method(&ctx, root, "com.fintech.gateway.web.HistoryController", "history", |b, m| {
                let query = format!("accountId={acct}&limit=20");
                let r = b.call(&ctx, m, Service::Payment, ("GET", "/payments", "/payments", Some(&query)), payment_list);
                expect_ok(r, Service::Gateway, "com.fintech.gateway.web.HistoryController.history(HistoryController.java:44)")?;
                let r = b.call(&ctx, m, Service::Recharge, ("GET", "/recharges", "/recharges", Some(&query)), recharge_list);
                expect_ok(r, Service::Gateway, "com.fintech.gateway.web.HistoryController.history(HistoryController.java:47)")?;
                b.work(0.3, 0.5); // merge both lists
                Ok(200)
            }),
        }
    };
    b.work(0.15, 0.5);
    b.finish_server(root, &Reply::from(result));
    b.close(root);
}

fn payment_create<R: Rng + ?Sized>(b: &mut Builder<'_, R>, ctx: &Ctx, server: usize) -> Reply {
    b.method(ctx, server, "com.fintech.payment.web.PaymentController", "create", |b, c| {
        b.method(ctx, c, "com.fintech.payment.service.PaymentService", "authorize", |b, s| {
            b.sql(ctx, s, &catalog::MERCHANT_BY_ID, None);
            b.method(ctx, s, "com.fintech.payment.service.FeeCalculator", "calculate", |b, _| {
                b.work(0.15, 0.4);
                if b.inc.payment_buggy && b.rng.random_bool(0.55) {
                    return Err(catalog::fee_schedule_npe());
                }
                Ok(())
            })?;
            b.method(ctx, s, "com.fintech.payment.risk.FraudScoringService", "score", |b, _| {
                b.work(3.5, 0.5);
                Ok(())
            })?;
            b.sql(ctx, s, &catalog::INSERT_PAYMENT, None);
            let path = format!("/balances/{}/debit", account(b.rng));
            let debit = b.call(ctx, s, Service::Balance, ("POST", "/balances/{accountId}/debit", &path, None), balance_debit);
            let status = expect_ok(debit, Service::Payment, "com.fintech.payment.client.BalanceClient.debit(BalanceClient.java:58)")?;
            b.sql(ctx, s, &catalog::UPDATE_PAYMENT, None); // SETTLED, or DECLINED on insufficient funds
            Ok(if status == 422 { 422 } else { 201 })
        })
    })
    .into()
}

fn payment_list<R: Rng + ?Sized>(b: &mut Builder<'_, R>, ctx: &Ctx, server: usize) -> Reply {
    b.method(ctx, server, "com.fintech.payment.web.PaymentController", "list", |b, c| {
        b.method(ctx, c, "com.fintech.payment.service.PaymentQueryService", "recentPayments", |b, s| {
            b.sql(ctx, s, &catalog::PAYMENT_HISTORY, None);
            b.work(0.4, 0.5); // entity → DTO mapping
            Ok(200)
        })
    })
    .into()
}

fn balance_get<R: Rng + ?Sized>(b: &mut Builder<'_, R>, ctx: &Ctx, server: usize) -> Reply {
    b.method(ctx, server, "com.fintech.balance.web.BalanceController", "getBalance", |b, c| {
        b.method(ctx, c, "com.fintech.balance.service.BalanceService", "getBalance", |b, s| {
            b.sql(ctx, s, &catalog::ACCOUNT_BY_ID, None);
            b.method(ctx, s, "com.fintech.balance.repository.LedgerRepository", "findRecentEntries", |b, r| {
                // During the incident the planner picks a sequential scan over ledger_entries.
                let fixed = (b.inc.slow_query && b.rng.random_bool(0.8)).then(|| b.rng.random_range(800.0..1500.0));
                b.sql(ctx, r, &catalog::RECENT_LEDGER, fixed);
                Ok(())
            })?;
            b.work(0.2, 0.5);
            Ok(200)
        })
    })
    .into()
}

fn balance_debit<R: Rng + ?Sized>(b: &mut Builder<'_, R>, ctx: &Ctx, server: usize) -> Reply {
    b.method(ctx, server, "com.fintech.balance.web.BalanceController", "debit", |b, c| {
        b.method(ctx, c, "com.fintech.balance.service.LedgerService", "debit", |b, s| {
            b.sql(ctx, s, &catalog::LOCK_ACCOUNT, None);
            if b.rng.random_bool(0.03) {
                b.work(0.05, 0.4);
                return Ok(422); // insufficient funds: rolled back, a business answer, not an error
            }
            let update = b.sql(ctx, s, &catalog::DEBIT_ACCOUNT, None);
            if b.rng.random_bool(0.003) {
                let e = catalog::serialization_failure();
                b.fail(update, &e);
                return Err(e);
            }
            b.sql(ctx, s, &catalog::INSERT_LEDGER, None);
            Ok(200)
        })
    })
    .into()
}

fn recharge_create<R: Rng + ?Sized>(b: &mut Builder<'_, R>, ctx: &Ctx, server: usize) -> Reply {
    b.method(ctx, server, "com.fintech.recharge.web.RechargeController", "create", |b, c| {
        b.method(ctx, c, "com.fintech.recharge.service.RechargeService", "topUp", |b, s| {
            b.sql(ctx, s, &catalog::PLAN_BY_ID, None);
            let path = format!("/balances/{}/debit", account(b.rng));
            let debit = b.call(ctx, s, Service::Balance, ("POST", "/balances/{accountId}/debit", &path, None), balance_debit);
            if expect_ok(debit, Service::Recharge, "com.fintech.recharge.client.BalanceClient.debit(BalanceClient.java:49)")? == 422 {
                return Ok(422);
            }
            b.sql(ctx, s, &catalog::INSERT_RECHARGE, None);
            let telco = b.method(ctx, s, "com.fintech.recharge.telco.TelcoClient", "topUp", |b, t| b.telco_topup(ctx, t));
            b.sql(ctx, s, &catalog::UPDATE_RECHARGE, None); // COMPLETED, or TIMEOUT / FAILED in the catch block
            telco.map(|()| 201)
        })
    })
    .into()
}

fn recharge_list<R: Rng + ?Sized>(b: &mut Builder<'_, R>, ctx: &Ctx, server: usize) -> Reply {
    b.method(ctx, server, "com.fintech.recharge.web.RechargeController", "list", |b, c| {
        b.sql(ctx, c, &catalog::RECHARGE_HISTORY, None);
        b.work(0.3, 0.5);
        Ok(200)
    })
    .into()
}
