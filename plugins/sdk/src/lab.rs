//! The lab library for components: what `host/src/step/lab.rhai` gives scripts, typed.
//! Lookups of a trainee's own resources that return [`crate::shapes`] structs (asked
//! as the AWS API takes them, with filters and identifiers: labrun answers each from
//! one account-wide call per run, so a class of N costs N small answers), finding by
//! name or tag, CIDR tests, running a check so that a capability error becomes its
//! `error` row, and reporting a [`Message`] (from a [`crate::Catalog`]) as
//! pass/fail/pending/skip.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::shapes::{
    DbCluster, DbInstance, DbSubnetGroup, Event, Image, Instance, Listener, LoadBalancer,
    Reservation, SecurityGroup, Subnet, TargetGroup, TargetHealthDescription, Vpc,
};
use crate::{aws, report, CapError, Message, Status};

/// Why a check could not decide: a capability failed, or the step itself did (a
/// missing template, an answer of another shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Cap(CapError),
    Step(String),
}

impl From<CapError> for Error {
    fn from(e: CapError) -> Error {
        Error::Cap(e)
    }
}

impl From<String> for Error {
    fn from(e: String) -> Error {
        Error::Step(e)
    }
}

/// A catalog refusal (a missing template or value) is the step's own failure, in
/// the English a component can say (it has no host catalog).
impl From<crate::catalog::Error> for Error {
    fn from(e: crate::catalog::Error) -> Error {
        Error::Step(e.to_string())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Cap(e) => write!(f, "{e}"),
            Error::Step(e) => f.write_str(e),
        }
    }
}

/// What a check returns.
pub type Checked = Result<Status, Error>;

/// Runs one check: an [`Error`] becomes its `error` row ("could not check: …"), the
/// same words as the Rhai library's `guard`.
pub fn guard(id: &str, check: impl FnOnce() -> Checked) -> Status {
    match check() {
        Ok(status) => status,
        Err(Error::Cap(e)) => report::guard(id, || Err(e)),
        Err(Error::Step(why)) => report::error(
            id,
            format!("could not check: {why}"),
            format!("確認できませんでした: {why}"),
            Value::Null,
        ),
    }
}

pub fn pass(id: &str, m: Message, evidence: Value) -> Checked {
    Ok(report::pass(id, m.en, m.ja, evidence))
}

pub fn fail(id: &str, m: Message, evidence: Value) -> Checked {
    Ok(report::fail(id, m.en, m.ja, evidence))
}

pub fn pending(id: &str, m: Message, evidence: Value) -> Checked {
    Ok(report::pending(id, m.en, m.ja, evidence))
}

pub fn skip(id: &str, m: Message) -> Checked {
    Ok(report::skip(id, m.en, m.ja))
}

// ------------------------------------------------------------------ lookups

/// `operation`'s answer, field `list` read as a list of `T`.
pub fn describe<T: DeserializeOwned>(
    operation: &str,
    request: Value,
    list: &str,
) -> Result<Vec<T>, Error> {
    let mut answer = aws::call(operation, request)?;
    match answer.get_mut(list).map(Value::take) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            Error::Cap(CapError::local(
                "aws",
                operation,
                "service",
                format!("`{list}` is not in the shape this step reads: {e}"),
            ))
        }),
    }
}

pub fn vpcs() -> Result<Vec<Vpc>, Error> {
    describe("ec2_describe_vpcs", json!({}), "Vpcs")
}

pub fn subnets() -> Result<Vec<Subnet>, Error> {
    describe("ec2_describe_subnets", json!({}), "Subnets")
}

/// Every instance of every reservation.
pub fn instances() -> Result<Vec<Instance>, Error> {
    let r: Vec<Reservation> = describe("ec2_describe_instances", json!({}), "Reservations")?;
    Ok(r.into_iter().flat_map(|r| r.instances).collect())
}

/// The account's own AMIs.
pub fn own_images() -> Result<Vec<Image>, Error> {
    describe(
        "ec2_describe_images",
        json!({ "Owners": ["self"] }),
        "Images",
    )
}

pub fn security_groups() -> Result<Vec<SecurityGroup>, Error> {
    describe("ec2_describe_security_groups", json!({}), "SecurityGroups")
}

pub fn db_clusters() -> Result<Vec<DbCluster>, Error> {
    describe("rds_describe_db_clusters", json!({}), "DBClusters")
}

pub fn db_instances() -> Result<Vec<DbInstance>, Error> {
    describe("rds_describe_db_instances", json!({}), "DBInstances")
}

pub fn db_subnet_groups() -> Result<Vec<DbSubnetGroup>, Error> {
    describe("rds_describe_db_subnet_groups", json!({}), "DBSubnetGroups")
}

/// RDS events, e.g. `json!({"SourceType": "db-cluster", "Duration": 20160})`.
pub fn events(request: Value) -> Result<Vec<Event>, Error> {
    describe("rds_describe_events", request, "Events")
}

pub fn load_balancers() -> Result<Vec<LoadBalancer>, Error> {
    describe("elbv2_describe_load_balancers", json!({}), "LoadBalancers")
}

pub fn target_groups() -> Result<Vec<TargetGroup>, Error> {
    describe("elbv2_describe_target_groups", json!({}), "TargetGroups")
}

pub fn target_health(target_group_arn: &str) -> Result<Vec<TargetHealthDescription>, Error> {
    describe(
        "elbv2_describe_target_health",
        json!({ "TargetGroupArn": target_group_arn }),
        "TargetHealthDescriptions",
    )
}

pub fn listeners(load_balancer_arn: &str) -> Result<Vec<Listener>, Error> {
    describe(
        "elbv2_describe_listeners",
        json!({ "LoadBalancerArn": load_balancer_arn }),
        "Listeners",
    )
}

// ------------------------------------------------------------------ one trainee's part

/// An EC2 filter matching `value` literally: `*`, `?` and `\\` are EC2's wildcards and
/// escape, so they are escaped.
pub fn filter(name: &str, value: &str) -> Value {
    let mut literal = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '*' | '?' | '\\') {
            literal.push('\\');
        }
        literal.push(c);
    }
    json!({ "Name": name, "Values": [literal] })
}

/// An RDS filter (RDS has no wildcards).
fn rds_filter(name: &str, value: &str) -> Value {
    json!({ "Name": name, "Values": [value] })
}

/// The first item of a narrowed answer.
fn one<T: DeserializeOwned>(
    operation: &str,
    request: Value,
    list: &str,
) -> Result<Option<T>, Error> {
    Ok(describe(operation, request, list)?.into_iter().next())
}

/// An identifier lookup: AWS's `not_found` for a name that names nothing is `None`.
fn found<T>(result: Result<Option<T>, Error>) -> Result<Option<T>, Error> {
    match result {
        Err(Error::Cap(e)) if e.kind == "not_found" => Ok(None),
        other => other,
    }
}

/// The VPC whose Name tag is `name`.
pub fn vpc_named(name: &str) -> Result<Option<Vpc>, Error> {
    one(
        "ec2_describe_vpcs",
        json!({ "Filters": [filter("tag:Name", name)] }),
        "Vpcs",
    )
}

/// The subnets of the VPC `vpc_id`.
pub fn subnets_of(vpc_id: &str) -> Result<Vec<Subnet>, Error> {
    describe(
        "ec2_describe_subnets",
        json!({ "Filters": [filter("vpc-id", vpc_id)] }),
        "Subnets",
    )
}

/// The subnet `id`.
pub fn subnet(id: &str) -> Result<Option<Subnet>, Error> {
    one(
        "ec2_describe_subnets",
        json!({ "Filters": [filter("subnet-id", id)] }),
        "Subnets",
    )
}

/// Instances with Name tag `name` that are not terminated.
pub fn instances_named(name: &str) -> Result<Vec<Instance>, Error> {
    let request = json!({ "Filters": [filter("tag:Name", name)] });
    let r: Vec<Reservation> = describe("ec2_describe_instances", request, "Reservations")?;
    Ok(r.into_iter()
        .flat_map(|r| r.instances)
        .filter(|i| i.state.name != "terminated")
        .collect())
}

/// The account's own AMI named `name`.
pub fn own_image_named(name: &str) -> Result<Option<Image>, Error> {
    one(
        "ec2_describe_images",
        json!({ "Owners": ["self"], "Filters": [filter("name", name)] }),
        "Images",
    )
}

/// The security group `name`, inside the VPC `vpc_id` when it is given.
pub fn security_group(name: &str, vpc_id: Option<&str>) -> Result<Option<SecurityGroup>, Error> {
    let mut filters = vec![filter("group-name", name)];
    filters.extend(vpc_id.map(|v| filter("vpc-id", v)));
    one(
        "ec2_describe_security_groups",
        json!({ "Filters": filters }),
        "SecurityGroups",
    )
}

/// The Aurora cluster `id`.
pub fn db_cluster(id: &str) -> Result<Option<DbCluster>, Error> {
    one(
        "rds_describe_db_clusters",
        json!({ "Filters": [rds_filter("db-cluster-id", id)] }),
        "DBClusters",
    )
}

/// The DB instance `id`.
pub fn db_instance(id: &str) -> Result<Option<DbInstance>, Error> {
    one(
        "rds_describe_db_instances",
        json!({ "Filters": [rds_filter("db-instance-id", id)] }),
        "DBInstances",
    )
}

/// The DB instances of the cluster `id`.
pub fn db_instances_of(cluster: &str) -> Result<Vec<DbInstance>, Error> {
    describe(
        "rds_describe_db_instances",
        json!({ "Filters": [rds_filter("db-cluster-id", cluster)] }),
        "DBInstances",
    )
}

/// The DB subnet group `name`.
pub fn db_subnet_group(name: &str) -> Result<Option<DbSubnetGroup>, Error> {
    found(one(
        "rds_describe_db_subnet_groups",
        json!({ "DBSubnetGroupName": name }),
        "DBSubnetGroups",
    ))
}

/// The RDS events of the cluster `id` in the last `minutes`.
pub fn cluster_events(id: &str, minutes: i64) -> Result<Vec<Event>, Error> {
    events(json!({ "SourceType": "db-cluster", "Duration": minutes, "SourceIdentifier": id }))
}

/// The load balancer `name`.
pub fn load_balancer(name: &str) -> Result<Option<LoadBalancer>, Error> {
    found(one(
        "elbv2_describe_load_balancers",
        json!({ "Names": [name] }),
        "LoadBalancers",
    ))
}

/// The target group `name`.
pub fn target_group(name: &str) -> Result<Option<TargetGroup>, Error> {
    found(one(
        "elbv2_describe_target_groups",
        json!({ "Names": [name] }),
        "TargetGroups",
    ))
}

/// The first item whose Name tag is `name`.
pub fn named<T: crate::shapes::Tagged>(list: Vec<T>, name: &str) -> Option<T> {
    list.into_iter().find(|x| x.name() == Some(name))
}

// ------------------------------------------------------------------ values

/// A DNS name without its trailing dot, lowercased.
pub fn bare(name: &str) -> String {
    let n = name.to_lowercase();
    n.strip_suffix('.').map(str::to_string).unwrap_or(n)
}

/// IPv4 text → integer.
pub fn ip4(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut n: u32 = 0;
    for part in parts {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u32 = part.parse().ok()?;
        if v > 255 {
            return None;
        }
        n = n * 256 + v;
    }
    Some(n)
}

/// Whether IPv4 `ip` is inside `cidr` ("10.0.2.0/24").
pub fn in_cidr(ip: &str, cidr: &str) -> bool {
    let Some((base, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Some(base), Some(addr), Ok(bits)) = (ip4(base), ip4(ip), bits.parse::<u32>()) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    addr & mask == base & mask
}

/// Problems found, in both languages: `p.add(m)`, then `p.summary()` as one value
/// (joined with "; " and "、").
#[derive(Debug, Clone, Default)]
pub struct Found(Vec<Message>);

impl Found {
    pub fn new() -> Found {
        Found::default()
    }

    pub fn add(&mut self, m: Message) {
        self.0.push(m);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn summary(&self) -> Message {
        let en: Vec<&str> = self.0.iter().map(|m| m.en.as_str()).collect();
        let ja: Vec<&str> = self.0.iter().map(|m| m.ja.as_str()).collect();
        Message::new(en.join("; "), ja.join("、"))
    }
}

/// Runs a step's checks in order, keeping each one's status: a check whose declared
/// prerequisite ran and did not pass is reported `skip` without running (as the Rhai
/// library's `guard` does; labrun enforces the same from `needs`).
#[derive(Debug, Clone, Default)]
pub struct Checklist {
    needs: Vec<(String, Vec<String>)>,
    done: Vec<(String, Status)>,
}

impl Checklist {
    /// `needs`: (id, the ids that must pass first), as declared in `describe`.
    pub fn new(needs: &[(&str, &[&str])]) -> Checklist {
        Checklist {
            needs: needs
                .iter()
                .map(|(id, before)| {
                    (
                        id.to_string(),
                        before.iter().map(|b| b.to_string()).collect(),
                    )
                })
                .collect(),
            done: Vec::new(),
        }
    }

    /// The prerequisites `info` declares (e.g. [`crate::Info::from_catalog`]'s).
    pub fn declared(info: &crate::Info) -> Checklist {
        Checklist {
            needs: info.needs.clone(),
            done: Vec::new(),
        }
    }

    /// The status check `id` got, if it ran.
    pub fn status(&self, id: &str) -> Option<Status> {
        self.done.iter().find(|(d, _)| d == id).map(|(_, s)| *s)
    }

    /// The first prerequisite of `id` that ran and did not pass.
    pub fn blocked_by(&self, id: &str) -> Option<String> {
        let (_, before) = self.needs.iter().find(|(n, _)| n == id)?;
        before
            .iter()
            .find(|b| self.status(b).is_some_and(|s| s != Status::Pass))
            .cloned()
    }

    /// Runs check `id` through [`guard`] unless a prerequisite did not pass.
    pub fn check(&mut self, id: &str, check: impl FnOnce() -> Checked) -> Status {
        let status = match self.blocked_by(id) {
            Some(d) => report::skip(
                id,
                format!("skipped: {d} did not pass"),
                format!("省略: {d} が合格していないため"),
            ),
            None => guard(id, check),
        };
        self.done.push((id.to_string(), status));
        status
    }
}
