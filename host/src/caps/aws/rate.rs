//! How fast labrun calls AWS, and what it does when AWS says "too fast".
//!
//! **Pacing.** AWS throttles each account, in each region, with token buckets: a
//! bucket holds at most `capacity` tokens, every request takes one, and `refill`
//! tokens come back every second. labrun keeps its own copy of each bucket AWS
//! documents ([`documented`]), shared by every trainee, hub and watch cycle of the
//! process and keyed by account and region, and a call waits only when its bucket is
//! empty: a cycle that fits in the buckets is not slowed at all. Every request takes
//! a token, retried ones and each page of a paginated call included, so a bucket
//! that AWS empties under us (the trainees' own console uses the same account) drains
//! ours too and labrun then goes at the pace AWS refills. `--aws-rps N` replaces
//! every bucket by one of N tokens refilled at N per second.
//!
//! **Retrying.** One policy, labrun's ([`Retry`]); the SDK's own retries are off, so
//! the two never stack. A throttled call is retried after a jittered exponential
//! back-off ("full jitter": a random wait up to `base × 2^attempt`, `base` being one
//! refill interval of its bucket), and takes a new token each time; 5xx answers,
//! cut connections and incomplete answers are retried a few times the same way. A
//! call reports its error only when it finally fails.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::caps::error::{CapError, ErrorKind};

/// One token bucket: at most `capacity` tokens, `refill` tokens back per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub capacity: f64,
    pub refill: f64,
}

/// EC2 throttles each API on its own; a non-mutating action (every `Describe*`) has
/// a bucket of 100 tokens refilled at 20 per second. Source: Amazon EC2 Developer
/// Guide, "Request throttling for the Amazon EC2 API", request rate limiting
/// (<https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html>).
pub const EC2_DESCRIBE: Limit = Limit {
    capacity: 100.0,
    refill: 20.0,
};

/// ELB (API version 2) non-mutating actions: 40 tokens, refilled at 10 per second.
/// Source: Elastic Load Balancing User Guide, "Request throttling for the Elastic Load
/// Balancing API"
/// (<https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html>).
/// Read per API, as EC2's guide spells out for the same wording.
pub const ELBV2_DESCRIBE: Limit = Limit {
    capacity: 40.0,
    refill: 10.0,
};

/// RDS: "up to 300 requests in a burst and a sustained 12 requests per second" per
/// account and region. Source: Amazon RDS User Guide, "Request throttling for the
/// Amazon RDS API"
/// (<https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html>).
/// The guide does not say it is per API, so labrun shares one bucket across RDS.
pub const RDS_ACCOUNT: Limit = Limit {
    capacity: 300.0,
    refill: 12.0,
};

/// Where AWS publishes no bucket for an API (S3's bucket-level reads): a conservative
/// one, half of ELB's.
pub const CONSERVATIVE: Limit = Limit {
    capacity: 20.0,
    refill: 5.0,
};

/// The bucket an operation draws from (its IAM-style name, or the service's shared
/// one) and that bucket's documented limit.
pub fn documented(operation: &str) -> (String, Limit) {
    let action = super::error::api_name(operation);
    match operation.split_once('_').map(|(service, _)| service) {
        Some("ec2") => (action, EC2_DESCRIBE),
        Some("elbv2") => (action, ELBV2_DESCRIBE),
        Some("rds") => ("rds:*".to_string(), RDS_ACCOUNT),
        _ => (action, CONSERVATIVE),
    }
}

#[derive(Debug)]
struct Bucket {
    limit: Limit,
    /// May go below zero: each waiting caller has reserved the token it will use.
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(limit: Limit, now: Instant) -> Bucket {
        Bucket {
            limit,
            tokens: limit.capacity,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * self.limit.refill;
        self.tokens = (self.tokens + earned).min(self.limit.capacity);
        self.at = now;
    }

    /// Takes one token; when the caller may send (now, unless the bucket is empty).
    fn reserve(&mut self, now: Instant) -> Instant {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            now
        } else {
            now + Duration::from_secs_f64(-self.tokens / self.limit.refill)
        }
    }

    fn refund(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens + 1.0).min(self.limit.capacity);
    }
}

/// Every bucket of the process: (account and region, bucket name) → bucket.
static BUCKETS: LazyLock<Mutex<HashMap<(String, String), Bucket>>> =
    LazyLock::new(Default::default);

/// One account's (and region's) pacing: which buckets its calls draw from.
#[derive(Debug, Clone)]
pub struct Pace {
    /// `account@region`: AWS keeps buckets per account and region.
    account: String,
    /// `--aws-rps`: every bucket N tokens, refilled at N per second.
    rps: Option<u32>,
}

impl Pace {
    pub fn new(account: &str, region: &str, rps: Option<u32>) -> Pace {
        Pace {
            account: format!("{account}@{region}"),
            rps,
        }
    }

    /// The bucket `operation` draws from, and its limit (the override's, if any).
    pub fn bucket(&self, operation: &str) -> (String, Limit) {
        let (name, documented) = documented(operation);
        let limit = match self.rps {
            Some(n) => Limit {
                capacity: f64::from(n.max(1)),
                refill: f64::from(n.max(1)),
            },
            None => documented,
        };
        (name, limit)
    }

    fn with_bucket<T>(&self, operation: &str, f: impl FnOnce(&mut Bucket, Instant) -> T) -> T {
        let (name, limit) = self.bucket(operation);
        let now = Instant::now();
        let mut buckets = BUCKETS.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets
            .entry((self.account.clone(), name))
            .or_insert_with(|| Bucket::new(limit, now));
        bucket.limit = limit;
        f(bucket, now)
    }

    /// Waits until `operation` may send one request, and takes its token.
    pub async fn take(&self, operation: &str) {
        let at = self.with_bucket(operation, |b, now| b.reserve(now));
        tokio::time::sleep_until(at).await;
    }

    /// Gives back a token taken for a request that was never sent (the end of a
    /// paginated call is known only after asking for one more page).
    pub fn refund(&self, operation: &str) {
        self.with_bucket(operation, |b, now| b.refund(now));
    }

    /// Tokens left in `operation`'s bucket now (negative: callers are waiting).
    pub fn tokens(&self, operation: &str) -> f64 {
        self.with_bucket(operation, |b, now| {
            b.refill(now);
            b.tokens
        })
    }
}

/// The one retry policy of AWS calls.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all for a throttled call (AWS's bucket refills: worth waiting for).
    pub throttled_attempts: u32,
    /// Attempts in all for a 5xx, a cut connection, a timeout or an incomplete answer.
    pub transient_attempts: u32,
    /// The longest single back-off.
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt.
    pub budget: Duration,
}

pub const RETRY: Retry = Retry {
    throttled_attempts: 10,
    transient_attempts: 3,
    max_backoff: Duration::from_secs(5),
    budget: Duration::from_secs(60),
};

impl Retry {
    /// How long to wait before attempt `attempt + 1` after `error` (attempt 1 is the
    /// first), or `None` when the error is final. `limit` is the call's bucket.
    pub fn delay(
        &self,
        error: &CapError,
        attempt: u32,
        elapsed: Duration,
        limit: Limit,
    ) -> Option<Duration> {
        let attempts = match error.kind {
            ErrorKind::Throttling => self.throttled_attempts,
            _ if transient(error) => self.transient_attempts,
            _ => return None,
        };
        if attempt >= attempts {
            return None;
        }
        let delay = full_jitter(self.backoff_cap(attempt, limit), random_unit());
        (elapsed + delay <= self.budget).then_some(delay)
    }

    /// The largest wait before retry `attempt`: one refill interval of the bucket
    /// (at least 50 ms), doubled with each attempt, at most [`Retry::max_backoff`].
    pub fn backoff_cap(&self, attempt: u32, limit: Limit) -> Duration {
        let base =
            Duration::from_secs_f64(1.0 / limit.refill.max(0.001)).max(Duration::from_millis(50));
        base.saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff)
    }
}

/// Errors worth another attempt besides throttling: AWS's own 5xx, a cut or failed
/// connection, a timeout, an answer that was not a complete document.
fn transient(error: &CapError) -> bool {
    match error.kind {
        ErrorKind::Network | ErrorKind::Timeout => true,
        ErrorKind::Service => error.code.as_deref().is_none_or(|code| {
            code == super::error::INCOMPLETE
                || code.starts_with("HTTP 5")
                || matches!(
                    code,
                    "InternalError"
                        | "InternalFailure"
                        | "ServiceUnavailable"
                        | "Unavailable"
                        | "InternalServerError"
                )
        }),
        _ => false,
    }
}

/// A wait drawn uniformly from `0..=cap` (`unit` in 0..1).
fn full_jitter(cap: Duration, unit: f64) -> Duration {
    cap.mul_f64(unit.clamp(0.0, 1.0))
}

fn random_unit() -> f64 {
    // 53 random bits → [0, 1); the OS's generator, which labrun already uses.
    getrandom::u64().map_or(0.5, |r| (r >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_draws_from_its_documented_bucket() {
        assert_eq!(
            documented("ec2_describe_instances"),
            ("ec2:DescribeInstances".to_string(), EC2_DESCRIBE)
        );
        // Per API: another EC2 action is another bucket.
        assert_eq!(documented("ec2_describe_vpcs").0, "ec2:DescribeVpcs");
        assert_eq!(
            documented("elbv2_describe_target_health"),
            (
                "elasticloadbalancing:DescribeTargetHealth".to_string(),
                ELBV2_DESCRIBE
            )
        );
        assert_eq!(documented("rds_describe_db_clusters").0, "rds:*");
        assert_eq!(documented("rds_describe_events").0, "rds:*");
        assert_eq!(documented("s3_get_bucket_acl").1, CONSERVATIVE);
    }

    #[test]
    fn a_burst_within_capacity_never_waits_and_past_it_goes_at_the_refill_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(ELBV2_DESCRIBE, t0);
        for _ in 0..40 {
            assert_eq!(
                b.reserve(t0),
                t0,
                "the bucket's 40 tokens are there at once"
            );
        }
        // Then one every 100 ms (10 per second), each caller after the one before.
        let next: Vec<Duration> = (0..3).map(|_| b.reserve(t0) - t0).collect();
        assert_eq!(
            next,
            [100, 200, 300].map(Duration::from_millis).to_vec(),
            "{next:?}"
        );
        // Refilled after a while, never above capacity.
        let later = t0 + Duration::from_secs(60);
        b.refill(later);
        assert_eq!(b.tokens, 40.0);
    }

    #[test]
    fn a_refund_gives_a_token_back() {
        let t0 = Instant::now();
        let mut b = Bucket::new(
            Limit {
                capacity: 1.0,
                refill: 1.0,
            },
            t0,
        );
        assert_eq!(b.reserve(t0), t0);
        b.refund(t0);
        assert_eq!(b.reserve(t0), t0, "the refunded token is there again");
    }

    #[tokio::test]
    async fn buckets_are_shared_per_account_and_api_across_paces() {
        // Two hubs (watch cycles) of one account share a bucket; another account not.
        let a = Pace::new("test-shared", "r1", Some(5));
        let b = Pace::new("test-shared", "r1", Some(5));
        let other = Pace::new("test-other", "r1", Some(5));
        for _ in 0..3 {
            a.take("ec2_describe_vpcs").await;
            b.take("ec2_describe_vpcs").await;
        }
        assert!(
            a.tokens("ec2_describe_vpcs") < 0.5,
            "both took from one bucket"
        );
        assert!(other.tokens("ec2_describe_vpcs") > 4.5);
        assert!(a.tokens("ec2_describe_subnets") > 4.5, "per API");
    }

    #[test]
    fn throttling_is_retried_with_a_jittered_doubling_backoff_until_attempts_run_out() {
        let throttled = CapError::new(
            "aws",
            "op",
            ErrorKind::Throttling,
            crate::text::aws::ShuttingDown,
        );
        let r = RETRY;
        // One refill interval of EC2's bucket (50 ms), doubled per attempt, capped.
        assert_eq!(r.backoff_cap(1, EC2_DESCRIBE), Duration::from_millis(100));
        assert_eq!(r.backoff_cap(2, EC2_DESCRIBE), Duration::from_millis(200));
        assert_eq!(r.backoff_cap(12, EC2_DESCRIBE), r.max_backoff);
        assert_eq!(r.backoff_cap(1, ELBV2_DESCRIBE), Duration::from_millis(200));
        for attempt in 1..r.throttled_attempts {
            let d = r
                .delay(&throttled, attempt, Duration::ZERO, EC2_DESCRIBE)
                .expect("retried");
            assert!(d <= r.backoff_cap(attempt, EC2_DESCRIBE), "{d:?}");
        }
        assert_eq!(
            r.delay(
                &throttled,
                r.throttled_attempts,
                Duration::ZERO,
                EC2_DESCRIBE
            ),
            None
        );
        assert_eq!(
            r.delay(&throttled, 1, r.budget, EC2_DESCRIBE),
            None,
            "never past the budget"
        );
        assert_eq!(
            full_jitter(Duration::from_secs(2), 0.25),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn only_transient_errors_are_retried() {
        let e = |kind, code: Option<&str>| {
            let e = CapError::new("aws", "op", kind, crate::text::aws::ShuttingDown);
            match code {
                Some(c) => e.with_code(c),
                None => e,
            }
        };
        let r = RETRY;
        let retried = |e: &CapError| r.delay(e, 1, Duration::ZERO, EC2_DESCRIBE).is_some();
        assert!(retried(&e(ErrorKind::Service, Some("InternalError"))));
        assert!(retried(&e(
            ErrorKind::Service,
            Some(super::super::error::INCOMPLETE)
        )));
        assert!(
            retried(&e(ErrorKind::Service, None)),
            "an unreadable answer"
        );
        assert!(retried(&e(ErrorKind::Network, None)));
        assert!(retried(&e(ErrorKind::Timeout, None)));
        assert!(!retried(&e(
            ErrorKind::Denied,
            Some("UnauthorizedOperation")
        )));
        assert!(!retried(&e(ErrorKind::Credentials, Some("AuthFailure"))));
        assert!(!retried(&e(
            ErrorKind::InvalidRequest,
            Some("InvalidParameterValue")
        )));
        assert!(!retried(&e(
            ErrorKind::NotFound,
            Some("DBClusterNotFoundFault")
        )));
        assert!(!retried(&e(ErrorKind::Service, Some("SomethingPermanent"))));
        assert_eq!(
            r.delay(
                &e(ErrorKind::Service, Some("InternalError")),
                3,
                Duration::ZERO,
                EC2_DESCRIBE
            ),
            None,
            "three attempts in all"
        );
    }
}
