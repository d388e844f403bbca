//! Write a labrun step as a WebAssembly component.
//!
//! A step is a type implementing [`Step`], exported with [`export_step!`]; it reads
//! like the Rhai script it mirrors:
//!
//! ```ignore
//! use labrun_step_sdk::{aws, export_step, json, report, Info, Params, Step};
//!
//! struct Hello;
//! impl Step for Hello {
//!     fn describe() -> Info {
//!         Info::new("hello", "Hello", "こんにちは")
//!             .param("user", "trainee id")
//!             .param_default("vpc", "the VPC", "vpc-{user}")
//!             .checks(["H1"])
//!     }
//!     fn run(params: Params) -> Result<(), String> {
//!         let user = params.get("user")?;
//!         let vpcs = aws::call("ec2_describe_vpcs", json!({}));
//!         report::guard("H1", || {
//!             let n = vpcs.clone()?["Vpcs"].as_array().map_or(0, |v| v.len());
//!             Ok(report::pass("H1", format!("{user}: {n} VPCs"), format!("{user}: VPC {n} 個"), json!(n)))
//!         });
//!         Ok(())
//!     }
//! }
//! export_step!(Hello);
//! ```
//!
//! [`lab`] has the lab library (typed lookups into [`shapes`], CIDR and
//! security-group helpers, `guard`, pass/fail with catalog [`Message`]s). A step's
//! facts and words can live in a [`Catalog`] shared with its Rhai script: its `[step]`
//! declares the params, checks and prerequisites once ([`Info::from_catalog`]).
//!
//! Capability calls take and return `serde_json::Value` in the shapes documented in
//! `wit/labrun-host.wit` (AWS: the AWS CLI JSON shape). A component imports only the
//! capabilities it calls; that import list is what labrun grants or refuses.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

pub use serde_json::{self, json, Value};

pub mod lab;
pub mod shapes;

/// A step's catalog (`[step]`'s declarations, titles, ja/en templates), read as labrun
/// reads the one beside a Rhai script: the same crate.
pub use labrun_step_catalog as catalog;
pub use labrun_step_catalog::{Catalog, Message, Var};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "step",
        pub_export_macro: true,
        export_macro_name: "__export_step_world",
        default_bindings_module: "labrun_step_sdk::bindings",
    });
}

use bindings::labrun::host as wit;

/// A param a step declares: required (no default) or with a default, a template in
/// which `{other}` is param `other`'s final value (`"wp-{user}-slave"`).
#[derive(Debug, Clone, Default)]
pub struct Param {
    pub name: String,
    pub about: String,
    pub default: Option<String>,
    pub required: bool,
}

/// What a step says about itself before it runs (`describe`).
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub name: String,
    pub title_en: String,
    pub title_ja: String,
    pub params: Vec<Param>,
    pub checks: Vec<String>,
    /// (id, en, ja) titles of checklist ids, for `labrun describe`.
    pub titles: Vec<(String, String, String)>,
    /// Declared prerequisites: (id, ids that must pass first).
    pub needs: Vec<(String, Vec<String>)>,
}

impl Info {
    pub fn new(name: &str, title_en: &str, title_ja: &str) -> Info {
        Info {
            name: name.into(),
            title_en: title_en.into(),
            title_ja: title_ja.into(),
            ..Info::default()
        }
    }

    /// A required param, with what it means (`user` is the trainee id).
    pub fn param(mut self, name: &str, about: &str) -> Info {
        self.params.push(Param {
            name: name.into(),
            about: about.into(),
            default: None,
            required: true,
        });
        self
    }

    /// A param with a default: a template, `{other}` is param `other`'s final value.
    /// `run` gets it filled (given with `--param` or defaulted).
    pub fn param_default(mut self, name: &str, about: &str, default: &str) -> Info {
        self.params.push(Param {
            name: name.into(),
            about: about.into(),
            default: Some(default.into()),
            required: false,
        });
        self
    }

    /// A checklist id's title (en, ja), for `labrun describe`.
    pub fn title(mut self, id: &str, en: &str, ja: &str) -> Info {
        self.titles.push((id.into(), en.into(), ja.into()));
        self
    }

    /// The step's title (section `step`) and every declared check's title from a
    /// message catalog; call after [`Info::checks`].
    pub fn titles_from(mut self, catalog: &Catalog) -> Info {
        if let Some(t) = catalog.title("step") {
            self.title_en = t.en;
            self.title_ja = t.ja;
        }
        for id in &self.checks {
            if let Some(t) = catalog.title(id) {
                self.titles.push((id.clone(), t.en, t.ja));
            }
        }
        self
    }

    /// Everything a step's catalog declares: `[step]`'s name, title, params, checks
    /// and needs, and each check's title. A step whose facts live in its catalog
    /// describes itself with this alone; its Rhai script reads the same file, so the
    /// two cannot declare different params or checks.
    pub fn from_catalog(catalog: &Catalog) -> Info {
        let m = catalog.manifest();
        let mut info = Info::new(m.name.as_deref().unwrap_or_default(), "", "");
        info.params = m
            .params
            .iter()
            .flatten()
            .map(|(name, p)| Param {
                name: name.clone(),
                about: p.about.clone(),
                default: p.default.clone(),
                required: p.required,
            })
            .collect();
        info.checks = m.checks.clone().unwrap_or_default();
        info.needs = m
            .needs
            .iter()
            .flatten()
            .map(|(id, before)| (id.clone(), before.clone()))
            .collect();
        info.titles_from(catalog)
    }

    /// A declared prerequisite: when one of `before` did not pass, labrun reports `id`
    /// as `skip` naming it, whatever the step reported.
    pub fn needs<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        id: &str,
        before: I,
    ) -> Info {
        self.needs
            .push((id.into(), before.into_iter().map(Into::into).collect()));
        self
    }

    /// Checklist ids in report order; an id never reported is shown as `error`.
    pub fn checks<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Info {
        self.checks.extend(ids.into_iter().map(Into::into));
        self
    }
}

/// Every declared param, given with `--param KEY=VALUE` or defaulted (labrun checks
/// and fills them against `describe`).
#[derive(Debug, Clone, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// A param's value, or an error text naming it (ends the step with `error` rows).
    pub fn get(&self, name: &str) -> Result<&str, String> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("missing param `{name}`"))
    }
}

/// A step: `describe` is called first with no capability used; `run` once per trainee.
/// An `Err` from `run` stops the step: every unreported check becomes `error` with it.
pub trait Step {
    fn describe() -> Info;
    fn run(params: Params) -> Result<(), String>;
}

#[doc(hidden)]
pub fn __describe<S: Step>() -> bindings::StepInfo {
    let info = S::describe();
    bindings::StepInfo {
        name: info.name,
        title_en: info.title_en,
        title_ja: info.title_ja,
        params: info
            .params
            .into_iter()
            .map(|p| bindings::Param {
                name: p.name,
                about: p.about,
                default: p.default,
                required: p.required,
            })
            .collect(),
        checks: info.checks,
        check_titles: info
            .titles
            .into_iter()
            .map(|(id, en, ja)| bindings::CheckTitle { id, en, ja })
            .collect(),
        needs: info.needs,
    }
}

#[doc(hidden)]
pub fn __run<S: Step>(params: Vec<(String, String)>) -> Result<(), String> {
    let result = S::run(Params(params.into_iter().collect()));
    // A report the host refused (repeated id, too many outcomes) stops the step like
    // it stops a Rhai script.
    match REPORT_ERROR.with(|e| e.borrow_mut().take()) {
        Some(e) => Err(e),
        None => result,
    }
}

/// Exports a [`Step`] type as the component's `describe` and `run`.
#[macro_export]
macro_rules! export_step {
    ($step:ty) => {
        const _: () = {
            struct __LabrunStep;
            impl $crate::bindings::Guest for __LabrunStep {
                fn describe() -> $crate::bindings::StepInfo {
                    $crate::__describe::<$step>()
                }
                fn run(params: ::std::vec::Vec<(String, String)>) -> Result<(), String> {
                    $crate::__run::<$step>(params)
                }
            }
    $crate::bindings::__export_step_world!(__LabrunStep with_types_in $crate::bindings);
        };
    };
}

// ------------------------------------------------------------------ capability errors

/// A failed capability call (the same shape a Rhai script catches):
/// `kind` is one of credentials, denied, throttling, network, timeout,
/// invalid_request, not_found, service, unsupported, not_recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapError {
    pub capability: String,
    pub operation: String,
    pub kind: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for CapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}: {}",
            self.capability, self.operation, self.message
        )
    }
}

impl std::error::Error for CapError {}

impl CapError {
    /// The error as JSON (what a Rhai script would see), e.g. for evidence.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "capability": self.capability,
            "operation": self.operation,
            "kind": self.kind,
            "message": self.message,
        });
        if let Some(code) = &self.code {
            v["code"] = json!(code);
        }
        v
    }

    fn local(capability: &str, operation: &str, kind: &'static str, message: String) -> Self {
        CapError {
            capability: capability.into(),
            operation: operation.into(),
            kind,
            code: None,
            message,
        }
    }
}

impl From<wit::types::CapError> for CapError {
    fn from(e: wit::types::CapError) -> Self {
        use wit::types::ErrorKind as K;
        CapError {
            capability: e.capability,
            operation: e.operation,
            kind: match e.kind {
                K::Credentials => "credentials",
                K::Denied => "denied",
                K::Throttling => "throttling",
                K::Network => "network",
                K::Timeout => "timeout",
                K::InvalidRequest => "invalid_request",
                K::NotFound => "not_found",
                K::Service => "service",
                K::Unsupported => "unsupported",
                K::NotRecorded => "not_recorded",
            },
            code: e.code,
            message: e.message,
        }
    }
}

fn answer(
    capability: &str,
    operation: &str,
    result: Result<String, wit::types::CapError>,
) -> Result<Value, CapError> {
    let text = result.map_err(CapError::from)?;
    serde_json::from_str(&text).map_err(|e| {
        CapError::local(
            capability,
            operation,
            "service",
            format!("labrun answered with JSON this SDK cannot read: {e}"),
        )
    })
}

// ------------------------------------------------------------------ capabilities

/// Read-only AWS describe calls, by the same names as the Rhai `aws::` module.
pub mod aws {
    use super::{answer, wit, CapError, Value};

    // OPERATIONS and forward(), generated by build.rs from the WIT's `interface aws`.
    include!(concat!(env!("OUT_DIR"), "/aws_operations.rs"));

    /// `aws::call("ec2_describe_instances", json!({"Filters": […]}))` → the AWS CLI
    /// output JSON, every page merged. `json!({})` for no parameters.
    pub fn call(operation: &str, request: Value) -> Result<Value, CapError> {
        let Some(result) = forward(operation, &request.to_string()) else {
            return Err(CapError::local(
                "aws",
                operation,
                "unsupported",
                format!(
                    "unknown operation `aws.{operation}`; aws has: {}",
                    OPERATIONS.join(", ")
                ),
            ));
        };
        answer("aws", operation, result)
    }
}

/// DNS lookups: `dns::lookup(json!({"name": …}))`.
pub mod dns {
    use super::{answer, wit, CapError, Value};

    pub fn lookup(request: Value) -> Result<Value, CapError> {
        answer("dns", "lookup", wit::dns::lookup(&request.to_string()))
    }
}

/// One read-only MySQL query: `mysql::query(json!({"host", "user", "sql"}))`.
pub mod mysql {
    use super::{answer, wit, CapError, Value};

    pub fn query(request: Value) -> Result<Value, CapError> {
        answer("mysql", "query", wit::mysql::query(&request.to_string()))
    }
}

/// One HTTP GET: `http::get(json!({"url": …}))`.
pub mod http {
    use super::{answer, wit, CapError, Value};

    pub fn get(request: Value) -> Result<Value, CapError> {
        answer("http", "get", wit::http::get(&request.to_string()))
    }
}

/// A TCP connect probe: `tcp::connect(json!({"host", "port"}))`.
pub mod tcp {
    use super::{answer, wit, CapError, Value};

    pub fn connect(request: Value) -> Result<Value, CapError> {
        answer("tcp", "connect", wit::tcp::connect(&request.to_string()))
    }
}

/// Read-only facts about a trainee's server over SSH (`via` names it).
pub mod server {
    use super::{answer, wit, CapError, Value};

    pub fn read_file(request: Value) -> Result<Value, CapError> {
        answer(
            "server",
            "read_file",
            wit::server::read_file(&request.to_string()),
        )
    }

    pub fn service(request: Value) -> Result<Value, CapError> {
        answer(
            "server",
            "service",
            wit::server::service(&request.to_string()),
        )
    }

    pub fn listening(request: Value) -> Result<Value, CapError> {
        answer(
            "server",
            "listening",
            wit::server::listening(&request.to_string()),
        )
    }

    pub fn network(request: Value) -> Result<Value, CapError> {
        answer(
            "server",
            "network",
            wit::server::network(&request.to_string()),
        )
    }
}

/// The step log (capped by the host).
pub mod log {
    use super::wit;

    pub fn info(message: impl AsRef<str>) {
        wit::log::info(message.as_ref());
    }

    pub fn warn(message: impl AsRef<str>) {
        wit::log::warn(message.as_ref());
    }
}

// ------------------------------------------------------------------ outcomes

thread_local! {
    static REPORT_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Outcome statuses (see `wit/labrun-host.wit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Pending,
    Error,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Pending => "pending",
            Status::Error => "error",
            Status::Skip => "skip",
        }
    }
}

/// Reporting outcomes, by the same names as the Rhai `report::` module. Each returns
/// the status it reported, so a check can end with `return report::fail(…)`.
pub mod report {
    use super::{wit, CapError, Status, Value, REPORT_ERROR};

    /// One outcome: `report::outcome(id, Status::Fail, en, ja, evidence)`.
    /// `Value::Null` evidence means none.
    pub fn outcome(
        id: &str,
        status: Status,
        en: impl Into<String>,
        ja: impl Into<String>,
        evidence: Value,
    ) -> Status {
        use wit::report::Status as S;
        let o = wit::report::Row {
            id: id.to_string(),
            status: match status {
                Status::Pass => S::Pass,
                Status::Fail => S::Fail,
                Status::Pending => S::Pending,
                Status::Error => S::Error,
                Status::Skip => S::Skip,
            },
            en: en.into(),
            ja: ja.into(),
            evidence: (!evidence.is_null()).then(|| evidence.to_string()),
        };
        if let Err(e) = wit::report::outcome(&o) {
            REPORT_ERROR.with(|slot| {
                slot.borrow_mut().get_or_insert(e);
            });
        }
        status
    }

    pub fn pass(id: &str, en: impl Into<String>, ja: impl Into<String>, evidence: Value) -> Status {
        outcome(id, Status::Pass, en, ja, evidence)
    }

    pub fn fail(id: &str, en: impl Into<String>, ja: impl Into<String>, evidence: Value) -> Status {
        outcome(id, Status::Fail, en, ja, evidence)
    }

    pub fn pending(
        id: &str,
        en: impl Into<String>,
        ja: impl Into<String>,
        evidence: Value,
    ) -> Status {
        outcome(id, Status::Pending, en, ja, evidence)
    }

    pub fn error(
        id: &str,
        en: impl Into<String>,
        ja: impl Into<String>,
        evidence: Value,
    ) -> Status {
        outcome(id, Status::Error, en, ja, evidence)
    }

    pub fn skip(id: &str, en: impl Into<String>, ja: impl Into<String>) -> Status {
        outcome(id, Status::Skip, en, ja, Value::Null)
    }

    /// Runs one check; a capability error inside it becomes that check's `error`
    /// row ("could not check: …"), exactly like the Rhai scripts' `guard`.
    pub fn guard(id: &str, check: impl FnOnce() -> Result<Status, CapError>) -> Status {
        match check() {
            Ok(status) => status,
            Err(e) => {
                let code = e
                    .code
                    .as_ref()
                    .map(|c| format!(" (code {c})"))
                    .unwrap_or_default();
                error(
                    id,
                    format!("could not check: {e}{code}"),
                    format!("確認できませんでした: {e}{code}"),
                    e.to_json(),
                )
            }
        }
    }
}

/// A list of problems in both languages, joined into one message.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    pub en: Vec<String>,
    pub ja: Vec<String>,
}

impl Problems {
    pub fn new() -> Problems {
        Problems::default()
    }

    pub fn problem(&mut self, en: impl Into<String>, ja: impl Into<String>) {
        self.en.push(en.into());
        self.ja.push(ja.into());
    }

    pub fn is_empty(&self) -> bool {
        self.en.is_empty()
    }
}
