//! The per-member rate limit of a room: a token bucket on injected time.

use std::time::{Duration, Instant};

/// A token bucket on injected time: `burst` tokens, refilled at `per_minute`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn full(now: Instant, burst: u32) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self, now: Instant, per_minute: u32, burst: u32) -> Result<(), Duration> {
        let rate = f64::from(per_minute.max(1)) / 60.0;
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(burst.max(1)));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }

    /// Whether the bucket is full again by `now` (it can be forgotten).
    pub fn is_full(&self, now: Instant, per_minute: u32, burst: u32) -> bool {
        let rate = f64::from(per_minute.max(1)) / 60.0;
        self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * rate
            >= f64::from(burst)
    }
}
