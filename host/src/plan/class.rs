//! A class of submissions: each trainee runs the step they submitted, under one
//! policy, in one report. One broken or hostile submission never stops the class.
//!
//! ```toml
//! # class.toml — paths are relative to this file
//! [[submission]]
//! trainee = "user05"
//! step = "submissions/user05.rhai"
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{load_step, param_map, step_id, PlanError, TRAINEE_PARAM};
use crate::error::LoadError;
use crate::execute::PlannedRun;
use crate::flags::Flags;
use crate::policy::Limits;
use crate::step::check_params;
use crate::step::wasm::Grants;

pub fn is_class_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    #[serde(default)]
    submission: Vec<Submission>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Submission {
    trainee: String,
    step: PathBuf,
}

/// Reads the class file and loads every submission; a submission that does not
/// load becomes an error row for that trainee, not a bad-input exit.
pub async fn plan(
    path: &Path,
    flags: &Flags,
    limits: &Limits,
    grants: &Grants,
) -> Result<(String, Vec<PlannedRun>), PlanError> {
    let bad = |text: String| PlanError::Load(LoadError::Class(text));
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read class file {}: {e}", path.display())))?;
    let class: ClassFile = toml::from_str(&text).map_err(|e| {
        bad(format!(
            "{} is not a class file ([[submission]] trainee = \"user05\", step = \"…\"): {}",
            path.display(),
            e.to_string().replace('\n', " ")
        ))
    })?;
    if class.submission.is_empty() {
        return Err(bad(format!("{} lists no [[submission]]", path.display())));
    }
    if !flags.trainees.is_empty() || !flags.live.roster.is_empty() {
        return Err(PlanError::Flag(
            "a class file names its trainees: drop --trainee".to_string(),
        ));
    }
    let extra = param_map(flags)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut planned = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for sub in class.submission {
        if !seen.insert(sub.trainee.clone()) {
            return Err(bad(format!(
                "{}: trainee {} has two submissions",
                path.display(),
                sub.trainee
            )));
        }
        let mut params = std::collections::BTreeMap::new();
        params.insert(TRAINEE_PARAM.to_string(), sub.trainee.clone());
        let step_path = base.join(&sub.step);
        let step = match load_step(&step_path, limits, grants).await {
            Ok(step) => {
                // Class-wide --param values go to the submissions that declare them.
                for (k, v) in &extra {
                    if step.info().params.contains_key(k) {
                        params.insert(k.clone(), v.clone());
                    }
                }
                check_params(step.path(), step.info(), &params)
                    .map(|()| {
                        let id = step_id(&step);
                        (Arc::new(step), id)
                    })
                    .map_err(|e| e.to_string())
            }
            Err(why) => Err(why.to_string()),
        };
        planned.push(PlannedRun {
            trainee: sub.trainee,
            params,
            step,
        });
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "class".into());
    Ok((name, planned))
}
