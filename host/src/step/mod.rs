//! Step front-ends: Rhai scripts ([`rhai`]) and WebAssembly components ([`wasm`]).
//! A step describes itself (name, params, checklist ids) and then runs for one
//! trainee, calling capabilities through its [`crate::gate::Gate`] and reporting
//! outcomes into a [`Collector`] under the run's [`Limits`].

pub mod rhai;
pub mod wasm;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::caps::Hub;
use crate::error::LoadError;
use crate::outcome::{Message, Outcome, Status};
pub use crate::policy::Limits;

/// What a step says about itself before it runs.
#[derive(Debug, Clone, Serialize)]
pub struct StepInfo {
    pub name: String,
    pub title: Message,
    /// Param name → what it means, e.g. `user` → "trainee id, e.g. user05".
    pub params: BTreeMap<String, String>,
    /// Checklist ids in report order; an id that is not reported becomes `error`.
    pub checks: Vec<String>,
}

/// A loaded step, whatever its front-end; the rest of the program sees only this.
pub enum Step {
    Rhai(Arc<rhai::RhaiStep>),
    Wasm(Arc<wasm::WasmStep>),
}

impl Step {
    /// Loads a step by its extension: `.rhai` scripts, `.wasm` components (checked
    /// against `grants` before anything runs). Errors are one line.
    pub async fn load(
        path: &std::path::Path,
        limits: &Limits,
        grants: &wasm::Grants,
    ) -> Result<Step, LoadError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("rhai") => rhai::RhaiStep::load(path, limits).map(|s| Step::Rhai(Arc::new(s))),
            Some("wasm") => wasm::WasmStep::load(path, limits, grants)
                .await
                .map(|s| Step::Wasm(Arc::new(s))),
            _ => Err(format!(
                "{}: unknown step type; a step is a Rhai script (.rhai) or a WebAssembly component (.wasm)",
                path.display()
            )),
        }
        .map_err(LoadError::Step)
    }

    pub fn info(&self) -> &StepInfo {
        match self {
            Step::Rhai(s) => s.info(),
            Step::Wasm(s) => s.info(),
        }
    }

    pub fn path(&self) -> &str {
        match self {
            Step::Rhai(s) => s.path(),
            Step::Wasm(s) => s.path(),
        }
    }

    pub async fn run(self: Arc<Self>, ctx: RunContext) -> crate::outcome::TraineeReport {
        match &*self {
            Step::Rhai(s) => s.clone().run(ctx).await,
            Step::Wasm(s) => s.clone().run(ctx).await,
        }
    }
}

/// `labrun inspect STEP`: what a step is and needs, without running it. Returns the
/// text to print and, when the step could not be loaded, why (one line).
pub async fn inspect(path: &std::path::Path) -> (String, Option<String>) {
    use std::fmt::Write;
    let mut out = String::new();
    let shown = path.display().to_string();
    let limits = Limits::default();
    let loaded = match path.extension().and_then(|e| e.to_str()) {
        Some("wasm") => {
            let manifest = match wasm::compile(path) {
                Ok((_, manifest, _)) => manifest,
                Err(e) => return (out, Some(e)),
            };
            let _ = writeln!(out, "{shown}: WebAssembly component");
            let _ = writeln!(out, "  size: {} bytes", manifest.size);
            let _ = writeln!(out, "  sha256: {}", manifest.sha256);
            for v in manifest.host_versions() {
                let _ = writeln!(out, "  built for: {}@{v}", wasm::policy::HOST_PACKAGE);
            }
            let caps = manifest.capabilities();
            let _ = writeln!(
                out,
                "  capabilities: {}",
                if caps.is_empty() {
                    "none".to_string()
                } else {
                    caps.join(", ")
                }
            );
            let _ = writeln!(out, "  imports:");
            for i in &manifest.imports {
                let _ = writeln!(out, "    {i}");
            }
            wasm::WasmStep::load(path, &limits, &wasm::Grants::all())
                .await
                .map(|s| s.info().clone())
        }
        _ => {
            let loaded = rhai::RhaiStep::load(path, &limits).map(|s| s.info().clone());
            if loaded.is_ok() {
                let _ = writeln!(out, "{shown}: Rhai script");
            }
            loaded
        }
    };
    match loaded {
        Ok(info) => {
            let _ = writeln!(out, "  name: {}", info.name);
            let _ = writeln!(out, "  title: {} / {}", info.title.en, info.title.ja);
            for (k, v) in &info.params {
                let _ = writeln!(out, "  param: {k} ({v})");
            }
            let _ = writeln!(out, "  checks: {}", info.checks.join(" "));
            (out, None)
        }
        Err(e) => (out, Some(e)),
    }
}

/// Everything one trainee's run may use.
#[derive(Clone)]
pub struct RunContext {
    pub hub: Arc<Hub>,
    /// The policy door every capability call of this trainee's run goes through.
    pub gate: Arc<crate::gate::Gate>,
    pub trainee: String,
    pub params: BTreeMap<String, String>,
    pub limits: Limits,
}

/// Collects what a step reports, enforcing the limits on outcomes and log output.
#[derive(Default)]
pub struct Collector {
    inner: Mutex<Collected>,
}

#[derive(Default)]
struct Collected {
    outcomes: Vec<Outcome>,
    log: Vec<String>,
    log_dropped: usize,
}

impl Collector {
    pub fn report(&self, outcome: Outcome, limits: &Limits) -> Result<(), String> {
        let mut inner = self.inner.lock().expect("collector lock poisoned");
        if inner.outcomes.iter().any(|o| o.id == outcome.id) {
            return Err(format!("outcome `{}` was reported twice", outcome.id));
        }
        if inner.outcomes.len() >= limits.max_outcomes {
            return Err(format!(
                "too many outcomes: the limit is {}",
                limits.max_outcomes
            ));
        }
        let outcome = Outcome {
            message: Message {
                en: truncate(&outcome.message.en, limits.max_message_bytes),
                ja: truncate(&outcome.message.ja, limits.max_message_bytes),
            },
            ..outcome
        };
        inner.outcomes.push(outcome);
        Ok(())
    }

    pub fn log(&self, line: &str, limits: &Limits) {
        let mut inner = self.inner.lock().expect("collector lock poisoned");
        if inner.log.len() < limits.max_log_lines {
            inner.log.push(truncate(line, limits.max_message_bytes));
        } else {
            inner.log_dropped += 1;
        }
    }

    /// The final rows in checklist order. Planned ids the step never reported become
    /// `error`, carrying why the step stopped (if it did).
    pub fn finish(&self, plan: &[String], stopped: Option<&str>) -> (Vec<Outcome>, Vec<String>) {
        let stopped = stopped.map(bounded_cause);
        let stopped = stopped.as_deref();
        let mut inner = std::mem::take(&mut *self.inner.lock().expect("collector lock poisoned"));
        let mut rows = Vec::with_capacity(plan.len().max(inner.outcomes.len()));
        for id in plan {
            match inner.outcomes.iter().position(|o| &o.id == id) {
                Some(i) => rows.push(inner.outcomes.remove(i)),
                None => rows.push(not_reported(id, stopped)),
            }
        }
        rows.append(&mut inner.outcomes);
        if inner.log_dropped > 0 {
            let dropped = inner.log_dropped;
            inner.log.push(format!(
                "… {dropped} more log lines dropped (limit reached)"
            ));
        }
        (rows, inner.log)
    }
}

fn not_reported(id: &str, stopped: Option<&str>) -> Outcome {
    let message = match stopped {
        Some(cause) => Message::new(
            format!("not checked: the step stopped before this check: {cause}"),
            format!("未確認: このチェックの前にステップが停止しました: {cause}"),
        ),
        None => Message::new(
            "not checked: the step ended without reporting this check",
            "未確認: ステップがこのチェックを報告せずに終了しました",
        ),
    };
    Outcome {
        id: id.to_string(),
        status: Status::Error,
        message,
        evidence: None,
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Checks the given params against what the step declares; the error names the
/// offending param and lists what the step takes.
pub fn check_params(
    step_path: &str,
    info: &StepInfo,
    given: &BTreeMap<String, String>,
) -> Result<(), LoadError> {
    let takes = || {
        info.params
            .iter()
            .map(|(k, v)| format!("{k} ({v})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in given.keys() {
        if !info.params.contains_key(name) {
            return Err(LoadError::Params(format!(
                "unknown param `{name}`: {step_path} takes {}",
                if info.params.is_empty() {
                    "no params".to_string()
                } else {
                    takes()
                }
            )));
        }
    }
    for name in info.params.keys() {
        if !given.contains_key(name) {
            return Err(LoadError::Params(format!(
                "missing param `{name}`: give it with --param {name}=VALUE ({step_path} takes {})",
                takes()
            )));
        }
    }
    Ok(())
}

/// Largest capability request a step may hand the host (JSON bytes): refused before
/// it is parsed, coalesced, audited or recorded. Real requests are a few hundred bytes.
pub const MAX_REQUEST_BYTES: usize = 64 << 10;
/// Largest evidence value kept with an outcome (JSON bytes); larger ones are replaced
/// by a note saying how large they were.
pub const MAX_EVIDENCE_BYTES: usize = 16 << 10;
/// Longest stop cause kept (characters): it is repeated in every unreported row.
pub const MAX_CAUSE_CHARS: usize = 500;

/// The error for a request over [`MAX_REQUEST_BYTES`].
pub fn request_too_big(capability: &str, operation: &str, size: usize) -> crate::caps::CapError {
    crate::caps::CapError::new(
        capability,
        operation,
        crate::caps::ErrorKind::InvalidRequest,
        format!(
            "the request is {size} bytes; the limit is {} KiB",
            MAX_REQUEST_BYTES >> 10
        ),
    )
    .with_code("limit")
}

/// Evidence within [`MAX_EVIDENCE_BYTES`], else a note in its place.
pub fn bounded_evidence(value: Value, size: usize) -> Value {
    if size <= MAX_EVIDENCE_BYTES {
        value
    } else {
        Value::String(format!(
            "[evidence of {size} bytes dropped: the limit is {} KiB]",
            MAX_EVIDENCE_BYTES >> 10
        ))
    }
}

/// A stop cause cut to [`MAX_CAUSE_CHARS`] characters.
pub fn bounded_cause(cause: &str) -> String {
    match cause.char_indices().nth(MAX_CAUSE_CHARS) {
        Some((cut, _)) => format!("{}…", &cause[..cut]),
        None => cause.to_string(),
    }
}

/// Evidence values are JSON; keep them small enough to print.
pub fn evidence_from(value: Value) -> Option<Value> {
    if value.is_null() {
        None
    } else {
        Some(value)
    }
}
