//! The incident schedule: a pure function of wall-clock time, so a user sees every kind of incident within
//! one five-minute cycle, the backfill contains past ones, and a restart does not move them.
//!
//! Each cycle of [`CYCLE_SECS`] (aligned to the Unix epoch) holds three windows of [`INCIDENT_SECS`]:
//! a telecom API timeout in `recharge`, a slow query in `balance`, and a bad `payment` deploy that is
//! hot-fixed (a new `deployment.version`) when its window ends.

use super::otlp::Version;

/// Length of one incident cycle.
pub const CYCLE_SECS: u64 = 300;
/// How long each incident lasts.
pub const INCIDENT_SECS: u64 = 60;
/// Offset in the cycle where recharge's calls to the telecom API start hanging.
pub const RECHARGE_TIMEOUT_AT: u64 = 30;
/// Offset in the cycle where balance's ledger query degrades to a sequential scan.
pub const SLOW_QUERY_AT: u64 = 130;
/// Offset in the cycle where a buggy payment release is deployed (hot-fixed `INCIDENT_SECS` later).
pub const PAYMENT_DEPLOY_AT: u64 = 230;

const NS: u64 = 1_000_000_000;

/// Which incidents are active at one instant, and the payment release then running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incidents {
    /// `recharge` → `POST https://api.telco.example/topup` hangs until the client's 3 s read timeout.
    pub recharge_timeout: bool,
    /// `balance`'s recent-ledger query runs as a sequential scan (800–1500 ms).
    pub slow_query: bool,
    /// The payment release running now (`deployment.version` of the payment processes).
    pub payment_version: Version,
    /// The running payment release throws `NullPointerException` on many payments.
    pub payment_buggy: bool,
}

impl Incidents {
    /// A healthy system: no incident, payment on a good release.
    pub fn calm() -> Self {
        Incidents {
            recharge_timeout: false,
            slow_query: false,
            payment_version: Version { major: 3, minor: 0, patch: 1 },
            payment_buggy: false,
        }
    }

    /// The state of the system at `unix_ns` (nanoseconds since the Unix epoch).
    pub fn at(unix_ns: u64) -> Self {
        let secs = unix_ns / NS;
        let cycle = secs / CYCLE_SECS;
        let offset = secs % CYCLE_SECS;
        let within = |start: u64| offset >= start && offset < start + INCIDENT_SECS;
        // Every cycle ships release 3.<cycle>.0 at PAYMENT_DEPLOY_AT, broken, and 3.<cycle>.1 fixes it.
        let (release_cycle, patch) = if offset < PAYMENT_DEPLOY_AT {
            (cycle.wrapping_sub(1), 1)
        } else if within(PAYMENT_DEPLOY_AT) {
            (cycle, 0)
        } else {
            (cycle, 1)
        };
        Incidents {
            recharge_timeout: within(RECHARGE_TIMEOUT_AT),
            slow_query: within(SLOW_QUERY_AT),
            payment_version: Version { major: 3, minor: (release_cycle % 100) as u16, patch },
            payment_buggy: patch == 0,
        }
    }

    /// One line for the log, so a user knows when to look.
    pub fn describe_schedule() -> String {
        let m = |s: u64| format!("{}:{:02}", s / 60, s % 60);
        format!(
            "every {} min for {} s: recharge→telco timeouts at +{}, balance slow query at +{}, bad payment deploy at +{} (cycles start on multiples of {} min UTC)",
            CYCLE_SECS / 60,
            INCIDENT_SECS,
            m(RECHARGE_TIMEOUT_AT),
            m(SLOW_QUERY_AT),
            m(PAYMENT_DEPLOY_AT),
            CYCLE_SECS / 60
        )
    }
}
