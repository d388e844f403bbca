//! Untrusted trainee checks, WebAssembly half of the adversarial corpus: user05 submits
//! the misbehave component (tests/fixtures/wasm/misbehave, one `--param mode=…` per
//! case) or the sockets component, user06 the honest Rhai check, in one class under
//! `--trust untrusted`. Each case asserts user05's outcome, that user06 is unaffected
//! and that the host survived.
//!
//! Needs `LABRUN_MISBEHAVE_WASM` and `LABRUN_SOCKETS_WASM` (built and exported by
//! tests/run) and moto.

use std::path::PathBuf;
use std::process::Command;

use labrun_tests::class::{message, results, trainee_report, Class};
use serde_json::Value;

fn built(var: &str, what: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: run the tests via tests/run, which builds {what} for wasm32-wasip2 and exports it")
    }));
    assert!(
        path.is_file(),
        "{var}={} does not exist: build {what} first (tests/run does)",
        path.display()
    );
    path
}

fn misbehave() -> PathBuf {
    built("LABRUN_MISBEHAVE_WASM", "tests/fixtures/wasm/misbehave")
}

/// The misbehave component's declared params, with `mode` and the neighbour's ARN and
/// endpoint (class-wide params: the honest Rhai step does not declare them).
fn params(class: &Class, mode: &str) -> Vec<String> {
    [
        format!("mode={mode}"),
        format!("neighbour_tg={}", class.honest.target_group.arn),
        format!("neighbour_endpoint={}", class.honest.cluster.endpoint),
    ]
    .into_iter()
    .flat_map(|p| ["--param".to_string(), p])
    .collect()
}

/// Runs misbehave in `mode` as user05 (plus `extra` args); returns user05's H1 row
/// and the report, having checked the host survived and user06 is unaffected.
fn hostile(class: &Class, mode: &str, extra: &[&str]) -> (Value, Value) {
    let params = params(class, mode);
    let mut args: Vec<&str> = params.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    class.hostile_h1(mode, &misbehave(), &args)
}

/// The stop cause every unreported check of a stopped step carries.
fn assert_stopped(h1: &Value, why: &str) {
    assert_eq!(h1["status"], "error", "{h1}");
    let text = message(h1);
    assert!(
        text.starts_with("not checked: the step stopped before this check: ") && text.contains(why),
        "expected the stop cause `{why}`: {h1}"
    );
}

fn sha256(path: &std::path::Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// The audit log's denials for user05: each names the component's digest.
fn user05_denials(class: &Class, label: &str) -> Vec<Value> {
    let digest = sha256(&misbehave());
    let audit = class.audit(label);
    assert!(
        audit
            .iter()
            .any(|r| r["trainee"] == "user06" && r["allowed"] == true),
        "user06's calls are audited too: {audit:?}"
    );
    let denied: Vec<Value> = audit
        .into_iter()
        .filter(|r| r["trainee"] == "user05" && r["allowed"] == false)
        .collect();
    for d in &denied {
        assert_eq!(d["step_sha256"], digest, "{d}");
        assert!(d["reason"].as_str().is_some_and(|r| !r.is_empty()), "{d}");
    }
    denied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_files_env_and_sockets_give_nothing() {
    let class = Class::new().await;

    let (h1, _) = hostile(&class, "files", &[]);
    assert_eq!(h1["status"], "pass", "{h1}");
    for key in ["passwd", "root"] {
        let got = h1["evidence"][key].as_str().unwrap();
        assert!(
            got.starts_with("error: ") && got.contains("No such file or directory"),
            "{key}: {got}"
        );
    }

    let (h1, _) = hostile(&class, "env", &[]);
    assert_eq!(h1["status"], "pass", "{h1}");
    assert_eq!(h1["evidence"]["count"], 0, "{h1}");
    assert_eq!(h1["evidence"]["names"], serde_json::json!([]), "{h1}");

    // Importing wasi:sockets: refused when loaded, one `step` row, the class goes on.
    let sockets = built("LABRUN_SOCKETS_WASM", "tests/fixtures/wasm/sockets");
    let run = class.run("sockets", &sockets, &[]);
    let report = class.survived(&run);
    let rows = results(&report, "user05");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], "step");
    assert_eq!(rows[0]["status"], "error");
    let text = message(&rows[0]);
    assert!(
        text.starts_with("the submitted step could not run: ")
            && text.contains("step imports wasi:sockets/")
            && text.contains("which labrun never grants"),
        "{text}"
    );
    run.assert_code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_and_fuel_limits_stop_hostile_components_naming_the_limit() {
    let class = Class::new().await;

    let (h1, _) = hostile(&class, "stack", &[]);
    assert_stopped(
        &h1,
        "the step recursed past the stack it was built with (the stack limit: 1 MiB for Rust unless linked with -z stack-size)",
    );

    // A smaller fuel budget than the preset's, so fuel runs out long before the clock.
    let policy = class.dir.join("fuel-policy.toml");
    std::fs::write(
        &policy,
        "trust = \"untrusted\"\n[limits]\nmax_fuel = 50000000\n",
    )
    .unwrap();
    let (h1, _) = hostile(&class, "fuel", &["--policy", policy.to_str().unwrap()]);
    assert_stopped(
        &h1,
        "the step used more than 50000000 units of fuel (the CPU limit)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_call_and_message_floods_are_capped() {
    let class = Class::new().await;

    let (h1, report) = hostile(&class, "outcomes", &[]);
    assert_stopped(&h1, "too many outcomes: the limit is 100");
    // The 100 kept, H1 naming the stop, and the outcomes refused past the limit kept as
    // error rows (issue 23 item 15: never dropped), themselves capped at eight rows.
    let rows = results(&report, "user05");
    let refused: Vec<_> = rows
        .iter()
        .filter(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("refused-"))
        })
        .collect();
    assert_eq!(rows.len() - refused.len(), 101, "100 outcomes and H1");
    assert!(
        (1..=8).contains(&refused.len()),
        "refused outcomes are error rows, at most eight: {}",
        refused.len()
    );
    assert!(
        refused.iter().all(|r| r["status"] == "error"),
        "{refused:?}"
    );

    let (h1, _) = hostile(&class, "calls", &[]);
    assert_stopped(
        &h1,
        "aws.ec2_describe_vpcs: more than 200 aws calls in one run (limit max_calls.aws)",
    );
    let audit = class.audit("calls");
    let user05_allowed = audit
        .iter()
        .filter(|r| r["trainee"] == "user05" && r["allowed"] == true)
        .count();
    assert_eq!(user05_allowed, 200, "exactly the limit got through");
    let denials = user05_denials(&class, "calls");
    assert_eq!(
        denials.len(),
        1,
        "the first call past the limit ends the step"
    );
    assert_eq!(
        denials[0]["reason"],
        "more than 200 aws calls in one run (limit max_calls.aws)"
    );

    let (h1, _) = hostile(&class, "bigmsg", &[]);
    assert_eq!(h1["status"], "fail", "{h1}");
    let en = message(&h1);
    assert!(en.starts_with("mmmm"), "{en}");
    assert!(
        en.len() <= 1024 + 3,
        "message not capped: {} bytes",
        en.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_trainees_resources_and_forbidden_hosts_are_denied() {
    let class = Class::new().await;

    let (h1, report) = hostile(&class, "neighbour", &[]);
    assert_eq!(h1["status"], "pass", "{h1}");
    assert_eq!(
        h1["evidence"]["clusters"],
        serde_json::json!(["wp-user05-cluster"]),
        "only user05's own cluster is visible"
    );
    let neighbour = h1["evidence"]["neighbour"].as_str().unwrap();
    assert!(
        neighbour.starts_with("denied: ") && neighbour.contains("does not belong to user05"),
        "{neighbour}"
    );
    assert!(
        trainee_report(&report, "user05")["log"]
            .to_string()
            .contains("denied: aws.elbv2_describe_target_health"),
        "denials appear in the report: {report}"
    );
    let denials = user05_denials(&class, "neighbour");
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0]["operation"], "elbv2_describe_target_health");
    assert!(
        denials[0]["target"]
            .as_str()
            .unwrap()
            .contains(&class.honest.target_group.arn),
        "{denials:?}"
    );

    let (h1, _) = hostile(&class, "probe", &[]);
    assert_eq!(h1["status"], "pass", "{h1}");
    let ev = &h1["evidence"];
    for (key, why) in [
        (
            "metadata",
            "169.254.169.254 is a loopback, link-local or unspecified address",
        ),
        ("loopback", "127.0.0.1 is a loopback"),
        ("neighbour", "is not one of user05's resources"),
    ] {
        let got = ev[key].as_str().unwrap_or_default();
        assert!(
            got.starts_with("denied: ") && got.contains(why),
            "{key}: {got}"
        );
    }
    let denials = user05_denials(&class, "probe");
    let ops: Vec<(&str, &str)> = denials
        .iter()
        .map(|d| {
            (
                d["capability"].as_str().unwrap(),
                d["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [("http", "get"), ("tcp", "connect"), ("dns", "lookup")],
        "{denials:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_and_huge_values_are_cut_at_the_boundary() {
    let class = Class::new().await;

    let (h1, report) = hostile(&class, "denials", &[]);
    assert_stopped(&h1, "tcp.connect: more than 50 tcp calls in one run");
    let log = trainee_report(&report, "user05")["log"].as_array().unwrap();
    assert!(log.len() <= 100 + 2, "{} log lines", log.len());
    assert!(
        user05_denials(&class, "denials").len() <= 100 + 1,
        "the audit log stays small"
    );

    let (h1, report) = hostile(&class, "bigrequest", &[]);
    assert_eq!(h1["status"], "pass", "{h1}");
    assert!(
        message(&h1).contains("the request is 2621") && message(&h1).contains("limit is 64 KiB"),
        "{h1}"
    );
    let dropped = h1["evidence"].as_str().unwrap_or_default();
    assert!(dropped.contains("dropped"), "{h1}");
    let text = report.to_string();
    assert!(
        text.len() < 512 << 10,
        "the report holds no megabyte values: {} bytes",
        text.len()
    );

    let (h1, _) = hostile(&class, "bigcause", &[]);
    assert_eq!(h1["status"], "error", "{h1}");
    assert!(
        message(&h1).len() < 2 << 10,
        "a stop cause is cut: {} bytes",
        message(&h1).len()
    );
}
