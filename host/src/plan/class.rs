//! A class of submissions: each trainee runs the step they submitted, under one
//! policy, in one report. One broken or hostile submission never stops the class.
//! The submissions are the trainees' own code: a class runs at `untrusted` unless
//! `--trust instructor` or `--policy` says otherwise, and each submission's `user`
//! is its own trainee, never a class-wide `--param`.
//!
//! ```toml
//! # class.toml — paths are relative to this file
//! [[submission]]
//! trainee = "user05"
//! step = "submissions/user05.rhai"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::{load_step, param_map, step_id, PlanError, TRAINEE_PARAM};
use crate::error::LoadError;
use crate::execute::PlannedRun;
use crate::flags::Flags;
use crate::policy::Limits;
use crate::step::check_params;
use crate::step::wasm::Grants;
use crate::text::{class_file as t, quoted, Text, ToText};

pub fn is_class_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    #[serde(default)]
    submission: Vec<Submission>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Submission {
    trainee: String,
    step: PathBuf,
}

/// How long one submission's `describe()` may take while the class is planned; its
/// run keeps the policy's whole wall-clock limit.
pub const DESCRIBE_LIMIT: Duration = Duration::from_secs(5);

/// Reads a class file's text (`shown` names it in errors): at least one submission,
/// each with a trainee id, no trainee twice.
fn parse(text: &str, shown: &str) -> Result<ClassFile, PlanError> {
    let bad = |why: Text| PlanError::Load(LoadError::Class(why));
    let class: ClassFile = toml::from_str(text).map_err(|e| {
        bad(t::NotAClassFile {
            path: shown,
            why: quoted(e.to_string().replace('\n', " ")),
        }
        .into())
    })?;
    if class.submission.is_empty() {
        return Err(bad(t::NoSubmission { path: shown }.into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (n, sub) in class.submission.iter().enumerate() {
        if sub.trainee.trim().is_empty() {
            return Err(bad(t::EmptyTrainee {
                path: shown,
                n: n + 1,
            }
            .into()));
        }
        if let Err(e) = super::roster::check_id(&sub.trainee) {
            return Err(bad(t::BadTrainee {
                path: shown,
                n: n + 1,
                why: e,
            }
            .into()));
        }
        if !seen.insert(sub.trainee.clone()) {
            return Err(bad(t::TwoSubmissions {
                path: shown,
                trainee: &sub.trainee,
            }
            .into()));
        }
    }
    Ok(class)
}

/// Reads the class file and loads every submission, `--jobs` at a time, each
/// `describe()` within [`DESCRIBE_LIMIT`]; the runs come back in class file order. A
/// submission that does not load becomes an error row for that trainee, not a
/// bad-input exit.
pub async fn plan(
    path: &Path,
    flags: &Flags,
    limits: &Limits,
    grants: &Grants,
) -> Result<(String, Vec<PlannedRun>), PlanError> {
    let source = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
        PlanError::Load(LoadError::Class(
            t::CannotRead {
                path,
                why: quoted(e),
            }
            .into(),
        ))
    })?;
    let class = parse(&source, &path.display().to_string())?;
    if !flags.trainees.is_empty() || !flags.live.roster.is_empty() {
        return Err(PlanError::Flag(t::DropTrainee.into()));
    }
    let extra = param_map(flags)?;
    // One trainee's step must never be pointed at another trainee's names.
    if extra.contains_key(TRAINEE_PARAM) {
        return Err(PlanError::Flag(
            t::DropParam {
                param: TRAINEE_PARAM,
            }
            .into(),
        ));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let describe_limits = Arc::new(Limits {
        wall_clock: limits.wall_clock.min(DESCRIBE_LIMIT),
        ..limits.clone()
    });
    let grants = Arc::new(grants.clone());
    let slots = Arc::new(Semaphore::new(usize::from(flags.jobs).max(1)));
    let handle = tokio::runtime::Handle::current();
    let loads = class.submission.into_iter().map(|sub| {
        let step_path = base.join(&sub.step);
        let (limits, grants, slots, handle) = (
            describe_limits.clone(),
            grants.clone(),
            slots.clone(),
            handle.clone(),
        );
        async move {
            let _slot = slots.acquire_owned().await.expect("semaphore never closed");
            let started = std::time::Instant::now();
            let limit = limits.wall_clock;
            // Loading compiles and runs describe(): synchronous CPU work (Rhai, and
            // wasm compilation), so it runs on a blocking thread; a panic there is
            // this trainee's error row.
            let loaded = tokio::task::spawn_blocking(move || {
                handle.block_on(load_step(&step_path, &limits, &grants))
            })
            .await;
            let step = match loaded {
                Ok(Ok(step)) => Ok(step),
                // Stopped at the describe limit: say which limit it was.
                Ok(Err(why)) if started.elapsed() >= limit => Err(t::DescribeLimit {
                    why: why.text(),
                    secs: limit.as_secs(),
                }
                .into()),
                Ok(Err(why)) => Err(why.text()),
                Err(e) => Err(t::LoadCrashed { why: quoted(e) }.into()),
            };
            (sub.trainee, step)
        }
    });
    let mut planned = Vec::new();
    for (trainee, loaded) in join_all(loads).await {
        let mut params = BTreeMap::new();
        params.insert(TRAINEE_PARAM.to_string(), trainee.clone());
        let step = loaded.and_then(|step| {
            // Class-wide --param values go to the submissions that declare them.
            for (k, v) in &extra {
                if step.info().params.contains_key(k) {
                    params.insert(k.clone(), v.clone());
                }
            }
            check_params(step.path(), &step.info().params, &params)
                .map(|filled| {
                    params = filled;
                    let id = step_id(&step);
                    (Arc::new(step), id)
                })
                .map_err(|e| e.text())
        });
        planned.push(PlannedRun::single(trainee, params, step));
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "class".into());
    Ok((name, planned))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any text is a class file or one line saying why not; never a panic.
        #[test]
        fn any_text_parses_or_is_refused_in_one_line(text in "(\\[\\[submission\\]\\]\n)?(trainee|step|x) = \"[^\"]{0,12}\"\n.{0,80}") {
            if let Err(e) = parse(&text, "class.toml") {
                proptest::prop_assert!(!e.to_string().contains('\n'), "{e}");
            }
        }

        #[test]
        fn any_trainee_ids(ids in proptest::collection::vec(".{0,10}", 0..4)) {
            let text: String = ids
                .iter()
                .map(|id| format!("[[submission]]\ntrainee = {}\nstep = \"s.rhai\"\n", serde_json::to_string(id).unwrap()))
                .collect();
            match parse(&text, "class.toml") {
                Ok(class) => proptest::prop_assert_eq!(class.submission.len(), ids.len()),
                Err(e) => proptest::prop_assert!(!e.to_string().contains('\n'), "{e}"),
            }
        }
    }

    #[test]
    fn refusals_name_the_fix() {
        assert!(parse("", "c.toml")
            .unwrap_err()
            .to_string()
            .contains("lists no [[submission]]"));
        let twice = "[[submission]]\ntrainee = \"user05\"\nstep = \"a.rhai\"\n[[submission]]\ntrainee = \"user05\"\nstep = \"b.rhai\"\n";
        assert!(parse(twice, "c.toml")
            .unwrap_err()
            .to_string()
            .contains("user05 has two submissions"));
    }
}
