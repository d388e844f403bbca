//! `labrun preflight STEP|COURSE` (the same flags as a run): before the class, one
//! line per check and per problem, and an exit code (0 ready, 1 problems, 64 bad
//! input). It plans exactly as the run would (so every file and flag the run refuses
//! is refused here), then asks the live world, in parallel:
//!
//! - **AWS**: per account (the operator's, or each trainee's own from the roster),
//!   the credentials and region work and every AWS operation the steps use answers;
//!   a denied one names the IAM action to add.
//! - **SSH**: each trainee's running servers (their `Name` tag holds the trainee id)
//!   are reachable on 22 and accept the key (or the Instance Connect push).
//! - **MySQL**: the password is accepted by one trainee's Aurora cluster endpoint,
//!   through that trainee's server, as the run's checks connect.
//!
//! - **Outcomes**: what these settings leave undecided, the same list a run names on
//!   stderr before its first cycle ([`crate::execute::undecided`]).
//!
//! Preflight only reads: the calls are the run's own describe calls (and, with
//! `--ssh-via instance-connect`, its key pushes), plus `SELECT 1`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::caps::owner::{self, Owner};
use crate::caps::{CapError, ErrorKind, Hub, Settings};
use crate::execute::{Answers, RunPlan};
use crate::outcome::{Lang, Message};
use crate::text::{inert, preflight as t, quoted, Text};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Problem,
    /// Could not be checked yet (nothing to check against, e.g. no server yet).
    Note,
}

/// One line of the preflight.
#[derive(Debug, Clone)]
pub struct Finding {
    pub verdict: Verdict,
    /// What was checked: `aws`, `ssh`, `mysql`, `settings`.
    pub area: &'static str,
    pub message: Message,
}

impl Finding {
    fn new(verdict: Verdict, area: &'static str, text: impl Into<Text>) -> Finding {
        Finding {
            verdict,
            area,
            message: Message::text(text),
        }
    }

    /// The line as printed: `ok      aws  …`.
    pub fn line(&self, lang: Lang) -> String {
        let word = match (self.verdict, lang) {
            (Verdict::Ok, Lang::En) => "ok",
            (Verdict::Problem, Lang::En) => "PROBLEM",
            (Verdict::Note, Lang::En) => "note",
            (Verdict::Ok, Lang::Ja) => "OK",
            (Verdict::Problem, Lang::Ja) => "問題",
            (Verdict::Note, Lang::Ja) => "注記",
        };
        format!(
            "{word:<8} {:<8} {}",
            self.area,
            crate::outcome::inert(self.message.get(lang))
        )
    }
}

/// Everything preflight found, in the order it was checked.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// 0 when nothing is a problem, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.0.iter().any(|f| f.verdict == Verdict::Problem) {
            crate::outcome::exit::FAIL
        } else {
            crate::outcome::exit::PASS
        }
    }

    fn push(&mut self, finding: Finding) {
        self.0.push(finding);
    }
}

/// Runs every check of a planned run (see the module doc).
pub async fn check(plan: &RunPlan) -> Findings {
    let mut out = Findings::default();
    for warning in &plan.warnings {
        out.push(Finding::new(Verdict::Problem, "settings", warning.clone()));
    }
    for undecided in crate::execute::undecided::undecided(plan) {
        out.push(Finding {
            verdict: Verdict::Note,
            area: "outcomes",
            message: undecided.message,
        });
    }
    let settings = match &plan.answers {
        Answers::Live(settings) => settings.clone(),
        Answers::Replay(_) => {
            out.push(Finding::new(Verdict::Note, "settings", t::Replay));
            return out;
        }
    };
    let operations = operations(plan);
    let trainees: Vec<String> = plan.runs.iter().map(|r| r.trainee.clone()).collect();
    let hub = Arc::new(Hub::live(settings.clone()));
    let groups = accounts(&settings, &trainees);

    // AWS: one group (account and region) at a time, every operation of the steps.
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let aws_checks = groups.iter().map(|(account, label, members)| {
        let hub = hub.clone();
        let operations = operations.clone();
        async move {
            let (findings, seen) = aws(&hub, account.as_deref(), label, members, &operations).await;
            (findings, members.clone(), seen)
        }
    });
    for (findings, members, group_seen) in join_all(aws_checks).await {
        for f in findings {
            out.push(f);
        }
        for m in members {
            seen.insert(m, group_seen.clone());
        }
    }

    // SSH: every running server of every trainee, at most --jobs handshakes at once
    // (the pool bounds them).
    let ssh_on = settings.net.ssh.is_some();
    let mut reachable: BTreeMap<String, String> = BTreeMap::new();
    if ssh_on {
        let checks = trainees.iter().map(|trainee| {
            let servers = seen
                .get(trainee)
                .map(|s| servers_of(&s.instances, trainee))
                .unwrap_or_default();
            let net = settings.net.clone();
            let trainee = trainee.clone();
            async move {
                let mut findings = Vec::new();
                let mut first_ok = None;
                if servers.is_empty() {
                    findings.push(Finding::new(
                        Verdict::Note,
                        "ssh",
                        t::NoServer {
                            trainee: trainee.as_str(),
                        },
                    ));
                }
                let tries = servers.iter().map(|(name, address)| {
                    let net = net.clone();
                    let trainee = trainee.clone();
                    async move {
                        let result = crate::caps::ssh::as_trainee(
                            &trainee,
                            crate::caps::net::via_session(&net, address),
                        )
                        .await;
                        (name.clone(), address.clone(), result.map(|_| ()))
                    }
                });
                for (name, address, result) in join_all(tries).await {
                    match result {
                        Ok(()) => {
                            first_ok.get_or_insert(address.clone());
                            findings.push(Finding::new(
                                Verdict::Ok,
                                "ssh",
                                t::SshOk {
                                    trainee: trainee.as_str(),
                                    name: inert(&name),
                                    address: address.as_str(),
                                },
                            ));
                        }
                        Err(e) => findings.push(Finding::new(
                            Verdict::Problem,
                            "ssh",
                            t::SshProblem {
                                trainee: trainee.as_str(),
                                name: inert(&name),
                                address: address.as_str(),
                                why: quoted(&e.message),
                            },
                        )),
                    }
                }
                (trainee, first_ok, findings)
            }
        });
        for (trainee, first_ok, findings) in join_all(checks).await {
            for f in findings {
                out.push(f);
            }
            if let Some(address) = first_ok {
                reachable.insert(trainee, address);
            }
        }
    } else {
        out.push(Finding::new(Verdict::Note, "ssh", t::NoSsh));
    }

    // MySQL: the Aurora password, through the first trainee whose server answered
    // and who has a cluster.
    if ssh_on {
        out.push(mysql(&hub, &settings, &seen, &reachable).await);
    }
    hub.close().await;
    out
}

/// `labrun preflight STEP|COURSE [RUN FLAGS]` ([`crate::cli::preflight`] parses them):
/// plans as the run would (bad input is exit 64), checks, prints one line per
/// finding; returns the exit code.
pub async fn run(flags: &crate::flags::Flags) -> u8 {
    let plan = match crate::plan::plan(flags).await {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("labrun: {}", crate::outcome::inert(&e.to_string()));
            return e.exit_code();
        }
    };
    let lang = plan.outputs.style.lang;
    let findings = check(&plan).await;
    let mut out = String::new();
    for f in &findings.0 {
        out.push_str(&f.line(lang));
        out.push('\n');
    }
    let problems = findings
        .0
        .iter()
        .filter(|f| f.verdict == Verdict::Problem)
        .count();
    let last: Text = match problems {
        0 => t::Ready.into(),
        count => t::Problems { count }.into(),
    };
    out.push_str(&last.render(lang));
    out.push('\n');
    print!("{out}");
    findings.exit_code()
}

/// Every `capability.operation` the planned steps can call.
fn operations(plan: &RunPlan) -> Vec<String> {
    let mut all = BTreeSet::new();
    for run in &plan.runs {
        for part in &run.parts {
            if let Ok((step, _)) = &part.step {
                if let Ok(ops) = step.operations() {
                    all.extend(ops);
                }
            }
        }
    }
    all.into_iter().collect()
}

/// The trainees grouped by where their AWS answers come from (the account the run's
/// calls go to, [`Settings::account_of`]), each group named for the lines: `the
/// operator's account`, or the role's account, or the profile, with the region when
/// the roster gives one.
fn accounts(settings: &Settings, trainees: &[String]) -> Vec<(Option<String>, Text, Vec<String>)> {
    let mut groups: BTreeMap<Option<String>, (Text, Vec<String>)> = BTreeMap::new();
    for trainee in trainees {
        let label: Text = match settings.aws_identities.get(trainee) {
            None => t::Operator.into(),
            Some(id) => {
                let whose: Text = match (&id.role_arn, &id.profile) {
                    (Some(arn), _) => t::Account {
                        account: crate::plan::roster_csv::role_account(arn).unwrap_or(arn),
                    }
                    .into(),
                    (None, Some(profile)) => t::Profile {
                        profile: inert(profile),
                    }
                    .into(),
                    (None, None) => t::Operator.into(),
                };
                match &id.region {
                    Some(region) => t::InRegion {
                        whose,
                        region: region.as_str(),
                    }
                    .into(),
                    None => whose,
                }
            }
        };
        groups
            .entry(settings.account_of(trainee))
            .or_insert_with(|| (label, Vec::new()))
            .1
            .push(trainee.clone());
    }
    groups
        .into_iter()
        .map(|(account, (label, members))| (account, label, members))
        .collect()
}

/// What the AWS checks of one account saw, for the SSH and MySQL checks.
#[derive(Debug, Clone, Default)]
struct Seen {
    instances: Value,
    clusters: Value,
}

/// Asks every operation once for the group; what was denied names its IAM action.
async fn aws(
    hub: &Hub,
    account: Option<&str>,
    label: &Text,
    members: &[String],
    operations: &[String],
) -> (Vec<Finding>, Seen) {
    let mut findings = Vec::new();
    let mut seen = Seen::default();
    let mut found: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut ops: Vec<&'static crate::caps::Operation> = operations
        .iter()
        .filter_map(|op| op.strip_prefix("aws."))
        .filter_map(|op| crate::caps::registry::operation("aws", op))
        .collect();
    // The lists first: the operations that name one resource ask about one they found.
    ops.sort_by_key(|op| needs_resource(op.name));
    let mut answered = 0;
    for op in ops {
        let action = op.iam.unwrap_or(op.name);
        let Some(request) = request_for(op.name, &found) else {
            findings.push(Finding::new(
                Verdict::Note,
                "aws",
                t::NotChecked {
                    label: label.clone(),
                    action,
                },
            ));
            continue;
        };
        match hub.call_in(account, "aws", op.name, request).await {
            Ok(answer) => {
                answered += 1;
                remember(op.name, &answer, &mut found, &mut seen);
            }
            // Asked about something that is not there: the answer still proves the
            // permission (AWS checks it first).
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::InvalidRequest) => {
                answered += 1;
            }
            Err(e) if e.kind == ErrorKind::Denied => findings.push(Finding::new(
                Verdict::Problem,
                "aws",
                t::Denied {
                    label: label.clone(),
                    action,
                    why: e.message_arg(),
                },
            )),
            Err(e) => {
                findings.push(unusable(label, &e));
                if matches!(
                    e.kind,
                    ErrorKind::Credentials | ErrorKind::Network | ErrorKind::Timeout
                ) || e.code.as_deref() == Some("config")
                {
                    // The account itself is unusable: one line says why.
                    return (findings, seen);
                }
            }
        }
    }
    findings.insert(
        0,
        Finding::new(
            Verdict::Ok,
            "aws",
            t::AwsOk {
                label: label.clone(),
                answered,
                count: members.len(),
                members: short_list(members),
            },
        ),
    );
    (findings, seen)
}

fn unusable(label: &Text, e: &CapError) -> Finding {
    Finding::new(
        Verdict::Problem,
        "aws",
        t::Unusable {
            label: label.clone(),
            why: e.message_arg(),
            kind: e.kind.as_str(),
        },
    )
}

/// `user01, user02, … (40)`.
fn short_list(members: &[String]) -> String {
    if members.len() <= 4 {
        members.join(", ")
    } else {
        format!(
            "{}, {}, …, {}",
            members[0],
            members[1],
            members[members.len() - 1]
        )
    }
}

/// The operations that need a resource to name.
fn needs_resource(operation: &str) -> bool {
    matches!(
        operation,
        "elbv2_describe_target_health"
            | "elbv2_describe_listeners"
            | "s3_get_bucket_location"
            | "s3_get_public_access_block"
            | "s3_get_bucket_acl"
            | "s3_list_objects_v2"
    )
}

/// The request preflight sends for `operation`: the whole list, or one resource a
/// list found (`None` when there is none yet).
fn request_for(operation: &str, found: &BTreeMap<&'static str, String>) -> Option<Value> {
    let got = |key: &str| found.get(key).cloned();
    Some(match operation {
        "elbv2_describe_target_health" => json!({ "TargetGroupArn": got("target_group")? }),
        "elbv2_describe_listeners" => json!({ "LoadBalancerArn": got("load_balancer")? }),
        "s3_list_objects_v2" => json!({ "Bucket": got("bucket")?, "MaxKeys": 1 }),
        op if op.starts_with("s3_get_") => json!({ "Bucket": got("bucket")? }),
        _ => json!({}),
    })
}

/// Keeps what later checks need from a list's answer.
fn remember(
    operation: &str,
    answer: &Value,
    found: &mut BTreeMap<&'static str, String>,
    seen: &mut Seen,
) {
    let first = |list: &str, field: &str| {
        answer[list]
            .as_array()
            .and_then(|items| items.first())
            .and_then(|item| item[field].as_str())
            .map(str::to_string)
    };
    match operation {
        "elbv2_describe_target_groups" => {
            if let Some(arn) = first("TargetGroups", "TargetGroupArn") {
                found.insert("target_group", arn);
            }
        }
        "elbv2_describe_load_balancers" => {
            if let Some(arn) = first("LoadBalancers", "LoadBalancerArn") {
                found.insert("load_balancer", arn);
            }
        }
        "s3_list_buckets" => {
            if let Some(name) = first("Buckets", "Name") {
                found.insert("bucket", name);
            }
        }
        "ec2_describe_instances" => seen.instances = answer.clone(),
        "rds_describe_db_clusters" => seen.clusters = answer.clone(),
        _ => {}
    }
}

/// A trainee's running servers with an address to reach them by: (name, address).
fn servers_of(instances: &Value, trainee: &str) -> Vec<(String, String)> {
    let owner = Owner {
        trainee: trainee.to_string(),
        ..Owner::default()
    };
    instances["Reservations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Instances"].as_array().into_iter().flatten())
        .filter(|i| owner.owns_tagged(i) && i["State"]["Name"] == "running")
        .filter_map(|i| {
            let address = i["PublicIpAddress"]
                .as_str()
                .or_else(|| i["PublicDnsName"].as_str().filter(|d| !d.is_empty()))?;
            Some((owner::tag_name(i), address.to_string()))
        })
        .collect()
}

/// The Aurora password through one trainee's server: `SELECT 1` on their cluster
/// endpoint as its master user.
async fn mysql(
    hub: &Hub,
    settings: &Settings,
    seen: &BTreeMap<String, Seen>,
    reachable: &BTreeMap<String, String>,
) -> Finding {
    if settings.net.mysql_password.is_none() {
        return Finding::new(Verdict::Note, "mysql", t::NoPassword);
    }
    for (trainee, address) in reachable {
        let Some(cluster) = seen.get(trainee).and_then(|s| {
            s.clusters["DBClusters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| owner::owns(c["DBClusterIdentifier"].as_str().unwrap_or(""), trainee))
                .cloned()
        }) else {
            continue;
        };
        let (Some(endpoint), Some(user)) = (
            cluster["Endpoint"].as_str(),
            cluster["MasterUsername"].as_str(),
        ) else {
            continue;
        };
        let request = json!({
            "host": endpoint,
            "port": cluster["Port"].as_u64().unwrap_or(3306),
            "user": user,
            "sql": "SELECT 1",
            "via": address,
        });
        let result =
            crate::caps::ssh::as_trainee(trainee, hub.call("mysql", "query", request)).await;
        return match result {
            Ok(_) => Finding::new(
                Verdict::Ok,
                "mysql",
                t::MysqlOk {
                    trainee: trainee.as_str(),
                    endpoint,
                    user,
                    address: address.as_str(),
                },
            ),
            Err(e) => Finding::new(
                Verdict::Problem,
                "mysql",
                t::MysqlProblem {
                    trainee: trainee.as_str(),
                    endpoint,
                    user,
                    address: address.as_str(),
                    why: e.message_arg(),
                },
            ),
        };
    }
    Finding::new(Verdict::Note, "mysql", t::NoMysqlTarget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_the_trainees_running_ones_with_an_address() {
        let instances = json!({ "Reservations": [ { "Instances": [
            { "Tags": [{ "Key": "Name", "Value": "webserver#1-user05" }], "State": { "Name": "running" }, "PublicIpAddress": "54.1.2.3" },
            { "Tags": [{ "Key": "Name", "Value": "webserver#2-user05" }], "State": { "Name": "stopped" }, "PublicIpAddress": "54.1.2.4" },
            { "Tags": [{ "Key": "Name", "Value": "webserver#1-user050" }], "State": { "Name": "running" }, "PublicIpAddress": "54.1.2.5" },
            { "Tags": [{ "Key": "Name", "Value": "webserver#3-user05" }], "State": { "Name": "running" }, "PublicDnsName": "ec2-x.compute.amazonaws.com" },
            { "Tags": [{ "Key": "Name", "Value": "webserver#4-user05" }], "State": { "Name": "running" } }
        ] } ] });
        assert_eq!(
            servers_of(&instances, "user05"),
            [
                ("webserver#1-user05".to_string(), "54.1.2.3".to_string()),
                (
                    "webserver#3-user05".to_string(),
                    "ec2-x.compute.amazonaws.com".to_string()
                )
            ]
        );
    }

    #[test]
    fn every_aws_operation_has_a_preflight_request_or_waits_for_a_list() {
        let none = BTreeMap::new();
        for op in (crate::caps::aws::SPEC.operations)() {
            let request = request_for(op.name, &none);
            assert_eq!(request.is_none(), needs_resource(op.name), "{}", op.name);
        }
        let mut found = BTreeMap::new();
        found.insert("target_group", "arn:tg".to_string());
        found.insert("load_balancer", "arn:lb".to_string());
        found.insert("bucket", "s3-1day-user05".to_string());
        for op in (crate::caps::aws::SPEC.operations)() {
            assert!(request_for(op.name, &found).is_some(), "{}", op.name);
        }
    }
}
