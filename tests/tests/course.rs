//! The shipped course files against a moto class: a trainee who followed the 2021
//! edition up to Step 2, checked with `courses/wordpress-2021.toml` (every Step-2 id
//! as the finished Step-2 world expects, no S2 id fails) and with
//! `courses/wordpress-2019.toml` (the renamed outcomes fail, their hints naming the
//! names the 2019 course expects). The world has no Step 3: no reader, so S3-A1
//! does not pass.

use std::time::Duration;

use labrun_tests::course::{self, Broken, CourseNet, CourseWorld, Edition, Step};
use labrun_tests::{run_labrun, LabrunRun, TestAccount};

const TIMEOUT: Duration = Duration::from_secs(240);

fn run_course(
    acct: &TestAccount,
    net: &CourseNet,
    worlds: &[CourseWorld],
    file: &str,
) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.arg(file);
    for w in worlds {
        cmd.args(["--trainee", &w.trainee]);
    }
    cmd.args(net.args()).args(["--format", "json"]);
    run_labrun(cmd, TIMEOUT)
}

/// The Step-2 statuses `expected` as the course reports them: ids prefixed `S2-`.
fn prefixed(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(id, s)| (format!("S2-{id}"), s.to_string()))
        .collect()
}

fn assert_s2(run: &LabrunRun, trainee: &str, expected: &[(String, String)]) {
    let pairs: Vec<(&str, &str)> = expected
        .iter()
        .map(|(i, s)| (i.as_str(), s.as_str()))
        .collect();
    let report = run.report();
    for (id, status) in pairs {
        assert_eq!(report.status(trainee, id), status, "{id}");
    }
}

fn message(run: &LabrunRun, t: &str, id: &str) -> String {
    run.report().result(t, id)["message"]["en"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2021_world_passes_step2_under_the_2021_course_and_fails_the_renamed_ids_under_2019() {
    let acct = TestAccount::new().await;
    let worlds = course::build_each(
        &acct,
        &[("user82", Step::Two, Edition::E2021, Broken::None)],
    )
    .await;
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

    let with_2021 = run_course(
        &acct,
        &net,
        &worlds,
        &format!("{root}/courses/wordpress-2021.toml"),
    );
    assert_s2(
        &with_2021,
        "user82",
        &prefixed(&Broken::None.expected_statuses(Step::Two)),
    );
    // No Step 3 was done: there is no reader, so S3-A1 does not pass.
    assert_ne!(with_2021.report().status("user82", "S3-A1"), "pass");

    let with_2019 = run_course(
        &acct,
        &net,
        &worlds,
        &format!("{root}/courses/wordpress-2019.toml"),
    );
    let mut expected = Broken::None.expected_statuses(Step::Two);
    for (id, status) in expected.iter_mut() {
        match *id {
            "A2" | "A3" | "A4" | "C1" => *status = "fail",
            "C4" => *status = "skip",
            _ => {}
        }
    }
    assert_s2(&with_2019, "user82", &prefixed(&expected));
    let a2 = message(&with_2019, "user82", "S2-A2");
    assert!(
        a2.contains("\"db subnet user82\""),
        "A2 names the 2019 name: {a2}"
    );
    let a4 = message(&with_2019, "user82", "S2-A4");
    assert!(a4.contains("db.t2.small"), "A4 names the 2019 class: {a4}");
    let c1 = message(&with_2019, "user82", "S2-C1");
    assert!(c1.contains("Everyone"), "C1: {c1}");

    // Without --ssh-key the in-server ids are `error`, so S2 is not passed under
    // either course; what tells the editions apart is that only 2019 fails any S2 id.
    let fails = |run: &LabrunRun| {
        run.report()
            .results("user82")
            .iter()
            .filter(|r| r["step"] == "S2" && r["status"] == "fail")
            .count()
    };
    assert_eq!(fails(&with_2021), 0);
    assert_eq!(fails(&with_2019), 4);
}
