//! Record/replay: a recorded run (AWS and network probes) replays to the same report with
//! no network, the cassette holds no secret, and the shipped example replays a finished
//! Step 3 in which every outcome but F1 passes.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use labrun_tests::{
    labrun_bin, run_labrun, workspace_root, Broken, ProbeBroken, ProbeEnv, TestAccount, World,
};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);
const SCRIPT: &str = "scripts/step3.rhai";
pub const EXAMPLE: &str = "examples/step3-user05.cassette.json";

/// Rows without timing, for comparing two runs.
fn rows(report: &Value) -> Vec<Value> {
    report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| serde_json::json!({ "trainee": t["trainee"], "results": t["results"] }))
        .collect()
}

/// labrun with no AWS at all: a clean environment and an empty HOME.
fn offline_labrun(args: &[&str]) -> Command {
    let home = std::env::temp_dir().join(format!("labrun-offline-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(labrun_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(workspace_root())
        .args(args);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_gives_the_same_report_without_aws() {
    let acct = TestAccount::new().await;
    let [a, b]: [World; 2] = World::build_each(
        &acct,
        &[("user05", Broken::None), ("user06", Broken::WebSgOpenHttp)],
    )
    .await
    .try_into()
    .expect("two worlds");
    let env = ProbeEnv::start(&[(&a, ProbeBroken::None), (&b, ProbeBroken::None)])
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let dir = tempdir();
    let cassette = dir.join("class.cassette.json");
    let cassette_arg = cassette.to_str().unwrap();
    let class = [
        SCRIPT,
        "--trainee",
        "user05",
        "--trainee",
        "user06",
        "--format",
        "json",
    ];

    let mut live = acct.labrun();
    live.args(class)
        .args(env.args())
        .args(["--record", cassette_arg]);
    let live = run_labrun(live, TIMEOUT);
    live.assert_code(1);
    let live_report = live.report().0;
    assert!(live_report["summary"]["aws_calls"].as_u64().unwrap() > 0);
    for id in ["A4", "A5", "A6", "C5", "D1", "E2"] {
        assert_eq!(live.report().status("user05", id), "pass", "{id}");
    }

    let mut replay = offline_labrun(&class);
    replay.args(["--replay", cassette_arg]);
    let replay = run_labrun(replay, TIMEOUT);
    replay.assert_code(1);
    let replay_report = replay.report().0;
    assert_eq!(rows(&live_report), rows(&replay_report));
    assert_eq!(replay_report["summary"]["aws_calls"], 0);
    assert!(replay_report["summary"]["replayed_calls"].as_u64().unwrap() > 0);

    let text = std::fs::read_to_string(&cassette).unwrap();
    for capability in ["aws", "dns", "mysql", "http", "tcp"] {
        assert!(
            text.contains(&format!("\"{capability}\"")),
            "the cassette holds no {capability} call"
        );
    }
    for secret in [
        &acct.credentials.secret_access_key,
        &acct.credentials.session_token,
        &acct.credentials.access_key_id,
        &env.db_password(),
    ] {
        assert!(
            !text.contains(secret.as_str()),
            "a credential leaked into the cassette"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn shipped_example_replays_a_finished_step3() {
    let run = run_labrun(
        offline_labrun(&[
            SCRIPT,
            "--param",
            "user=user05",
            "--replay",
            EXAMPLE,
            "--format",
            "json",
        ]),
        TIMEOUT,
    );
    let report = run.report();
    report.assert_statuses("user05", &Broken::None.expected_statuses());
    run.assert_code(Broken::None.expected_exit_code());
}

/// Re-records the shipped example from a finished world in moto:
/// `tests/run --run-ignored only -E 'test(record_the_shipped_example)'`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes examples/; run on purpose to re-record the shipped cassette"]
async fn record_the_shipped_example() {
    // A fixed account id keeps the ARNs in the example stable across re-recordings.
    let acct = TestAccount::with_id("210987654321")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let world = World::build_finished(&acct, "user05")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env = ProbeEnv::start(&[(&world, ProbeBroken::None)])
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let out = workspace_root().join(EXAMPLE);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut cmd = acct.labrun();
    cmd.args([SCRIPT, "--param", "user=user05", "--format", "json"])
        .args(env.args())
        .args(["--record", out.to_str().unwrap()]);
    let run = run_labrun(cmd, TIMEOUT);
    run.report()
        .assert_statuses("user05", &Broken::None.expected_statuses());
    run.assert_code(Broken::None.expected_exit_code());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains(&env.db_password()),
        "the DB password leaked into the cassette"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "labrun-cassette-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
