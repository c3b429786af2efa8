//! Sign-in failures, counted per account name and per client address in memory (a restart forgets them,
//! which costs an attacker a restart). Past the limit, sign-in answers 429 with `Retry-After` *before*
//! checking the password, so a limited attacker learns nothing more. A successful sign-in clears the
//! account's count (not the address's: one address guessing many accounts stays limited).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures allowed per account within [`WINDOW_MS`].
pub const PER_ACCOUNT: usize = 5;
/// Failures allowed per client address within [`WINDOW_MS`].
pub const PER_ADDRESS: usize = 20;
/// The window failures are counted in.
pub const WINDOW_MS: i64 = 15 * 60_000;
/// Keys remembered at most per map, so a flood of made-up names cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
struct Failures(HashMap<String, VecDeque<i64>>);

impl Failures {
    /// Drops failures older than the window; answers how many remain.
    fn recent(&mut self, key: &str, now_ms: i64) -> Option<&VecDeque<i64>> {
        let q = self.0.get_mut(key)?;
        while q.front().is_some_and(|t| now_ms - t >= WINDOW_MS) {
            q.pop_front();
        }
        Some(q)
    }

    /// Seconds until the oldest counted failure leaves the window, when `limit` is reached.
    fn retry_after(&mut self, key: &str, limit: usize, now_ms: i64) -> Option<u64> {
        let q = self.recent(key, now_ms)?;
        (q.len() >= limit).then(|| q.front().map_or(1, |t| ((t + WINDOW_MS - now_ms) as u64).div_ceil(1000).max(1)))
    }

    fn add(&mut self, key: String, now_ms: i64) {
        if self.0.len() >= MAX_KEYS && !self.0.contains_key(&key) {
            self.0.retain(|_, q| q.back().is_some_and(|t| now_ms - t < WINDOW_MS));
            if self.0.len() >= MAX_KEYS {
                // Still full of fresh failures: forget one arbitrary key rather than grow.
                if let Some(k) = self.0.keys().next().cloned() {
                    self.0.remove(&k);
                }
            }
        }
        self.0.entry(key).or_default().push_back(now_ms);
    }
}

/// The two counters; see the module docs.
#[derive(Default)]
pub struct SignInLimiter {
    accounts: Mutex<Failures>,
    addresses: Mutex<Failures>,
}

/// Account names are counted case-insensitively, so `Admin` and `admin` share a budget.
fn account_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl SignInLimiter {
    /// `Some(seconds)` when this account or address must wait before trying again.
    pub fn check(&self, name: &str, addr: Option<IpAddr>, now_ms: i64) -> Option<u64> {
        let by_account = self.accounts.lock().expect("limiter lock").retry_after(&account_key(name), PER_ACCOUNT, now_ms);
        let by_address = addr.and_then(|a| self.addresses.lock().expect("limiter lock").retry_after(&a.to_string(), PER_ADDRESS, now_ms));
        by_account.max(by_address)
    }

    /// Counts a wrong name or password.
    pub fn failed(&self, name: &str, addr: Option<IpAddr>, now_ms: i64) {
        self.accounts.lock().expect("limiter lock").add(account_key(name), now_ms);
        if let Some(a) = addr {
            self.addresses.lock().expect("limiter lock").add(a.to_string(), now_ms);
        }
    }

    /// A successful sign-in: the account starts afresh.
    pub fn succeeded(&self, name: &str) {
        self.accounts.lock().expect("limiter lock").0.remove(&account_key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_per_address_within_the_window() {
        let l = SignInLimiter::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..PER_ACCOUNT {
            assert_eq!(l.check("Admin", Some(a), i as i64), None);
            l.failed("admin", Some(a), i as i64);
        }
        let wait = l.check("ADMIN", None, 10).expect("limited");
        assert_eq!(wait, (WINDOW_MS / 1000) as u64);
        assert_eq!(l.check("admin", None, WINDOW_MS + 10), None, "the window moved on");
        // One address trying many names.
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for i in 0..PER_ADDRESS {
            l.failed(&format!("user{i}"), Some(b), 100);
        }
        assert!(l.check("someone-else", Some(b), 101).is_some());
        assert!(l.check("someone-else", Some(a), 101).is_none());
        l.failed("x", None, 0);
        l.succeeded("X");
        assert!(!l.accounts.lock().unwrap().0.contains_key("x"));
    }
}
