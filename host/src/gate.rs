//! The gate: every capability call of one trainee's run passes one policy check and
//! leaves one audit record. The gate knows no request shapes: each capability tells it
//! what a request targets and how an operation is scoped ([`crate::caps::Capability`]).
//! Under a scoped policy AWS answers hold only the trainee's own resources, probes
//! may reach only hosts derived from them, and a call goes `via` (probes, `server`)
//! only one of the trainee's own EC2 instances.

pub mod audit;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::caps::aws::scope as aws_scope;
use crate::caps::owner::Owner;
use crate::caps::{
    cassette, registry, CapError, Capability, ErrorKind, Hub, Operation, Scope, Target,
};
use crate::policy::Policy;
use crate::text::{gate as t, Lang, Text};
pub use audit::Audit;

/// Longest audit target kept, in characters.
const AUDIT_TARGET_CHARS: usize = 200;
/// Denials after which a step is stopped: a step that keeps knocking on closed doors
/// has nothing left to check.
const MAX_DENIALS: u64 = 100;
/// Denials kept as text for the report.
const KEPT_DENIALS: usize = 100;
/// Denials written to the audit log one by one; the rest are summarised.
const AUDITED_DENIALS: u64 = 100;

/// What was denied, bounded.
#[derive(Default)]
struct Denials {
    kept: Vec<Text>,
    count: u64,
    /// Set once the step must stop.
    stop: Option<Text>,
}

/// Which step is running, for the audit log.
#[derive(Clone, Debug)]
pub struct StepId {
    pub name: String,
    pub sha256: String,
}

pub struct Gate {
    hub: Arc<Hub>,
    policy: Arc<Policy>,
    trainee: String,
    /// The trainee's own AWS account's label (`--roster`); `None`: the operator's.
    account: Option<String>,
    step: StepId,
    audit: Option<Arc<Audit>>,
    calls: Mutex<BTreeMap<String, u64>>,
    answer_bytes: AtomicU64,
    denials: Mutex<Denials>,
    /// The trainee and their VPCs, read once per run (scoped policies only).
    owner: OnceCell<Result<Owner, CapError>>,
    /// Hosts a scoped step may probe, derived from the trainee's own resources.
    hosts: OnceCell<Result<Mutex<HashSet<String>>, CapError>>,
    /// Servers a scoped step may go `via`: the trainee's own EC2 instances.
    servers: OnceCell<Result<HashSet<String>, CapError>>,
}

impl Gate {
    pub fn new(
        hub: Arc<Hub>,
        policy: Arc<Policy>,
        trainee: String,
        step: StepId,
        audit: Option<Arc<Audit>>,
    ) -> Gate {
        Gate {
            hub,
            policy,
            trainee,
            account: None,
            step,
            audit,
            calls: Mutex::new(BTreeMap::new()),
            answer_bytes: AtomicU64::new(0),
            denials: Mutex::new(Denials::default()),
            owner: OnceCell::new(),
            hosts: OnceCell::new(),
            servers: OnceCell::new(),
        }
    }

    /// The gate of a trainee in their own AWS account: every AWS call goes there,
    /// the gate's own (the trainee's resources, for a scoped policy) too.
    pub fn in_account(mut self, account: Option<&str>) -> Gate {
        self.account = account.map(str::to_string);
        self
    }

    pub fn trainee(&self) -> &str {
        &self.trainee
    }

    /// Denials for the report: at most `max` lines, then one line counting the rest.
    pub fn denials(&self, max: usize) -> Vec<Text> {
        let denials = self.denials.lock().expect("gate lock poisoned");
        let mut lines: Vec<Text> = denials.kept.iter().take(max).cloned().collect();
        let more = denials.count.saturating_sub(lines.len() as u64);
        if more > 0 {
            lines.push(t::MoreDenials { more }.into());
        }
        lines
    }

    /// Why the step must stop now (too many calls or denials), once that happened.
    /// The front-ends end the step with this cause after the call that tripped it.
    pub fn stop_cause(&self) -> Option<Text> {
        self.denials
            .lock()
            .expect("gate lock poisoned")
            .stop
            .clone()
    }

    /// Refuses a call the step boundary found oversized (its request is never parsed
    /// or copied further); it counts as a denial like any other.
    pub fn refuse(&self, error: CapError) -> CapError {
        let reason = Text::from(t::Said {
            what: error.message_arg(),
        });
        self.deny(
            &error.capability,
            &error.operation,
            &Aimed {
                target: "(request not kept)".to_string(),
                via: None,
            },
            Instant::now(),
            &reason,
        );
        error
    }

    /// Writes the audit summary of what was not logged one by one.
    pub fn finish(&self) {
        let denials = self.denials.lock().expect("gate lock poisoned");
        let unlogged = denials.count.saturating_sub(AUDITED_DENIALS);
        if let (Some(audit), true) = (&self.audit, unlogged > 0) {
            audit.write(&json!({
                "trainee": self.trainee,
                "step": self.step.name,
                "step_sha256": self.step.sha256,
                "allowed": false,
                "summary": Text::from(t::NotLogged { unlogged }).render(Lang::En),
                "denials": denials.count,
            }));
        }
    }

    fn deny(
        &self,
        capability: &str,
        operation: &str,
        target: &Aimed,
        started: Instant,
        reason: &Text,
    ) {
        let count = {
            let mut denials = self.denials.lock().expect("gate lock poisoned");
            denials.count += 1;
            if denials.kept.len() < KEPT_DENIALS {
                denials.kept.push(
                    t::Denial {
                        capability,
                        operation,
                        target: target.describe(),
                        reason,
                    }
                    .into(),
                );
            }
            if denials.count >= MAX_DENIALS && denials.stop.is_none() {
                denials.stop = Some(
                    t::TooManyDenials {
                        max: MAX_DENIALS,
                        capability,
                        operation,
                        reason,
                    }
                    .into(),
                );
            }
            denials.count
        };
        if count <= AUDITED_DENIALS {
            // The audit log is a machine's record: one language, English.
            let reason = reason.render(Lang::En);
            self.record(capability, operation, target, started, Err(&reason), 0);
        }
    }

    /// One capability call on behalf of the step.
    pub async fn call(
        &self,
        capability: &str,
        operation: &str,
        request: Value,
    ) -> Result<Value, CapError> {
        let started = Instant::now();
        let spec = registry::get(capability);
        let op = spec.and_then(|s| s.operation(operation));
        let target = spec.map_or(Target::Nothing, |s| (s.target)(operation, &request));
        let audit_target = audit_target(operation, &request, &target);
        let result = match self
            .admit(spec, op, capability, operation, &request, &target)
            .await
        {
            Err(reason) => {
                self.deny(capability, operation, &audit_target, started, &reason);
                return Err(
                    CapError::new(capability, operation, ErrorKind::Denied, reason)
                        .with_code("policy"),
                );
            }
            // The trainee picks the key of `--ssh-key` for calls `via` a server.
            Ok(()) => {
                crate::caps::ssh::as_trainee(
                    &self.trainee,
                    self.hub
                        .call_in(self.account.as_deref(), capability, operation, request),
                )
                .await
            }
        };
        let result = match (result, op) {
            (Ok(mut answer), Some(op)) if self.policy.scoped => match op.scope {
                Scope::Filter(keep) => self.owner().await.map(|owner| {
                    keep(&mut answer, owner);
                    answer
                }),
                _ => Ok(answer),
            },
            (other, _) => other,
        };
        if let (true, Some(spec), Ok(answer)) = (self.policy.scoped, spec, &result) {
            self.learn_hosts(spec, operation, answer);
        }
        let bytes = match &result {
            Ok(v) => v.to_string().len() as u64,
            Err(_) => 0,
        };
        let total = self.answer_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total > self.policy.max_answer_bytes {
            let reason = Text::from(t::TooManyBytes {
                max: self.policy.max_answer_bytes,
            });
            self.record(
                capability,
                operation,
                &audit_target,
                started,
                Err(&reason.render(Lang::En)),
                bytes,
            );
            return Err(
                CapError::new(capability, operation, ErrorKind::Denied, reason).with_code("limit"),
            );
        }
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(e.message.as_str()),
        };
        self.record_call(
            capability,
            operation,
            &audit_target,
            started,
            outcome,
            bytes,
        );
        result
    }

    async fn admit(
        &self,
        spec: Option<&'static Capability>,
        op: Option<&'static Operation>,
        capability: &str,
        operation: &str,
        request: &Value,
        target: &Target,
    ) -> Result<(), Text> {
        if let Some(why) = self.policy.refusal(capability, operation) {
            return Err(why);
        }
        if let Some(&max) = self.policy.max_calls.get(capability) {
            let mut calls = self.calls.lock().expect("gate lock poisoned");
            let n = calls.entry(capability.to_string()).or_insert(0);
            if *n >= max {
                let why = Text::from(t::TooManyCalls { max, capability });
                // Past its call limit a step is stopped, not answered denial after denial.
                self.denials
                    .lock()
                    .expect("gate lock poisoned")
                    .stop
                    .get_or_insert_with(|| {
                        t::Stopped {
                            capability,
                            operation,
                            why: &why,
                        }
                        .into()
                    });
                return Err(why);
            }
            *n += 1;
        }
        if !self.policy.scoped {
            return Ok(());
        }
        // An unknown capability or operation is the hub's to refuse, naming what exists.
        let (Some(spec), Some(op)) = (spec, op) else {
            return Ok(());
        };
        (spec.untrusted_guard)(operation, request)?;
        // Every capability that carries `via` goes only through the trainee's servers.
        let via = request_via(request);
        if let Some(via) = &via {
            self.check_server(via).await?;
        }
        match op.scope {
            Scope::Refused => Err(t::NoScopeRule {
                capability,
                operation,
            }
            .into()),
            Scope::Filter(_) => Ok(()),
            Scope::OwnResources(_) => {
                let Target::Resources(names) = target else {
                    return Ok(());
                };
                let owner = self.owner().await.map_err(|e| {
                    Text::from(t::CannotListResources {
                        why: e.message_arg(),
                    })
                })?;
                match names.iter().find(|arn| !owner.owns_arn(arn)) {
                    Some(arn) => Err(t::NotTheirs {
                        name: short(arn),
                        trainee: &self.trainee,
                    }
                    .into()),
                    None => Ok(()),
                }
            }
            Scope::OwnNames(_) => match target {
                Target::Resources(names) => match names
                    .iter()
                    .find(|n| !crate::caps::owner::owns(n, &self.trainee))
                {
                    Some(name) => Err(t::NotTheirs {
                        name: short(name),
                        trainee: &self.trainee,
                    }
                    .into()),
                    None => Ok(()),
                },
                _ => Ok(()),
            },
            Scope::OwnServer => match via {
                Some(_) => Ok(()),
                None => Err(t::NoServer.into()),
            },
            Scope::DerivedHost => {
                let Target::Host(host) = target else {
                    return Err(t::NoHost.into());
                };
                // Through the trainee's own server, its loopback is that server's own
                // (Step 1's local MySQL); link-local (instance metadata) never.
                if via.is_some() && is_loopback(host) {
                    return Ok(());
                }
                if is_special(host) {
                    return Err(t::SpecialHost { host: short(host) }.into());
                }
                let hosts = self
                    .hosts
                    .get_or_init(|| async { self.derive_hosts().await.map(Mutex::new) })
                    .await
                    .as_ref()
                    .map_err(|e| {
                        Text::from(t::CannotListHosts {
                            why: e.message_arg(),
                        })
                    })?;
                if hosts.lock().expect("gate lock poisoned").contains(host) {
                    Ok(())
                } else {
                    Err(t::NotDerived {
                        host: short(host),
                        trainee: &self.trainee,
                    }
                    .into())
                }
            }
        }
    }

    /// `via` must be one of the trainee's own EC2 instances.
    async fn check_server(&self, via: &str) -> Result<(), Text> {
        if is_special(via) {
            return Err(t::SpecialVia { via: short(via) }.into());
        }
        let servers = self
            .servers
            .get_or_init(|| async {
                let owner = self.owner().await?;
                aws_scope::own_servers(owner, |op| self.describe(op)).await
            })
            .await
            .as_ref()
            .map_err(|e| {
                Text::from(t::CannotListServers {
                    why: e.message_arg(),
                })
            })?;
        if servers.contains(via) {
            Ok(())
        } else {
            Err(t::NotAServer {
                via: short(via),
                trainee: &self.trainee,
            }
            .into())
        }
    }

    /// Hosts an allowed answer reveals (a DNS lookup's addresses) may be probed too.
    fn learn_hosts(&self, spec: &Capability, operation: &str, answer: &Value) {
        let Some(Ok(hosts)) = self.hosts.get() else {
            return;
        };
        let revealed = (spec.reveals)(operation, answer);
        if revealed.is_empty() {
            return;
        }
        let mut hosts = hosts.lock().expect("gate lock poisoned");
        for host in revealed {
            if !is_special(&host) {
                hosts.insert(crate::caps::capability::normal_host(&host));
            }
        }
    }

    /// An account-wide call made for the gate itself (shared through the hub).
    async fn describe(&self, operation: &'static str) -> Result<Value, CapError> {
        self.hub
            .call_in(self.account.as_deref(), "aws", operation, json!({}))
            .await
    }

    async fn owner(&self) -> Result<&Owner, CapError> {
        self.owner
            .get_or_init(|| aws_scope::owner(&self.trainee, |op| self.describe(op)))
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn derive_hosts(&self) -> Result<HashSet<String>, CapError> {
        let owner = self.owner().await?;
        aws_scope::derived_hosts(owner, |op| self.describe(op)).await
    }

    fn record_call(
        &self,
        capability: &str,
        operation: &str,
        target: &Aimed,
        started: Instant,
        outcome: Result<(), &str>,
        bytes: u64,
    ) {
        let Some(audit) = &self.audit else { return };
        let mut record = self.base_record(capability, operation, target, started, bytes);
        record["allowed"] = json!(true);
        if let Err(error) = outcome {
            record["error"] = json!(error);
        }
        audit.write(&record);
    }

    fn record(
        &self,
        capability: &str,
        operation: &str,
        target: &Aimed,
        started: Instant,
        denied: Result<(), &str>,
        bytes: u64,
    ) {
        let Some(audit) = &self.audit else { return };
        let mut record = self.base_record(capability, operation, target, started, bytes);
        record["allowed"] = json!(denied.is_ok());
        if let Err(reason) = denied {
            record["reason"] = json!(reason);
        }
        audit.write(&record);
    }

    fn base_record(
        &self,
        capability: &str,
        operation: &str,
        target: &Aimed,
        started: Instant,
        bytes: u64,
    ) -> Value {
        let mut record = json!({
            "time": aws_smithy_types::DateTime::from(std::time::SystemTime::now())
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_default(),
            "trainee": self.trainee,
            "step": self.step.name,
            "step_sha256": self.step.sha256,
            "capability": capability,
            "operation": operation,
            "target": target.target,
            "duration_ms": started.elapsed().as_millis() as u64,
            "bytes": bytes,
        });
        if let Some(via) = &target.via {
            record["via"] = json!(via);
        }
        record
    }
}

/// Loopback, link-local (instance metadata at 169.254.169.254), unspecified, or a
/// name that means loopback.
pub fn is_special(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_link_local() || ip.is_unspecified(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// Loopback only: `127.0.0.0/8`, `::1`, `localhost`.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A host or ARN as shown in a denial: cut to [`AUDIT_TARGET_CHARS`] characters.
fn short(text: &str) -> String {
    match text.char_indices().nth(AUDIT_TARGET_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// What the audit log says a call was aimed at, and the server it went through.
struct Aimed {
    target: String,
    via: Option<String>,
}

impl Aimed {
    fn describe(&self) -> String {
        match &self.via {
            Some(via) => format!("{} via {via}", self.target),
            None => self.target.clone(),
        }
    }
}

/// The server a request goes through (`via`), as hosts are compared.
pub fn request_via(request: &Value) -> Option<String> {
    request
        .get("via")
        .and_then(Value::as_str)
        .map(crate::caps::capability::normal_host)
        .filter(|v| !v.is_empty())
}

/// What the audit log says a call was aimed at: a probe's host, or an AWS
/// operation and its request, cut to [`AUDIT_TARGET_CHARS`] characters; and its `via`.
fn audit_target(operation: &str, request: &Value, target: &Target) -> Aimed {
    let text = match target {
        Target::Host(host) => host.clone(),
        Target::Nothing => String::new(),
        Target::Resources(_) | Target::Account(_) => {
            format!("{operation} {}", cassette::canonical(request))
        }
    };
    Aimed {
        target: short(&text),
        via: request_via(request).map(|v| short(&v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses() {
        for h in [
            "127.0.0.1",
            "169.254.169.254",
            "::1",
            "[::1]",
            "0.0.0.0",
            "localhost",
            "fe80::1",
        ] {
            assert!(is_special(h), "{h}");
        }
        for h in ["10.0.2.57", "54.1.2.3", "wp-user05.x.rds.amazonaws.com"] {
            assert!(!is_special(h), "{h}");
        }
    }

    #[test]
    fn audit_targets_are_cut_on_character_boundaries() {
        let host = format!("{}あ.example", "a".repeat(199));
        let cut = audit_target("get", &json!({}), &Target::Host(host)).target;
        assert!(cut.ends_with('…'), "{cut}");
        assert_eq!(cut.chars().count(), AUDIT_TARGET_CHARS + 1);
    }

    #[test]
    fn scope_rules_keep_only_own_resources() {
        let owner = Owner {
            trainee: "user05".into(),
            ..Owner::default()
        };
        let filter = |op: &str, mut answer: Value| {
            match registry::operation("aws", op).unwrap().scope {
                Scope::Filter(keep) => keep(&mut answer, &owner),
                _ => panic!("{op} is not a filter"),
            }
            answer
        };
        let kept = filter(
            "rds_describe_db_clusters",
            json!({"DBClusters": [
                {"DBClusterIdentifier": "wp-user05-cluster"},
                {"DBClusterIdentifier": "wp-user06-cluster"}]}),
        );
        assert_eq!(kept["DBClusters"].as_array().unwrap().len(), 1);
        let kept = filter(
            "ec2_describe_instances",
            json!({"Reservations": [
                {"Instances": [{"Tags": [{"Key": "Name", "Value": "webserver#1-user06"}]}]},
                {"Instances": [{"Tags": [{"Key": "Name", "Value": "webserver#1-user05"}]}]}]}),
        );
        assert_eq!(kept["Reservations"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn buckets_are_scoped_by_name() {
        let hub = Arc::new(Hub::replay(crate::caps::Cassette {
            labrun_cassette: crate::caps::cassette::CASSETTE_VERSION,
            recorded: Value::Null,
            calls: Vec::new(),
        }));
        let policy = Arc::new(Policy::preset(crate::policy::Trust::Untrusted));
        let step = StepId {
            name: "t".into(),
            sha256: String::new(),
        };
        let gate = Gate::new(hub, policy, "user05".into(), step, None);
        let other = gate
            .call(
                "aws",
                "s3_get_bucket_acl",
                json!({"Bucket": "wp-user06-media"}),
            )
            .await
            .unwrap_err();
        assert_eq!(other.kind, ErrorKind::Denied, "{other:?}");
        assert!(
            other.message.contains("does not belong to user05"),
            "{other:?}"
        );
        let both = gate
            .call(
                "aws",
                "s3_get_bucket_acl",
                json!({"Bucket": "media-user06-user05"}),
            )
            .await
            .unwrap_err();
        assert_eq!(both.kind, ErrorKind::Denied, "{both:?}");
        // Its own bucket passes the gate; the (empty) cassette answers.
        let own = gate
            .call(
                "aws",
                "s3_get_bucket_acl",
                json!({"Bucket": "wp-user05-media"}),
            )
            .await
            .unwrap_err();
        assert_eq!(own.kind, ErrorKind::NotRecorded, "{own:?}");
    }
}
