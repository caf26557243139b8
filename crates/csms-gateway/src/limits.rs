//! Per-station rate limits (issue 25 item 4): a station may send so many messages per second,
//! and ask so many Authorize questions per minute, so that one station (or an impostor on a
//! profile-0 identity) can neither take the server's time nor use Authorize as an oracle that
//! tells which id tags exist. Token buckets, on the connection's monotonic time; no I/O.
//!
//! What happens to the excess is chosen per message so that nothing a station is billed by is
//! lost: transaction messages (1.6 StartTransaction, StopTransaction, MeterValues; 2.0.1
//! TransactionEvent, MeterValues) are paced, their answer waiting until the bucket has a token,
//! because a station refused them may give up re-sending after its retry attempts; every other
//! message is answered with a CALLERROR that says the limit; an Authorize over its own limit is
//! answered `Invalid` without asking the store.

use std::time::Duration;

/// The limits a station's connection keeps; a rate of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Messages (CALLs) a station may send per second, sustained.
    pub messages_per_second: u32,
    /// Messages a station may send at once above the sustained rate (e.g. after it reconnects).
    pub message_burst: u32,
    /// Authorize requests a station may send per minute, sustained.
    pub authorize_per_minute: u32,
    /// Authorize requests a station may send at once above the sustained rate.
    pub authorize_burst: u32,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits { messages_per_second: 20, message_burst: 200, authorize_per_minute: 60, authorize_burst: 20 }
    }
}

impl RateLimits {
    /// No limits at all (load tests that measure the server, not a station).
    pub const OFF: RateLimits =
        RateLimits { messages_per_second: 0, message_burst: 0, authorize_per_minute: 0, authorize_burst: 0 };
}

/// A token bucket: `capacity` tokens at most, refilled at `per_second`; it may run into debt
/// (negative tokens) when a message is paced, so that the next one waits its turn behind it.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Duration,
}

impl Bucket {
    fn new(per_second: f64, burst: u32) -> Option<Bucket> {
        let capacity = f64::from(burst.max(1));
        (per_second > 0.0).then_some(Bucket { capacity, per_second, tokens: capacity, last: Duration::ZERO })
    }

    fn refill(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = self.last.max(now);
    }

    /// Takes a token if there is one.
    fn take(&mut self, now: Duration) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token now or on credit; answers how long to wait until it is really there.
    fn take_paced(&mut self, now: Duration) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

/// What to do with a station's CALL as far as its message rate goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Go,
    /// Handle it after this wait.
    Pace(Duration),
    /// Answer it with a CALLERROR.
    Refuse,
}

/// One connection's buckets.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    limits: RateLimits,
    messages: Option<Bucket>,
    authorize: Option<Bucket>,
}

/// Messages whose loss would lose billing data: paced, never refused.
fn is_transaction_message(action: &str) -> bool {
    matches!(action, "StartTransaction" | "StopTransaction" | "MeterValues" | "TransactionEvent")
}

impl Limiter {
    pub(crate) fn new(limits: RateLimits) -> Limiter {
        Limiter {
            limits,
            messages: Bucket::new(f64::from(limits.messages_per_second), limits.message_burst),
            authorize: Bucket::new(f64::from(limits.authorize_per_minute) / 60.0, limits.authorize_burst),
        }
    }

    pub(crate) fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Whether a CALL of `action` arriving at `now` may be handled now, later, or not at all.
    pub(crate) fn message(&mut self, action: &str, now: Duration) -> Verdict {
        let Some(bucket) = &mut self.messages else {
            return Verdict::Go;
        };
        if is_transaction_message(action) {
            match bucket.take_paced(now) {
                Duration::ZERO => Verdict::Go,
                wait => Verdict::Pace(wait),
            }
        } else if bucket.take(now) {
            Verdict::Go
        } else {
            Verdict::Refuse
        }
    }

    /// Whether an Authorize arriving at `now` may be looked up.
    pub(crate) fn authorize(&mut self, now: Duration) -> bool {
        self.authorize.as_mut().is_none_or(|bucket| bucket.take(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: f64) -> Duration {
        Duration::from_millis((s * 1000.0) as u64)
    }

    #[test]
    fn messages_beyond_the_burst_are_refused_until_the_bucket_refills() {
        let mut limiter =
            Limiter::new(RateLimits { messages_per_second: 10, message_burst: 5, ..RateLimits::default() });
        let verdicts: Vec<Verdict> = (0..7).map(|_| limiter.message("Heartbeat", Duration::ZERO)).collect();
        assert_eq!(verdicts, [[Verdict::Go; 5].as_slice(), &[Verdict::Refuse; 2]].concat());
        // A tenth of a second later one token is back, and only one.
        assert_eq!(limiter.message("StatusNotification", secs(0.1)), Verdict::Go);
        assert_eq!(limiter.message("StatusNotification", secs(0.1)), Verdict::Refuse);
        // Idle long enough, the whole burst is back, never more.
        let later: Vec<Verdict> = (0..6).map(|_| limiter.message("Heartbeat", secs(60.0))).collect();
        assert_eq!(later, [[Verdict::Go; 5].as_slice(), &[Verdict::Refuse]].concat());
    }

    #[test]
    fn transaction_messages_are_paced_not_refused() {
        let mut limiter =
            Limiter::new(RateLimits { messages_per_second: 10, message_burst: 2, ..RateLimits::default() });
        let now = Duration::ZERO;
        assert_eq!(limiter.message("MeterValues", now), Verdict::Go);
        assert_eq!(limiter.message("MeterValues", now), Verdict::Go);
        // Each further one waits a tenth of a second longer than the one before.
        assert_eq!(limiter.message("TransactionEvent", now), Verdict::Pace(secs(0.1)));
        assert_eq!(limiter.message("StopTransaction", now), Verdict::Pace(secs(0.2)));
        // Others are refused while transaction messages owe the bucket.
        assert_eq!(limiter.message("DataTransfer", secs(0.15)), Verdict::Refuse);
        assert_eq!(limiter.message("StartTransaction", secs(0.2)), Verdict::Pace(secs(0.1)));
    }

    #[test]
    fn authorize_has_a_limit_of_its_own_per_minute() {
        let mut limiter =
            Limiter::new(RateLimits { authorize_per_minute: 6, authorize_burst: 3, ..RateLimits::default() });
        let answers: Vec<bool> = (0..4).map(|_| limiter.authorize(Duration::ZERO)).collect();
        assert_eq!(answers, [true, true, true, false]);
        assert!(!limiter.authorize(secs(9.0)), "one per 10 s");
        assert!(limiter.authorize(secs(10.0)));
    }

    #[test]
    fn a_rate_of_zero_turns_a_limit_off() {
        let mut limiter = Limiter::new(RateLimits::OFF);
        assert!((0..10_000).all(|_| limiter.message("Heartbeat", Duration::ZERO) == Verdict::Go));
        assert!((0..10_000).all(|_| limiter.authorize(Duration::ZERO)));
    }
}
