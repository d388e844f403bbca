//! End-to-end tests of `scripts/step1.rhai` against a class in one moto account: one
//! trainee finished, each other one broken in one way (`course::Broken::STEP1`), every
//! probe served on 127.0.0.1 by a [`CourseNet`]. Without --ssh-key, C3 (the server's
//! own MySQL, seen over SSH) is `error` naming --ssh-key, never `pass`.

use std::time::Duration;

use labrun_tests::course::{self, Broken, CourseNet, CourseWorld, Edition, Step};
use labrun_tests::{run_labrun, LabrunRun, TestAccount};

const TIMEOUT: Duration = Duration::from_secs(180);

/// One labrun run per trainee, all at once, each with every param of `edition`.
fn run_each(
    acct: &TestAccount,
    net: &CourseNet,
    worlds: &[CourseWorld],
    step: Step,
    edition: Edition,
) -> Vec<LabrunRun> {
    std::thread::scope(|s| {
        let runs: Vec<_> = worlds
            .iter()
            .map(|w| {
                let mut cmd = acct.labrun();
                cmd.arg(step.script())
                    .args(edition.params(step, &w.trainee))
                    .args(net.args())
                    .args(["--format", "json"]);
                s.spawn(move || run_labrun(cmd, TIMEOUT))
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("labrun thread"))
            .collect()
    })
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
    let runs = run_each(&acct, &net, &worlds, Step::One, Edition::E2019);
    for (w, run) in worlds.iter().zip(&runs) {
        let report = run.report();
        assert_eq!(report.step(), Some("step1"));
        assert_eq!(report.trainees(), [w.trainee.as_str()]);
        report.assert_statuses(&w.trainee, &w.broken.expected_statuses(Step::One));
        // C3 is never guessed: without the trainee's key it says what is missing.
        let c3 = report.result(&w.trainee, "C3");
        let msg = c3["message"]["en"].as_str().unwrap_or_default();
        assert!(
            msg.contains("--ssh-key"),
            "{}: C3 should name --ssh-key: {msg}",
            w.trainee
        );
        run.assert_code(2);
    }
    // The hints give the manual's remedy with the manual's names.
    let hint = |t: &str, id: &str| -> String {
        let i = worlds.iter().position(|w| w.trainee == t).unwrap();
        runs[i].report().result(t, id)["message"]["en"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        hint("user42", "A1").contains("10.0.0.0/16"),
        "{}",
        hint("user42", "A1")
    );
    assert!(
        hint("user43", "A2").contains("10.0.3.0/24"),
        "{}",
        hint("user43", "A2")
    );
    assert!(
        hint("user45", "A4").contains("10.0.2.0/24"),
        "{}",
        hint("user45", "A4")
    );
    assert!(
        hint("user46", "B1").contains("t2.micro"),
        "{}",
        hint("user46", "B1")
    );
    assert!(
        hint("user48", "B3").contains("1day-user48"),
        "{}",
        hint("user48", "B3")
    );
    assert!(
        hint("user50", "C2").contains("install.php"),
        "{}",
        hint("user50", "C2")
    );
}
