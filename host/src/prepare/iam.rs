//! `labrun iam-policy STEP|COURSE`: the least-privilege IAM policy for exactly the AWS
//! operations a step or a course can call. Each operation names its IAM action in its
//! registry entry ([`crate::caps::Operation::iam`]), so this list cannot drift from
//! what labrun calls; the step's operations are what `labrun describe` lists.
//!
//! With `--ssh-via instance-connect` the policy also grants EC2 Instance Connect's
//! `SendSSHPublicKey`, the one call labrun makes that is not a describe or list, for
//! the SSH login user only (condition `ec2:osuser`), and `ec2:DescribeInstances`, which
//! finds the instance behind a server's address.

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
/// `ssh_user` when asked for.
pub fn document(actions: &BTreeSet<&'static str>, instance_connect: Option<&str>) -> Value {
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

/// The policy text `labrun iam-policy` prints: pretty JSON and a newline.
pub async fn policy_text(
    path: &Path,
    fetch: &FetchArgs,
    instance_connect: Option<&str>,
) -> Result<String, PlanError> {
    let steps = steps(path, fetch).await?;
    let operations = operations(&steps)?;
    let doc = document(&actions(&operations), instance_connect);
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
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// Runs `labrun iam-policy` on parsed arguments; returns the exit code.
pub async fn run(args: &IamArgs) -> u8 {
    let instance_connect = (args.ssh_via == Some(crate::flags::SshVia::InstanceConnect))
        .then_some(args.ssh_user.as_str());
    match policy_text(&args.step, &args.fetch, instance_connect).await {
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
        let none = document(&BTreeSet::new(), None);
        assert_eq!(none["Statement"], json!([]));
    }
}
