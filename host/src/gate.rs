//! The gate: every capability call of one trainee's run passes one policy check and
//! leaves one audit record. Under a scoped policy AWS answers hold only the trainee's
//! own resources and probes may reach only hosts derived from them.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::caps::{self, CapError, ErrorKind, Hub};
use crate::policy::Policy;

/// JSONL audit sink shared by every run of a class.
pub struct Audit {
    out: Mutex<std::io::BufWriter<std::fs::File>>,
}

impl Audit {
    pub fn create(path: &Path) -> Result<Audit, String> {
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot write --audit {}: {e}", path.display()))?;
        Ok(Audit {
            out: Mutex::new(std::io::BufWriter::new(file)),
        })
    }

    fn write(&self, record: &Value) {
        let mut out = self.out.lock().expect("audit lock poisoned");
        let _ = writeln!(out, "{record}");
    }

    pub fn flush(&self) {
        let _ = self.out.lock().expect("audit lock poisoned").flush();
    }
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
    step: StepId,
    audit: Option<Arc<Audit>>,
    calls: Mutex<BTreeMap<String, u64>>,
    answer_bytes: AtomicU64,
    denials: Mutex<Vec<String>>,
    /// Hosts a scoped step may probe, derived from the trainee's own resources.
    hosts: OnceCell<Result<Mutex<HashSet<String>>, CapError>>,
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
            step,
            audit,
            calls: Mutex::new(BTreeMap::new()),
            answer_bytes: AtomicU64::new(0),
            denials: Mutex::new(Vec::new()),
            hosts: OnceCell::new(),
        }
    }

    pub fn trainee(&self) -> &str {
        &self.trainee
    }

    /// Denials so far, for the report.
    pub fn denials(&self) -> Vec<String> {
        self.denials.lock().expect("gate lock poisoned").clone()
    }

    /// One capability call on behalf of the step.
    pub async fn call(
        &self,
        capability: &str,
        operation: &str,
        request: Value,
    ) -> Result<Value, CapError> {
        let started = Instant::now();
        let target = target_of(capability, operation, &request);
        let result = match self.admit(capability, operation, &request).await {
            Err(reason) => {
                self.denials
                    .lock()
                    .expect("gate lock poisoned")
                    .push(format!("{capability}.{operation} {target}: {reason}"));
                self.record(capability, operation, &target, started, Err(&reason), 0);
                return Err(
                    CapError::new(capability, operation, ErrorKind::Denied, reason)
                        .with_code("policy"),
                );
            }
            Ok(()) => self.hub.call(capability, operation, request.clone()).await,
        };
        let result = match result {
            Ok(answer) if self.policy.scoped && capability == "aws" => self
                .own_vpcs()
                .await
                .map(|vpcs| scope_aws(operation, answer, &self.trainee, &vpcs)),
            other => other,
        };
        if let (true, Ok(answer)) = (self.policy.scoped && capability == "dns", &result) {
            // Addresses of an allowed name may be probed too.
            if let (Some(Ok(hosts)), Some(addresses)) =
                (self.hosts.get(), answer["addresses"].as_array())
            {
                let mut hosts = hosts.lock().expect("gate lock poisoned");
                for a in addresses.iter().filter_map(Value::as_str) {
                    if !is_special(a) {
                        hosts.insert(a.to_string());
                    }
                }
            }
        }
        let bytes = match &result {
            Ok(v) => v.to_string().len() as u64,
            Err(_) => 0,
        };
        let total = self.answer_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total > self.policy.max_answer_bytes {
            let reason = format!(
                "the run received more than {} bytes of answers (limit max_answer_bytes)",
                self.policy.max_answer_bytes
            );
            self.record(capability, operation, &target, started, Err(&reason), bytes);
            return Err(
                CapError::new(capability, operation, ErrorKind::Denied, reason).with_code("limit"),
            );
        }
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(e.message.as_str()),
        };
        self.record_call(capability, operation, &target, started, outcome, bytes);
        result
    }

    async fn admit(
        &self,
        capability: &str,
        operation: &str,
        request: &Value,
    ) -> Result<(), String> {
        if let Some(why) = self.policy.refusal(capability, operation) {
            return Err(why);
        }
        if let Some(&max) = self.policy.max_calls.get(capability) {
            let mut calls = self.calls.lock().expect("gate lock poisoned");
            let n = calls.entry(capability.to_string()).or_insert(0);
            if *n >= max {
                return Err(format!(
                    "more than {max} {capability} calls in one run (limit max_calls.{capability})"
                ));
            }
            *n += 1;
        }
        if !self.policy.scoped {
            return Ok(());
        }
        match capability {
            "aws" => self.admit_aws(operation, request),
            _ => {
                if capability == "http"
                    && request
                        .get("max_redirects")
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                        > 0
                {
                    return Err(
                        "redirects are not followed for untrusted steps: they could lead anywhere"
                            .into(),
                    );
                }
                let host = probe_host(capability, request)
                    .ok_or_else(|| "the request names no host".to_string())?;
                if is_special(&host) {
                    return Err(format!(
                        "{host} is a loopback, link-local or unspecified address: never reachable from untrusted steps"
                    ));
                }
                let hosts = self
                    .hosts
                    .get_or_init(|| async { self.derive_hosts().await.map(Mutex::new) })
                    .await
                    .as_ref()
                    .map_err(|e| format!("could not list the trainee's hosts: {}", e.message))?;
                if hosts
                    .lock()
                    .expect("gate lock poisoned")
                    .contains(&host.to_ascii_lowercase())
                {
                    Ok(())
                } else {
                    Err(format!(
                        "{host} is not one of {}'s resources (endpoints, DNS names and addresses from AWS)",
                        self.trainee
                    ))
                }
            }
        }
    }

    /// Operations that take another resource's ARN may only name the trainee's own.
    fn admit_aws(&self, operation: &str, request: &Value) -> Result<(), String> {
        let arn_names: Vec<&str> = match operation {
            "elbv2_describe_target_health" => {
                request["TargetGroupArn"].as_str().into_iter().collect()
            }
            "elbv2_describe_listeners" => request["LoadBalancerArn"]
                .as_str()
                .into_iter()
                .chain(
                    request["ListenerArns"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                )
                .collect(),
            _ => return Ok(()),
        };
        for arn in arn_names {
            if !arn_resource_names(arn)
                .iter()
                .any(|n| owns(n, &self.trainee))
            {
                return Err(format!("{arn} does not belong to {}", self.trainee));
            }
        }
        Ok(())
    }

    async fn aws_unscoped(&self, operation: &str) -> Result<Value, CapError> {
        self.hub.call("aws", operation, json!({})).await
    }

    async fn own_vpcs(&self) -> Result<HashSet<String>, CapError> {
        let vpcs = self.aws_unscoped("ec2_describe_vpcs").await?;
        Ok(vpcs["Vpcs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| owns(&tag_name(v), &self.trainee))
            .filter_map(|v| v["VpcId"].as_str().map(str::to_string))
            .collect())
    }

    /// Endpoints, DNS names and addresses of the trainee's own resources.
    async fn derive_hosts(&self) -> Result<HashSet<String>, CapError> {
        let t = &self.trainee;
        let mut hosts = HashSet::new();
        let mut add = |v: &Value| {
            if let Some(h) = v.as_str().filter(|h| !h.is_empty()) {
                hosts.insert(h.trim_end_matches('.').to_ascii_lowercase());
            }
        };
        let clusters = self.aws_unscoped("rds_describe_db_clusters").await?;
        for c in list(&clusters, "DBClusters") {
            if owns(c["DBClusterIdentifier"].as_str().unwrap_or(""), t) {
                add(&c["Endpoint"]);
                add(&c["ReaderEndpoint"]);
            }
        }
        let instances = self.aws_unscoped("rds_describe_db_instances").await?;
        for i in list(&instances, "DBInstances") {
            if owns(i["DBInstanceIdentifier"].as_str().unwrap_or(""), t) {
                add(&i["Endpoint"]["Address"]);
            }
        }
        let lbs = self.aws_unscoped("elbv2_describe_load_balancers").await?;
        for lb in list(&lbs, "LoadBalancers") {
            if owns(lb["LoadBalancerName"].as_str().unwrap_or(""), t) {
                add(&lb["DNSName"]);
            }
        }
        let ec2 = self.aws_unscoped("ec2_describe_instances").await?;
        for r in list(&ec2, "Reservations") {
            for i in list(r, "Instances") {
                if owns(&tag_name(i), t) {
                    for key in [
                        "PublicIpAddress",
                        "PrivateIpAddress",
                        "PublicDnsName",
                        "PrivateDnsName",
                    ] {
                        add(&i[key]);
                    }
                }
            }
        }
        Ok(hosts)
    }

    fn record_call(
        &self,
        capability: &str,
        operation: &str,
        target: &str,
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
        target: &str,
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
        target: &str,
        started: Instant,
        bytes: u64,
    ) -> Value {
        json!({
            "time": aws_smithy_types::DateTime::from(std::time::SystemTime::now())
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_default(),
            "trainee": self.trainee,
            "step": self.step.name,
            "step_sha256": self.step.sha256,
            "capability": capability,
            "operation": operation,
            "target": target,
            "duration_ms": started.elapsed().as_millis() as u64,
            "bytes": bytes,
        })
    }
}

fn list<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value[key].as_array().into_iter().flatten()
}

fn tag_name(resource: &Value) -> String {
    list(resource, "Tags")
        .find(|t| t["Key"] == "Name")
        .and_then(|t| t["Value"].as_str())
        .unwrap_or("")
        .to_string()
}

/// `name` belongs to `trainee` when it contains the trainee id as a whole token:
/// `wp-user05-cluster` is user05's, `wp-user050-cluster` is not.
pub fn owns(name: &str, trainee: &str) -> bool {
    if trainee.is_empty() {
        return false;
    }
    let name = name.to_ascii_lowercase();
    let trainee = trainee.to_ascii_lowercase();
    let bytes = name.as_bytes();
    let mut from = 0;
    while let Some(i) = name[from..].find(&trainee) {
        let start = from + i;
        let end = start + trainee.len();
        let before = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before && after {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Resource names inside an ELBv2 ARN (`…:targetgroup/NAME/id`, `…:loadbalancer/app/NAME/id`).
fn arn_resource_names(arn: &str) -> Vec<&str> {
    arn.rsplit(':').next().unwrap_or("").split('/').collect()
}

/// Keeps only the trainee's own resources in an AWS answer.
pub fn scope_aws(
    operation: &str,
    mut answer: Value,
    trainee: &str,
    vpcs: &HashSet<String>,
) -> Value {
    let in_vpc = |r: &Value| r["VpcId"].as_str().is_some_and(|v| vpcs.contains(v));
    let by_name = |key: &'static str| move |r: &Value| owns(r[key].as_str().unwrap_or(""), trainee);
    let keep = |answer: &mut Value, list_key: &str, keep: &dyn Fn(&Value) -> bool| {
        if let Some(items) = answer[list_key].as_array_mut() {
            items.retain(|r| keep(r));
        }
    };
    match operation {
        "ec2_describe_instances" => {
            if let Some(reservations) = answer["Reservations"].as_array_mut() {
                for r in reservations.iter_mut() {
                    if let Some(items) = r["Instances"].as_array_mut() {
                        items.retain(|i| owns(&tag_name(i), trainee));
                    }
                }
                reservations.retain(|r| r["Instances"].as_array().is_some_and(|i| !i.is_empty()));
            }
        }
        "ec2_describe_images" => keep(&mut answer, "Images", &|i| {
            owns(i["Name"].as_str().unwrap_or(""), trainee) || owns(&tag_name(i), trainee)
        }),
        "ec2_describe_security_groups" => keep(&mut answer, "SecurityGroups", &|g| {
            owns(g["GroupName"].as_str().unwrap_or(""), trainee)
                || owns(&tag_name(g), trainee)
                || in_vpc(g)
        }),
        "ec2_describe_subnets" => keep(&mut answer, "Subnets", &|s| {
            owns(&tag_name(s), trainee) || in_vpc(s)
        }),
        "ec2_describe_vpcs" => keep(&mut answer, "Vpcs", &|v| owns(&tag_name(v), trainee)),
        "rds_describe_db_clusters" => {
            keep(&mut answer, "DBClusters", &by_name("DBClusterIdentifier"))
        }
        "rds_describe_db_instances" => {
            keep(&mut answer, "DBInstances", &by_name("DBInstanceIdentifier"))
        }
        "rds_describe_db_subnet_groups" => keep(&mut answer, "DBSubnetGroups", &|g| {
            owns(g["DBSubnetGroupName"].as_str().unwrap_or(""), trainee) || in_vpc(g)
        }),
        "rds_describe_events" => keep(&mut answer, "Events", &by_name("SourceIdentifier")),
        "elbv2_describe_load_balancers" => {
            keep(&mut answer, "LoadBalancers", &by_name("LoadBalancerName"))
        }
        "elbv2_describe_target_groups" => {
            keep(&mut answer, "TargetGroups", &by_name("TargetGroupName"))
        }
        // Admitted only for the trainee's own target group / load balancer.
        "elbv2_describe_target_health" | "elbv2_describe_listeners" => {}
        // Fail closed: an operation without a scope rule answers nothing.
        _ => answer = json!({}),
    }
    answer
}

/// The host a probe request names (lowercase, no trailing dot).
fn probe_host(capability: &str, request: &Value) -> Option<String> {
    let host = match capability {
        "dns" => request["name"].as_str()?.to_string(),
        "http" => url::Url::parse(request["url"].as_str()?)
            .ok()?
            .host_str()?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string(),
        _ => request["host"].as_str()?.to_string(),
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
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

/// A short description of what a call is aimed at, for the audit log.
fn target_of(capability: &str, operation: &str, request: &Value) -> String {
    match capability {
        "aws" => {
            let text = caps::cassette::canonical(request);
            let text = if text.len() > 200 {
                format!("{}…", &text[..200])
            } else {
                text
            };
            format!("{operation} {text}")
        }
        _ => probe_host(capability, request).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_a_whole_token() {
        assert!(owns("wp-user05-cluster", "user05"));
        assert!(owns("webserver#2-user05", "user05"));
        assert!(owns("wordpress user05", "user05"));
        assert!(owns(
            "elb-user05-1.ap-northeast-1.elb.amazonaws.com",
            "user05"
        ));
        assert!(!owns("wp-user050-cluster", "user05"));
        assert!(!owns("wp-user06-cluster", "user05"));
        assert!(!owns("anything", ""));
    }

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
    fn scoping_keeps_only_own_resources() {
        let answer = json!({"DBClusters": [
            {"DBClusterIdentifier": "wp-user05-cluster"},
            {"DBClusterIdentifier": "wp-user06-cluster"}]});
        let kept = scope_aws(
            "rds_describe_db_clusters",
            answer,
            "user05",
            &HashSet::new(),
        );
        assert_eq!(kept["DBClusters"].as_array().unwrap().len(), 1);
        let answer = json!({"Reservations": [
            {"Instances": [{"Tags": [{"Key": "Name", "Value": "webserver#1-user06"}]}]},
            {"Instances": [{"Tags": [{"Key": "Name", "Value": "webserver#1-user05"}]}]}]});
        let kept = scope_aws("ec2_describe_instances", answer, "user05", &HashSet::new());
        assert_eq!(kept["Reservations"].as_array().unwrap().len(), 1);
        assert_eq!(
            scope_aws("unknown_op", json!({"X": 1}), "user05", &HashSet::new()),
            json!({})
        );
    }
}
