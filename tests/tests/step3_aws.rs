//! End-to-end tests of the labrun CLI on Step 3, against worlds built in moto.
//!
//! `labrun scripts/step3.rhai --param user=userXX --format json` (run from the workspace
//! root) must give exactly the statuses `Broken::expected_statuses` documents: the
//! AWS-visible ids pass in a finished world, each broken world fails (or skips) exactly
//! its ids. Every run gets a [`ProbeEnv`] with the world's network in its finished
//! state, so the probe ids pass too (except F1, which labrun cannot check yet).

use std::time::Duration;

use labrun_tests::world::{AWS_IDS, PROBE_IDS};
use labrun_tests::{run_labrun, Broken, LabrunRun, ProbeBroken, ProbeEnv, TestAccount, World};

/// Generous: a debug build against a loaded moto, many tests at once on 2 cores.
const TIMEOUT: Duration = Duration::from_secs(120);
const SCRIPT: &str = "scripts/step3.rhai";

fn labrun(acct: &TestAccount, args: &[&str]) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.args(args);
    run_labrun(cmd, TIMEOUT)
}

/// labrun with the probe arguments of `env`.
fn labrun_probing(acct: &TestAccount, env: &ProbeEnv, args: &[&str]) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.args(args).args(env.args());
    run_labrun(cmd, TIMEOUT)
}

/// The finished network of `worlds`.
async fn finished_network(worlds: &[&World]) -> ProbeEnv {
    let pairs: Vec<(&World, ProbeBroken)> =
        worlds.iter().map(|w| (*w, ProbeBroken::None)).collect();
    ProbeEnv::start(&pairs)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"))
}

async fn check_variant(broken: Broken) {
    let acct = TestAccount::new().await;
    let world = World::build(&acct, "user07", broken)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env = finished_network(&[&world]).await;
    let run = labrun_probing(
        &acct,
        &env,
        &[SCRIPT, "--param", "user=user07", "--format", "json"],
    );
    let report = run.report();
    assert_eq!(report.trainees(), ["user07"]);
    report.assert_statuses("user07", &broken.expected_statuses());
    run.assert_code(broken.expected_exit_code());
}

macro_rules! variant_tests {
    ($($(#[$attr:meta])* $name:ident => $variant:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn $name() {
                check_variant(Broken::$variant).await;
            }
        )*
        const COVERED: &[Broken] = &[$(Broken::$variant),*];
    };
}

variant_tests! {
    finished_world_passes => None,
    a1_no_reader => NoReader,
    a2_reader_wrong_az => ReaderWrongAz,
    a2_reader_public => ReaderPublic,
    a2_reader_wrong_class => ReaderWrongClass,
    a7_no_failover => NoFailover,
    b1_no_ami => NoAmi,
    b1_ami_wrong_name => AmiWrongName,
    b2_web2_wrong_subnet => Web2WrongSubnet,
    b2_web2_wrong_type => Web2WrongType,
    b2_web2_wrong_sg => Web2WrongSg,
    b2_web2_no_public_ip => Web2NoPublicIp,
    b2_web2_not_from_ami => Web2NotFromAmi,
    c1_alb_internal => AlbInternal,
    c1_alb_one_az => AlbOneAz,
    c2_alb_sg_no_http => AlbSgNoHttp,
    c3_tg_missing_target => TgMissingTarget,
    c3_tg_target_stopped => TgTargetStopped,
    c4_no_listener => NoListener,
    c4_listener_wrong_tg => ListenerWrongTg,
    e1_web_sg_open_http => WebSgOpenHttp,
}

#[test]
fn every_broken_variant_has_an_e2e_test() {
    for b in Broken::ALL {
        assert!(COVERED.contains(&b), "no e2e test for Broken::{b:?}");
    }
}

/// Two trainees in one account, one report: each judged on its own resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_trainees_in_one_report() {
    let acct = TestAccount::new().await;
    let [a, b]: [World; 2] = World::build_each(
        &acct,
        &[("user05", Broken::None), ("user06", Broken::NoFailover)],
    )
    .await
    .try_into()
    .expect("two worlds");
    let env = finished_network(&[&a, &b]).await;
    let run = labrun_probing(
        &acct,
        &env,
        &[
            SCRIPT,
            "--trainee",
            "user05",
            "--trainee",
            "user06",
            "--format",
            "json",
        ],
    );
    let report = run.report();
    assert_eq!(report.trainees(), ["user05", "user06"]);
    assert!(
        report.step().is_some_and(|s| !s.is_empty()),
        "report names its step"
    );
    report.assert_statuses("user05", &Broken::None.expected_statuses());
    report.assert_statuses("user06", &Broken::NoFailover.expected_statuses());
    run.assert_code(1);
}

/// A finished trainee next to a broken one in the same account still passes alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neighbour_does_not_leak_into_a_report() {
    let acct = TestAccount::new().await;
    let neighbour = World::build(&acct, "user06", Broken::WebSgOpenHttp)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let world = World::build_finished(&acct, "user05")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env = finished_network(&[&world, &neighbour]).await;
    let run = labrun_probing(
        &acct,
        &env,
        &[SCRIPT, "--param", "user=user05", "--format", "json"],
    );
    let report = run.report();
    assert_eq!(report.trainees(), ["user05"]);
    report.assert_statuses("user05", &Broken::None.expected_statuses());
    run.assert_code(0);
}

/// AWS unreachable: labrun could not check, which is `error` (exit 2), never pass/fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_aws_is_an_error_not_a_failure() {
    let acct = TestAccount::new().await;
    // A port on 127.0.0.1 that nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = acct.labrun();
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}"))
        .args([SCRIPT, "--param", "user=user05", "--format", "json"])
        // Whatever a probe would try stays on 127.0.0.1.
        .args(["--dns-server", &format!("127.0.0.1:{closed}")])
        .args(["--connect-to", &format!("::127.0.0.1:{closed}")]);
    let run = run_labrun(cmd, TIMEOUT);
    let report = run.report();
    let mut errors = 0;
    for &id in AWS_IDS.iter() {
        match report.status("user05", id) {
            "error" => errors += 1,
            "skip" => {}
            other => panic!("{id}: {other} although AWS was unreachable\n{}", run.stdout),
        }
    }
    assert!(errors > 0, "no id reported error:\n{}", run.stdout);
    for &id in PROBE_IDS.iter() {
        assert_ne!(report.status("user05", id), "pass", "{id}");
    }
    run.assert_code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_64() {
    let acct = TestAccount::new().await;
    for args in [
        &[
            "scripts/no-such-step.rhai",
            "--param",
            "user=user05",
            "--format",
            "json",
        ][..],
        &[
            SCRIPT,
            "--param",
            "user=user05",
            "--format",
            "no-such-format",
        ][..],
        &[SCRIPT, "--no-such-flag"][..],
    ] {
        let run = labrun(&acct, args);
        assert_eq!(
            run.code,
            Some(64),
            "labrun {args:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            !run.stderr.trim().is_empty(),
            "labrun {args:?}: says why on stderr"
        );
    }
}

/// The step3 component tests/run builds (`$LABRUN_STEP3_WASM`).
fn step3_wasm() -> String {
    let path = std::env::var("LABRUN_STEP3_WASM")
        .expect("LABRUN_STEP3_WASM is not set: run the tests via tests/run, which builds plugins/");
    assert!(
        std::path::Path::new(&path).is_file(),
        "LABRUN_STEP3_WASM={path} does not exist: build plugins/ first (tests/run does)"
    );
    path
}

/// A world built with the 2021 edition's reader name: `--param reader=…` makes every
/// check pass; without it A1 fails naming the name it looked for.
async fn reader_from_the_other_edition(step: &str) {
    let acct = TestAccount::new().await;
    let world = World::build_with_reader(&acct, "user05", Broken::None, "wp-user05-standby")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env = finished_network(&[&world]).await;
    let run = labrun_probing(
        &acct,
        &env,
        &[
            step,
            "--trainee",
            "user05",
            "--param",
            "reader=wp-user05-standby",
            "--format",
            "json",
        ],
    );
    run.report()
        .assert_statuses("user05", &Broken::None.expected_statuses());
    run.assert_code(0);

    let run = labrun_probing(
        &acct,
        &env,
        &[step, "--trainee", "user05", "--format", "json"],
    );
    let report = run.report();
    assert_eq!(report.status("user05", "A1"), "fail", "{}", run.stdout);
    let a1 = report.result("user05", "A1")["message"]["en"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        a1.contains("no instance wp-user05-slave in cluster wp-user05-cluster")
            && a1.contains("wp-user05-standby"),
        "{a1}"
    );
    run.assert_code(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_takes_the_reader_name_as_a_param() {
    reader_from_the_other_edition(SCRIPT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_takes_the_reader_name_as_a_param() {
    reader_from_the_other_edition(&step3_wasm()).await;
}

/// The step3 component built against labrun:host@0.1.0 (committed; tests/run exports
/// `$LABRUN_STEP3_WIT_0_1_WASM`): a 0.x minor only adds, so it loads on this 0.2.0 host
/// and checks a finished world like today's component.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_built_for_host_0_1_0_runs_on_this_host() {
    let path = std::env::var("LABRUN_STEP3_WIT_0_1_WASM")
        .expect("LABRUN_STEP3_WIT_0_1_WASM is not set: run the tests via tests/run");
    let acct = TestAccount::new().await;
    let inspect = labrun(&acct, &["inspect", &path]);
    assert!(
        inspect.stdout.contains("built for: labrun:host@0.1.0"),
        "{}",
        inspect.stdout
    );
    let world = World::build_finished(&acct, "user05")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env = finished_network(&[&world]).await;
    let run = labrun_probing(
        &acct,
        &env,
        &[&path, "--trainee", "user05", "--format", "json"],
    );
    run.report()
        .assert_statuses("user05", &Broken::None.expected_statuses());
    run.assert_code(0);
}
