//! The per-service request rate cap (`--aws-rps`): every AWS call of the process,
//! whatever hub, trainee or watch cycle makes it, takes the next free slot of its
//! service (`ec2`, `rds`, `elbv2`), `1/rps` seconds after the previous one. A class
//! of forty in one account shares one throttling budget; this keeps a watch within
//! it. (A paginated operation takes one slot for its first page.)

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use tokio::time::Instant;

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

#[cfg(test)]
mod tests {
    use super::*;

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
