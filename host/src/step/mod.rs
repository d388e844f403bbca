//! Steps: what a step is before it runs, and the two front-ends that run it. A step
//! describes itself, then runs for one trainee, calling capabilities through its
//! [`crate::gate::Gate`] and reporting outcomes into a [`Collector`] under the run's
//! [`Limits`]. The rest of the program sees a loaded [`Step`] and the items re-exported
//! here.
//!
//! - [`rhai`] and [`wasm`]: the front-ends, Rhai scripts and WebAssembly components;
//!   [`messages`]: a step's message catalog (`<step>.messages.toml`);
//! - [`info`]: what a step declares ([`StepInfo`]) and the contract it is checked
//!   against at load; [`params`]: its params, their rules and the given values checked
//!   and completed; [`template`]: the syntax of a param's default; [`needs`]: the
//!   prerequisites between its checklist ids; [`requires`]: what its checks need from
//!   the operator to be decided at all;
//! - [`collector`]: what a running step reports, within limits, becoming the rows;
//!   [`bounds`]: the size limits on what a step hands the host; [`stop`]: every
//!   running step stopped when labrun is;
//! - [`describe`](mod@describe): `labrun describe`, what a step declares and may call.

pub mod bounds;
pub mod collector;
pub mod describe;
pub mod info;
pub mod messages;
pub mod needs;
pub mod params;
pub mod reach;
pub mod requires;
pub mod rhai;
pub mod stop;
pub mod template;
pub mod wasm;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::caps::Hub;
use crate::error::LoadError;
pub use crate::policy::Limits;
use crate::text;

pub use bounds::{
    bounded_cause, bounded_evidence, evidence_from, one_line_cause, remote_cause, request_too_big,
    MAX_CAUSE_BYTES, MAX_CAUSE_CHARS, MAX_EVIDENCE_BYTES, MAX_REQUEST_BYTES,
};
pub use collector::Collector;
pub use describe::{describe, Description};
pub use info::{check_info, StepInfo, MAX_NAME_CHARS};
pub use needs::{enforce_needs, unmet_need};
pub use params::{check_param_decls, check_params, Param, MAX_PARAM_NAME_CHARS};
pub use stop::{stop_all, stopped, stopping, stopping_text};

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
            _ => Err(text::load::UnknownType { path }.into()),
        }
        .map_err(LoadError::Step)?;
        // A checklist longer than the outcomes a run may report can never be met.
        let declared = step.info().checks.len();
        if declared > limits.max_outcomes {
            return Err(LoadError::Step(
                text::load::TooManyChecks {
                    path,
                    declared,
                    max: limits.max_outcomes,
                }
                .into(),
            ));
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
    /// component's WIT imports (exactly what it can call), the calls a script's `run`
    /// can reach, in its own functions and the lab library's ([`reach`]).
    pub fn operations(&self) -> Result<Vec<String>, LoadError> {
        let mut ops = match self {
            Step::Wasm(s) => s.manifest().operations.clone(),
            Step::Rhai(s) => s.operations(),
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
