//! What a capability is: the one description that the hub, the gate, the policy,
//! both step front-ends (Rhai modules, WIT imports) and `--grant` read.
//!
//! Each capability module (`aws`, `dns`, `mysql`, `http`, `tcp`, `server`) exports one
//! [`Capability`] value, `SPEC`, and [`super::registry`] lists them. A capability says
//! in that one place: its name (the Rhai module, the WIT interface, the policy key),
//! its operations with their untrusted-step [`Scope`], how it answers live
//! ([`Capability::connect`]), and what a request is aimed at ([`Capability::target`]).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::error::CapError;
use super::net::NetConfig;
pub use super::owner::Owner;
use super::settings::Settings;

/// One capability: a Rhai module, a WIT interface of `labrun:host`, a policy key.
pub struct Capability {
    /// The name steps use everywhere: `aws::…` in Rhai, `labrun:host/aws` in WIT,
    /// `--grant aws`, `[grants] aws = […]`, `max_calls.aws`.
    pub name: &'static str,
    /// One line for `--help` and docs.
    pub about: &'static str,
    /// Every operation, in WIT order.
    pub operations: fn() -> &'static [Operation],
    /// Builds this capability's live answerer from the operator's settings (called
    /// once per run; must be cheap: connect lazily on first call).
    pub connect: fn(&Settings) -> Arc<dyn Answer>,
    /// What a request is aimed at, for the policy and the audit log.
    pub target: fn(operation: &str, request: &Value) -> Target,
    /// Hosts a (scoped) answer reveals that the step may probe next, e.g. the
    /// addresses a DNS lookup of an allowed name returned.
    pub reveals: fn(operation: &str, answer: &Value) -> Vec<String>,
    /// Requests an untrusted step may not make even to its own targets (e.g. HTTP
    /// redirects, which could lead anywhere): `Err(why)`.
    pub untrusted_guard: fn(operation: &str, request: &Value) -> Result<(), crate::text::Text>,
    /// One endpoint serves the whole class (AWS): an unusable-capability error
    /// (credentials, network, timeout) is remembered and later calls fail fast. Probes
    /// fail per target, so they never trip.
    pub one_endpoint: bool,
    /// Requests answered from the answer of a wider one (AWS: a trainee's resources
    /// from the account-wide list): see [`Views`].
    pub views: Option<Views>,
}

/// How a capability answers a narrowed request from a wider answer: the hub makes the
/// wider call once (it is what the cassette records) and answers each narrowed
/// request from an index of it.
#[derive(Clone, Copy)]
pub struct Views {
    /// The wider request whose answer `request` narrows, or `None` when `request` is
    /// to be sent as it is.
    pub base: fn(operation: &str, request: &Value) -> Option<Value>,
    /// Indexes a wider answer of `operation` (once per answer).
    pub index: fn(operation: &str, answer: Value) -> Arc<dyn Indexed>,
}

/// A wider answer, indexed: answers each narrowed request of it.
pub trait Indexed: Send + Sync {
    fn select(&self, request: &Value) -> Result<Value, CapError>;
}

impl Capability {
    /// The operation named `name`, if this capability has it.
    pub fn operation(&self, name: &str) -> Option<&'static Operation> {
        (self.operations)().iter().find(|op| op.name == name)
    }

    /// Operation names, for messages.
    pub fn operation_names(&self) -> Vec<&'static str> {
        (self.operations)().iter().map(|op| op.name).collect()
    }
}

/// One operation of a capability.
#[derive(Clone, Copy)]
pub struct Operation {
    /// snake_case: the Rhai function, the cassette's `operation`, the policy's grant.
    /// The WIT function is the same name in kebab-case ([`Operation::wit_name`]).
    pub name: &'static str,
    /// The IAM action AWS checks for it (`ec2:DescribeInstances`), written here so
    /// `labrun iam-policy` and preflight cannot drift from what labrun calls; `None`
    /// for operations that are not AWS API calls (probes, server facts).
    pub iam: Option<&'static str>,
    /// What it answers, in one line.
    pub about: &'static str,
    /// How an untrusted trainee's step may use it. Required: an operation without a
    /// rule must say [`Scope::Refused`].
    pub scope: Scope,
}

impl Operation {
    /// The WIT function name: `ec2_describe_instances` → `ec2-describe-instances`.
    pub fn wit_name(&self) -> String {
        self.name.replace('_', "-")
    }
}

/// How an operation is scoped for an untrusted step (a policy with `scoped = true`).
#[derive(Clone, Copy)]
pub enum Scope {
    /// Lists account resources: the answer keeps only what the filter keeps of the
    /// trainee's own resources.
    Filter(fn(&mut Value, &Owner)),
    /// Names resources in these request fields (ARNs, a string or a list of them):
    /// admitted only when every one is the trainee's own; the answer is about those
    /// only.
    OwnResources(&'static [&'static str]),
    /// Names resources by name in these request fields (an S3 bucket): admitted only
    /// when the name is the trainee's own (the trainee id as a whole token, and no
    /// other trainee's).
    OwnNames(&'static [&'static str]),
    /// A probe: admitted only for a host derived from the trainee's own resources.
    DerivedHost,
    /// A fact about a server: admitted only when the request's `via` is one of the
    /// trainee's own EC2 instances (its addresses or DNS names).
    OwnServer,
    /// No rule yet: refused for untrusted steps, never answered unscoped.
    Refused,
}

/// What a request is aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A probe's host, lowercase without a trailing dot.
    Host(String),
    /// AWS resources the request names (ARNs).
    Resources(Vec<String>),
    /// The whole account (a list operation): the request itself, as text.
    Account(String),
    /// The request names no target (malformed; the capability will say why).
    Nothing,
}

impl Target {
    /// A short description for the audit log.
    pub fn describe(&self) -> String {
        match self {
            Target::Host(h) => h.clone(),
            Target::Resources(r) => r.join(" "),
            Target::Account(text) => text.clone(),
            Target::Nothing => String::new(),
        }
    }
}

/// A capability's live side: answers one call against the real world.
pub trait Answer: Send + Sync {
    fn call<'a>(
        &'a self,
        operation: &'a str,
        request: &'a Value,
    ) -> BoxFuture<'a, Result<Value, CapError>>;

    /// Throttling answers the capability got so far in this run (SDK retries
    /// included); only AWS has any.
    fn throttled(&self) -> u64 {
        0
    }
}

/// A probe's live answerer: the operator's network settings and the probe's `call`.
pub struct NetAnswer {
    net: NetConfig,
    call: ProbeCall,
}

/// A probe module's `call(net, operation, request)`.
pub type ProbeCall =
    for<'a> fn(&'a NetConfig, &'a str, &'a Value) -> BoxFuture<'a, Result<Value, CapError>>;

impl NetAnswer {
    /// The `connect` of a probe capability: its `call` over the run's network settings.
    pub fn connect(settings: &Settings, call: ProbeCall) -> Arc<dyn Answer> {
        Arc::new(NetAnswer {
            net: settings.net.clone(),
            call,
        })
    }
}

impl Answer for NetAnswer {
    fn call<'a>(
        &'a self,
        operation: &'a str,
        request: &'a Value,
    ) -> BoxFuture<'a, Result<Value, CapError>> {
        (self.call)(&self.net, operation, request)
    }
}

/// No extra refusal (most capabilities).
pub fn no_guard(_operation: &str, _request: &Value) -> Result<(), crate::text::Text> {
    Ok(())
}

/// Reveals nothing (most capabilities).
pub fn reveals_nothing(_operation: &str, _answer: &Value) -> Vec<String> {
    Vec::new()
}

/// The host a probe request names in `field`, lowercase without a trailing dot.
pub fn host_field(request: &Value, field: &str) -> Target {
    match request[field].as_str() {
        Some(host) => Target::Host(normal_host(host)),
        None => Target::Nothing,
    }
}

pub use super::net::normal_host;
