//! `tcp` capability: can a TCP connection be made? A refusal or a timeout is an answer
//! (E2: a web server must no longer be reachable directly), not an error.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::net::{connect_via, elapsed_ms, via_session, Fields, NetConfig};

use futures::future::BoxFuture;
use futures::FutureExt;

use super::capability::{self, Capability, NetAnswer, Operation, Scope};
use super::error::{CapError, ErrorKind};

/// The `tcp` capability.
pub const SPEC: Capability = Capability {
    name: CAPABILITY,
    about: "can a TCP connection be made? a refusal or a timeout is an answer",
    operations: || OPERATIONS,
    connect: |settings| NetAnswer::connect(settings, boxed),
    target: |_, request| capability::host_field(request, "host"),
    reveals: capability::reveals_nothing,
    untrusted_guard: capability::no_guard,
    one_endpoint: false,
    views: None,
};

/// [`call`] as the capability's live answer.
fn boxed<'a>(
    net: &'a NetConfig,
    operation: &'a str,
    request: &'a Value,
) -> BoxFuture<'a, Result<Value, CapError>> {
    call(net, operation, request).boxed()
}

pub const OPERATIONS: &[Operation] = &[Operation {
    name: "connect",
    iam: None,
    about: "tries to connect, then closes at once",
    scope: Scope::DerivedHost,
}];

const CAPABILITY: &str = "tcp";

/// Longest time limit a request may ask for.
const MAX_TIMEOUT_MS: u64 = 120_000;

pub async fn call(net: &NetConfig, operation: &str, request: &Value) -> Result<Value, CapError> {
    match operation {
        "connect" => connect_op(net, request).await,
        other => Err(CapError::new(
            CAPABILITY,
            other,
            ErrorKind::Unsupported,
            crate::text::probe::UnknownOperation {
                capability: CAPABILITY,
                operation: other,
                known: crate::text::list(SPEC.operation_names()),
            },
        )),
    }
}

async fn connect_op(net: &NetConfig, request: &Value) -> Result<Value, CapError> {
    let fields = Fields::new(
        CAPABILITY,
        "connect",
        request,
        &["host", "port", "timeout_ms", "via"],
    )?;
    let via = fields.via()?;
    let host = fields.required_string("host")?.trim();
    let port = fields
        .uint("port", 1, 65535)?
        .ok_or_else(|| fields.invalid(crate::text::probe::Required { field: "port" }))?
        as u16;
    let timeout = fields
        .uint("timeout_ms", 1, MAX_TIMEOUT_MS)?
        .map(Duration::from_millis)
        .unwrap_or(net.timeout);
    if let Some(via) = via {
        via_session(net, via)
            .await
            .map_err(|e| e.into_cap(CAPABILITY, "connect"))?;
    }
    let start = Instant::now();
    let attempt = connect_via(net, via, host, port, timeout)
        .await
        .map_err(|e| e.into_cap(CAPABILITY, "connect"))?;
    Ok(match attempt {
        Ok((_stream, addr)) => json!({
            "ok": true,
            "elapsed_ms": elapsed_ms(start),
            "address": addr,
        }),
        Err(f) => json!({
            "ok": false,
            "failure": f.failure,
            "message": f.message,
            "elapsed_ms": elapsed_ms(start),
        }),
    })
}
