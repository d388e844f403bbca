//! Running `labrun` and reading its JSON report.
//!
//! Contract: `{"step": "...", "trainees": [{"trainee": "user05", "results": [{"id": "A1",
//! "status": "pass"|"fail"|"pending"|"error"|"skip", "message": {"en": "...", "ja": "..."},
//! "evidence": ...}]}]}`. Exit codes: 0 no fail/pending/error; 1 some fail or pending;
//! 2 some error; 64 bad input.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What one `labrun` run produced.
#[derive(Debug)]
pub struct LabrunRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl LabrunRun {
    /// The JSON report on stdout; panics (showing stderr) if stdout is not JSON.
    pub fn report(&self) -> Report {
        match serde_json::from_str(&self.stdout) {
            Ok(v) => Report(v),
            Err(e) => panic!(
                "labrun stdout is not a JSON report ({e}); exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.code, self.stdout, self.stderr
            ),
        }
    }

    /// Assert the exit code, showing the output if it differs.
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "labrun exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Run a prepared `labrun` command (no stdin), killing it after `timeout`.
pub fn run_labrun(mut cmd: Command, timeout: Duration) -> LabrunRun {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {:?}: {e}", cmd.get_program()));
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for labrun") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = out_t.join().unwrap_or_default();
            let stderr = err_t.join().unwrap_or_default();
            panic!(
                "labrun did not finish within {timeout:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    LabrunRun {
        code: status.code(),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// A parsed JSON report.
#[derive(Clone, Debug)]
pub struct Report(pub Value);

impl Report {
    pub fn step(&self) -> Option<&str> {
        self.0.get("step").and_then(Value::as_str)
    }

    /// The trainees in report order.
    pub fn trainees(&self) -> Vec<&str> {
        self.trainee_entries()
            .iter()
            .map(|t| t.get("trainee").and_then(Value::as_str).unwrap_or("?"))
            .collect()
    }

    fn trainee_entries(&self) -> &[Value] {
        self.0
            .get("trainees")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_else(|| panic!("report has no `trainees` array: {}", self.0))
    }

    /// The results of one trainee.
    pub fn results(&self, trainee: &str) -> &[Value] {
        self.trainee_entries()
            .iter()
            .find(|t| t.get("trainee").and_then(Value::as_str) == Some(trainee))
            .and_then(|t| t.get("results"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_else(|| panic!("report has no results for {trainee}: {}", self.0))
    }

    /// The result of one id for one trainee.
    pub fn result(&self, trainee: &str, id: &str) -> &Value {
        self.results(trainee)
            .iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
            .unwrap_or_else(|| panic!("no result {id} for {trainee}: {}", self.0))
    }

    pub fn status(&self, trainee: &str, id: &str) -> &str {
        self.result(trainee, id)
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("result {id} for {trainee} has no status"))
    }

    /// Assert every listed id has exactly the listed status, and that each result has
    /// a message in both languages; the whole mismatch list is reported at once.
    pub fn assert_statuses(&self, trainee: &str, expected: &[(&str, &str)]) {
        let mut bad = Vec::new();
        for (id, want) in expected {
            let r = self.result(trainee, id);
            let got = r.get("status").and_then(Value::as_str).unwrap_or("<none>");
            if got != *want {
                let msg = r
                    .pointer("/message/en")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                bad.push(format!("  {id}: expected {want}, got {got} — {msg}"));
            }
            for lang in ["en", "ja"] {
                let ok = r
                    .pointer(&format!("/message/{lang}"))
                    .and_then(Value::as_str)
                    .is_some_and(|m| !m.is_empty());
                if !ok {
                    bad.push(format!("  {id}: message.{lang} missing or empty"));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "{trainee}: wrong results\n{}\nreport: {}",
            bad.join("\n"),
            serde_json::to_string_pretty(&self.0).unwrap_or_default()
        );
    }
}
