//! `labrun iam-policy STEP|COURSE`: the least-privilege IAM policy for exactly the AWS
//! operations a step or a course can call. Each operation names its IAM action in its
//! registry entry ([`crate::caps::Operation::iam`]), so this list cannot drift from
//! what labrun calls; the step's operations are what `labrun describe` lists.
//!
//! With `--ssh-via instance-connect` the policy also grants EC2 Instance Connect's
//! `SendSSHPublicKey`, the one call labrun makes that is not a describe or list, for
//! the SSH login user only (condition `ec2:osuser`), and `ec2:DescribeInstances`, which
//! finds the instance behind a server's address.
//!
//! With `--roster`, whose rows name roles in the trainees' own accounts
//! (`aws_role_arn`), it also grants `sts:AssumeRole` on exactly those roles: what the
//! identity labrun runs as needs beyond the read-only statement (each role needs the
//! read-only statement in its own account, not the assume one).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::caps::registry;
use crate::plan::PlanError;
use crate::policy::Limits;
use crate::publish::FetchArgs;
use crate::step::wasm::Grants;
use crate::step::Step;
use crate::text::{help, string};

/// The IAM action of the one call that is not read-only: pushing a one-run public key.
pub const SEND_SSH_PUBLIC_KEY: &str = "ec2-instance-connect:SendSSHPublicKey";

/// What finds the instance behind a server's address for Instance Connect.
pub const DESCRIBE_INSTANCES: &str = "ec2:DescribeInstances";

/// The IAM action that reads a trainee's own account through the roster's role.
pub const ASSUME_ROLE: &str = "sts:AssumeRole";

/// The IAM version every policy document uses.
pub const POLICY_VERSION: &str = "2012-10-17";

/// The IAM actions of `operations` (`aws.ec2_describe_vpcs`, …), sorted, each once;
/// operations that are no AWS call (probes) need none.
pub fn actions(operations: &[String]) -> BTreeSet<&'static str> {
    operations
        .iter()
        .filter_map(|op| op.split_once('.'))
        .filter_map(|(cap, op)| registry::operation(cap, op))
        .filter_map(|op| op.iam)
        .collect()
}

/// The policy document: one read-only statement, plus Instance Connect's push for
/// `ssh_user` when asked for, plus `sts:AssumeRole` on the roster's `roles`.
pub fn document(
    actions: &BTreeSet<&'static str>,
    instance_connect: Option<&str>,
    roles: &BTreeSet<String>,
) -> Value {
    let mut read: BTreeSet<&str> = actions.clone();
    if instance_connect.is_some() {
        read.insert(DESCRIBE_INSTANCES);
    }
    let mut statements = Vec::new();
    if !read.is_empty() {
        statements.push(json!({
            "Sid": "LabrunReadOnly",
            "Effect": "Allow",
            "Action": read.into_iter().collect::<Vec<_>>(),
            "Resource": "*",
        }));
    }
    if let Some(user) = instance_connect {
        statements.push(json!({
            "Sid": "LabrunInstanceConnect",
            "Effect": "Allow",
            "Action": SEND_SSH_PUBLIC_KEY,
            "Resource": "arn:aws:ec2:*:*:instance/*",
            "Condition": { "StringEquals": { "ec2:osuser": user } },
        }));
    }
    if !roles.is_empty() {
        statements.push(json!({
            "Sid": "LabrunAssumeTraineeRoles",
            "Effect": "Allow",
            "Action": ASSUME_ROLE,
            "Resource": roles.iter().collect::<Vec<_>>(),
        }));
    }
    json!({ "Version": POLICY_VERSION, "Statement": statements })
}

/// The steps of a step file or a course, loaded (a course's referenced steps pulled
/// and verified as a run would).
pub async fn steps(path: &Path, fetch: &FetchArgs) -> Result<Vec<Arc<Step>>, PlanError> {
    let limits = Limits::default();
    let grants = Grants::all();
    let is_toml = crate::plan::class::is_class_file(path);
    if is_toml && path.is_file() {
        if !crate::plan::course::is_course(path)? {
            return Err(PlanError::Flag(
                crate::text::prepare::ClassFile { path }.into(),
            ));
        }
        let steps = crate::plan::course::steps(path, fetch, &limits, &grants).await?;
        return Ok(steps.into_iter().map(|(_, step)| step).collect());
    }
    let file = crate::publish::step_for_run(path, fetch)
        .await
        .map_err(crate::plan::fetch_error)?;
    Ok(vec![Arc::new(Step::load(&file, &limits, &grants).await?)])
}

/// Every operation the steps can call, sorted, each once.
pub fn operations(steps: &[Arc<Step>]) -> Result<Vec<String>, PlanError> {
    let mut all = BTreeSet::new();
    for step in steps {
        all.extend(step.operations()?);
    }
    Ok(all.into_iter().collect())
}

/// The roles a roster's rows name (`aws_role_arn`), sorted, each once.
pub fn roster_roles(roster: &Path) -> Result<BTreeSet<String>, PlanError> {
    let roster = crate::plan::roster_csv::load(roster)?;
    Ok(roster
        .aws_identities()
        .into_values()
        .filter_map(|aws| aws.role_arn)
        .collect())
}

/// The policy text `labrun iam-policy` prints: pretty JSON and a newline.
pub async fn policy_text(
    path: &Path,
    fetch: &FetchArgs,
    instance_connect: Option<&str>,
    roster: Option<&Path>,
) -> Result<String, PlanError> {
    // The roster first: a typo in it is bad input, found before any step is fetched.
    let roles = match roster {
        Some(roster) => roster_roles(roster)?,
        None => BTreeSet::new(),
    };
    let steps = steps(path, fetch).await?;
    let operations = operations(&steps)?;
    let doc = document(&actions(&operations), instance_connect, &roles);
    let mut text = serde_json::to_string_pretty(&doc).expect("a policy serializes");
    text.push('\n');
    Ok(text)
}

/// `labrun iam-policy`'s arguments ([`crate::cli::iam_policy`] puts them in the tree).
#[derive(Debug, clap::Args)]
pub struct IamArgs {
    #[arg(help = string(help::IamPolicyStep))]
    pub step: std::path::PathBuf,
    #[arg(long, value_enum, value_name = "HOW", help = string(help::IamPolicySshVia))]
    pub ssh_via: Option<crate::flags::SshVia>,
    #[arg(long, value_name = "USER", default_value = "ec2-user", help = string(help::IamPolicySshUser))]
    pub ssh_user: String,
    #[arg(long, value_name = "FILE", help = string(help::IamPolicyRoster))]
    pub roster: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// Runs `labrun iam-policy` on parsed arguments; returns the exit code.
pub async fn run(args: &IamArgs) -> u8 {
    let instance_connect = (args.ssh_via == Some(crate::flags::SshVia::InstanceConnect))
        .then_some(args.ssh_user.as_str());
    match policy_text(
        &args.step,
        &args.fetch,
        instance_connect,
        args.roster.as_deref(),
    )
    .await
    {
        Ok(text) => {
            print!("{text}");
            crate::outcome::exit::PASS
        }
        Err(e) => {
            eprintln!("labrun: {}", crate::outcome::inert(&e.to_string()));
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_need_no_action_and_each_action_is_listed_once() {
        let ops: Vec<String> = [
            "aws.ec2_describe_vpcs",
            "aws.ec2_describe_vpcs",
            "aws.elbv2_describe_target_health",
            "dns.lookup",
            "aws.s3_list_buckets",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got: Vec<_> = actions(&ops).into_iter().collect();
        assert_eq!(
            got,
            [
                "ec2:DescribeVpcs",
                "elasticloadbalancing:DescribeTargetHealth",
                "s3:ListAllMyBuckets"
            ]
        );
    }

    #[test]
    fn instance_connect_adds_the_push_for_the_login_user_and_describe_instances() {
        let doc = document(
            &BTreeSet::from(["rds:DescribeDBClusters"]),
            Some("ec2-user"),
            &BTreeSet::new(),
        );
        assert_eq!(doc["Version"], POLICY_VERSION);
        assert_eq!(
            doc["Statement"][0]["Action"],
            json!(["ec2:DescribeInstances", "rds:DescribeDBClusters"])
        );
        assert_eq!(doc["Statement"][1]["Action"], SEND_SSH_PUBLIC_KEY);
        assert_eq!(
            doc["Statement"][1]["Condition"]["StringEquals"]["ec2:osuser"],
            "ec2-user"
        );
        let none = document(&BTreeSet::new(), None, &BTreeSet::new());
        assert_eq!(none["Statement"], json!([]));
    }

    #[test]
    fn roster_roles_are_the_resources_of_one_assume_role_statement() {
        let roles = BTreeSet::from([
            "arn:aws:iam::111111111111:role/labrun-check".to_string(),
            "arn:aws:iam::222222222222:role/labrun-check".to_string(),
        ]);
        let doc = document(&BTreeSet::from(["ec2:DescribeVpcs"]), None, &roles);
        assert_eq!(doc["Statement"][1]["Sid"], "LabrunAssumeTraineeRoles");
        assert_eq!(doc["Statement"][1]["Action"], ASSUME_ROLE);
        assert_eq!(
            doc["Statement"][1]["Resource"],
            json!([
                "arn:aws:iam::111111111111:role/labrun-check",
                "arn:aws:iam::222222222222:role/labrun-check"
            ])
        );
    }
}
