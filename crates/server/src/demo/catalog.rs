//! The text a real system would produce: SQL statements as the JDBC instrumentation reports them (bind
//! parameters as `?`) and Java exceptions with believable stack traces. Kept apart from the generator so
//! the control flow in `topology` stays readable.

use super::otlp::Service;

/// One SQL statement a service runs, with its typical (healthy) latency.
pub struct Query {
    /// `db.operation.name`.
    pub op: &'static str,
    /// `db.collection.name`.
    pub table: &'static str,
    /// `db.query.text` / `db.statement`.
    pub text: &'static str,
    /// Median latency when the database is healthy.
    pub median_ms: f64,
}

/// `db.namespace` and the database host of each service (every service owns its database).
pub fn database(service: Service) -> (&'static str, &'static str) {
    match service {
        Service::Gateway => ("gateway", "pg-gateway.fintech.internal"),
        Service::Balance => ("balance", "pg-balance.fintech.internal"),
        Service::Payment => ("payment", "pg-payment.fintech.internal"),
        Service::Recharge => ("recharge", "pg-recharge.fintech.internal"),
    }
}

pub const ACCOUNT_BY_ID: Query = Query {
    op: "SELECT",
    table: "accounts",
    text: "SELECT a.account_id, a.currency, a.available_balance, a.ledger_balance, a.updated_at FROM accounts a WHERE a.account_id = ?",
    median_ms: 0.9,
};
/// The query that degrades to a sequential scan during the slow-query incident.
pub const RECENT_LEDGER: Query = Query {
    op: "SELECT",
    table: "ledger_entries",
    text: "SELECT e.entry_id, e.amount, e.direction, e.reference, e.created_at FROM ledger_entries e WHERE e.account_id = ? AND e.created_at >= ? ORDER BY e.created_at DESC LIMIT 20",
    median_ms: 1.8,
};
pub const LOCK_ACCOUNT: Query = Query {
    op: "SELECT",
    table: "accounts",
    text: "SELECT available_balance FROM accounts WHERE account_id = ? FOR UPDATE",
    median_ms: 1.2,
};
pub const DEBIT_ACCOUNT: Query = Query {
    op: "UPDATE",
    table: "accounts",
    text: "UPDATE accounts SET available_balance = available_balance - ?, updated_at = now() WHERE account_id = ?",
    median_ms: 1.1,
};
pub const INSERT_LEDGER: Query = Query {
    op: "INSERT",
    table: "ledger_entries",
    text: "INSERT INTO ledger_entries (entry_id, account_id, amount, direction, reference, created_at) VALUES (?, ?, ?, 'DEBIT', ?, now())",
    median_ms: 1.0,
};
pub const MERCHANT_BY_ID: Query = Query {
    op: "SELECT",
    table: "merchants",
    text: "SELECT m.merchant_id, m.name, m.fee_schedule_id, m.status FROM merchants m WHERE m.merchant_id = ?",
    median_ms: 0.8,
};
pub const INSERT_PAYMENT: Query = Query {
    op: "INSERT",
    table: "payments",
    text: "INSERT INTO payments (payment_id, account_id, merchant_id, amount, currency, status, created_at) VALUES (?, ?, ?, ?, ?, 'PENDING', now())",
    median_ms: 1.4,
};
pub const UPDATE_PAYMENT: Query = Query {
    op: "UPDATE",
    table: "payments",
    text: "UPDATE payments SET status = ?, settled_at = now() WHERE payment_id = ?",
    median_ms: 1.2,
};
pub const PAYMENT_HISTORY: Query = Query {
    op: "SELECT",
    table: "payments",
    text: "SELECT p.payment_id, p.merchant_id, p.amount, p.currency, p.status, p.created_at FROM payments p WHERE p.account_id = ? ORDER BY p.created_at DESC LIMIT ?",
    median_ms: 3.5,
};
pub const PLAN_BY_ID: Query = Query {
    op: "SELECT",
    table: "recharge_plans",
    text: "SELECT plan_id, operator, amount, currency FROM recharge_plans WHERE plan_id = ? AND active = true",
    median_ms: 0.7,
};
pub const INSERT_RECHARGE: Query = Query {
    op: "INSERT",
    table: "recharges",
    text: "INSERT INTO recharges (recharge_id, account_id, msisdn, plan_id, status, created_at) VALUES (?, ?, ?, ?, 'PENDING', now())",
    median_ms: 1.3,
};
pub const UPDATE_RECHARGE: Query = Query {
    op: "UPDATE",
    table: "recharges",
    text: "UPDATE recharges SET status = ?, operator_ref = ?, completed_at = now() WHERE recharge_id = ?",
    median_ms: 1.1,
};
pub const RECHARGE_HISTORY: Query = Query {
    op: "SELECT",
    table: "recharges",
    text: "SELECT r.recharge_id, r.msisdn, r.plan_id, r.status, r.created_at FROM recharges r WHERE r.account_id = ? ORDER BY r.created_at DESC LIMIT ?",
    median_ms: 2.5,
};

/// A Java exception as the agent records it in an `exception` span event.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// `exception.type`.
    pub ty: &'static str,
    /// `exception.message`.
    pub message: String,
    /// `exception.stacktrace`.
    pub stacktrace: String,
    /// The HTTP status the service answers with when this exception escapes its controller.
    pub http_status: u16,
}

impl Exception {
    fn new(ty: &'static str, message: String, http_status: u16, app_frames: &[&str], container: Service) -> Self {
        let mut st = format!("{ty}: {message}");
        for f in app_frames.iter().copied().chain(SPRING_DISPATCH.iter().copied()) {
            st.push_str("\n\tat ");
            st.push_str(f);
        }
        let tail: &[&str] = if container == Service::Payment { UNDERTOW_TAIL } else { TOMCAT_TAIL };
        for f in tail {
            st.push_str("\n\tat ");
            st.push_str(f);
        }
        Exception { ty, message, stacktrace: st, http_status }
    }
}

/// The NullPointerException the broken payment release throws (a merchant without fee schedule).
pub fn fee_schedule_npe() -> Exception {
    Exception::new(
        "java.lang.NullPointerException",
        "Cannot invoke \"com.fintech.payment.domain.FeeSchedule.rateFor(com.fintech.payment.domain.Money)\" because the return value of \"com.fintech.payment.domain.Merchant.getFeeSchedule()\" is null".into(),
        500,
        &[
            "com.fintech.payment.service.FeeCalculator.calculate(FeeCalculator.java:48)",
            "com.fintech.payment.service.PaymentService.authorize(PaymentService.java:112)",
            "com.fintech.payment.web.PaymentController.create(PaymentController.java:57)",
        ],
        Service::Payment,
    )
}

/// The read timeout recharge hits when the telecom API hangs.
pub fn telco_read_timeout() -> Exception {
    Exception::new(
        "java.net.SocketTimeoutException",
        "Read timed out".into(),
        504,
        &[
            "java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)",
            "java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:304)",
            "java.base/sun.nio.ch.NioSocketImpl.read(NioSocketImpl.java:346)",
            "java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
            "java.base/sun.security.ssl.SSLSocketInputRecord.read(SSLSocketInputRecord.java:489)",
            "java.base/sun.security.ssl.SSLSocketImpl$AppInputStream.read(SSLSocketImpl.java:1309)",
            "java.base/java.io.BufferedInputStream.fill(BufferedInputStream.java:291)",
            "java.base/sun.net.www.http.HttpClient.parseHTTPHeader(HttpClient.java:827)",
            "java.base/sun.net.www.protocol.http.HttpURLConnection.getInputStream0(HttpURLConnection.java:1688)",
            "java.base/java.net.HttpURLConnection.getResponseCode(HttpURLConnection.java:531)",
            "org.springframework.http.client.SimpleClientHttpResponse.getStatusCode(SimpleClientHttpResponse.java:55)",
            "org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:886)",
            "com.fintech.recharge.telco.TelcoClient.topUp(TelcoClient.java:71)",
            "com.fintech.recharge.service.RechargeService.topUp(RechargeService.java:94)",
            "com.fintech.recharge.web.RechargeController.create(RechargeController.java:42)",
        ],
        Service::Recharge,
    )
}

/// A PostgreSQL serialization failure on the balance debit (two payments on one account at once).
pub fn serialization_failure() -> Exception {
    Exception::new(
        "org.postgresql.util.PSQLException",
        "ERROR: could not serialize access due to concurrent update".into(),
        500,
        &[
            "org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2733)",
            "org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2420)",
            "org.postgresql.core.v3.QueryExecutorImpl.execute(QueryExecutorImpl.java:372)",
            "org.postgresql.jdbc.PgStatement.executeInternal(PgStatement.java:517)",
            "org.postgresql.jdbc.PgPreparedStatement.executeWithFlags(PgPreparedStatement.java:194)",
            "org.postgresql.jdbc.PgPreparedStatement.executeUpdate(PgPreparedStatement.java:155)",
            "com.zaxxer.hikari.pool.HikariProxyPreparedStatement.executeUpdate(HikariProxyPreparedStatement.java)",
            "org.springframework.jdbc.core.JdbcTemplate.lambda$update$2(JdbcTemplate.java:965)",
            "com.fintech.balance.repository.AccountRepository.debit(AccountRepository.java:77)",
            "com.fintech.balance.service.LedgerService.debit(LedgerService.java:64)",
            "com.fintech.balance.web.BalanceController.debit(BalanceController.java:51)",
        ],
        Service::Balance,
    )
}

/// What Spring's `RestTemplate` throws in `caller` when the called service answers 5xx. The caller
/// answers with the same status (the gateway passes errors through).
pub fn upstream_error(status: u16, caller: Service, call_site: &'static str) -> Exception {
    let (class, reason, body) = match status {
        502 => ("BadGateway", "Bad Gateway", r#"{"error":"upstream_failure"}"#),
        503 => ("ServiceUnavailable", "Service Unavailable", r#"{"code":"OPERATOR_BUSY"}"#),
        504 => ("GatewayTimeout", "Gateway Timeout", r#"{"error":"upstream_timeout"}"#),
        _ => ("InternalServerError", "Internal Server Error", r#"{"error":"internal_error"}"#),
    };
    let ty: &'static str = match class {
        "BadGateway" => "org.springframework.web.client.HttpServerErrorException$BadGateway",
        "ServiceUnavailable" => "org.springframework.web.client.HttpServerErrorException$ServiceUnavailable",
        "GatewayTimeout" => "org.springframework.web.client.HttpServerErrorException$GatewayTimeout",
        _ => "org.springframework.web.client.HttpServerErrorException$InternalServerError",
    };
    Exception::new(
        ty,
        format!("{status} {reason}: \"{body}\""),
        if status == 503 { 502 } else { status },
        &[
            "org.springframework.web.client.HttpServerErrorException.create(HttpServerErrorException.java:112)",
            "org.springframework.web.client.DefaultResponseErrorHandler.handleError(DefaultResponseErrorHandler.java:183)",
            "org.springframework.web.client.DefaultResponseErrorHandler.handleError(DefaultResponseErrorHandler.java:137)",
            "org.springframework.web.client.RestTemplate.handleResponse(RestTemplate.java:932)",
            "org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:881)",
            "org.springframework.web.client.RestTemplate.exchange(RestTemplate.java:717)",
            call_site,
        ],
        caller,
    )
}

const SPRING_DISPATCH: &[&str] = &[
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:580)",
    "org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:255)",
    "org.springframework.web.method.support.InvocableHandlerMethod.invokeForRequest(InvocableHandlerMethod.java:188)",
    "org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle(ServletInvocableHandlerMethod.java:118)",
    "org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter.invokeHandlerMethod(RequestMappingHandlerAdapter.java:986)",
    "org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
    "org.springframework.web.servlet.DispatcherServlet.doService(DispatcherServlet.java:979)",
    "org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
    "org.springframework.web.servlet.FrameworkServlet.doPost(FrameworkServlet.java:914)",
];

const TOMCAT_TAIL: &[&str] = &[
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:590)",
    "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)",
    "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:195)",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:140)",
    "org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:167)",
    "org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:397)",
    "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1791)",
    "org.apache.tomcat.util.threads.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1190)",
    "org.apache.tomcat.util.threads.TaskThread$WrappingRunnable.run(TaskThread.java:63)",
    "java.base/java.lang.Thread.run(Thread.java:1583)",
];

const UNDERTOW_TAIL: &[&str] = &[
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:590)",
    "io.undertow.servlet.handlers.ServletHandler.handleRequest(ServletHandler.java:74)",
    "io.undertow.servlet.handlers.ServletInitialHandler.dispatchRequest(ServletInitialHandler.java:276)",
    "io.undertow.server.Connectors.executeRootHandler(Connectors.java:393)",
    "io.undertow.server.HttpServerExchange$1.run(HttpServerExchange.java:859)",
    "org.jboss.threads.EnhancedQueueExecutor$Task.run(EnhancedQueueExecutor.java:2516)",
    "org.jboss.threads.EnhancedQueueExecutor$ThreadBody.run(EnhancedQueueExecutor.java:1512)",
    "java.base/java.lang.Thread.run(Thread.java:1583)",
];
