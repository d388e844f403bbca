//! The per-service request rate cap (`--aws-rps`): every AWS call of the process,
//! whatever hub, trainee or watch cycle makes it, takes the next free slot of its
//! service (`ec2`, `rds`, `elbv2`), `1/rps` seconds after the previous one. A class
//! of forty in one account shares one throttling budget; this keeps a watch within
//! it. (A paginated operation takes one slot for its first page.)
//!
//! And the cycle's back-off ([`Backoff`]): once AWS answers any call of a run (one
//! watch cycle) with a throttling error, every later call of that run, whatever its
//! service or trainee, waits for one shared queue whose spacing doubles with each
//! throttling answer. The SDK's adaptive retry slows only the throttled client; this
//! slows the whole cycle, and the count goes into the report's summary.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tokio::time::Instant;

use super::error::kind_of_code;
use crate::caps::error::ErrorKind;

static NEXT: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(Default::default);

/// When the next call of `service` may start, at `rps` calls per second; reserves it.
pub fn reserve(service: &str, rps: u32) -> Instant {
    let gap = Duration::from_secs(1) / rps.max(1);
    let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let slot = next.get(service).copied().map_or(now, |n| n.max(now));
    next.insert(service.to_string(), slot + gap);
    slot
}

/// Waits for the service's next slot.
pub async fn pace(service: &str, rps: u32) {
    tokio::time::sleep_until(reserve(service, rps)).await;
}

/// The longest spacing a throttled cycle waits between two AWS calls.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One run's (one watch cycle's) throttling state, shared by every AWS call of it.
#[derive(Debug)]
pub struct Backoff {
    /// The spacing before any throttling: `1/rps` (or 100 ms without a cap).
    base: Duration,
    throttled: AtomicU32,
    next: Mutex<Option<Instant>>,
}

impl Backoff {
    pub fn new(rps: Option<u32>) -> Backoff {
        Backoff {
            base: Duration::from_secs(1) / rps.unwrap_or(10).max(1),
            throttled: AtomicU32::new(0),
            next: Mutex::new(None),
        }
    }

    /// Throttling answers seen so far (SDK retries included).
    pub fn throttled(&self) -> u64 {
        u64::from(self.throttled.load(Ordering::Relaxed))
    }

    /// The spacing every later call keeps: none before the first throttling answer,
    /// then `base × 2^answers`, at most [`MAX_BACKOFF`].
    pub fn gap(&self) -> Option<Duration> {
        let n = self.throttled.load(Ordering::Relaxed);
        (n > 0).then(|| {
            self.base
                .saturating_mul(1u32.checked_shl(n.min(16)).unwrap_or(u32::MAX))
                .min(MAX_BACKOFF)
        })
    }

    /// AWS answered a throttling error.
    pub fn note_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Once throttled, waits for the next slot of the run's one queue.
    pub async fn pace(&self) {
        let Some(gap) = self.gap() else { return };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + gap);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// An SDK interceptor that tells the run's [`Backoff`] about every throttling answer,
/// also those the SDK retries by itself (which never reach the step).
#[derive(Debug)]
pub struct Watch(pub std::sync::Arc<Backoff>);

impl Intercept for Watch {
    fn name(&self) -> &'static str {
        "labrun::throttle-watch"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(response) = context.response() {
            let status = response.status().as_u16();
            if status >= 400 && is_throttling(status, response.body().bytes().unwrap_or(&[])) {
                self.0.note_throttled();
            }
        }
        Ok(())
    }
}

/// A throttling answer: its error code (XML `<Code>`, or a JSON `__type`/`code`), or
/// HTTP 429 without one.
pub fn is_throttling(status: u16, body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let code = xml_code(&text).or_else(|| json_code(&text));
    // A JSON `__type` may be namespaced: `com.amazon.coral#ThrottlingException`.
    let code = code
        .as_deref()
        .map(|c| c.rsplit('#').next().unwrap_or(c).trim());
    kind_of_code(code, status) == ErrorKind::Throttling
}

fn xml_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].to_string())
}

fn json_code(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    ["__type", "code"]
        .iter()
        .find_map(|key| v[*key].as_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_answers_are_recognised_by_code_or_429() {
        let rds = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
                    <Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert!(is_throttling(400, rds));
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        assert!(is_throttling(503, ec2));
        assert!(is_throttling(
            400,
            br#"{"__type":"com.amazon#ThrottlingException"}"#
        ));
        assert!(is_throttling(429, b""));
        let denied = b"<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>";
        assert!(!is_throttling(403, denied));
        assert!(!is_throttling(500, b"oops"));
    }

    #[test]
    fn the_backoff_doubles_with_each_throttling_answer_up_to_its_cap() {
        let b = Backoff::new(Some(10));
        assert_eq!(b.gap(), None, "no spacing before AWS throttles");
        b.note_throttled();
        assert_eq!(b.gap(), Some(Duration::from_millis(200)));
        b.note_throttled();
        assert_eq!(b.gap(), Some(Duration::from_millis(400)));
        for _ in 0..20 {
            b.note_throttled();
        }
        assert_eq!(b.gap(), Some(MAX_BACKOFF));
    }

    #[test]
    fn slots_are_spaced_per_service_and_services_are_independent() {
        let a = reserve("test-svc-a", 10);
        let b = reserve("test-svc-a", 10);
        let c = reserve("test-svc-a", 10);
        assert!(b - a >= Duration::from_millis(100) && c - b >= Duration::from_millis(100));
        let other = reserve("test-svc-b", 10);
        assert!(other < c, "another service does not wait for this one");
    }
}
