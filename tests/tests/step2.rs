//! End-to-end tests of `scripts/step2.rhai` against classes in moto (S3 included): one
//! trainee finished, each other one broken in one way (`course::Broken::STEP2`); and a
//! trainee who followed the 2021 edition, checked with that edition's params (all
//! pass) and with the defaults, the 2019 names (the renamed outcomes fail, naming what
//! they expect). Without --ssh-key the in-server ids (A5 A6 B2 B3 C3) are `error`
//! naming --ssh-key, never `pass`.

use std::time::Duration;

use labrun_tests::course::{self, Broken, CourseNet, CourseWorld, Edition, Step, STEP2_IN_SERVER};
use labrun_tests::{run_labrun, LabrunRun, TestAccount};

const TIMEOUT: Duration = Duration::from_secs(180);

/// One run for every trainee of `worlds`, with the step's default params and `extra`.
fn run_class(
    acct: &TestAccount,
    net: &CourseNet,
    worlds: &[CourseWorld],
    step: Step,
    extra: &[String],
) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.arg(step.script());
    for w in worlds {
        cmd.args(["--trainee", &w.trainee]);
    }
    cmd.args(extra).args(net.args()).args(["--format", "json"]);
    run_labrun(cmd, TIMEOUT)
}

fn message(run: &LabrunRun, t: &str, id: &str) -> String {
    run.report().result(t, id)["message"]["en"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_class_each_broken_variant_fails_exactly_its_ids() {
    let acct = TestAccount::new().await;
    let mut plan = vec![("user61".to_string(), Broken::None)];
    for (i, b) in Broken::STEP2.iter().enumerate() {
        plan.push((format!("user{}", 62 + i), *b));
    }
    let specs: Vec<(&str, Step, Edition, Broken)> = plan
        .iter()
        .map(|(t, b)| (t.as_str(), Step::Two, Edition::E2019, *b))
        .collect();
    let worlds = course::build_each(&acct, &specs).await;
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));

    let run = run_class(&acct, &net, &worlds, Step::Two, &[]);
    let report = run.report();
    assert_eq!(report.step(), Some("step2"));
    assert_eq!(report.trainees().len(), worlds.len());
    for w in &worlds {
        report.assert_statuses(&w.trainee, &w.broken.expected_statuses(Step::Two));
        for &id in STEP2_IN_SERVER {
            let m = message(&run, &w.trainee, id);
            assert!(
                m.contains("--ssh-key"),
                "{}: {id} should name --ssh-key: {m}",
                w.trainee
            );
        }
    }
    // The in-server ids are undecided without --ssh-key, not the trainees' errors.
    run.assert_code(1);
    for (t, id, needle) in [
        ("user62", "A1", "0.0.0.0/0"),
        ("user63", "A2", "10.0.0.0/24"),
        ("user64", "A3", "deletion protection"),
        ("user65", "A4", "publicly accessible"),
        ("user66", "B1", "no post"),
        ("user67", "B4", "Error establishing a database connection"),
        ("user68", "C1", "Everyone"),
        ("user69", "C2", "WP Offload S3 Lite"),
        ("user70", "C4", "wp-content/uploads/"),
        ("user71", "C4", "403"),
    ] {
        let h = message(&run, t, id);
        assert!(h.contains(needle), "{t} {id}: expected {needle:?} in {h}");
    }

    // The class at the end of Step 2 has kept its Step 1: the finished trainee's Step 1
    // passes too (C3 needs --ssh-key).
    let step1 = run_class(&acct, &net, &worlds[..1], Step::One, &[]);
    step1
        .report()
        .assert_statuses("user61", &Broken::None.expected_statuses(Step::One));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_2021_edition_passes_with_its_params_and_fails_the_renamed_outcomes_under_2019() {
    let acct = TestAccount::new().await;
    let worlds = course::build_each(
        &acct,
        &[("user81", Step::Two, Edition::E2021, Broken::None)],
    )
    .await;
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));

    // Every param of the 2021 edition, as its course file gives them.
    let with_2021 = run_class(
        &acct,
        &net,
        &worlds,
        Step::Two,
        &Edition::E2021.params(Step::Two, "user81")[2..],
    );
    with_2021
        .report()
        .assert_statuses("user81", &Broken::None.expected_statuses(Step::Two));
    // Found by IsClusterWriter: the manual's typo `wb-user81` is the writer.
    let a4 = message(&with_2021, "user81", "A4");
    assert!(a4.contains("db.t3.small"), "A4: {a4}");

    // The defaults are the 2019 names.
    let run = run_class(&acct, &net, &worlds, Step::Two, &[]);
    let mut expected = Broken::None.expected_statuses(Step::Two);
    for (id, status) in expected.iter_mut() {
        match *id {
            "A2" | "A3" | "A4" | "C1" => *status = "fail",
            "C4" => *status = "skip",
            _ => {}
        }
    }
    run.report().assert_statuses("user81", &expected);
    let a2 = message(&run, "user81", "A2");
    assert!(
        a2.contains("\"db subnet user81\"") && a2.contains("db-subnet-user81"),
        "A2: {a2}"
    );
    let a3 = message(&run, "user81", "A3");
    assert!(a3.contains("db subnet user81"), "A3: {a3}");
    let a4 = message(&run, "user81", "A4");
    assert!(
        a4.contains("wb-user81") && a4.contains("db.t2.small"),
        "A4: {a4}"
    );
    let c1 = message(&run, "user81", "C1");
    assert!(c1.contains("Everyone"), "C1: {c1}");
}
