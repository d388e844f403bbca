//! Untrusted trainee checks: the adversarial corpus under `--trust untrusted`, each
//! hostile submission run in one class with an honest trainee whose result must stay
//! right, against a moto account holding both trainees' Step-3 worlds.

use std::time::Duration;

use labrun_tests::class::{
    adversarial, assert_honest_unaffected, message, results, row, trainee_report, Class,
};
use labrun_tests::{run_labrun, TestAccount, World};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_memory_depth_and_eval_limits_stop_hostile_steps() {
    let class = Class::new().await;
    let cases = [
        (
            "infinite_loop",
            "more than 5000000 operations (the CPU limit)",
        ),
        (
            "memory_bomb",
            "a string grew past 1048576 (the max_string_size limit)",
        ),
        (
            "array_bomb",
            "an array grew past 10000 (the max_array_size limit)",
        ),
        ("deep_recursion", "deeper than 32 levels"),
        ("uses_import", "`import` is not available to steps"),
        (
            "mutating",
            "Function not found: aws::ec2_terminate_instances",
        ),
    ];
    for (hostile, expected) in cases {
        let (h1, _) = class.corpus_h1(hostile, &[]);
        assert_eq!(h1["status"], "error", "{hostile}: {h1}");
        assert!(message(&h1).contains(expected), "{hostile}: {h1}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_does_not_compile_is_an_error_row_not_a_stopped_class() {
    let class = Class::new().await;
    let run = class.run_corpus("uses_eval", &[]);
    let report = run.report().0;
    assert_honest_unaffected(&report);
    let rows = results(&report, "user05");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], "step");
    assert_eq!(rows[0]["status"], "error");
    assert!(message(&rows[0]).contains("syntax error"), "{}", rows[0]);
    run.assert_code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_outcomes_and_messages_are_capped() {
    let class = Class::new().await;
    let run = class.run_corpus("output_flood", &[]);
    let report = run.report().0;
    assert_honest_unaffected(&report);
    let user05 = trainee_report(&report, "user05");
    let log = user05["log"].as_array().unwrap();
    assert_eq!(
        log.len(),
        101,
        "100 lines and one saying how many were dropped"
    );
    assert!(log[100]
        .as_str()
        .unwrap()
        .contains("more log lines dropped"));
    assert!(log[0].as_str().unwrap().len() <= 1024 + 3);

    let (h1, report) = class.corpus_h1("outcome_flood", &[]);
    assert_eq!(h1["status"], "error");
    assert!(
        message(&h1).contains("too many outcomes: the limit is 100"),
        "{h1}"
    );
    assert_eq!(results(&report, "user05").len(), 101);

    let (h1, _) = class.corpus_h1("huge_message", &[]);
    assert_eq!(h1["status"], "fail");
    assert!(
        message(&h1).len() <= 1024 + 3,
        "message not capped: {} bytes",
        message(&h1).len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_trainees_resources_are_invisible_and_denied() {
    let class = Class::new().await;
    let neighbour_tg = format!("neighbour_tg={}", class.honest.target_group.arn);
    let (h1, report) = class.corpus_h1("other_trainee", &["--param", &neighbour_tg]);
    let seen: Vec<String> = h1["evidence"]["seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(seen.contains(&"wp-user05-cluster".to_string()), "{seen:?}");
    assert!(seen.contains(&"web-user05".to_string()), "{seen:?}");
    assert!(!seen.iter().any(|s| s.contains("user06")), "leak: {seen:?}");
    assert!(seen.contains(&class.hostile.web1.id), "{seen:?}");
    assert!(!seen.contains(&class.honest.web1.id), "leak: {seen:?}");
    let neighbour = h1["evidence"]["neighbour"].as_str().unwrap();
    assert!(neighbour.starts_with("denied:"), "{neighbour}");
    assert!(
        neighbour.contains("does not belong to user05"),
        "{neighbour}"
    );
    let user05 = &report["trainees"][0];
    assert!(
        user05["log"]
            .to_string()
            .contains("denied: aws.elbv2_describe_target_health"),
        "denials appear in the report: {user05}"
    );
    let audit = class.audit("other_trainee");
    let denied: Vec<&Value> = audit.iter().filter(|r| r["allowed"] == false).collect();
    assert_eq!(denied.len(), 1, "{audit:?}");
    assert_eq!(denied[0]["trainee"], "user05");
    assert_eq!(denied[0]["operation"], "elbv2_describe_target_health");
    assert!(denied[0]["step_sha256"].as_str().unwrap().len() == 64);
    assert!(audit
        .iter()
        .any(|r| r["trainee"] == "user06" && r["allowed"] == true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_reach_only_the_trainees_own_hosts() {
    let class = Class::new().await;
    let neighbour = format!("neighbour_endpoint={}", class.honest.cluster.endpoint);
    let (h1, _) = class.corpus_h1("probe_forbidden", &["--param", &neighbour]);
    let ev = &h1["evidence"];
    for (key, why) in [
        (
            "metadata",
            "169.254.169.254 is a loopback, link-local or unspecified address",
        ),
        ("loopback", "127.0.0.1 is a loopback"),
        ("mysql_local", "localhost is a loopback"),
        ("neighbour", "is not one of user05's resources"),
        ("internet", "example.com is not one of user05's resources"),
    ] {
        let got = ev[key].as_str().unwrap_or_default();
        assert!(
            got.starts_with("denied:") && got.contains(why),
            "{key}: {got}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_call_flood_is_cut_at_the_limit() {
    let class = Class::new().await;
    let (h1, _) = class.corpus_h1("call_flood", &[]);
    assert_eq!(h1["status"], "error");
    assert!(
        message(&h1).contains("more than 200 aws calls in one run"),
        "{h1}"
    );
    let audit = class.audit("call_flood");
    let user05_allowed = audit
        .iter()
        .filter(|r| r["trainee"] == "user05" && r["allowed"] == true)
        .count();
    assert!(
        user05_allowed <= 200 + 8,
        "{user05_allowed} calls got through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_within_reach_of_a_step() {
    let class = Class::new().await;
    let password_file = class.dir.join("db-password");
    std::fs::write(&password_file, "S3cret-db-Passw0rd\n").unwrap();
    let run = class.run_corpus(
        "reads_secrets",
        &[
            "--mysql-password-file",
            password_file.to_str().unwrap(),
            "--probe-timeout",
            "1",
        ],
    );
    let report = run.report().0;
    assert_honest_unaffected(&report);
    let everything = format!(
        "{}{}{}",
        run.stdout,
        run.stderr,
        std::fs::read_to_string(class.dir.join("reads_secrets.audit.jsonl")).unwrap()
    );
    for secret in [
        "S3cret-db-Passw0rd",
        class.acct.credentials.secret_access_key.as_str(),
        class.acct.credentials.session_token.as_str(),
    ] {
        assert!(
            !everything.contains(secret),
            "a secret reached the report or audit log"
        );
    }
}

/// Forty submissions, hostile and honest mixed, in one class against moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_of_forty_untrusted_runs_keeps_every_honest_run_right() {
    let acct = TestAccount::new().await;
    let honest: Vec<String> = (1..=20).map(|i| format!("user{i:02}")).collect();
    for chunk in honest.chunks(4) {
        let builds = chunk.iter().map(|t| World::build_finished(&acct, t));
        for w in futures::future::join_all(builds).await {
            w.unwrap_or_else(|e| panic!("{e:#}"));
        }
    }
    let hostile = [
        "infinite_loop",
        "memory_bomb",
        "array_bomb",
        "deep_recursion",
        "output_flood",
        "outcome_flood",
        "huge_message",
        "mutating",
        "call_flood",
        "uses_import",
    ];
    let mut class = String::new();
    for (i, t) in honest.iter().enumerate() {
        class += &format!(
            "[[submission]]\ntrainee = \"{t}\"\nstep = \"{}\"\n\n",
            adversarial("honest").display()
        );
        let h = hostile[i % hostile.len()];
        class += &format!(
            "[[submission]]\ntrainee = \"user{:02}\"\nstep = \"{}\"\n\n",
            i + 21,
            adversarial(h).display()
        );
    }
    let dir = std::env::temp_dir().join(format!("labrun-class40-{}", acct.account_id));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("class.toml");
    std::fs::write(&path, class).unwrap();
    let mut cmd = acct.labrun();
    cmd.arg(&path).args([
        "--trust",
        "untrusted",
        "--format",
        "json",
        "--timeout",
        "20",
    ]);
    let run = run_labrun(cmd, Duration::from_secs(600));
    let report = run.report().0;
    assert_eq!(report["trainees"].as_array().unwrap().len(), 40);
    for t in &honest {
        let h1 = row(&report, t, "H1");
        assert_eq!(h1["status"], "pass", "{t}: {h1}");
        assert_eq!(
            h1["evidence"]["clusters"],
            serde_json::json!([format!("wp-{t}-cluster")])
        );
    }
    let _ = std::fs::remove_dir_all(dir);
    peak_rss_note();
}

/// Prints the peak RSS of the child processes (the labrun class run) for docs/performance.md.
fn peak_rss_note() {
    // getrusage(RUSAGE_CHILDREN).ru_maxrss, in KiB on Linux.
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    if rc == 0 {
        let kib = unsafe { usage.assume_init() }.ru_maxrss;
        eprintln!("class of 40: peak RSS of labrun {} MiB", kib / 1024);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_flood_stops_the_step_and_stays_small() {
    let class = Class::new().await;
    let run = class.run_corpus("denial_flood", &[]);
    let report = run.report().0;
    assert_honest_unaffected(&report);
    let h1 = row(&report, "user05", "H1");
    assert_eq!(h1["status"], "error", "{h1}");
    assert!(
        message(h1).contains("tcp.connect: more than 50 tcp calls in one run"),
        "{h1}"
    );
    let log = trainee_report(&report, "user05")["log"].as_array().unwrap();
    assert!(log.len() <= 100 + 2, "{} log lines", log.len());
    let audit = class.audit("denial_flood");
    let user05 = audit.iter().filter(|r| r["trainee"] == "user05").count();
    assert!(user05 <= 100 + 1, "{user05} audit records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_sizes_and_names_are_contained() {
    let class = Class::new().await;
    // A host name cut inside a multi-byte character: a denial, not a crash.
    let (h1, report) = class.corpus_h1("multibyte_host", &[]);
    assert_honest_unaffected(&report);
    assert_eq!(h1["status"], "pass", "{h1}");
    let lookup = h1["evidence"]["lookup"].as_str().unwrap();
    assert!(
        lookup.starts_with("denied:") && lookup.contains("is not one of user05's resources"),
        "{lookup}"
    );
    // Oversized requests are refused at the boundary; oversized evidence is replaced.
    let (h1, report) = class.corpus_h1("huge_request", &[]);
    assert_honest_unaffected(&report);
    assert_eq!(h1["status"], "pass", "{h1}");
    assert!(
        message(&h1).starts_with("limit: the request is 5000"),
        "{h1}"
    );
    let blob = h1["evidence"].as_str().unwrap_or_default();
    assert!(
        blob.contains("evidence of 500") && blob.contains("dropped"),
        "{h1}"
    );
    // Each refusal is a denial in the audit log, without the request itself.
    let audit = class.audit("huge_request");
    let refused: Vec<&Value> = audit
        .iter()
        .filter(|r| r["trainee"] == "user05" && r["operation"] == "ec2_describe_vpcs")
        .collect();
    assert_eq!(refused.len(), 50, "{refused:?}");
    assert!(refused.iter().all(|r| r["allowed"] == false
        && r["target"] == "(request not kept)"
        && r["reason"].as_str().unwrap().contains("limit is 64 KiB")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arn_with_the_trainee_id_appended_is_not_theirs() {
    let class = Class::new().await;
    let neighbour_tg = format!("neighbour_tg={}", class.honest.target_group.arn);
    let (h1, report) = class.corpus_h1("arn_suffix", &["--param", &neighbour_tg]);
    assert_honest_unaffected(&report);
    for key in ["slash", "colon"] {
        let got = h1["evidence"][key].as_str().unwrap_or_default();
        assert!(
            got.starts_with("denied:") && got.contains("does not belong to user05"),
            "{key}: {got}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checklist_past_the_outcome_limit_is_refused_at_load() {
    let class = Class::new().await;
    let run = class.run_corpus("many_checks", &[]);
    let report = run.report().0;
    assert_honest_unaffected(&report);
    let rows = results(&report, "user05");
    assert_eq!(rows.len(), 1, "one row, not 1000");
    assert_eq!(rows[0]["id"], "step");
    assert!(
        message(&rows[0]).contains("declares 1000 checks; the limit is 100 (max_outcomes)"),
        "{}",
        rows[0]
    );
}

/// The class of [`Class::run`] (user05 hostile, user06 honest), reported for people:
/// `--format human --lang en --color never`.
fn run_human(class: &Class, name: &str) -> labrun_tests::LabrunRun {
    let file = class.dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "[[submission]]\ntrainee = \"user05\"\nstep = \"{}\"\n\n\
             [[submission]]\ntrainee = \"user06\"\nstep = \"{}\"\n",
            adversarial(name).display(),
            adversarial("honest").display()
        ),
    )
    .unwrap();
    let mut cmd = class.acct.labrun();
    cmd.arg(&file).args([
        "--trust",
        "untrusted",
        "--format",
        "human",
        "--lang",
        "en",
        "--color",
        "never",
    ]);
    run_labrun(cmd, Duration::from_secs(180))
}

/// Characters that would act on a terminal if they reached it raw (the line feed that
/// ends each row aside).
fn raw_terminal_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            c != '\n'
                && matches!(c,
                    '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{61c}' | '\u{200e}' | '\u{200f}'
                    | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// Lines the human report of `report` (JSON of the same run) must have: per trainee a
/// header, one row per outcome, one line per log line and a blank line; then the summary.
fn human_lines(report: &Value) -> usize {
    let per_trainee: usize = report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let log = t["log"].as_array().map_or(0, Vec::len);
            1 + t["results"].as_array().unwrap().len() + log + 1
        })
        .sum();
    per_trainee + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_kib_id_is_refused_and_widens_no_ones_rows() {
    let class = Class::new().await;
    let (h1, report) = class.corpus_h1("long_id", &[]);
    assert_eq!(h1["status"], "error", "{h1}");
    assert!(
        message(&h1).contains("is 65536 characters long: an id is at most 32"),
        "{h1}"
    );
    assert!(message(&h1).len() < 400, "the id is shown cut short: {h1}");
    assert_eq!(results(&report, "user05").len(), 1);

    let run = run_human(&class, "long_id");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run.assert_code(2);
    assert_eq!(
        run.stdout.lines().count(),
        human_lines(&report),
        "{}",
        run.stdout
    );
    for line in run.stdout.lines() {
        assert!(line.len() < 400, "a row was widened: {} bytes", line.len());
    }
    let honest = run
        .stdout
        .lines()
        .find(|l| l.contains(" H1 ") && l.contains("wp-user06-cluster"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(honest, "  PASS     H1  found wp-user06-cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_from_a_submission_are_inert_beside_an_honest_neighbour() {
    let class = Class::new().await;
    let (h1, report) = class.corpus_h1("escape_sequences", &[]);
    assert_eq!(h1["status"], "fail", "{h1}");
    let h2 = row(&report, "user05", "H2");
    assert_eq!(h2["status"], "error", "{h2}");
    assert!(message(h2).contains("holds the character U+001B"), "{h2}");

    let run = run_human(&class, "escape_sequences");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let text = &run.stdout;
    assert_eq!(raw_terminal_controls(text), Vec::<char>::new(), "{text:?}");
    assert_eq!(text.lines().count(), human_lines(&report), "{text}");
    // One block per trainee, one summary, the neighbour's rows its own.
    for header in ["escape_sequences · user05", "escape_sequences · user06"] {
        assert_eq!(text.lines().filter(|l| *l == header).count(), 1, "{text}");
    }
    assert_eq!(
        text.lines()
            .filter(|l| l.contains(" pass · ") && !l.starts_with("  "))
            .count(),
        1,
        "one summary: {text}"
    );
    assert!(
        text.lines().last().unwrap().ends_with("AWS calls"),
        "{text}"
    );
    let user06: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "escape_sequences · user06")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(
        user06[0].starts_with("  PASS     H1  found wp-user06-cluster"),
        "{user06:?}"
    );
    assert!(
        !text.contains("  FAIL     H1  forged block")
            || text.contains("\\n  FAIL     H1  forged block")
    );
    assert!(
        text.contains("\\u{1b}]52;c;ZWNobyBvd25lZA==\\u{7}"),
        "{text}"
    );
    assert!(text.contains("  | log\\r\\n  PASS     H9"), "{text}");
    assert!(text.contains("\\u{202e}gnp.exe\\u{202c}"), "{text}");
    run.assert_code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_stops_at_the_limit_instead_of_aborting_the_class() {
    let class = Class::new().await;
    let (h1, _) = class.corpus_h1("deep_nesting", &[]);
    assert_eq!(h1["status"], "error", "{h1}");
    assert!(message(&h1).contains("deeper than 32 levels"), "{h1}");
}
