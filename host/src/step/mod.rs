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
use crate::outcome::{check_id, inert, Message, Outcome, Status};
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

/// The longest step name, in characters (it heads every trainee's block).
pub const MAX_NAME_CHARS: usize = 64;

/// The step contract, checked when a step is loaded (both front-ends): a name of 1 to
/// [`MAX_NAME_CHARS`] printable characters, and a `checks` list that is not empty,
/// holds valid outcome ids (see [`check_id`]) and names each id once. The error is one
/// line saying what to change in `describe()`.
pub fn check_info(info: &StepInfo) -> Result<(), String> {
    let name_chars = info.name.chars().count();
    if name_chars == 0 {
        return Err("`name` is empty: a step names itself, e.g. name: \"step3\"".to_string());
    }
    if name_chars > MAX_NAME_CHARS {
        return Err(format!(
            "`name` is {name_chars} characters long: a step name is at most {MAX_NAME_CHARS}"
        ));
    }
    if let Some(bad) = info
        .name
        .chars()
        .find(|c| crate::outcome::inert::needs_escape(*c))
    {
        return Err(format!(
            "`name` `{}` holds {}: a step name is printable text on one line",
            inert(&info.name),
            crate::outcome::inert::describe_char(bad)
        ));
    }
    if info.checks.is_empty() {
        return Err(
            "`checks` is empty: a step declares the checklist ids it reports, e.g. checks: [\"A1\", \"A2\"]"
                .to_string(),
        );
    }
    let mut seen = std::collections::HashSet::with_capacity(info.checks.len());
    for id in &info.checks {
        check_id(id).map_err(|e| format!("`checks`: {e}"))?;
        if !seen.insert(id.as_str()) {
            return Err(format!(
                "`checks` lists `{id}` twice: declare each checklist id once"
            ));
        }
    }
    Ok(())
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
        let step = match path.extension().and_then(|e| e.to_str()) {
            Some("rhai") => rhai::RhaiStep::load(path, limits).map(|s| Step::Rhai(Arc::new(s))),
            Some("wasm") => wasm::WasmStep::load(path, limits, grants)
                .await
                .map(|s| Step::Wasm(Arc::new(s))),
            _ => Err(format!(
                "{}: unknown step type; a step is a Rhai script (.rhai) or a WebAssembly component (.wasm)",
                path.display()
            )),
        }
        .map_err(LoadError::Step)?;
        // A checklist longer than the outcomes a run may report can never be met.
        let declared = step.info().checks.len();
        if declared > limits.max_outcomes {
            return Err(LoadError::Step(format!(
                "{}: describe() declares {declared} checks; the limit is {} (max_outcomes)",
                path.display(),
                limits.max_outcomes
            )));
        }
        Ok(step)
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
            let _ = writeln!(out, "  name: {}", inert(&info.name));
            let _ = writeln!(
                out,
                "  title: {} / {}",
                inert(&info.title.en),
                inert(&info.title.ja)
            );
            for (k, v) in &info.params {
                let _ = writeln!(out, "  param: {} ({})", inert(k), inert(v));
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
    /// The ids in `outcomes`, so a repeat is found without scanning them all.
    ids: std::collections::HashSet<String>,
    log: Vec<String>,
    log_dropped: usize,
}

impl Collector {
    /// Takes one outcome from a step (Rhai or WASM): the id must be valid (see
    /// [`check_id`]) and new, the count within `max_outcomes`; the messages are cut to
    /// `max_message_bytes` on a character boundary.
    pub fn report(&self, outcome: Outcome, limits: &Limits) -> Result<(), String> {
        check_id(&outcome.id)?;
        let mut inner = self.inner.lock().expect("collector lock poisoned");
        if inner.ids.contains(&outcome.id) {
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
        inner.ids.insert(outcome.id.clone());
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
    /// `error`, carrying why the step stopped (if it did, as one bounded line); ids the
    /// step reported without declaring them follow as `error` rows saying so.
    pub fn finish(&self, plan: &[String], stopped: Option<&str>) -> (Vec<Outcome>, Vec<String>) {
        let stopped = stopped.map(bounded_cause);
        let stopped = stopped.as_deref();
        let mut inner = std::mem::take(&mut *self.inner.lock().expect("collector lock poisoned"));
        let stopped = stopped.map(one_line_cause);
        let mut reported: Vec<Option<Outcome>> = std::mem::take(&mut inner.outcomes)
            .into_iter()
            .map(Some)
            .collect();
        let by_id: std::collections::HashMap<String, usize> = reported
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.as_ref().map(|o| (o.id.clone(), i)))
            .collect();
        let mut rows = Vec::with_capacity(plan.len() + reported.len());
        for id in plan {
            match by_id.get(id).and_then(|&i| reported[i].take()) {
                Some(outcome) => rows.push(outcome),
                None => rows.push(not_reported(id, stopped.as_deref())),
            }
        }
        // What is left was reported but never declared: in the step's order.
        rows.extend(reported.into_iter().flatten().map(not_declared));
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
        step: None,
    }
}

/// An outcome whose id the step did not list in `checks`: it counts as `error`, never
/// as what the step said, so a step cannot add passes its checklist lacks.
fn not_declared(outcome: Outcome) -> Outcome {
    let id = &outcome.id;
    let said = outcome.status.as_str();
    Outcome {
        message: Message::new(
            format!(
                "not a declared check: the step reported `{id}` ({said}) but describe() does not list it in `checks`; declare it there"
            ),
            format!(
                "宣言されていないチェック: ステップは `{id}` ({said}) を報告しましたが、describe() の checks にありません。checks に宣言してください"
            ),
        ),
        status: Status::Error,
        ..outcome
    }
}

/// The most a stop cause carries into each unreported row, in bytes.
pub const MAX_CAUSE_BYTES: usize = 1_024;

/// Why a step stopped, as one line of at most [`MAX_CAUSE_BYTES`]: line breaks and
/// the indentation after them become one space (a Rhai or guest backtrace reads on
/// one line), the rest is cut on a character boundary.
pub fn one_line_cause(cause: &str) -> String {
    let mut line = String::with_capacity(cause.len().min(MAX_CAUSE_BYTES + 4));
    for (i, part) in cause.lines().enumerate() {
        let part = if i == 0 { part.trim_end() } else { part.trim() };
        if part.is_empty() {
            continue;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(part);
        if line.len() > MAX_CAUSE_BYTES {
            break;
        }
    }
    // A lone CR (not part of a line break) would still move the cursor.
    let line = line.replace('\r', " ");
    truncate(&line, MAX_CAUSE_BYTES)
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
            .map(|(k, v)| format!("{} ({})", inert(k), inert(v)))
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
                takes(),
                name = inert(name)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, checks: &[&str]) -> StepInfo {
        StepInfo {
            name: name.to_string(),
            title: Message::new("", ""),
            params: BTreeMap::new(),
            checks: checks.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn outcome(id: &str, status: Status, en: &str) -> Outcome {
        Outcome {
            id: id.to_string(),
            status,
            message: Message::new(en, en),
            evidence: None,
            step: None,
        }
    }

    #[test]
    fn the_checklist_must_be_declared_once_and_not_empty() {
        assert!(check_info(&info("step3", &["A1", "A2", "web-1:http", "x.y_z#2"])).is_ok());
        let err = check_info(&info("step3", &[])).unwrap_err();
        assert!(err.starts_with("`checks` is empty"), "{err}");
        let err = check_info(&info("step3", &["A1", "A2", "A1"])).unwrap_err();
        assert_eq!(
            err,
            "`checks` lists `A1` twice: declare each checklist id once"
        );
        let err = check_info(&info("step3", &["A 1"])).unwrap_err();
        assert!(err.contains("holds a space"), "{err}");
        let long = "C".repeat(100_000);
        let err = check_info(&info("step3", &[&long])).unwrap_err();
        assert!(err.contains("100000 characters long"), "{err}");
        assert!(err.len() < 200, "the error shows the id cut short: {err}");
        let err = check_info(&info("step3", &["A1\x1b[2J\n"])).unwrap_err();
        assert!(err.contains("A1\\u{1b}[2J\\n"), "{err}");
        assert!(err.contains("U+001B"), "{err}");
        assert!(!err.contains('\x1b') && !err.contains('\n'), "{err}");
    }

    #[test]
    fn a_step_name_is_short_printable_text() {
        assert!(check_info(&info("Step 3: web tier", &["A1"])).is_ok());
        assert!(check_info(&info("", &["A1"]))
            .unwrap_err()
            .contains("`name` is empty"));
        let err = check_info(&info("step3\x1b[2J", &["A1"])).unwrap_err();
        assert!(
            err.contains("step3\\u{1b}[2J") && !err.contains('\x1b'),
            "{err}"
        );
        let err = check_info(&info(&"n".repeat(65), &["A1"])).unwrap_err();
        assert!(err.contains("at most 64"), "{err}");
    }

    #[test]
    fn reported_ids_are_short_and_printable() {
        let limits = Limits::default();
        let c = Collector::default();
        let huge = "i".repeat(64 << 10);
        for bad in [
            huge.as_str(),
            "",
            "A1\n  PASS  A2",
            "A\u{202e}1",
            "Ａ1",
            "A1 ",
        ] {
            let err = c
                .report(outcome(bad, Status::Pass, "x"), &limits)
                .unwrap_err();
            assert!(err.len() < 200 && !err.contains('\n'), "{err}");
        }
        assert!(c
            .report(outcome(&"i".repeat(32), Status::Pass, "x"), &limits)
            .is_ok());
        let err = c
            .report(outcome(&"i".repeat(32), Status::Fail, "y"), &limits)
            .unwrap_err();
        assert!(err.ends_with("was reported twice"), "{err}");
        let err = c
            .report(outcome(&"i".repeat(33), Status::Pass, "x"), &limits)
            .unwrap_err();
        assert!(err.contains("at most 32"), "{err}");
    }

    #[test]
    fn messages_and_log_lines_are_cut_on_character_boundaries() {
        let limits = Limits {
            max_message_bytes: 10,
            ..Limits::default()
        };
        let c = Collector::default();
        // Three bytes each: byte 10 falls inside the fourth character.
        c.report(outcome("A1", Status::Fail, &"あ".repeat(1000)), &limits)
            .unwrap();
        c.log(&"い".repeat(1000), &limits);
        let (rows, log) = c.finish(&["A1".to_string()], None);
        assert_eq!(rows[0].message.en, "あああ…");
        assert_eq!(log, ["いいい…"]);
        assert_eq!(truncate("あい", 0), "…");
    }

    #[test]
    fn an_undeclared_id_is_an_error_row_never_a_pass() {
        let limits = Limits::default();
        let c = Collector::default();
        c.report(outcome("X9", Status::Pass, "sneaked in"), &limits)
            .unwrap();
        c.report(outcome("A1", Status::Pass, "ok"), &limits)
            .unwrap();
        c.report(outcome("X1", Status::Fail, "also"), &limits)
            .unwrap();
        let (rows, _) = c.finish(&["A1".to_string(), "A2".to_string()], None);
        let ids: Vec<&str> = rows.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["A1", "A2", "X9", "X1"]);
        assert_eq!(rows[0].status, Status::Pass);
        assert_eq!(rows[1].status, Status::Error);
        assert!(rows[1].message.en.contains("without reporting"));
        assert_eq!(rows[2].status, Status::Error);
        assert!(
            rows[2].message.en.starts_with(
                "not a declared check: the step reported `X9` (pass) but describe() does not list it"
            ),
            "{}",
            rows[2].message.en
        );
        assert!(rows[3].message.ja.contains("`X1` (fail)"));
    }

    #[test]
    fn a_stop_cause_is_one_bounded_line() {
        let trace = "Runtime error: boom\nin call to function 'check_a1'\n    in closure call\r\nat line 3\rx";
        assert_eq!(
            one_line_cause(trace),
            "Runtime error: boom in call to function 'check_a1' in closure call at line 3 x"
        );
        let huge = format!("{}\n{}", "a".repeat(10_000), "あ".repeat(10_000));
        let cut = one_line_cause(&huge);
        assert!(cut.len() <= MAX_CAUSE_BYTES + 3 && !cut.contains('\n'));
        let c = Collector::default();
        let (rows, _) = c.finish(&["A1".to_string()], Some(&huge));
        assert!(rows[0].message.en.len() < MAX_CAUSE_BYTES + 100);
        assert!(!rows[0].message.en.contains('\n'));
    }

    #[test]
    fn param_errors_show_what_the_step_declared_inert() {
        let mut step = info("step3", &["A1"]);
        step.params
            .insert("user\x1b[2J".into(), "trainee\r\n  PASS  A1".into());
        let err = check_params("s.rhai", &step, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            err.message(),
            "missing param `user\\u{1b}[2J`: give it with --param user\\u{1b}[2J=VALUE \
             (s.rhai takes user\\u{1b}[2J (trainee\\r\\n  PASS  A1))"
        );
    }
}
