//! Fault injection in front of moto: an HTTP/1.1 proxy on 127.0.0.1 that forwards each
//! AWS request to moto, or answers it with one of the faults a real network and a real
//! AWS produce ([`Fault`]): a body cut short with a matching Content-Length, a
//! connection closed before the answer or in the middle of its body, a 5xx, AWS's own
//! throttling answer (in each protocol's shape), or a delay. Which request gets which
//! fault is the caller's rule ([`FaultProxy::start`]); the common ones have
//! constructors (every n-th request, the first n of one action, fixed latency, and
//! EC2's documented token bucket per API). Every request is logged ([`Seen`]).
//!
//! One request per connection (`Connection: close`), which the AWS SDK handles.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::http1::{read_message, rewrite};
use tokio::net::TcpStream;

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward it to moto and its answer back.
    Pass,
    /// Forward it after this delay.
    Slow(Duration),
    /// moto's answer with only the first half of its body, and a Content-Length that
    /// matches the half (what the SDK cannot tell from a whole answer).
    Truncate,
    /// Close the connection without answering.
    Cut,
    /// Send moto's head and half its body, then close (the Content-Length promised more).
    CutBody,
    /// An HTTP 5xx with the service's error body (`InternalError`, `ServiceUnavailable`).
    ServerError(u16),
    /// AWS's throttling answer: EC2's `RequestLimitExceeded` (HTTP 503), RDS's and
    /// ELBv2's `Throttling` (HTTP 400), S3's `SlowDown` (HTTP 503).
    Throttle,
}

/// One request as the rule sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Arrival number, from 0.
    pub n: usize,
    /// The AWS action (`DescribeVpcs`), empty for S3's REST requests.
    pub action: String,
    /// `ec2`, `rds`, `elbv2` or `s3`.
    pub service: &'static str,
}

/// One request the proxy saw: when, its action, and what it did with it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub action: String,
    pub fault: Fault,
    /// Answered with a throttling error instead of forwarded.
    pub throttled: bool,
}

type Rule = dyn Fn(&Request) -> Fault + Send + Sync;

pub struct FaultProxy {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`host:port`) that treats each request as `rule` says.
    pub async fn start(
        upstream: &str,
        rule: impl Fn(&Request) -> Fault + Send + Sync + 'static,
    ) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Rule> = Arc::new(rule);
        let upstream = upstream.to_string();
        let arrivals = Arc::new(AtomicUsize::new(0));
        let log = seen.clone();
        let task = crate::http1::serve(listener, move |inbound| {
            let (upstream, rule, log, arrivals) = (
                upstream.clone(),
                rule.clone(),
                log.clone(),
                arrivals.clone(),
            );
            async move { proxy_one(inbound, &upstream, &*rule, &arrivals, &log).await }
        });
        FaultProxy { addr, seen, task }
    }

    /// Answers the first `times` requests for `action` with AWS's throttling error.
    pub async fn throttling(upstream: &str, action: &str, times: usize) -> FaultProxy {
        let (action, left) = (action.to_string(), AtomicUsize::new(times));
        FaultProxy::start(upstream, move |r| {
            let hit = r.action == action
                && left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            if hit {
                Fault::Throttle
            } else {
                Fault::Pass
            }
        })
        .await
    }

    /// Every request waits `delay` before it goes to moto (a far-away region).
    pub async fn latency(upstream: &str, delay: Duration) -> FaultProxy {
        FaultProxy::start(upstream, move |_| Fault::Slow(delay)).await
    }

    /// Every `nth` request (the nth, the 2·nth, …) gets `fault`; the others wait
    /// `delay` and pass.
    pub async fn every(upstream: &str, nth: usize, fault: Fault, delay: Duration) -> FaultProxy {
        FaultProxy::start(upstream, move |r| {
            if (r.n + 1) % nth.max(1) == 0 {
                fault
            } else {
                Fault::Slow(delay)
            }
        })
        .await
    }

    /// Enforces a token bucket per API (action), as AWS does: `capacity` tokens,
    /// `refill` back per second; a request finding its bucket empty is throttled. The
    /// others wait `delay` and pass.
    pub async fn buckets(
        upstream: &str,
        capacity: f64,
        refill: f64,
        delay: Duration,
    ) -> FaultProxy {
        let buckets: Mutex<HashMap<String, (f64, Instant)>> = Mutex::new(HashMap::new());
        FaultProxy::start(upstream, move |r| {
            let mut buckets = buckets.lock().unwrap();
            let now = Instant::now();
            let (tokens, at) = buckets
                .entry(format!("{}:{}", r.service, r.action))
                .or_insert((capacity, now));
            *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * refill).min(capacity);
            *at = now;
            if *tokens >= 1.0 {
                *tokens -= 1.0;
                Fault::Slow(delay)
            } else {
                Fault::Throttle
            }
        })
        .await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests answered with `fault` so far.
    pub fn count(&self, fault: Fault) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.fault == fault)
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The service a request is for, from its query-protocol API version or its path.
fn service(head: &str, body: &str) -> &'static str {
    if body.contains("Version=2016-11-15") {
        "ec2"
    } else if body.contains("Version=2014-10-31") {
        "rds"
    } else if body.contains("Version=2015-12-01") {
        "elbv2"
    } else if body.contains("Action=") {
        // Another query API (STS in the tests' own setup).
        "query"
    } else {
        let _ = head;
        "s3"
    }
}

/// An AWS error answer in the service's protocol.
fn error_answer(service: &str, status: u16, code: &str, message: &str) -> String {
    let xml = match service {
        "ec2" => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error></Errors>\
             <RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
        ),
        "s3" => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>{message}</Message><RequestId>0000</RequestId></Error>"
        ),
        _ => format!(
            "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code>\
             <Message>{message}</Message></Error>\
             <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>",
            if status >= 500 { "Receiver" } else { "Sender" }
        ),
    };
    let reason = match status {
        400 => "Bad Request",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{xml}",
        xml.len()
    )
}

async fn proxy_one(
    mut inbound: TcpStream,
    upstream: &str,
    rule: &Rule,
    arrivals: &AtomicUsize,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let (head, body) = read_message(&mut inbound, false).await?;
    let text = String::from_utf8_lossy(&body);
    let action = text
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("")
        .to_string();
    let service = service(&head, &text);
    let request = Request {
        n: arrivals.fetch_add(1, Ordering::SeqCst),
        action: action.clone(),
        service,
    };
    let fault = rule(&request);
    log.lock().unwrap().push(Seen {
        at: Instant::now(),
        action,
        fault,
        throttled: fault == Fault::Throttle,
    });
    match fault {
        Fault::Throttle => {
            let answer = match service {
                "ec2" => error_answer(
                    service,
                    503,
                    "RequestLimitExceeded",
                    "Request limit exceeded.",
                ),
                "s3" => error_answer(service, 503, "SlowDown", "Please reduce your request rate."),
                _ => error_answer(service, 400, "Throttling", "Rate exceeded"),
            };
            inbound.write_all(answer.as_bytes()).await?;
            return inbound.shutdown().await;
        }
        Fault::ServerError(status) => {
            let code = if status == 503 {
                "ServiceUnavailable"
            } else {
                "InternalError"
            };
            let answer = error_answer(service, status, code, "An internal error has occurred");
            inbound.write_all(answer.as_bytes()).await?;
            return inbound.shutdown().await;
        }
        Fault::Cut => return inbound.shutdown().await,
        Fault::Slow(delay) => tokio::time::sleep(delay).await,
        Fault::Pass | Fault::Truncate | Fault::CutBody => {}
    }
    let mut out = TcpStream::connect(upstream).await?;
    out.write_all(rewrite(&head, None).as_bytes()).await?;
    out.write_all(&body).await?;
    let (head, body) = read_message(&mut out, true).await?;
    let half = &body[..body.len() / 2];
    match fault {
        Fault::Truncate => {
            inbound
                .write_all(rewrite(&head, Some(half.len())).as_bytes())
                .await?;
            inbound.write_all(half).await?;
        }
        Fault::CutBody => {
            inbound
                .write_all(rewrite(&head, Some(body.len())).as_bytes())
                .await?;
            inbound.write_all(half).await?;
        }
        _ => {
            inbound
                .write_all(rewrite(&head, Some(body.len())).as_bytes())
                .await?;
            inbound.write_all(&body).await?;
        }
    }
    inbound.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::header;

    #[test]
    fn error_answers_carry_their_length() {
        let a = error_answer("ec2", 503, "RequestLimitExceeded", "x");
        let (head, body) = a.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            header(head, "content-length")
                .unwrap()
                .parse::<usize>()
                .unwrap(),
            body.len()
        );
        assert!(body.contains("<Code>RequestLimitExceeded</Code>"));
        assert!(error_answer("rds", 400, "Throttling", "x").contains("<ErrorResponse>"));
    }
}
