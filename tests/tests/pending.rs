//! `pending` — "not yet, wait and re-run" — for the states moto cannot produce: the
//! shipped cassette of a finished Step 3, with one answer changed to an in-between
//! state AWS really reports, replayed with no network.

use std::process::Command;
use std::time::Duration;

use labrun_tests::{labrun_bin, run_labrun, workspace_root};
use serde_json::Value;

const EXAMPLE: &str = "examples/step3-user05.cassette.json";

/// Replays the example with `change` applied to the answer of `operation`, and
/// returns the statuses by id.
fn replay_with(operation: &str, change: impl Fn(&mut Value)) -> Vec<(String, String)> {
    let path = workspace_root().join(EXAMPLE);
    let mut cassette: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut changed = false;
    for call in cassette["calls"].as_array_mut().unwrap() {
        if call["operation"] == operation {
            change(&mut call["response"]);
            changed = true;
        }
    }
    assert!(changed, "no {operation} in the example cassette");
    let dir =
        std::env::temp_dir().join(format!("labrun-pending-{}-{operation}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("c.json");
    std::fs::write(&file, serde_json::to_string(&cassette).unwrap()).unwrap();
    let mut cmd = Command::new(labrun_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &dir)
        .current_dir(workspace_root())
        .args([
            "scripts/step3.rhai",
            "--param",
            "user=user05",
            "--format",
            "json",
            "--replay",
        ])
        .arg(&file);
    let run = run_labrun(cmd, Duration::from_secs(60));
    run.assert_code(1);
    let report = run.report().0;
    let _ = std::fs::remove_dir_all(dir);
    report["trainees"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(_, s)| s != "pass" && s != "skip")
        .collect()
}

fn only(id: &str, status: &str) -> Vec<(String, String)> {
    vec![(id.to_string(), status.to_string())]
}

fn each<'a>(value: &'a mut Value, list: &str) -> impl Iterator<Item = &'a mut Value> {
    value[list].as_array_mut().unwrap().iter_mut()
}

#[test]
fn reader_still_creating_is_pending() {
    let got = replay_with("rds_describe_db_instances", |r| {
        for i in each(r, "DBInstances") {
            if i["DBInstanceIdentifier"] == "wp-user05-slave" {
                i["DBInstanceStatus"] = "creating".into();
            }
        }
    });
    assert_eq!(got, only("A2", "pending"));
}

#[test]
fn failover_in_progress_is_pending() {
    let got = replay_with("rds_describe_db_clusters", |r| {
        for c in each(r, "DBClusters") {
            c["Status"] = "failing-over".into();
            for m in c["DBClusterMembers"].as_array_mut().unwrap() {
                let writer = m["DBInstanceIdentifier"] == "wp-user05";
                m["IsClusterWriter"] = writer.into();
            }
        }
    });
    // The writer is still the old one while the failover runs: not yet, not wrong.
    assert!(got.contains(&("A7".into(), "pending".into())), "{got:?}");
    assert!(!got.iter().any(|(_, s)| s == "fail"), "{got:?}");
}

#[test]
fn ami_being_created_is_pending() {
    let got = replay_with("ec2_describe_images", |r| {
        for i in each(r, "Images") {
            i["State"] = "pending".into();
        }
    });
    assert_eq!(got, only("B1", "pending"));
}

#[test]
fn web_server_starting_is_pending() {
    let got = replay_with("ec2_describe_instances", |r| {
        for res in each(r, "Reservations") {
            for i in res["Instances"].as_array_mut().unwrap() {
                if i["Tags"].to_string().contains("webserver#2-user05") {
                    i["State"] = serde_json::json!({"Code": 0, "Name": "pending"});
                }
            }
        }
    });
    assert_eq!(got, only("B2", "pending"));
}

#[test]
fn load_balancer_provisioning_is_pending() {
    let got = replay_with("elbv2_describe_load_balancers", |r| {
        for lb in each(r, "LoadBalancers") {
            lb["State"] = serde_json::json!({"Code": "provisioning"});
        }
    });
    assert_eq!(got, only("C1", "pending"));
}

#[test]
fn health_checks_still_running_are_pending_and_unhealthy_fails() {
    let got = replay_with("elbv2_describe_target_health", |r| {
        for t in each(r, "TargetHealthDescriptions") {
            t["TargetHealth"] = serde_json::json!({"State": "initial"});
        }
    });
    assert_eq!(got, only("C3", "pending"));
    let got = replay_with("elbv2_describe_target_health", |r| {
        for t in each(r, "TargetHealthDescriptions") {
            t["TargetHealth"] = serde_json::json!({"State": "unhealthy",
                "Reason": "Target.ResponseCodeMismatch", "Description": "Health checks failed with these codes: [502]"});
        }
    });
    assert_eq!(got, only("C3", "fail"));
}
