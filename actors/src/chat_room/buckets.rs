//! Rate buckets of room creation per sender, one set per arbiter, shared by its rooms
//! directory and ChatRooms: the room rate applies to creation as it does to posts.

use std::time::Instant;

use rustc_hash::FxHashMap;
use switchboard_engine::chat::{RoomError, RoomLimits, TokenBucket};
use switchboard_engine::numbering::Aor;

/// Rate buckets of room creation by sender, for one arbiter.
#[derive(Default)]
pub struct CreationBuckets(FxHashMap<Aor, TokenBucket>);

impl CreationBuckets {
    /// Takes a creation token of `who` (`rooms.rate_per_minute`, burst `rooms.rate_burst`).
    pub fn take(&mut self, now: Instant, who: &Aor, limits: &RoomLimits) -> Result<(), RoomError> {
        let (per, burst) = (limits.rate_per_minute, limits.burst);
        if self.0.len() >= 4096 {
            self.0.retain(|_, b| !b.is_full(now, per, burst));
        }
        self.0
            .entry(who.clone())
            .or_insert_with(|| TokenBucket::full(now, burst))
            .take(now, per, burst)
            .map_err(|retry_after| RoomError::RateLimited { retry_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn making_rooms_takes_the_senders_rate_tokens() {
        let limits = RoomLimits {
            max_members: 10,
            max_topic_chars: 10,
            rate_per_minute: 60,
            burst: 2,
        };
        let t = Instant::now();
        let (a, b) = (Aor::from_canonical("1001"), Aor::from_canonical("1002"));
        let mut c = CreationBuckets::default();
        assert!(c.take(t, &a, &limits).is_ok());
        assert!(c.take(t, &a, &limits).is_ok());
        assert!(matches!(
            c.take(t, &a, &limits),
            Err(RoomError::RateLimited { .. })
        ));
        assert!(c.take(t, &b, &limits).is_ok(), "per sender");
        assert!(c.take(t + Duration::from_secs(1), &a, &limits).is_ok());
    }
}
