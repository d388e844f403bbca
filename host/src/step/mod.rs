//! Step front-ends: Rhai scripts ([`rhai`]) and WebAssembly components ([`wasm`]).
//! A step describes itself (name, params, checklist ids) and then runs for one
//! trainee, calling capabilities through its [`crate::gate::Gate`] and reporting
//! outcomes into a [`Collector`] under the run's [`Limits`].

pub mod messages;
pub mod requires;
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
    /// Param name → what it means and its default, e.g. `user` → "trainee id, e.g.
    /// user05" (required), `reader` → default `wp-{user}-slave`.
    pub params: BTreeMap<String, Param>,
    /// Checklist ids in report order; an id that is not reported becomes `error`.
    pub checks: Vec<String>,
    /// Declared prerequisites: id → the ids that must pass first. When one did not,
    /// the host reports the id as `skip` naming it, whatever the step said.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub needs: BTreeMap<String, Vec<String>>,
    /// What checks need from the operator to be decided at all (`--ssh-key`, a MySQL
    /// password, a grant): without it their `error` or `skip` is undecided, not the
    /// trainee's ([`requires`]). WIT 0.2.0 has no field for it: components declare none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requires: BTreeMap<String, Vec<requires::Need>>,
    /// Titles of (some of) the checklist ids, for `labrun describe`.
    pub titles: BTreeMap<String, Message>,
}

/// One param a step declares: given with `--param NAME=VALUE` (the trainee id fills
/// `user`), else its default; a required param has no default and must be given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    /// What the param means, for `labrun describe` and the errors that name it.
    pub about: String,
    /// A template: `{name}` is replaced by param `name`'s final value (given or
    /// defaulted), `{{` and `}}` are literal braces. `None` for a required param.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub required: bool,
}

impl Param {
    /// A param that must be given: today's `user: "description"` form.
    pub fn required(about: impl Into<String>) -> Param {
        Param {
            about: about.into(),
            default: None,
            required: true,
        }
    }

    /// A param with a default (a template, see [`Param::default`]).
    pub fn with_default(about: impl Into<String>, default: impl Into<String>) -> Param {
        Param {
            about: about.into(),
            default: Some(default.into()),
            required: false,
        }
    }
}

/// The longest param name, in characters.
pub const MAX_PARAM_NAME_CHARS: usize = 64;

/// A piece of a default template: literal text or a reference to another param.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(String),
    Ref(&'a str),
}

/// Splits a default template into text and `{name}` references; `{{` and `}}` are
/// literal braces. The error says what is wrong with the braces.
fn template(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") || rest.starts_with("}}") {
            literal.push(c);
            rest = &rest[2..];
        } else if c == '{' {
            let Some(end) = rest.find('}') else {
                return Err("has a `{` without its `}` (write `{{` for a literal brace)".into());
            };
            let name = &rest[1..end];
            if let Err(e) = param_name(name) {
                return Err(format!("refers to `{{{}}}`: {e}", inert(name)));
            }
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Ref(name));
            rest = &rest[end + 1..];
        } else if c == '}' {
            return Err("has a `}` without its `{` (write `}}` for a literal brace)".into());
        } else {
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// The param name rule: 1 to [`MAX_PARAM_NAME_CHARS`] ASCII letters, digits, `_`
/// or `-` (it is typed on the command line and in course files).
fn param_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a param name is not empty".into());
    }
    if name.chars().count() > MAX_PARAM_NAME_CHARS {
        return Err(format!(
            "a param name is at most {MAX_PARAM_NAME_CHARS} characters"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "a param name holds ASCII letters, digits, `_` and `-` only, not {}",
            crate::outcome::inert::describe_char(bad)
        ));
    }
    Ok(())
}

/// The params a step declares, as one list for an error: `user (trainee id),
/// reader (Aurora reader; default wp-{user}-slave)`.
fn declared(params: &BTreeMap<String, Param>) -> String {
    if params.is_empty() {
        return "no params".to_string();
    }
    params
        .iter()
        .map(|(k, p)| match &p.default {
            Some(d) => format!("{} ({}; default {})", inert(k), inert(&p.about), inert(d)),
            None => format!("{} ({})", inert(k), inert(&p.about)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The declared params' rules: valid names, a required param has no default and
/// one that is not required has one, every `{name}` in a default names a declared
/// param and no defaults refer to each other in a cycle. One line saying what to
/// change in `describe()`.
pub fn check_param_decls(params: &BTreeMap<String, Param>) -> Result<(), String> {
    let mut refs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, p) in params {
        param_name(name).map_err(|e| format!("`params`: `{}`: {e}", inert(name)))?;
        match (&p.default, p.required) {
            (Some(_), true) => {
                return Err(format!(
                    "`params`: `{name}` is required and has a default: drop one of them"
                ))
            }
            (None, false) => {
                return Err(format!(
                    "`params`: `{name}` is neither required nor has a default: give it `default: \"…\"` or `required: true`"
                ))
            }
            _ => {}
        }
        let Some(default) = &p.default else { continue };
        let pieces = template(default).map_err(|e| {
            format!(
                "`params`: the default of `{name}` (`{}`) {e}",
                inert(default)
            )
        })?;
        let mut to = Vec::new();
        for piece in pieces {
            if let Piece::Ref(r) = piece {
                if !params.contains_key(r) {
                    return Err(format!(
                        "`params`: the default of `{name}` (`{}`) refers to `{{{r}}}`, which the step does not declare; it declares {}",
                        inert(default),
                        params.keys().map(|k| inert(k).into_owned()).collect::<Vec<_>>().join(", ")
                    ));
                }
                to.push(r);
            }
        }
        refs.insert(name.as_str(), to);
    }
    // A cycle: depth-first from each param, the path so far on a stack.
    fn visit<'a>(
        at: &'a str,
        refs: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::HashSet<&'a str>,
    ) -> Result<(), String> {
        if let Some(start) = path.iter().position(|p| *p == at) {
            let mut cycle: Vec<String> = path[start..].iter().map(|p| format!("`{p}`")).collect();
            cycle.push(format!("`{at}`"));
            return Err(format!(
                "`params`: the defaults of {} refer to each other in a cycle; give one of them a default that does not refer back",
                cycle.join(" → ")
            ));
        }
        if !done.insert(at) {
            return Ok(());
        }
        path.push(at);
        for next in refs.get(at).into_iter().flatten() {
            visit(next, refs, path, done)?;
        }
        path.pop();
        Ok(())
    }
    let mut done = std::collections::HashSet::new();
    for name in refs.keys() {
        visit(name, &refs, &mut Vec::new(), &mut done)?;
    }
    Ok(())
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
    check_needs(&info.needs, &seen)?;
    if let Some(id) = info.requires.keys().find(|id| !seen.contains(id.as_str())) {
        return Err(format!(
            "`requires` names `{}`, which `checks` does not list: declare it or drop it from `requires`",
            inert(id)
        ));
    }
    if let Some(id) = info.titles.keys().find(|id| !seen.contains(id.as_str())) {
        return Err(format!(
            "`titles` names `{}`, which `checks` does not list: title only declared checks",
            inert(id)
        ));
    }
    check_param_decls(&info.params)
}

/// Prerequisites name declared ids, never the id itself, and form no cycle.
fn check_needs(
    needs: &BTreeMap<String, Vec<String>>,
    declared: &std::collections::HashSet<&str>,
) -> Result<(), String> {
    for (id, before) in needs {
        if !declared.contains(id.as_str()) {
            return Err(format!(
                "`needs` names `{}`, which `checks` does not list: declare it or drop it from `needs`",
                inert(id)
            ));
        }
        for b in before {
            if !declared.contains(b.as_str()) {
                return Err(format!(
                    "`needs`: `{}` needs `{}`, which `checks` does not list",
                    inert(id),
                    inert(b)
                ));
            }
            if b == id {
                return Err(format!("`needs`: `{}` needs itself", inert(id)));
            }
        }
    }
    // A cycle: walk from each id; a path that comes back to an id on it is one.
    fn walk<'a>(
        id: &'a str,
        needs: &'a BTreeMap<String, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::HashSet<&'a str>,
    ) -> Result<(), String> {
        if let Some(at) = path.iter().position(|p| *p == id) {
            let mut cycle: Vec<&str> = path[at..].to_vec();
            cycle.push(id);
            return Err(format!(
                "`needs` has a cycle: {}; a check cannot wait for itself",
                inert(&cycle.join(" → "))
            ));
        }
        if !done.insert(id) {
            return Ok(());
        }
        path.push(id);
        for b in needs.get(id).into_iter().flatten() {
            walk(b, needs, path, done)?;
        }
        path.pop();
        Ok(())
    }
    let mut done = std::collections::HashSet::new();
    for id in needs.keys() {
        walk(id, needs, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

/// The first declared prerequisite of `id` whose row did not pass, if any.
pub fn unmet_need<'a>(
    id: &str,
    needs: &'a BTreeMap<String, Vec<String>>,
    status_of: impl Fn(&str) -> Option<Status>,
) -> Option<&'a str> {
    needs
        .get(id)?
        .iter()
        .find(|b| status_of(b).is_some_and(|s| s != Status::Pass))
        .map(String::as_str)
}

/// Enforces the declared prerequisites on a finished run's rows, for both
/// front-ends: a row whose prerequisite did not pass becomes `skip` naming it (a row
/// the step itself skipped keeps its own words). Prerequisites are settled first, so
/// a chain A1 → A4 → A5 skips all the way down.
pub fn enforce_needs(rows: &mut [Outcome], needs: &BTreeMap<String, Vec<String>>) {
    if needs.is_empty() {
        return;
    }
    // The rules are acyclic (checked at load), so this settles within rows.len() rounds.
    for _ in 0..rows.len() {
        let mut changed = false;
        for i in 0..rows.len() {
            let status_of = |id: &str| rows.iter().find(|r| r.id == id).map(|r| r.status);
            let Some(unmet) = unmet_need(&rows[i].id, needs, status_of) else {
                continue;
            };
            if rows[i].status == Status::Skip {
                continue;
            }
            let unmet = unmet.to_string();
            rows[i] = Outcome {
                id: rows[i].id.clone(),
                status: Status::Skip,
                message: Message::new(
                    format!("skipped: {unmet} did not pass"),
                    format!("省略: {unmet} が合格していないため"),
                ),
                evidence: None,
                step: rows[i].step.clone(),
                undecided: false,
            };
            changed = true;
        }
        if !changed {
            break;
        }
    }
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

    /// `capability.operation` for every call the step can make, sorted: a
    /// component's WIT imports (exactly what it can call), a script's named calls
    /// ([`rhai::operations_named`]).
    pub fn operations(&self) -> Result<Vec<String>, String> {
        let mut ops = match self {
            Step::Wasm(s) => s.manifest().operations.clone(),
            Step::Rhai(s) => {
                let source =
                    crate::files::read_to_string(s.path().as_ref(), crate::files::cap::TEXT)
                        .map_err(|e| format!("cannot read step {}: {e}", s.path()))?;
                rhai::operations_named(&source)
            }
        };
        ops.sort();
        ops.dedup();
        Ok(ops)
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
            for (k, p) in &info.params {
                let _ = match &p.default {
                    Some(d) => writeln!(
                        out,
                        "  param: {} ({}; default {})",
                        inert(k),
                        inert(&p.about),
                        inert(d)
                    ),
                    None => writeln!(out, "  param: {} ({}; required)", inert(k), inert(&p.about)),
                };
            }
            let _ = writeln!(out, "  checks: {}", info.checks.join(" "));
            (out, None)
        }
        Err(e) => (out, Some(e)),
    }
}

/// `labrun describe STEP`: what a step declares and may call, without running it.
#[derive(Debug, Clone, Serialize)]
pub struct Description {
    pub step: String,
    /// `rhai` or `wasm`.
    pub kind: &'static str,
    pub name: String,
    pub title: Message,
    pub params: Vec<DescribedParam>,
    pub checks: Vec<DescribedCheck>,
    /// For a component, the labrun:host version it was built for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_version: Option<String>,
    pub capabilities: Vec<String>,
    /// `capability.operation` for each operation the step may call.
    pub operations: Vec<String>,
    /// Where `capabilities` and `operations` come from, and how far they can be known.
    pub source_of_operations: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct DescribedParam {
    pub name: String,
    pub about: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DescribedCheck {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Message>,
}

/// Loads a step (describe() runs; nothing else) and says what it declares and may
/// call: for a component, the operations its WIT imports name (exactly what it can
/// call); for a script, the `capability::operation` calls its text names.
pub async fn describe(path: &std::path::Path) -> Result<Description, String> {
    let limits = Limits::default();
    let step = Step::load(path, &limits, &wasm::Grants::all())
        .await
        .map_err(|e| e.to_string())?;
    let info = step.info().clone();
    let operations = step.operations()?;
    let (kind, host_version, source_of_operations) = match &step {
        Step::Wasm(s) => (
            "wasm",
            s.manifest().host_versions().first().cloned(),
            "the component's WIT imports: exactly the operations it can call",
        ),
        Step::Rhai(_) => (
            "rhai",
            None,
            "the script's text: the capability::operation calls it names, also through the lab library's functions it calls (a script is granted every capability its policy allows)",
        ),
    };
    let mut capabilities: Vec<String> = operations
        .iter()
        .filter_map(|o| o.split_once('.').map(|(c, _)| c.to_string()))
        .collect();
    capabilities.dedup();
    Ok(Description {
        step: path.display().to_string(),
        kind,
        name: info.name,
        title: info.title,
        params: info
            .params
            .into_iter()
            .map(|(name, p)| DescribedParam {
                name,
                about: p.about,
                default: p.default,
                required: p.required,
            })
            .collect(),
        checks: info
            .checks
            .iter()
            .map(|id| DescribedCheck {
                id: id.clone(),
                title: info.titles.get(id).cloned(),
            })
            .collect(),
        host_version,
        capabilities,
        operations,
        source_of_operations,
    })
}

impl Description {
    /// The human form: one fact a line, step text shown inert.
    pub fn human(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let kind = if self.kind == "wasm" {
            "WebAssembly component"
        } else {
            "Rhai script"
        };
        let _ = writeln!(out, "{} ({kind})", inert(&self.step));
        let _ = writeln!(out, "  name: {}", inert(&self.name));
        let _ = writeln!(
            out,
            "  title: {} / {}",
            inert(&self.title.en),
            inert(&self.title.ja)
        );
        if let Some(v) = &self.host_version {
            let _ = writeln!(out, "  built for: {}@{v}", wasm::policy::HOST_PACKAGE);
        }
        let _ = writeln!(out, "  params:");
        if self.params.is_empty() {
            let _ = writeln!(out, "    (none)");
        }
        for p in &self.params {
            let how = match &p.default {
                Some(d) => format!("default {}", inert(d)),
                None => "required".to_string(),
            };
            let _ = writeln!(out, "    {:<14} {how}: {}", inert(&p.name), inert(&p.about));
        }
        let _ = writeln!(out, "  checks:");
        for c in &self.checks {
            match &c.title {
                Some(t) => {
                    let _ = writeln!(out, "    {:<6} {} / {}", c.id, inert(&t.en), inert(&t.ja));
                }
                None => {
                    let _ = writeln!(out, "    {}", c.id);
                }
            }
        }
        let _ = writeln!(
            out,
            "  capabilities: {}",
            if self.capabilities.is_empty() {
                "none".to_string()
            } else {
                self.capabilities.join(", ")
            }
        );
        let _ = writeln!(out, "  operations ({}):", self.source_of_operations);
        for o in &self.operations {
            let _ = writeln!(out, "    {o}");
        }
        out
    }
}

/// Why a step stopped when labrun itself is stopping.
pub const STOPPING: &str = "labrun is stopping (Ctrl-C or SIGTERM)";

static STOP_ASKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn stop_notify() -> &'static tokio::sync::Notify {
    static NOTIFY: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
    NOTIFY.get_or_init(tokio::sync::Notify::new)
}

/// Shutdown (Ctrl-C or SIGTERM during a watch): every running step stops at its next
/// operation or capability call, and a call in flight is given up, so no step is
/// left calling into a runtime that is going away. Their unreported checks are
/// `error` rows naming [`STOPPING`].
pub fn stop_all() {
    STOP_ASKED.store(true, std::sync::atomic::Ordering::SeqCst);
    stop_notify().notify_waiters();
}

/// [`stop_all`] was called.
pub fn stopping() -> bool {
    STOP_ASKED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Resolves once [`stop_all`] is called (at once if it was).
pub async fn stopped() {
    let notified = stop_notify().notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    if stopping() {
        return;
    }
    notified.await;
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
    /// Outcomes the step reported and labrun refused, as (status, why); each becomes
    /// an `error` row, so a refused fail is never silently gone.
    refused: Vec<(Status, String)>,
    refused_dropped: usize,
}

/// The most refused outcomes shown each as a row of its own; the rest are counted
/// in the last one.
const MAX_REFUSED_ROWS: usize = 8;

impl Collector {
    /// Takes one outcome from a step (Rhai or WASM): the id must be valid (see
    /// [`check_id`]) and new, the count within `max_outcomes`; the messages are cut to
    /// `max_message_bytes` on a character boundary. A refused outcome is remembered
    /// ([`Collector::refuse`]) as well as returned as the error.
    pub fn report(&self, outcome: Outcome, limits: &Limits) -> Result<(), String> {
        let refused = |why: String| {
            self.refuse(outcome.status, &why);
            Err(why)
        };
        if let Err(why) = check_id(&outcome.id) {
            return refused(why);
        }
        let mut inner = self.inner.lock().expect("collector lock poisoned");
        if inner.ids.contains(&outcome.id) {
            drop(inner);
            return refused(format!("outcome `{}` was reported twice", outcome.id));
        }
        if inner.outcomes.len() >= limits.max_outcomes {
            drop(inner);
            return refused(format!(
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

    /// Remembers an outcome the step reported and labrun refused (`why` names its id
    /// inert and cut short): it becomes an `error` row at [`Collector::finish`].
    pub fn refuse(&self, status: Status, why: &str) {
        let mut inner = self.inner.lock().expect("collector lock poisoned");
        if inner.refused.len() < MAX_REFUSED_ROWS {
            inner.refused.push((status, one_line_cause(why)));
        } else {
            inner.refused_dropped += 1;
        }
    }

    /// The status the step reported for `id` so far, if it did.
    pub fn status(&self, id: &str) -> Option<Status> {
        let inner = self.inner.lock().expect("collector lock poisoned");
        inner.outcomes.iter().find(|o| o.id == id).map(|o| o.status)
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
        let mut unreported = false;
        for id in plan {
            match by_id.get(id).and_then(|&i| reported[i].take()) {
                Some(outcome) => rows.push(outcome),
                None => {
                    unreported = true;
                    rows.push(not_reported(id, stopped.as_deref()));
                }
            }
        }
        // A refusal that stopped the step (Rhai) already reads in every row it left
        // unreported.
        if let (Some(cause), true) = (stopped.as_deref(), unreported) {
            inner
                .refused
                .retain(|(_, why)| !cause.contains(why.as_str()));
        }
        // What is left was reported but never declared: in the step's order.
        rows.extend(reported.into_iter().flatten().map(not_declared));
        // Then what labrun refused, under ids of its own no other row has.
        let mut n = 0;
        let last = inner.refused.len();
        for (i, (status, why)) in std::mem::take(&mut inner.refused).into_iter().enumerate() {
            let id = loop {
                n += 1;
                let id = format!("refused-{n}");
                if !rows.iter().any(|r| r.id == id) {
                    break id;
                }
            };
            let more = match inner.refused_dropped {
                d if d > 0 && i + 1 == last => format!(" (and {d} more refused)"),
                _ => String::new(),
            };
            rows.push(refused_row(id, status, &why, &more));
        }
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
        undecided: false,
    }
}

/// An outcome labrun refused (a malformed or repeated id, one too many), shown as
/// an `error` row under labrun's own id: the step tried to say something.
fn refused_row(id: String, status: Status, why: &str, more: &str) -> Outcome {
    let said = status.as_str();
    Outcome {
        id,
        status: Status::Error,
        message: Message::new(
            format!("the step reported a {said} that labrun refused: {why}{more}"),
            format!("ステップが報告した {said} を labrun は受け付けませんでした: {why}{more}"),
        ),
        evidence: None,
        step: None,
        undecided: false,
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

/// Checks the given params against what the step declares and fills the rest from
/// their defaults: every declared param comes back with its final value. Refused
/// (one line naming the step's params): a param the step does not declare, a
/// required one not given, and declarations [`check_param_decls`] refuses (a default
/// naming an undeclared param, defaults in a cycle).
pub fn check_params(
    step_path: &str,
    info: &StepInfo,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, LoadError> {
    check_param_decls(&info.params)
        .map_err(|e| LoadError::Params(format!("{step_path}: describe(): {e}")))?;
    for name in given.keys() {
        if !info.params.contains_key(name) {
            return Err(LoadError::Params(format!(
                "unknown param `{}`: {step_path} takes {}",
                inert(name),
                declared(&info.params)
            )));
        }
    }
    for (name, p) in &info.params {
        if p.required && !given.contains_key(name) {
            return Err(LoadError::Params(format!(
                "missing param `{name}`: give it with --param {name}=VALUE ({step_path} takes {})",
                declared(&info.params),
                name = inert(name)
            )));
        }
    }
    let mut filled = given.clone();
    // Declarations are acyclic (checked above), so this ends: each pass fills every
    // default whose references are all filled, and at least one per pass.
    while filled.len() < info.params.len() {
        let before = filled.len();
        for (name, p) in &info.params {
            if filled.contains_key(name) {
                continue;
            }
            let Some(default) = &p.default else { continue };
            let pieces = template(default).expect("checked by check_param_decls");
            let mut value = String::new();
            let mut ready = true;
            for piece in &pieces {
                match piece {
                    Piece::Text(t) => value.push_str(t),
                    Piece::Ref(r) => match filled.get(*r) {
                        Some(v) => value.push_str(v),
                        None => {
                            ready = false;
                            break;
                        }
                    },
                }
            }
            if ready {
                filled.insert(name.clone(), value);
            }
        }
        if filled.len() == before {
            // Unreachable after check_param_decls; refuse rather than loop.
            return Err(LoadError::Params(format!(
                "{step_path}: describe(): the params' defaults cannot be filled"
            )));
        }
    }
    Ok(filled)
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
            needs: BTreeMap::new(),
            requires: BTreeMap::new(),
            name: name.to_string(),
            title: Message::new("", ""),
            params: BTreeMap::new(),
            checks: checks.iter().map(|c| c.to_string()).collect(),
            titles: BTreeMap::new(),
        }
    }

    fn outcome(id: &str, status: Status, en: &str) -> Outcome {
        Outcome {
            id: id.to_string(),
            status,
            message: Message::new(en, en),
            evidence: None,
            step: None,
            undecided: false,
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
    fn a_refused_outcome_is_an_error_row_with_its_id_cut_and_inert() {
        let limits = Limits::default();
        let c = Collector::default();
        c.report(outcome("H1", Status::Pass, "ok"), &limits)
            .unwrap();
        let huge = format!("\u{1b}]0;{}", "X".repeat(60_000));
        assert!(c
            .report(outcome(&huge, Status::Fail, "hidden"), &limits)
            .is_err());
        assert!(c
            .report(outcome("H1", Status::Fail, "again"), &limits)
            .is_err());
        let (rows, _) = c.finish(&["H1".to_string(), "refused-1".to_string()], None);
        let ids: Vec<&str> = rows.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["H1", "refused-1", "refused-2", "refused-3"]);
        let (first, second) = (&rows[2], &rows[3]);
        assert_eq!(
            (first.status, second.status),
            (Status::Error, Status::Error)
        );
        assert!(
            first.message.en.starts_with(
                "the step reported a fail that labrun refused: outcome id `\\u{1b}]0;XXX"
            ),
            "{}",
            first.message.en
        );
        assert!(
            first.message.en.len() < 300,
            "cut: {}",
            first.message.en.len()
        );
        assert!(!first.message.en.contains('\u{1b}'));
        assert!(
            second.message.en.contains("`H1` was reported twice"),
            "{}",
            second.message.en
        );
        // A flood of refusals is a few rows, the rest counted.
        let c = Collector::default();
        for _ in 0..100 {
            let _ = c.report(outcome("bad id", Status::Pass, "x"), &limits);
        }
        let (rows, _) = c.finish(&[], None);
        assert_eq!(rows.len(), MAX_REFUSED_ROWS);
        assert!(rows[MAX_REFUSED_ROWS - 1]
            .message
            .en
            .ends_with("(and 92 more refused)"));
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
            .insert("user".into(), Param::required("trainee\r\n  PASS  A1"));
        let err = check_params("s.rhai", &step, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            err.message(),
            "missing param `user`: give it with --param user=VALUE \
             (s.rhai takes user (trainee\\r\\n  PASS  A1))"
        );
        let given = BTreeMap::from([("usr\x1b[2J".to_string(), "x".to_string())]);
        let err = check_params("s.rhai", &step, &given).unwrap_err();
        assert!(
            err.message()
                .starts_with("unknown param `usr\\u{1b}[2J`: s.rhai takes user"),
            "{}",
            err.message()
        );
    }

    fn step_with(params: &[(&str, Param)]) -> StepInfo {
        let mut step = info("step3", &["A1"]);
        for (k, p) in params {
            step.params.insert(k.to_string(), p.clone());
        }
        step
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_fill_every_param_and_refer_to_final_values() {
        let step = step_with(&[
            ("user", Param::required("trainee id")),
            (
                "cluster",
                Param::with_default("cluster", "wp-{user}-cluster"),
            ),
            ("reader", Param::with_default("reader", "wp-{user}-slave")),
            // A default may refer to a defaulted param, and to a given one.
            (
                "endpoint",
                Param::with_default("endpoint", "{cluster}.{{x}}"),
            ),
        ]);
        let filled = check_params("s.rhai", &step, &given(&[("user", "user05")])).unwrap();
        assert_eq!(
            filled,
            given(&[
                ("user", "user05"),
                ("cluster", "wp-user05-cluster"),
                ("reader", "wp-user05-slave"),
                ("endpoint", "wp-user05-cluster.{x}"),
            ])
        );
        let filled = check_params(
            "s.rhai",
            &step,
            &given(&[
                ("user", "user05"),
                ("reader", "wp-{user}-standby"),
                ("cluster", "c"),
            ]),
        )
        .unwrap();
        // A given value is taken as it is, never as a template.
        assert_eq!(filled["reader"], "wp-{user}-standby");
        assert_eq!(filled["endpoint"], "c.{x}");
    }

    #[test]
    fn an_unknown_param_is_refused_naming_the_steps_params_and_defaults() {
        let step = step_with(&[
            ("user", Param::required("trainee id")),
            (
                "reader",
                Param::with_default("Aurora reader", "wp-{user}-slave"),
            ),
        ]);
        let err =
            check_params("s.rhai", &step, &given(&[("user", "u"), ("raeder", "x")])).unwrap_err();
        assert_eq!(
            err.message(),
            "unknown param `raeder`: s.rhai takes reader (Aurora reader; default wp-{user}-slave), user (trainee id)"
        );
        assert!(matches!(err, LoadError::Params(_)));
        let err = check_params("s.rhai", &step, &given(&[("reader", "x")])).unwrap_err();
        assert!(err
            .message()
            .starts_with("missing param `user`: give it with --param user=VALUE"));
    }

    #[test]
    fn a_default_naming_an_undeclared_param_is_refused() {
        let step = step_with(&[
            ("user", Param::required("trainee id")),
            ("reader", Param::with_default("reader", "wp-{usr}-slave")),
        ]);
        let expected = "`params`: the default of `reader` (`wp-{usr}-slave`) refers to `{usr}`, which the step does not declare; it declares reader, user";
        assert_eq!(check_info(&step).unwrap_err(), expected);
        let err = check_params("s.rhai", &step, &given(&[("user", "u")])).unwrap_err();
        assert_eq!(err.message(), format!("s.rhai: describe(): {expected}"));
        for (bad, says) in [
            ("wp-{user", "has a `{` without its `}`"),
            ("wp-}", "has a `}` without its `{`"),
            ("wp-{}", "a param name is not empty"),
            ("wp-{a b}", "not a space"),
        ] {
            let step = step_with(&[
                ("user", Param::required("trainee id")),
                ("reader", Param::with_default("reader", bad)),
            ]);
            let err = check_info(&step).unwrap_err();
            assert!(err.contains(says) && !err.contains('\n'), "{bad}: {err}");
        }
    }

    #[test]
    fn defaults_in_a_cycle_are_refused_naming_the_cycle() {
        let step = step_with(&[
            ("user", Param::required("trainee id")),
            ("a", Param::with_default("a", "{b}-x")),
            ("b", Param::with_default("b", "{c}")),
            ("c", Param::with_default("c", "{user}{a}")),
        ]);
        let err = check_info(&step).unwrap_err();
        assert_eq!(
            err,
            "`params`: the defaults of `a` → `b` → `c` → `a` refer to each other in a cycle; give one of them a default that does not refer back"
        );
        // Even when the cycle's params are all given: the declaration is wrong.
        let all = given(&[("user", "u"), ("a", "1"), ("b", "2"), ("c", "3")]);
        assert!(check_params("s.rhai", &step, &all)
            .unwrap_err()
            .message()
            .contains("cycle"));
        let selfish = step_with(&[("a", Param::with_default("a", "{a}"))]);
        assert!(check_info(&selfish).unwrap_err().contains("`a` → `a`"));
    }

    #[test]
    fn a_param_is_required_or_has_a_default_and_has_a_plain_name() {
        let both = Param {
            about: "x".into(),
            default: Some("d".into()),
            required: true,
        };
        assert!(check_info(&step_with(&[("a", both)]))
            .unwrap_err()
            .contains("is required and has a default"));
        let neither = Param {
            about: "x".into(),
            default: None,
            required: false,
        };
        assert!(check_info(&step_with(&[("a", neither)]))
            .unwrap_err()
            .contains("neither required nor has a default"));
        let err = check_info(&step_with(&[("us\x1ber", Param::required("x"))])).unwrap_err();
        assert!(
            err.contains("us\\u{1b}er") && err.contains("U+001B"),
            "{err}"
        );
    }
}
