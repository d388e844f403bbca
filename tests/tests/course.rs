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

/// The course statuses of one trainee, `(id, status)` in report order.
fn statuses(run: &LabrunRun, t: &str) -> Vec<(String, String)> {
    run.report()
        .results(t)
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("?").to_string(),
                r["status"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

/// Where a trainee is in the course: `course.current` and `course.passed`.
fn progress(run: &LabrunRun, t: &str) -> (Option<String>, Vec<String>) {
    let report = run.report();
    let entry = report.0["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["trainee"] == t)
        .unwrap_or_else(|| panic!("no {t} in the report"))
        .clone();
    let course = &entry["course"];
    let current = course["current"].as_str().map(str::to_string);
    let passed = course["passed"]
        .as_array()
        .unwrap_or_else(|| panic!("{t}: no course.passed: {entry}"))
        .iter()
        .map(|s| s.as_str().unwrap_or("?").to_string())
        .collect();
    (current, passed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_at_three_different_steps_under_the_2019_course() {
    let acct = TestAccount::new().await;
    let worlds = course::build_each(
        &acct,
        &[
            ("user83", Step::One, Edition::E2019, Broken::None),
            ("user84", Step::Two, Edition::E2019, Broken::None),
            ("user85", Step::Three, Edition::E2019, Broken::None),
        ],
    )
    .await;
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let run = run_course(
        &acct,
        &net,
        &worlds,
        &format!("{root}/courses/wordpress-2019.toml"),
    );
    let report = run.report();

    // Every step's ids, `pass` but `changes`, prefixed as the course reports them.
    let step = |step: Step, changes: &[(&str, &'static str)]| -> Vec<(String, String)> {
        step.ids()
            .iter()
            .map(|id| {
                let status = changes
                    .iter()
                    .find(|(i, _)| i == id)
                    .map_or("pass", |(_, s)| *s);
                (format!("{}-{id}", step.course_id()), status.to_string())
            })
            .collect()
    };
    let not_started_step3 = [
        ("A1", "fail"),
        ("A2", "skip"),
        ("A4", "skip"),
        ("A6", "skip"),
        ("A7", "skip"),
        ("B1", "fail"),
        ("B2", "fail"),
        ("C1", "fail"),
        ("C2", "skip"),
        ("C3", "fail"),
        ("C4", "skip"),
        ("C5", "skip"),
        ("D1", "skip"),
        ("E1", "fail"),
        ("E2", "fail"),
        ("F1", "skip"),
    ];
    let mut before_aurora = not_started_step3.to_vec();
    before_aurora.extend([("A3", "skip"), ("A5", "skip")]);
    let in_server_errors = |step: Step| -> Vec<(&'static str, &'static str)> {
        let ids: &[&'static str] = match step {
            Step::One => course::STEP1_IN_SERVER,
            _ => course::STEP2_IN_SERVER,
        };
        ids.iter().map(|id| (*id, "error")).collect()
    };
    let mut s2_error = in_server_errors(Step::Two);
    let user83 = [
        step(Step::One, &in_server_errors(Step::One)),
        step(
            Step::Two,
            &[
                ("A1", "fail"),
                ("A2", "fail"),
                ("A3", "fail"),
                ("A4", "skip"),
                ("A5", "skip"),
                ("A6", "skip"),
                ("B1", "skip"),
                ("B2", "skip"),
                ("B3", "error"),
                ("C1", "fail"),
                ("C2", "skip"),
                ("C3", "error"),
                ("C4", "skip"),
            ],
        ),
        step(Step::Three, &before_aurora),
    ];
    let user84 = [
        step(Step::One, &in_server_errors(Step::One)),
        step(Step::Two, &s2_error),
        step(Step::Three, &not_started_step3),
    ];
    // Step 3 put webserver#1 behind the ALB: Step 1's site checks and Step 2's B4
    // skip, naming it.
    s2_error.push(("B4", "skip"));
    let mut s1 = in_server_errors(Step::One);
    s1.extend([("C1", "skip"), ("C2", "skip")]);
    let user85 = [
        step(Step::One, &s1),
        step(Step::Two, &s2_error),
        step(Step::Three, &[("F1", "skip")]),
    ];
    let steps = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (t, want, current, passed) in [
        ("user83", user83, Some("S2"), steps(&["S1"])),
        ("user84", user84, Some("S3"), steps(&["S1", "S2"])),
        ("user85", user85, None, steps(&["S1", "S2", "S3"])),
    ] {
        let want: Vec<(String, String)> = want.concat();
        assert_eq!(statuses(&run, t), want, "{t}");
        // Without --ssh-key the in-server ids are undecided, not counted: a step
        // finished in every other way is done.
        assert_eq!(
            progress(&run, t),
            (current.map(str::to_string), passed),
            "{t}"
        );
        for id in ["S1-C3", "S2-B3", "S2-C3"] {
            let m = message(&run, t, id);
            assert!(m.contains("--ssh-key"), "{t} {id} names --ssh-key: {m}");
        }
    }
    for id in ["S1-C1", "S2-B4"] {
        let m = message(&run, "user85", id);
        assert!(
            m.contains("only from load balancer elb-user85"),
            "user85 {id} names the ALB: {m}"
        );
    }
    let b2 = message(&run, "user85", "S1-B2");
    assert!(b2.contains("only from load balancer elb-user85"), "{b2}");
    let a4 = message(&run, "user85", "S2-A4");
    assert!(
        a4.contains("wp-user85") && a4.contains("failover"),
        "S2-A4 judges Step 2's writer: {a4}"
    );
    assert_eq!(report.trainees(), ["user83", "user84", "user85"]);
    // The in-server errors are undecided, not the trainees': what is left is fails.
    run.assert_code(1);
}
