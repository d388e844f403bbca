//! Step 3's own `labrun test` cases (tests/cases/step3/): every shipped case matches
//! the script (the same check CI runs), and the cases are recorded from moto worlds
//! whose expected statuses the rest of this suite already asserts.

use std::path::Path;
use std::time::Duration;

use labrun_tests::{run_labrun, workspace_root, Broken, ProbeBroken, ProbeEnv, TestAccount, World};

const TIMEOUT: Duration = Duration::from_secs(180);
const SCRIPT: &str = "scripts/step3.rhai";
const CASES: &str = "tests/cases/step3";

/// The shipped cases: file stem, AWS world, network breakage, what the case is.
const SHIPPED: &[(&str, Broken, ProbeBroken, &str)] = &[
    (
        "finished",
        Broken::None,
        ProbeBroken::None,
        "a finished Step 3 (no --ssh-key: F1 skips)",
    ),
    (
        "no-reader",
        Broken::NoReader,
        ProbeBroken::None,
        "no reader was added: A1 fails, what needs it skips",
    ),
    (
        "no-failover",
        Broken::NoFailover,
        ProbeBroken::None,
        "the failover was never done",
    ),
    (
        "one-target",
        Broken::TgMissingTarget,
        ProbeBroken::None,
        "only webserver#1 is in the target group",
    ),
    (
        "old-site-url",
        Broken::None,
        ProbeBroken::OldSiteUrl,
        "siteurl still names webserver#1",
    ),
];

fn case_paths() -> Vec<String> {
    SHIPPED
        .iter()
        .map(|(stem, ..)| format!("{CASES}/{stem}.toml"))
        .collect()
}

#[test]
fn the_shipped_step3_cases_all_match() {
    let mut cmd = std::process::Command::new(labrun_tests::labrun_bin());
    cmd.current_dir(workspace_root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("test")
        .arg(SCRIPT)
        .args(case_paths());
    let run = run_labrun(cmd, TIMEOUT);
    let out = run.stdout.clone();
    run.assert_code(0);
    for (stem, ..) in SHIPPED {
        assert!(
            out.lines()
                .any(|l| l.starts_with("ok ") && l.contains(&format!("{stem}.toml"))),
            "no ok line for {stem}:\n{out}"
        );
    }
    assert!(
        out.contains(&format!("{} case(s): all matched", SHIPPED.len())),
        "{out}"
    );
}

/// Re-records every shipped case from a moto world and writes its expectations from
/// the statuses this suite asserts for that world:
/// `tests/run --run-ignored only -E 'test(record_the_step3_cases)'`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes tests/cases/; run on purpose to re-record Step 3's cases"]
async fn record_the_step3_cases() {
    let dir = workspace_root().join(CASES);
    std::fs::create_dir_all(&dir).unwrap();
    for (n, (stem, world_broken, probe_broken, about)) in SHIPPED.iter().enumerate() {
        // A fixed account id per case keeps the ARNs stable across re-recordings (and
        // the worlds apart: moto keeps every account for the whole run).
        let acct = TestAccount::with_id(&format!("21098765430{n}"))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let world = World::build(&acct, "user05", *world_broken)
            .await
            .unwrap_or_else(|e| panic!("{stem}: {e:#}"));
        let env = ProbeEnv::start(&[(&world, *probe_broken)])
            .await
            .unwrap_or_else(|e| panic!("{stem}: starting the probe servers: {e:#}"));
        let cassette = dir.join(format!("{stem}.cassette.json"));
        let mut cmd = acct.labrun();
        cmd.args([SCRIPT, "--trainee", "user05", "--format", "json"])
            .args(env.args())
            .args(["--record", cassette.to_str().unwrap()]);
        let run = run_labrun(cmd, TIMEOUT);
        let expected = probe_broken.expected_statuses(*world_broken);
        run.report().assert_statuses("user05", &expected);
        let text = std::fs::read_to_string(&cassette).unwrap();
        assert!(
            !text.contains(&env.db_password()),
            "{stem}: the DB password leaked into the cassette"
        );
        write_case(&dir.join(format!("{stem}.toml")), stem, about, &expected);
    }
}

fn write_case(path: &Path, stem: &str, about: &str, expected: &[(&str, &str)]) {
    let mut text = format!(
        "# Recorded by tests/tests/cases.rs (record_the_step3_cases) from a moto world.\n\
         about = \"{about}\"\ncassette = \"{stem}.cassette.json\"\ntrainee = \"user05\"\n\n[expect]\n"
    );
    for (id, status) in expected {
        text.push_str(&format!("{id} = \"{status}\"\n"));
    }
    std::fs::write(path, text).unwrap();
}
