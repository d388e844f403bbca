//! End-to-end tests of `scripts/step1.rhai` against a class in one moto account: one
//! trainee finished, each other one broken in one way (`course::Broken::STEP1`), every
//! probe served on 127.0.0.1 by a [`CourseNet`]. Without --ssh-key, C3 (the server's
//! own MySQL, seen over SSH) is `error` naming --ssh-key, never `pass`.

use std::time::Duration;

use labrun_tests::course::{self, Broken, CourseNet, CourseWorld, Edition, Step};
use labrun_tests::{run_labrun, LabrunRun, TestAccount};

const TIMEOUT: Duration = Duration::from_secs(180);

/// One run for every trainee of `worlds`, with the step's default params.
fn run_defaults(acct: &TestAccount, net: &CourseNet, worlds: &[CourseWorld]) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.arg(Step::One.script());
    for w in worlds {
        cmd.args(["--trainee", &w.trainee]);
    }
    cmd.args(net.args()).args(["--format", "json"]);
    run_labrun(cmd, TIMEOUT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_class_each_broken_variant_fails_exactly_its_ids() {
    let acct = TestAccount::new().await;
    let mut plan = vec![("user41".to_string(), Broken::None)];
    for (i, b) in Broken::STEP1.iter().enumerate() {
        plan.push((format!("user{}", 42 + i), *b));
    }
    let specs: Vec<(&str, Step, Edition, Broken)> = plan
        .iter()
        .map(|(t, b)| (t.as_str(), Step::One, Edition::E2019, *b))
        .collect();
    let worlds = course::build_each(&acct, &specs).await;
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));

    // One run for the whole class with the script's defaults: each trainee's variant
    // shows in that trainee's rows only.
    let run = run_defaults(&acct, &net, &worlds);
    let report = run.report();
    assert_eq!(report.step(), Some("step1"));
    assert_eq!(report.trainees().len(), worlds.len());
    for w in &worlds {
        report.assert_statuses(&w.trainee, &w.broken.expected_statuses(Step::One));
        // C3 is never guessed: without the trainee's key it says what is missing.
        let msg = report.result(&w.trainee, "C3")["message"]["en"]
            .as_str()
            .unwrap_or_default();
        assert!(
            msg.contains("--ssh-key"),
            "{}: C3 should name --ssh-key: {msg}",
            w.trainee
        );
    }
    // C3 is undecided without --ssh-key, not an error of the trainees': fails remain.
    run.assert_code(1);

    // The hints give the manual's remedy with the manual's names.
    let hint = |t: &str, id: &str| -> String {
        report.result(t, id)["message"]["en"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    for (t, id, needle) in [
        ("user42", "A1", "10.0.0.0/16"),
        ("user43", "A2", "10.0.3.0/24"),
        ("user44", "A3", "attach"),
        ("user45", "A4", "10.0.2.0/24"),
        ("user46", "B1", "t2.micro"),
        ("user47", "B2", "description"),
        ("user48", "B3", "1day-user48"),
        ("user49", "C1", "not with WordPress"),
        ("user50", "C2", "install.php"),
    ] {
        let h = hint(t, id);
        assert!(h.contains(needle), "{t} {id}: expected {needle:?} in {h}");
    }

    // Every param given explicitly, as a course file does: the same answers.
    let mut cmd = acct.labrun();
    cmd.arg(Step::One.script())
        .args(Edition::E2019.params(Step::One, "user43"))
        .args(net.args())
        .args(["--format", "json"]);
    run_labrun(cmd, TIMEOUT).report().assert_statuses(
        "user43",
        &Broken::SubnetWrongAz.expected_statuses(Step::One),
    );
}
