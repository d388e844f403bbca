//! Which AWS resources are an untrusted trainee's: their VPCs, and the hosts their
//! resources answer on (endpoints, DNS names, addresses), which their probes may reach.
//! Read with unscoped, account-wide calls that the hub shares across the class.

use std::collections::HashSet;
use std::future::Future;

use serde_json::Value;

use crate::caps::error::CapError;
use crate::caps::owner::{tag_name, Owner};

fn list<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value[key].as_array().into_iter().flatten()
}

/// The trainee, the VPCs named for them, and the ARNs of their own load balancers
/// and target groups.
pub async fn owner<F, Fut>(trainee: &str, describe: F) -> Result<Owner, CapError>
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = Result<Value, CapError>>,
{
    let mut owner = Owner {
        trainee: trainee.to_string(),
        ..Owner::default()
    };
    let vpcs = describe("ec2_describe_vpcs").await?;
    owner.vpcs = list(&vpcs, "Vpcs")
        .filter(|v| owner.owns_tagged(v))
        .filter_map(|v| v["VpcId"].as_str().map(str::to_string))
        .collect();
    let lbs = describe("elbv2_describe_load_balancers").await?;
    let tgs = describe("elbv2_describe_target_groups").await?;
    let own = |list_key: &str, name_key: &str, arn_key: &str, answer: &Value| -> Vec<String> {
        list(answer, list_key)
            .filter(|r| owner.owns(r[name_key].as_str().unwrap_or("")))
            .filter_map(|r| r[arn_key].as_str().map(str::to_string))
            .collect()
    };
    let mut arns = own("LoadBalancers", "LoadBalancerName", "LoadBalancerArn", &lbs);
    arns.extend(own(
        "TargetGroups",
        "TargetGroupName",
        "TargetGroupArn",
        &tgs,
    ));
    owner.arns = arns.into_iter().collect();
    Ok(owner)
}

/// Endpoints, DNS names and addresses of the trainee's own resources, lowercase.
pub async fn derived_hosts<F, Fut>(owner: &Owner, describe: F) -> Result<HashSet<String>, CapError>
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = Result<Value, CapError>>,
{
    let mut hosts = HashSet::new();
    let mut add = |v: &Value| {
        if let Some(h) = v.as_str().filter(|h| !h.is_empty()) {
            hosts.insert(h.trim_end_matches('.').to_ascii_lowercase());
        }
    };
    let named = |r: &Value, key: &str| owner.owns(r[key].as_str().unwrap_or(""));
    let clusters = describe("rds_describe_db_clusters").await?;
    for c in list(&clusters, "DBClusters").filter(|c| named(c, "DBClusterIdentifier")) {
        add(&c["Endpoint"]);
        add(&c["ReaderEndpoint"]);
    }
    let instances = describe("rds_describe_db_instances").await?;
    for i in list(&instances, "DBInstances").filter(|i| named(i, "DBInstanceIdentifier")) {
        add(&i["Endpoint"]["Address"]);
    }
    let lbs = describe("elbv2_describe_load_balancers").await?;
    for lb in list(&lbs, "LoadBalancers").filter(|lb| named(lb, "LoadBalancerName")) {
        add(&lb["DNSName"]);
    }
    hosts.extend(own_servers(owner, describe).await?);
    Ok(hosts)
}

/// Addresses and DNS names of the trainee's own EC2 instances, lowercase: the
/// servers an untrusted step may go `via`.
pub async fn own_servers<F, Fut>(owner: &Owner, describe: F) -> Result<HashSet<String>, CapError>
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = Result<Value, CapError>>,
{
    let mut servers = HashSet::new();
    let ec2 = describe("ec2_describe_instances").await?;
    for r in list(&ec2, "Reservations") {
        for i in list(r, "Instances").filter(|i| owner.owns(&tag_name(i))) {
            for key in [
                "PublicIpAddress",
                "PrivateIpAddress",
                "PublicDnsName",
                "PrivateDnsName",
            ] {
                if let Some(h) = i[key].as_str().filter(|h| !h.is_empty()) {
                    servers.insert(h.trim_end_matches('.').to_ascii_lowercase());
                }
            }
        }
    }
    Ok(servers)
}
