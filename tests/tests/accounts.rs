//! A class whose trainees are in their own AWS accounts (issue 22): the roster names a
//! role per trainee, labrun assumes it (session `labrun-<trainee>`) with the
//! operator's credentials, and reads each account with its own calls: account-wide
//! lists once per account, shared by the trainees of that account, never by another's.
//! One report for the class; a role that cannot be assumed is its trainee's `error`,
//! never the class's; the cassette records which account each call went to and
//! replays the same report offline.
//!
//! Four moto accounts: the operator's (no world: its credentials only assume roles),
//! and A, B, C, each holding Step-3 worlds; a fourth role account, D, refuses the
//! AssumeRole (a proxy answers AccessDenied, as STS does when the role's trust policy
//! leaves the caller out).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use labrun_tests::pushed_keys::KeyCapture;
use labrun_tests::world::AWS_IDS;
use labrun_tests::{
    labrun_bin, run_labrun, workspace_root, Broken, ProbeBroken, ProbeEnv, TestAccount, World,
};
use serde_json::Value;

/// Generous: a debug build against a loaded moto and a proxy, on 2 shared cores.
const TIMEOUT: Duration = Duration::from_secs(300);
const SCRIPT: &str = "scripts/step3.rhai";

fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/labrun-class")
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "labrun-accounts-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Rows without timing, for comparing two runs.
fn rows(report: &Value) -> Vec<Value> {
    report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| serde_json::json!({ "trainee": t["trainee"], "results": t["results"] }))
        .collect()
}

/// The AWS-visible ids of a world broken as `broken`, as the suite expects them.
fn aws_statuses(broken: Broken) -> Vec<(&'static str, &'static str)> {
    broken
        .expected_statuses()
        .into_iter()
        .filter(|(id, _)| AWS_IDS.contains(id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_in_three_accounts_reached_by_assume_role() {
    let operator = TestAccount::new().await;
    let (a, b, c) = (
        TestAccount::new().await,
        TestAccount::new().await,
        TestAccount::new().await,
    );
    let denied = TestAccount::new().await;
    // user01 and user02 share account A; user03 is alone in B, user04 in C.
    let plan = [
        ("user01", &a, Broken::None),
        ("user02", &a, Broken::NoReader),
        ("user03", &b, Broken::WebSgOpenHttp),
        ("user04", &c, Broken::None),
    ];
    let mut worlds = Vec::new();
    for (trainee, acct, broken) in plan {
        worlds.push(
            World::build(acct, trainee, broken)
                .await
                .unwrap_or_else(|e| panic!("{trainee}: {e:#}")),
        );
    }
    let probes = ProbeEnv::start(
        &worlds
            .iter()
            .map(|w| (w, ProbeBroken::None))
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));

    let dir = scratch();
    let roster = dir.join("class.csv");
    let mut csv = "trainee,name,aws_role_arn\n".to_string();
    for (trainee, acct, _) in plan {
        csv.push_str(&format!(
            "{trainee},{trainee} san,{}\n",
            role(&acct.account_id)
        ));
    }
    csv.push_str(&format!("user05,no trust,{}\n", role(&denied.account_id)));
    std::fs::write(&roster, csv).unwrap();
    let roster = roster.display().to_string();
    let cassette = dir.join("class.cassette.json");
    let cassette = cassette.display().to_string();

    // Every AWS request through a proxy that refuses the roles of account D.
    let proxy = KeyCapture::start(
        &operator.endpoint,
        dir.join("pushed"),
        HashMap::new(),
        Vec::new(),
    )
    .await;
    proxy.deny_role_in(&denied.account_id);
    let mut live = operator.labrun();
    live.env("AWS_ENDPOINT_URL", proxy.url())
        .args([SCRIPT, "--roster", &roster, "--format", "json"])
        .args(["--record", &cassette])
        .args(probes.args());
    let live = run_labrun(live, TIMEOUT);
    // user05's role could not be assumed: their rows are errors, so the class exits 2.
    live.assert_code(2);
    let report = live.report();
    assert_eq!(
        report.trainees(),
        ["user01", "user02", "user03", "user04", "user05"]
    );
    // Each trainee judged in their own account: a world another account holds would
    // make them fail, the operator's (empty) account would make every id fail.
    for (trainee, _, broken) in plan {
        report.assert_statuses(trainee, &aws_statuses(broken));
    }
    // (an outcome whose prerequisite could not be checked skips, naming it)
    for &id in AWS_IDS.iter() {
        let row = report.result("user05", id);
        assert!(
            row["status"] == "error" || row["status"] == "skip",
            "user05 {id}: {row}"
        );
    }
    assert_eq!(report.status("user05", "A1"), "error");
    let why = report.result("user05", "A1")["message"]["en"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("AssumeRole"), "user05's error says why: {why}");
    assert!(
        live.stderr
            .contains(&format!("aws ({})", denied.account_id)),
        "the account that could not be used is named once: {}",
        live.stderr
    );

    // The cassette says which account each call went to: the account-wide lists once
    // per account (user01 and user02 share A's), and none in the operator's account.
    let text = std::fs::read_to_string(&cassette).unwrap();
    let recorded: Value = serde_json::from_str(&text).unwrap();
    let mut lists: BTreeMap<String, usize> = BTreeMap::new();
    let mut accounts = BTreeSet::new();
    for call in recorded["calls"].as_array().unwrap() {
        if call["capability"] != "aws" {
            assert!(
                call.get("account").is_none(),
                "a probe has no account: {call}"
            );
            continue;
        }
        let account = call["account"]
            .as_str()
            .unwrap_or_else(|| panic!("an AWS call of this class names its account: {call}"))
            .to_string();
        accounts.insert(account.clone());
        if call["operation"] == "ec2_describe_vpcs" {
            *lists.entry(account).or_default() += 1;
        }
    }
    let mut expected: BTreeSet<String> = [&a, &b, &c, &denied]
        .iter()
        .map(|acct| acct.account_id.clone())
        .collect();
    assert_eq!(accounts, expected, "{text}");
    expected.remove(&denied.account_id);
    for account in &expected {
        assert_eq!(
            lists.get(account),
            Some(&1),
            "one DescribeVpcs in account {account}: {lists:?}"
        );
    }
    assert!(!text.contains(&operator.credentials.secret_access_key));
    assert!(!text.contains(&operator.credentials.session_token));

    // Preflight says it per account (straight to moto, the roster without user05).
    let ready = dir.join("ready.csv");
    let without_d: String = std::fs::read_to_string(&roster)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("user05"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&ready, without_d).unwrap();
    let mut preflight = operator.labrun();
    preflight
        .args(["preflight", SCRIPT, "--lang", "en", "--roster"])
        .arg(&ready)
        .args(probes.args());
    let preflight = run_labrun(preflight, TIMEOUT);
    preflight.assert_code(0);
    for (account, trainees) in [
        (&a.account_id, "(2 trainee(s): user01, user02)"),
        (&b.account_id, "(1 trainee(s): user03)"),
        (&c.account_id, "(1 trainee(s): user04)"),
    ] {
        assert!(
            preflight.stdout.lines().any(|l| l.starts_with("ok")
                && l.contains(&format!("account {account}: credentials and region work"))
                && l.ends_with(trainees)),
            "account {account} ready in:\n{}",
            preflight.stdout
        );
    }

    // Replayed offline with the same roster: the same report.
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut replay = Command::new(labrun_bin());
    replay
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(workspace_root())
        .args([SCRIPT, "--roster", &roster, "--format", "json"])
        .args(["--replay", &cassette]);
    let replay = run_labrun(replay, TIMEOUT);
    replay.assert_code(2);
    assert_eq!(rows(&replay.report().0), rows(&report.0));
    drop(proxy);
    let _ = std::fs::remove_dir_all(&dir);
}
