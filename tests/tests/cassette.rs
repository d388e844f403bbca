//! Record/replay: a recorded run (AWS and network probes) replays to the same report with
//! no network, the cassette holds no secret, and the shipped example (recorded with the
//! SSH route) replays a finished Step 3 in which every outcome passes, F1 included.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use labrun_tests::course::{self, CourseNet, Edition, Step};
use labrun_tests::servers::{self, Rec};
use labrun_tests::ssh_env::{SshEnv, SshOptions, PLANTED_AWS_SECRET};
use labrun_tests::world::Subnet;
use labrun_tests::{
    labrun_bin, mariadb, probe_env, run_labrun, workspace_root, Broken, LabrunRun, ProbeBroken,
    ProbeEnv, TestAccount, World,
};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);
const SCRIPT: &str = "scripts/step3.rhai";
pub const EXAMPLE: &str = "examples/step3-user05.cassette.json";
/// A finished three-step trainee under the 2019 course.
pub const COURSE_EXAMPLE: &str = "examples/course-user05.cassette.json";
const COURSE: &str = "courses/wordpress-2019.toml";

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

/// The shipped example's statuses: a finished Step 3, recorded with the SSH route, so
/// F1 (both targets receive requests) passes too.
fn shipped_statuses() -> Vec<(&'static str, &'static str)> {
    Broken::None
        .expected_statuses()
        .into_iter()
        .map(|(id, status)| (id, if id == "F1" { "pass" } else { status }))
        .collect()
}

/// Replays with no SSH settings, no servers and no network: the in-server checks
/// (A5, A6, D1, F1) are answered from the cassette.
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
    report.assert_statuses("user05", &shipped_statuses());
    run.assert_code(0);
    for id in ["A5", "A6", "D1", "F1"] {
        let via = &report.result("user05", id)["evidence"];
        assert!(!via.is_null(), "{id} has its evidence from the cassette");
    }
}

/// Re-records the shipped example from a finished world in moto, its web servers real
/// sshd and nginx (so A5, A6, D1 and F1 go through SSH, as with `--ssh-key`):
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
    let ssh = SshEnv::start(&world, &env.db_password(), SshOptions::default())
        .unwrap_or_else(|e| panic!("starting sshd and nginx: {e:#}"));
    let out = workspace_root().join(EXAMPLE);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut cmd = acct.labrun();
    cmd.args([SCRIPT, "--param", "user=user05", "--format", "json"])
        // The SSH routes before the probe env's (the first matching --connect-to wins).
        .args(ssh.args())
        .args(env.args())
        .args(["--record", out.to_str().unwrap()]);
    let run = run_labrun(cmd, TIMEOUT);
    run.report().assert_statuses("user05", &shipped_statuses());
    run.assert_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("\"server\""),
        "the in-server checks went through SSH"
    );
    assert_no_secret(&text, &ssh, &env.db_password(), &acct);
}

/// The course rows a finished three-step trainee gets, in course order: every id
/// passes but those a later step supersedes, which skip naming it (Step 1's site and
/// Step 2's B4 are behind the ALB since Step 3; Step 1's local MySQL was stopped in
/// Step 2).
fn course_statuses() -> Vec<(String, &'static str)> {
    const SUPERSEDED: [&str; 4] = ["S1-C1", "S1-C2", "S1-C3", "S2-B4"];
    [Step::One, Step::Two, Step::Three]
        .into_iter()
        .flat_map(|step| {
            step.ids()
                .iter()
                .map(move |id| format!("{}-{id}", step.course_id()))
        })
        .map(|id| {
            let status = if SUPERSEDED.contains(&id.as_str()) {
                "skip"
            } else {
                "pass"
            };
            (id, status)
        })
        .collect()
}

fn assert_course_report(run: &LabrunRun) {
    let want = course_statuses();
    let pairs: Vec<(&str, &str)> = want.iter().map(|(i, s)| (i.as_str(), *s)).collect();
    let report = run.report();
    report.assert_statuses("user05", &pairs);
    assert_eq!(report.results("user05").len(), want.len(), "one row per id");
    let course = &report.0["trainees"][0]["course"];
    assert!(course["current"].is_null(), "finished: {course}");
    assert_eq!(course["passed"], serde_json::json!(["S1", "S2", "S3"]));
    for (id, step) in [
        ("S1-C1", "Step 3"),
        ("S1-C3", "Step 2"),
        ("S2-B4", "Step 3"),
    ] {
        let m = report.result("user05", id)["message"]["en"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(m.contains(step), "{id} names {step}: {m}");
    }
}

/// Replays the shipped course cassette with no SSH settings, no servers and no
/// network: every step of the 2019 course passes for user05.
#[test]
fn shipped_course_example_replays_a_finished_course() {
    let run = run_labrun(
        offline_labrun(&[
            COURSE,
            "--trainee",
            "user05",
            "--replay",
            COURSE_EXAMPLE,
            "--format",
            "json",
        ]),
        TIMEOUT,
    );
    assert_course_report(&run);
    run.assert_code(0);
}

/// Neither shipped cassette holds a secret the recording had at hand: the planted AWS
/// secret of wp-config.php, the Aurora master password the worlds are built with, a
/// private key, AWS credentials (the recorders also checked that run's own secrets).
#[test]
fn the_shipped_cassettes_hold_no_secret() {
    for example in [EXAMPLE, COURSE_EXAMPLE] {
        let text = std::fs::read_to_string(workspace_root().join(example)).unwrap();
        for secret in [
            PLANTED_AWS_SECRET,
            labrun_tests::world::DB_PASSWORD,
            "PRIVATE KEY",
            "SecretAccessKey",
            "SessionToken",
        ] {
            assert!(!text.contains(secret), "{example} holds {secret:?}");
        }
    }
}

/// `a.b.c.<host>` in a /24.
fn address_in(subnet: &Subnet, host: u8) -> String {
    let net = subnet.cidr.trim_end_matches(".0/24");
    format!("{net}.{host}")
}

/// Re-records the shipped course cassette: user05 finished Steps 1, 2 and 3 of the
/// 2019 course in moto; webserver#1 and #2 are real sshd and nginx, so the in-server
/// outcomes of every step go through SSH:
/// `tests/run --run-ignored only -E 'test(record_the_shipped_course_example)'`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes examples/; run on purpose to re-record the shipped course cassette"]
async fn record_the_shipped_course_example() {
    let acct = TestAccount::with_id("210987654322")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let worlds = course::build_each(
        &acct,
        &[("user05", Step::Three, Edition::E2019, course::Broken::None)],
    )
    .await;
    let world = worlds[0].step3.as_ref().expect("a Step-3 course world");
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let db_password = mariadb::password().expect("the MariaDB password");
    let ssh = SshEnv::start(world, &db_password, SshOptions::default())
        .unwrap_or_else(|e| panic!("starting sshd and nginx: {e:#}"));
    // The VPC's resolver as the web servers ask it (S2-A5): the cluster endpoint →
    // the writer (the Step-3 reader since the failover) → its private subnet.
    let primary = &world.db_primary;
    let subnet_of = |az: &str| {
        [&world.private_c, &world.private_d]
            .into_iter()
            .find(|s| s.az == az)
            .expect("a private subnet in the instance's AZ")
    };
    let mut zone = vec![(
        primary.endpoint.clone(),
        Rec::ip(&address_in(subnet_of(&primary.az), probe_env::PRIMARY_HOST)),
    )];
    if let Some(slave) = &world.db_slave {
        zone.push((
            slave.endpoint.clone(),
            Rec::ip(&address_in(subnet_of(&slave.az), probe_env::SLAVE_HOST)),
        ));
    }
    zone.push((
        world.cluster.endpoint.clone(),
        Rec::cname(world.db_writer().endpoint.clone()),
    ));
    let resolver = servers::dns_server_tcp(&zone);

    // The operator has the servers' own MySQL credential (S1-C3), though since Step 2
    // nothing answers there.
    let local_password = format!("Local-{:016x}", fastrand::u64(..));
    let local_file = ssh.dir.join("local-mysql.pw");
    std::fs::write(&local_file, format!("{local_password}\n")).unwrap();

    let out = workspace_root().join(COURSE_EXAMPLE);
    let mut cmd = acct.labrun();
    cmd.args([COURSE, "--trainee", "user05", "--format", "json"])
        // The SSH routes first (the first matching --connect-to wins).
        .args(ssh.args())
        .args([
            "--connect-to".to_string(),
            format!("10.0.0.2:53:127.0.0.1:{}", resolver.port()),
            "--mysql-password-file".to_string(),
            format!("local={}", local_file.display()),
        ])
        .args(net.args())
        .args(["--record", out.to_str().unwrap()]);
    let run = run_labrun(cmd, TIMEOUT);
    assert_course_report(&run);
    run.assert_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("\"server\""),
        "the in-server checks went through SSH"
    );
    assert_no_secret(&text, &ssh, &db_password, &acct);
    assert!(
        !text.contains(&local_password),
        "the local MySQL password leaked into the cassette"
    );
}

/// No DB password, planted secret, SSH key or AWS credential in a cassette's `text`.
fn assert_no_secret(text: &str, ssh: &SshEnv, db_password: &str, acct: &TestAccount) {
    let key = std::fs::read_to_string(&ssh.key).unwrap();
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    for (what, secret) in [
        ("the DB password", db_password.to_string()),
        ("the planted AWS secret", PLANTED_AWS_SECRET.to_string()),
        ("the SSH private key", key_body),
        (
            "the AWS secret key",
            acct.credentials.secret_access_key.clone(),
        ),
        (
            "the AWS session token",
            acct.credentials.session_token.clone(),
        ),
    ] {
        assert!(!text.contains(&secret), "{what} leaked into the cassette");
    }
    for line in key.lines().filter(|l| l.len() >= 40) {
        assert!(
            !text.contains(line),
            "SSH key material leaked into the cassette"
        );
    }
    assert!(
        !text.contains("PRIVATE KEY"),
        "a private key in the cassette"
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
