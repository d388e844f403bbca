//! AWS in motion, end to end: labrun checks a class through a fault-injecting proxy in
//! front of moto (`labrun_tests::faults`): bodies cut short with a matching
//! Content-Length, connections cut before the answer or in its body, 500 and 503,
//! AWS's throttling answers, slowness. Whatever the fault, every verdict equals the
//! fault-free run's or is `error` (labrun could not check); never a different pass or
//! fail.

use std::collections::BTreeMap;
use std::time::Duration;

use labrun_tests::faults::{Fault, FaultProxy};
use labrun_tests::world::AWS_IDS;
use labrun_tests::{run_labrun, Broken, LabrunRun, ProbeBroken, ProbeEnv, TestAccount, World};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(300);
const SCRIPT: &str = "scripts/step3.rhai";

/// The class: one finished trainee and one whose second web server is in the wrong
/// subnet (B2 fails), so both verdicts are at stake.
const CLASS: [(&str, Broken); 2] = [
    ("user01", Broken::None),
    ("user02", Broken::Web2WrongSubnet),
];

async fn class() -> (TestAccount, Vec<World>, ProbeEnv) {
    let acct = TestAccount::new().await;
    let worlds = World::build_each(&acct, &CLASS).await;
    let pairs: Vec<(&World, ProbeBroken)> = worlds.iter().map(|w| (w, ProbeBroken::None)).collect();
    let env = ProbeEnv::start(&pairs)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    (acct, worlds, env)
}

/// One run of the class, through `proxy` when given.
fn run(acct: &TestAccount, env: &ProbeEnv, proxy: Option<&FaultProxy>) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.args([
        SCRIPT,
        "--trainees",
        "user01..user02",
        "--format",
        "json",
        "--lang",
        "en",
    ])
    .args(env.args());
    if let Some(proxy) = proxy {
        cmd.env("AWS_ENDPOINT_URL", proxy.url());
    }
    run_labrun(cmd, TIMEOUT)
}

/// (trainee, id) → (status, English message).
fn verdicts(run: &LabrunRun) -> BTreeMap<(String, String), (String, String)> {
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.stdout, run.stderr
        )
    });
    let mut out = BTreeMap::new();
    for t in report["trainees"].as_array().expect("trainees") {
        for r in t["results"].as_array().expect("results") {
            out.insert(
                (
                    t["trainee"].as_str().unwrap().to_string(),
                    r["id"].as_str().unwrap().to_string(),
                ),
                (
                    r["status"].as_str().unwrap().to_string(),
                    r["message"]["en"].as_str().unwrap_or("").to_string(),
                ),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_every_fault_each_verdict_equals_the_fault_free_run_or_is_error() {
    let (acct, _worlds, env) = class().await;
    let moto = labrun_tests::moto_url();
    let upstream = moto.trim_start_matches("http://");

    let clean = verdicts(&run(&acct, &env, None));
    for &id in AWS_IDS.iter() {
        assert_eq!(
            clean[&("user01".into(), id.into())].0,
            "pass",
            "user01 {id}"
        );
    }
    assert_eq!(clean[&("user02".into(), "B2".into())].0, "fail");

    let faults = [
        Fault::Truncate,
        Fault::Cut,
        Fault::CutBody,
        Fault::ServerError(500),
        Fault::ServerError(503),
        Fault::Throttle,
        Fault::Slow(Duration::from_millis(1500)),
    ];
    for fault in faults {
        // Every third request, whatever its service or action.
        let proxy = FaultProxy::every(upstream, 3, fault, Duration::ZERO).await;
        let faulty = verdicts(&run(&acct, &env, Some(&proxy)));
        assert!(proxy.count(fault) > 0, "{fault:?} was injected");
        assert_eq!(
            faulty.len(),
            clean.len(),
            "{fault:?}: every verdict is reported"
        );
        for (key, (status, message)) in &faulty {
            let (want, _) = &clean[key];
            assert!(
                status == want || status == "error",
                "{fault:?}: {key:?} is {status} ({message}), fault-free it is {want}"
            );
        }
    }
}

/// Issue 23, defect 1: HTTP 200 with half of DescribeVpcs' body and a matching
/// Content-Length used to parse as an answer listing only the default VPC, so a
/// finished trainee failed B2 and C1. Now the checks that need the VPCs say they could
/// not check, naming the operation; nothing fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_answer_is_an_error_naming_the_operation_never_data() {
    let acct = TestAccount::new().await;
    let world = World::build(&acct, "user05", Broken::None)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env = ProbeEnv::start(&[(&world, ProbeBroken::None)])
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let moto = labrun_tests::moto_url();
    let proxy = FaultProxy::start(moto.trim_start_matches("http://"), |r| {
        if r.action == "DescribeVpcs" {
            Fault::Truncate
        } else {
            Fault::Pass
        }
    })
    .await;
    let mut cmd = acct.labrun();
    cmd.args([
        SCRIPT,
        "--param",
        "user=user05",
        "--format",
        "json",
        "--lang",
        "en",
    ])
    .args(env.args())
    .env("AWS_ENDPOINT_URL", proxy.url());
    let run = run_labrun(cmd, TIMEOUT);
    let verdicts = verdicts(&run);
    let errors: Vec<_> = verdicts
        .iter()
        .filter(|(_, (status, _))| status == "error")
        .collect();
    assert!(!errors.is_empty(), "{verdicts:#?}");
    for ((_, id), (_, message)) in &errors {
        assert!(
            message.contains("ec2:DescribeVpcs") && message.contains("not a whole document"),
            "{id}: {message}"
        );
    }
    for ((_, id), (status, message)) in &verdicts {
        assert_ne!(status, "fail", "{id}: {message}");
    }
    for id in ["B2", "C1"] {
        assert_eq!(verdicts[&("user05".into(), id.into())].0, "error", "{id}");
    }
    // Every attempt was cut; labrun tried three times before saying so.
    let vpcs = proxy
        .seen()
        .iter()
        .filter(|s| s.action == "DescribeVpcs")
        .count();
    assert_eq!(vpcs, 3, "DescribeVpcs attempts");
    run.assert_code(2);
}
