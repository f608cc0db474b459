//! Rate limits: token buckets per (scope, key), in memory. Each instance
//! limits on its own, so N instances allow up to N times the rate; the
//! limits are there to stop floods, not to meter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// What a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Challenges and logins, per client address.
    Auth,
    /// Registrations, per client address.
    Register,
    /// Sends, per user.
    Send,
    /// One-view shares created, per client address.
    Share,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets that refill `per_minute` tokens a minute, holding at most
/// that many.
pub struct RateLimiter {
    limits: HashMap<Scope, u32>,
    buckets: Mutex<HashMap<(Scope, String), Bucket>>,
}

impl RateLimiter {
    /// A limiter with these per-minute limits.
    pub fn new(limits: &[(Scope, u32)]) -> Self {
        Self {
            limits: limits.iter().copied().collect(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`, or says how many seconds until one is free.
    pub fn check(&self, scope: Scope, key: &str) -> Result<(), u64> {
        let Some(&per_minute) = self.limits.get(&scope) else {
            return Ok(());
        };
        let capacity = f64::from(per_minute.max(1));
        let rate = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            // Forget full buckets rather than grow without bound.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < capacity
            });
        }
        let bucket = buckets.entry((scope, key.to_owned())).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_limit_is_refused_with_a_wait() {
        let limiter = RateLimiter::new(&[(Scope::Auth, 3)]);
        for _ in 0..3 {
            assert!(limiter.check(Scope::Auth, "1.2.3.4").is_ok());
        }
        let wait = limiter.check(Scope::Auth, "1.2.3.4").unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(
            limiter.check(Scope::Auth, "5.6.7.8").is_ok(),
            "keys are independent"
        );
        assert!(
            limiter.check(Scope::Send, "x").is_ok(),
            "unlimited scopes pass"
        );
    }
}
