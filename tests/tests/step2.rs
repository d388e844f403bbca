//! End-to-end tests of `scripts/step2.rhai` against classes in moto (S3 included): one
//! trainee finished, each other one broken in one way (`course::Broken::STEP2`); and a
//! trainee who followed the 2021 edition, checked with that edition's params (all
//! pass) and with the 2019 ones (the renamed outcomes fail, naming what they expect).
//! Without --ssh-key the in-server ids (A5 A6 B2 B3 C3) are `error` naming --ssh-key.

use std::time::Duration;

use labrun_tests::course::{self, Broken, CourseNet, CourseWorld, Edition, Step, STEP2_IN_SERVER};
use labrun_tests::{run_labrun, LabrunRun, TestAccount};

const TIMEOUT: Duration = Duration::from_secs(180);

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
    let runs = run_each(&acct, &net, &worlds, Step::Two, Edition::E2019);
    for (w, run) in worlds.iter().zip(&runs) {
        let report = run.report();
        assert_eq!(report.step(), Some("step2"));
        report.assert_statuses(&w.trainee, &w.broken.expected_statuses(Step::Two));
        for id in STEP2_IN_SERVER {
            let m = message(run, &w.trainee, id);
            assert!(
                m.contains("--ssh-key"),
                "{}: {id} should name --ssh-key: {m}",
                w.trainee
            );
        }
        run.assert_code(2);
    }
    let hint = |t: &str, id: &str| {
        let i = worlds.iter().position(|w| w.trainee == t).unwrap();
        message(&runs[i], t, id)
    };
    assert!(
        hint("user62", "A1").contains("0.0.0.0/0"),
        "{}",
        hint("user62", "A1")
    );
    assert!(
        hint("user63", "A2").contains("10.0.0.0/24"),
        "{}",
        hint("user63", "A2")
    );
    assert!(
        hint("user64", "A3").contains("deletion protection"),
        "{}",
        hint("user64", "A3")
    );
    assert!(
        hint("user65", "A4").contains("publicly accessible"),
        "{}",
        hint("user65", "A4")
    );
    assert!(
        hint("user68", "C1").contains("Everyone"),
        "{}",
        hint("user68", "C1")
    );
    assert!(
        hint("user69", "C2").contains("WP Offload S3 Lite"),
        "{}",
        hint("user69", "C2")
    );
    assert!(
        hint("user71", "C4").contains("403"),
        "{}",
        hint("user71", "C4")
    );

    // The same class at the end of Step 2 has kept its Step 1: the finished trainee's
    // Step 1 passes too (C3 needs --ssh-key).
    let step1 = run_each(&acct, &net, &worlds[..1], Step::One, Edition::E2019);
    step1[0]
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

    let with_2021 = run_each(&acct, &net, &worlds, Step::Two, Edition::E2021);
    with_2021[0]
        .report()
        .assert_statuses("user81", &Broken::None.expected_statuses(Step::Two));
    // Found by IsClusterWriter: the manual's typo `wb-user81` is the writer.
    assert!(message(&with_2021[0], "user81", "A4").contains("writer"));

    let with_2019 = run_each(&acct, &net, &worlds, Step::Two, Edition::E2019);
    let run = &with_2019[0];
    let mut expected = Broken::None.expected_statuses(Step::Two);
    for (id, status) in expected.iter_mut() {
        match *id {
            "A2" | "A3" | "A4" | "C1" => *status = "fail",
            "C4" => *status = "skip",
            _ => {}
        }
    }
    run.report().assert_statuses("user81", &expected);
    let a2 = message(run, "user81", "A2");
    assert!(
        a2.contains("\"db subnet user81\"") && a2.contains("db-subnet-user81"),
        "A2: {a2}"
    );
    let a3 = message(run, "user81", "A3");
    assert!(a3.contains("db subnet user81"), "A3: {a3}");
    let a4 = message(run, "user81", "A4");
    assert!(
        a4.contains("wb-user81") && a4.contains("db.t2.small"),
        "A4: {a4}"
    );
    let c1 = message(run, "user81", "C1");
    assert!(c1.contains("Everyone"), "C1: {c1}");
}
