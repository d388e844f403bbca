//! The step authors' kit as an author meets it, offline: `labrun new` writes a step
//! whose cases pass `labrun test`; `labrun test` names every difference and exits 1;
//! declared prerequisites (`needs`) are enforced by the host and checked at load; the
//! lab library is there in every script.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn labrun(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labrun"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(args)
        .output()
        .expect("labrun runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "labrun-authors-{name}-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fastrand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

const EMPTY_CASSETTE: &str = r#"{"labrun_cassette": 1, "calls": []}"#;

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["trainees"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn a_new_step_passes_its_own_cases() {
    let dir = scratch("new");
    let out = labrun(&dir, &["new", "step", "vpc-check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("wrote ./vpc-check.rhai"), "{said}");
    assert!(
        said.contains("next: labrun test ./vpc-check.rhai ./vpc-check.cases/*.toml"),
        "{said}"
    );
    // Written the way the shipped steps are: the catalog declares the step ([step]),
    // the script only runs it.
    assert!(said.contains("wrote ./vpc-check.messages.toml\n"), "{said}");
    let script = std::fs::read_to_string(dir.join("vpc-check.rhai")).unwrap();
    assert!(!script.contains("fn describe"), "{script}");
    let catalog = std::fs::read_to_string(dir.join("vpc-check.messages.toml")).unwrap();
    assert!(
        catalog.contains("[step]\nname = \"vpc-check\""),
        "{catalog}"
    );
    let out = labrun(&dir, &["describe", "vpc-check.rhai", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let described: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(described["name"], "vpc-check");
    let params: Vec<&str> = described["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["cidr", "user", "vpc"], "{described}");
    assert_eq!(
        described["checks"][1]["title"]["ja"],
        "VPC の CIDR ブロック"
    );

    let out = labrun(
        &dir,
        &[
            "test",
            "vpc-check.rhai",
            "vpc-check.cases/finished.toml",
            "vpc-check.cases/no-vpc.toml",
        ],
    );
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("ok    vpc-check.cases/finished.toml (finished): 2 id(s) as expected"),
        "{said}"
    );
    assert!(
        said.contains("ok    vpc-check.cases/no-vpc.toml (no VPC yet): 2 id(s) as expected"),
        "{said}"
    );
    assert!(said.ends_with("2 case(s): all matched\n"), "{said}");

    // Never overwrites: the second time is bad input naming the file.
    let out = labrun(&dir, &["new", "step", "vpc-check"]);
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        text(&out.stderr),
        "labrun: ./vpc-check.rhai exists already: labrun new never overwrites; choose another name or --dir\n"
    );

    // In Japanese (the locale's language), what it wrote and what to run next too.
    let ja = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_labrun"))
            .current_dir(&dir)
            .env_clear()
            .env("HOME", &dir)
            .env("LANG", "ja_JP.UTF-8")
            .args(args)
            .output()
            .expect("labrun runs")
    };
    let out = ja(&["new", "step", "other"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("./other.rhai を書き出しました\n"), "{said}");
    assert!(said.contains("次に: labrun test ./other.rhai"), "{said}");
    let out = ja(&["new", "step", "other"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("上書きしません"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_case_that_expects_otherwise_fails_naming_each_id() {
    let dir = scratch("mismatch");
    assert_eq!(labrun(&dir, &["new", "step", "s"]).status.code(), Some(0));
    // The step's VPC is there, but this case claims it is not.
    std::fs::write(
        dir.join("s.cases/wrong.toml"),
        "cassette = \"finished.cassette.json\"\n[expect]\nA1 = \"fail\"\nZ1 = \"pass\"\n",
    )
    .unwrap();
    let out = labrun(
        &dir,
        &[
            "test",
            "s.rhai",
            "s.cases/finished.toml",
            "s.cases/wrong.toml",
        ],
    );
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let line = said
        .lines()
        .find(|l| l.contains("wrong.toml"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        line.starts_with(
            "FAIL  s.cases/wrong.toml: A1: expected fail, got pass (VPC vpc-user05 exists"
        ),
        "{line}"
    );
    assert!(
        line.contains("A2: got pass, which the case does not expect: add A2 = \"pass\""),
        "{line}"
    );
    assert!(
        line.contains("Z1: expected pass, but the step did not report it"),
        "{line}"
    );
    assert!(said.ends_with("2 case(s): 1 did not match\n"), "{said}");
}

#[test]
fn bad_case_files_are_refused_before_any_case_runs() {
    let dir = scratch("bad");
    assert_eq!(labrun(&dir, &["new", "step", "s"]).status.code(), Some(0));
    std::fs::write(
        dir.join("bad.toml"),
        "cassette = \"s.cases/finished.cassette.json\"\n[expect]\nA1 = \"ok\"\n",
    )
    .unwrap();
    let out = labrun(
        &dir,
        &["test", "s.rhai", "s.cases/finished.toml", "bad.toml"],
    );
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(text(&out.stdout), "", "nothing ran");
    assert_eq!(
        text(&out.stderr),
        "labrun: bad.toml: [expect] A1 = \"ok\" is not a status: pass, fail, pending, error or skip\n"
    );
    let out = labrun(&dir, &["test", "s.rhai"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr)
            .starts_with("labrun: the following required arguments were not provided: <CASE>"),
        "{}",
        text(&out.stderr)
    );
    let out = labrun(&dir, &["new", "step", "Bad Name"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("`Bad Name` is not a step name"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_lab_library_is_in_every_script() {
    // The library is merged into every script: guard, pass/fail/skip, CIDR and security
    // group queries, named(), and a step's own `join` replaces the library's.
    let dir = scratch("lab");
    std::fs::write(dir.join("empty.cassette.json"), EMPTY_CASSETTE).unwrap();
    let out = labrun(
        &dir,
        &[
            fixture("lab_library.rhai").to_str().unwrap(),
            "--replay",
            "empty.cassette.json",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert_eq!(
        statuses(&report),
        pairs(&[
            ("A1", "pass"),
            ("A2", "pass"),
            ("A3", "error"),
            ("A4", "skip")
        ])
    );
    let a3 = report["trainees"][0]["results"][2]["message"]["en"]
        .as_str()
        .unwrap();
    assert!(
        a3.starts_with("could not check: aws.ec2_describe_vpcs: "),
        "{a3}"
    );
}

#[test]
fn declared_prerequisites_turn_dependants_to_skip() {
    let dir = scratch("needs");
    std::fs::write(dir.join("empty.cassette.json"), EMPTY_CASSETTE).unwrap();
    let run = |a1: &str| {
        let out = labrun(
            &dir,
            &[
                fixture("needs.rhai").to_str().unwrap(),
                "--param",
                &format!("a1={a1}"),
                "--replay",
                "empty.cassette.json",
                "--format",
                "json",
            ],
        );
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)))
    };
    let passed = run("pass");
    assert_eq!(
        statuses(&passed),
        pairs(&[
            ("A1", "pass"),
            ("B1", "pass"),
            ("C1", "pass"),
            ("D1", "pass")
        ])
    );
    let failed = run("fail");
    // B1 said pass, but A1 did not: the host says skip. C1 was skipped unrun by guard.
    assert_eq!(
        statuses(&failed),
        pairs(&[
            ("A1", "fail"),
            ("B1", "skip"),
            ("C1", "skip"),
            ("D1", "pass")
        ])
    );
    let rows = &failed["trainees"][0]["results"];
    assert_eq!(rows[1]["message"]["en"], "skipped: A1 did not pass");
    assert_eq!(rows[1]["message"]["ja"], "省略: A1 が合格していないため");
    assert_eq!(rows[2]["message"]["en"], "skipped: B1 did not pass");
}

#[test]
fn prerequisite_cycles_and_unknown_ids_are_bad_input() {
    let dir = scratch("needs-bad");
    let out = labrun(&dir, &[fixture("needs_cycle.rhai").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.ends_with("needs_cycle.rhai: describe(): `needs` has a cycle: A1 → A3 → A2 → A1; a check cannot wait for itself\n"),
        "{err}"
    );
    let out = labrun(&dir, &[fixture("needs_unknown.rhai").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.ends_with("needs_unknown.rhai: describe(): `needs`: `A2` needs `Z9`, which `checks` does not list\n"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn a_script_declares_itself_in_its_catalogs_step_section_once() {
    // The shipped steps' way: the catalog's [step] declares name, params, checks and
    // needs (the component reads the same file); the script has no describe().
    let dir = scratch("catalog-step");
    std::fs::write(dir.join("empty.cassette.json"), EMPTY_CASSETTE).unwrap();
    std::fs::write(
        dir.join("s.rhai"),
        "fn run(p) { report::pass(\"A1\", `${p.vpc}`, \"\"); report::fail(\"A2\", \"no\", \"\"); report::pass(\"A3\", \"yes\", \"\"); }\n",
    )
    .unwrap();
    let catalog = r#"
[step]
name = "s"
title = { en = "S", ja = "エス" }
checks = ["A1", "A2", "A3"]
needs = { A3 = ["A2"] }

[step.params]
user = { about = "trainee id", required = true }
vpc = { about = "the VPC", default = "vpc-{user}" }

[A1]
title = { en = "one", ja = "一" }
[A2]
title = { en = "two", ja = "二" }
[A3]
title = { en = "three", ja = "三" }
"#;
    std::fs::write(dir.join("s.messages.toml"), catalog).unwrap();
    let out = labrun(&dir, &["describe", "s.rhai", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let described: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(described["name"], "s", "{described}");
    assert_eq!(described["title"]["ja"], "エス");
    let ids: Vec<&str> = described["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["A1", "A2", "A3"]);
    assert_eq!(described["checks"][1]["title"]["en"], "two");
    assert_eq!(
        described["params"],
        serde_json::json!([
            { "name": "user", "about": "trainee id", "required": true },
            { "name": "vpc", "about": "the VPC", "default": "vpc-{user}", "required": false },
        ])
    );
    let out = labrun(
        &dir,
        &[
            "s.rhai",
            "--trainee",
            "user05",
            "--replay",
            "empty.cassette.json",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let rows = &report["trainees"][0]["results"];
    assert_eq!(rows[0]["message"]["en"], "vpc-user05", "{report}");
    assert_eq!(rows[2]["status"], "skip", "A3 needs A2: {report}");

    // A fact declared twice (here `checks`, in describe() too) is refused in one line.
    std::fs::write(
        dir.join("s.rhai"),
        "fn describe() { #{ checks: [\"A1\", \"A2\", \"A3\"] } }\nfn run(p) {}\n",
    )
    .unwrap();
    let out = labrun(&dir, &["describe", "s.rhai"]);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("`checks` is declared both in describe() and in the catalog's [step]"),
        "{err}"
    );
    // A [step] of the wrong shape names the catalog and the key.
    std::fs::write(dir.join("s.rhai"), "fn run(p) {}\n").unwrap();
    std::fs::write(
        dir.join("s.messages.toml"),
        catalog.replace("checks = [\"A1\", \"A2\", \"A3\"]", "checks = \"A1\""),
    )
    .unwrap();
    let out = labrun(&dir, &["describe", "s.rhai"]);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.contains("s.messages.toml") && err.contains("`step.checks` must be an array of ids"),
        "{err}"
    );
    // Neither a [step] nor a describe(): the error says where a step declares itself.
    std::fs::remove_file(dir.join("s.messages.toml")).unwrap();
    let out = labrun(&dir, &["describe", "s.rhai"]);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.contains("in [step] of") && err.contains("s.messages.toml"),
        "{err}"
    );
}

#[test]
fn a_message_the_step_can_reach_but_its_catalog_lacks_is_refused_at_load() {
    // A fail path's template missing from the catalog is bad input before anything
    // runs (describe, a run, a rehearsal), naming where the step asks for it: not an
    // `error` row in place of the hint, met only in class.
    let dir = scratch("catalog-reach");
    std::fs::write(dir.join("empty.cassette.json"), EMPTY_CASSETTE).unwrap();
    std::fs::write(
        dir.join("s.rhai"),
        "fn describe() { #{ name: \"s\", params: #{ user: \"trainee\" }, checks: [\"A1\"] } }\n\
         fn run(p) { guard(\"A1\", Fn(\"a1\"), p, #{}); }\n\
         fn a1(w, st) {\n\
         \x20   if w.user == \"nobody\" { return fail(\"A1\", msg(\"A1\", \"not_member\", w), ()); }\n\
         \x20   pass(\"A1\", msg(\"A1\", \"member\", w), ())\n\
         }\n",
    )
    .unwrap();
    let catalog = "[A1]\ntitle = { en = \"membership\", ja = \"メンバー\" }\nmember = { en = \"{user} is a member\", ja = \"{user} はメンバーです\" }\n";
    std::fs::write(dir.join("s.messages.toml"), catalog).unwrap();
    for args in [
        vec!["describe", "s.rhai"],
        vec![
            "s.rhai",
            "--trainee",
            "user05",
            "--replay",
            "empty.cassette.json",
        ],
    ] {
        let out = labrun(&dir, &args);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("s.rhai:4:")
                && err.contains("msg(\"A1\", \"not_member\")")
                && err.contains("s.messages.toml has no template A1.not_member"),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "nothing ran: {}", text(&out.stdout));
    }
    // With the template the step loads and its pass path reports from the catalog.
    std::fs::write(
        dir.join("s.messages.toml"),
        format!("{catalog}not_member = {{ en = \"{{user}} is not a member\", ja = \"{{user}} はメンバーではありません\" }}\n"),
    )
    .unwrap();
    let out = labrun(
        &dir,
        &[
            "s.rhai",
            "--trainee",
            "user05",
            "--replay",
            "empty.cassette.json",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert_eq!(
        report["trainees"][0]["results"][0]["message"]["en"],
        "user05 is a member"
    );
    // A key the script computes cannot be checked: refused, saying so.
    std::fs::write(
        dir.join("s.rhai"),
        "fn describe() { #{ name: \"s\", checks: [\"A1\"] } }\nfn run(p) { let k = \"member\"; report::pass(\"A1\", msg(\"A1\", k, p).en, \"\"); }\n",
    )
    .unwrap();
    let out = labrun(&dir, &["describe", "s.rhai"]);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.contains("s.rhai:2:") && err.contains("msg() takes its id and key as quoted text"),
        "{err}"
    );
}

/// Where the component crates build: the plugins' own persistent target dir (as
/// tests/run computes it), so the dependencies the plugins built are reused and the
/// build is incremental.
fn plugins_target() -> PathBuf {
    if let Some(dir) = std::env::var_os("LABRUN_PLUGINS_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let mut dir = dir;
        dir.push("-plugins");
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/target")
}

/// `cargo ARGS` in a generated crate, with none of this test's cargo environment: the
/// crate's rust-toolchain.toml and .cargo/config.toml decide, as for an author.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(dir)
        .env_clear()
        .env("CARGO_TARGET_DIR", plugins_target());
    for var in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "CARGO_TERM_COLOR",
    ] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    let out = cmd.args(args).output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {} in {} failed:\n{}",
        args.join(" "),
        dir.display(),
        text(&out.stderr)
    );
    out
}

/// Generates a component crate, builds it for wasm32-wasip2, and runs its cases.
fn new_component(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["new", "step", name, "--component"];
    args.extend_from_slice(extra);
    let out = labrun(dir, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("wrote ./{name}/Cargo.toml\n")),
        "{said}"
    );
    assert!(
        said.contains(&format!("wrote ./{name}/src/lib.rs\n")),
        "{said}"
    );
    assert!(
        said.contains(&format!("wrote ./{name}/cases/finished.toml\n")),
        "{said}"
    );
    let krate = dir.join(name);
    cargo(&krate, &["build", "--release"]);
    let wasm = plugins_target()
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(wasm.is_file(), "{} was not built", wasm.display());
    wasm
}

#[test]
fn a_new_component_builds_and_passes_its_own_cases() {
    let dir = scratch("component");
    let wasm = new_component(&dir, "vpc-check", &[]);
    let krate = dir.join("vpc-check");
    for vendored in [
        "vendor/labrun/plugins/sdk/Cargo.toml",
        "vendor/labrun/plugins/sdk/src/lib.rs",
        "vendor/labrun/plugins/catalog/Cargo.toml",
        "vendor/labrun/plugins/catalog/src/template.rs",
        "vendor/labrun/wit/labrun-host.wit",
    ] {
        assert!(krate.join(vendored).is_file(), "{vendored}");
    }
    // The generated code is what an author is told to keep: formatted, clippy-clean.
    cargo(&krate, &["fmt", "--check"]);
    cargo(&krate, &["clippy", "--release", "--", "-D", "warnings"]);

    let wasm = wasm.to_str().unwrap();
    let out = labrun(
        &krate,
        &["test", wasm, "cases/finished.toml", "cases/no-vpc.toml"],
    );
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("ok    cases/finished.toml (finished): 2 id(s) as expected"),
        "{said}"
    );
    assert!(
        said.contains("ok    cases/no-vpc.toml (no VPC yet): 2 id(s) as expected"),
        "{said}"
    );
    assert!(said.ends_with("2 case(s): all matched\n"), "{said}");

    // A wrong expectation fails, naming the id and what the component reported.
    std::fs::write(
        krate.join("cases/wrong.toml"),
        "cassette = \"no-vpc.cassette.json\"\n[expect]\nA1 = \"pass\"\nA2 = \"skip\"\n",
    )
    .unwrap();
    let out = labrun(&krate, &["test", wasm, "cases/wrong.toml"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.starts_with(
            "FAIL  cases/wrong.toml: A1: expected pass, got fail (VPC vpc-user05 not found"
        ),
        "{said}"
    );
    assert!(!said.contains("A2"), "A2 matched: {said}");

    // Never overwrites: the crate's directory exists.
    let out = labrun(&dir, &["new", "step", "vpc-check", "--component"]);
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        text(&out.stderr),
        "labrun: ./vpc-check exists already: labrun new never overwrites; choose another name or --dir\n"
    );
}

#[test]
fn a_new_component_can_build_against_a_checkouts_sdk() {
    let dir = scratch("component-sdk");
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk");
    let wasm = new_component(&dir, "sdk-step", &["--sdk", sdk.to_str().unwrap()]);
    assert!(
        !dir.join("sdk-step/vendor").exists(),
        "--sdk vendors nothing"
    );
    let manifest = std::fs::read_to_string(dir.join("sdk-step/Cargo.toml")).unwrap();
    let sdk = std::fs::canonicalize(&sdk).unwrap();
    assert!(
        manifest.contains(&format!(
            "labrun-step-sdk = {{ path = \"{}\" }}",
            sdk.display()
        )),
        "{manifest}"
    );
    let out = labrun(
        &dir.join("sdk-step"),
        &[
            "test",
            wasm.to_str().unwrap(),
            "cases/finished.toml",
            "cases/no-vpc.toml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn a_bad_sdk_or_crate_name_is_refused_before_anything_is_written() {
    let dir = scratch("component-bad");
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"other\"\n").unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["new", "step", "s", "--component", "--sdk", "missing"],
            "labrun: --sdk missing: cannot read missing/Cargo.toml (“No such file or directory (os error 2)”): give the directory of labrun's step SDK (plugins/sdk in a labrun checkout), or leave --sdk out to get the SDK this labrun carries\n",
        ),
        (
            &["new", "step", "s", "--component", "--sdk", "."],
            "labrun: --sdk .: ./Cargo.toml is not the labrun-step-sdk crate: give the directory of labrun's step SDK (plugins/sdk in a labrun checkout), or leave --sdk out\n",
        ),
        (
            &["new", "step", "fn", "--component"],
            "labrun: `fn` cannot name a Rust crate (a keyword, a standard crate or one the step depends on): choose another name, e.g. fn-step\n",
        ),
        (
            &["new", "step", "s", "--component", "--dir", "nowhere"],
            "labrun: --dir nowhere is not a directory: create it first\n",
        ),
        (
            &["new", "step", "s", "--sdk", "."],
            "labrun: --sdk . is for a component's crate: add --component, or leave --sdk out for a Rhai step\n",
        ),
    ];
    for (args, expected) in cases {
        let out = labrun(&dir, args);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert_eq!(text(&out.stderr), expected, "{args:?}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
    let mut left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["Cargo.toml"], "nothing was written");
}
