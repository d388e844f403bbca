//! An untrusted class for the adversarial corpus: user05 submits something hostile (a
//! Rhai script or a WebAssembly component), user06 the honest check
//! `tests/adversarial/honest.rhai`; both finished Step 3 in one moto account. Each run
//! is `labrun class.toml --trust untrusted --audit … --format json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::{run_labrun, workspace_root, Broken, LabrunRun, TestAccount, World};

const TIMEOUT: Duration = Duration::from_secs(180);

/// `tests/adversarial/<name>.rhai`.
pub fn adversarial(name: &str) -> PathBuf {
    workspace_root()
        .join("tests/adversarial")
        .join(format!("{name}.rhai"))
}

pub struct Class {
    pub acct: TestAccount,
    pub hostile: World,
    pub honest: World,
    pub dir: PathBuf,
}

impl Class {
    /// user05 submits something hostile, user06 the honest check; both finished Step 3.
    pub async fn new() -> Class {
        let acct = TestAccount::new().await;
        let [hostile, honest]: [World; 2] =
            World::build_each(&acct, &[("user05", Broken::None), ("user06", Broken::None)])
                .await
                .try_into()
                .expect("two worlds");
        let dir = std::env::temp_dir().join(format!(
            "labrun-class-{}-{}",
            std::process::id(),
            acct.account_id
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Class {
            acct,
            hostile,
            honest,
            dir,
        }
    }

    /// Runs a class file: user05 submits `hostile` (.rhai or .wasm), user06 honest.rhai,
    /// under `--trust untrusted` unless `extra` gives a `--policy` file. `label` names
    /// the class file and its audit log (see [`Class::audit`]).
    pub fn run(&self, label: &str, hostile: &Path, extra: &[&str]) -> LabrunRun {
        let class = self.dir.join(format!("{label}.toml"));
        std::fs::write(
            &class,
            format!(
                "[[submission]]\ntrainee = \"user05\"\nstep = \"{}\"\n\n\
                 [[submission]]\ntrainee = \"user06\"\nstep = \"{}\"\n",
                hostile.display(),
                adversarial("honest").display()
            ),
        )
        .unwrap();
        let mut cmd = self.acct.labrun();
        cmd.arg(&class);
        // A policy file replaces the preset (the two flags conflict).
        if !extra.contains(&"--policy") {
            cmd.args(["--trust", "untrusted"]);
        }
        cmd.args(["--format", "json"])
            .arg("--audit")
            .arg(self.audit_path(label))
            .args(extra);
        run_labrun(cmd, TIMEOUT)
    }

    /// Runs `tests/adversarial/<name>.rhai` as user05's submission.
    pub fn run_corpus(&self, name: &str, extra: &[&str]) -> LabrunRun {
        self.run(name, &adversarial(name), extra)
    }

    fn audit_path(&self, label: &str) -> PathBuf {
        self.dir.join(format!("{label}.audit.jsonl"))
    }

    /// The audit log of the run labelled `label`, one JSON value per line.
    pub fn audit(&self, label: &str) -> Vec<Value> {
        std::fs::read_to_string(self.audit_path(label))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Runs one hostile submission; checks the host survived (no panic, a JSON report
    /// came out) and the honest trainee is unaffected. Returns user05's H1 row and the
    /// report.
    pub fn hostile_h1(&self, label: &str, hostile: &Path, extra: &[&str]) -> (Value, Value) {
        let report = self.survived(&self.run(label, hostile, extra));
        (row(&report, "user05", "H1").clone(), report)
    }

    /// [`Class::hostile_h1`] for `tests/adversarial/<name>.rhai`.
    pub fn corpus_h1(&self, name: &str, extra: &[&str]) -> (Value, Value) {
        self.hostile_h1(name, &adversarial(name), extra)
    }

    /// The host survived the run: no panic, a JSON report for both trainees, and the
    /// honest one unaffected. Returns the report.
    pub fn survived(&self, run: &LabrunRun) -> Value {
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(
            matches!(run.code, Some(0..=2)),
            "exit {:?}: {}",
            run.code,
            run.stderr
        );
        let report = run.report().0;
        assert_honest_unaffected(&report);
        report
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A trainee's result rows.
pub fn results<'a>(report: &'a Value, trainee: &str) -> &'a [Value] {
    trainee_report(report, trainee)["results"]
        .as_array()
        .unwrap()
}

/// A trainee's whole entry in the report (results and log).
pub fn trainee_report<'a>(report: &'a Value, trainee: &str) -> &'a Value {
    report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trainee"] == trainee)
        .unwrap_or_else(|| panic!("no trainee {trainee} in {report}"))
}

/// One result row by id.
pub fn row<'a>(report: &'a Value, trainee: &str, id: &str) -> &'a Value {
    results(report, trainee)
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no {id} for {trainee} in {report}"))
}

/// The honest neighbour is untouched: it passes and sees only its own resources.
pub fn assert_honest_unaffected(report: &Value) {
    let h1 = row(report, "user06", "H1");
    assert_eq!(h1["status"], "pass", "{h1}");
    assert_eq!(
        h1["evidence"]["clusters"],
        serde_json::json!(["wp-user06-cluster"])
    );
    let h2 = row(report, "user06", "H2");
    assert_eq!(
        h2["evidence"]["load_balancers"],
        serde_json::json!(["elb-user06"])
    );
}

/// A row's English message.
pub fn message(row: &Value) -> &str {
    row["message"]["en"].as_str().unwrap()
}
