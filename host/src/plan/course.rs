//! A course: the workshop's steps in order, each with the params of one edition of
//! the manual, run for every trainee into one report. The course file is the
//! instructor's (like a step, it runs at instructor trust unless told otherwise);
//! every step is loaded once, and every trainee's params are checked against every
//! step before anything runs, so a course naming a missing step or giving a step a
//! param it does not take is one line and exit 64.
//!
//! ```toml
//! # courses/wordpress-2019.toml — step paths are relative to this file
//! name = "wordpress-2019"
//! title = { en = "…", ja = "…" }
//!
//! [[step]]
//! id = "S1"                          # the prefix of its ids in the report: S1-A1
//! step = "../scripts/step1.rhai"     # or REGISTRY/REPO:VERSION (see `plugin lock`)
//!
//! [[step]]
//! id = "S3"
//! step = "../scripts/step3.rhai"
//! params = { reader = "wp-{user}-slave" }   # {user} is each trainee's id
//! ```
//!
//! A `.toml` file is a course when it lists `[[step]]`, a class file when it lists
//! `[[submission]]` ([`super::class`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{load_step, step_id, trainee_params, PlanError, TRAINEE_PARAM};
use crate::error::LoadError;
use crate::execute::{PlannedPart, PlannedRun};
use crate::flags::Flags;
use crate::outcome::{CourseStep, Message};
use crate::policy::Limits;
use crate::publish::reference::Reference;
use crate::publish::FetchArgs;
use crate::step::wasm::Grants;
use crate::step::{check_params, Step};
use crate::text::{course as t, quoted, Text, ToText};

/// How the two kinds of `.toml` file are told apart.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CourseFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title: Option<Title>,
    #[serde(default)]
    step: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Title {
    en: String,
    ja: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    step: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
}

/// A `.toml` file's kind, read from its text: `Ok(true)` for a course, `Ok(false)`
/// for a class file; TOML that is neither (or not TOML) is one line saying what each
/// kind lists.
pub fn is_course(path: &Path) -> Result<bool, PlanError> {
    let text = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
        bad(t::CannotReadFile {
            path,
            why: quoted(e),
        })
    })?;
    is_course_text(&text, &path.display().to_string())
}

fn is_course_text(text: &str, shown: &str) -> Result<bool, PlanError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        bad(t::NotToml {
            path: shown,
            why: quoted(one_line(&e.to_string())),
        })
    })?;
    match (table.contains_key("step"), table.contains_key("submission")) {
        (true, true) => Err(bad(t::Both { path: shown })),
        (true, false) => Ok(true),
        _ => Ok(false),
    }
}

fn bad(why: impl Into<Text>) -> PlanError {
    PlanError::Load(LoadError::Course(why.into()))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a course file's text: at least one step; each id a short outcome-id prefix
/// (`S1`), given once; each step named; each param value's `{…}` placeholder the
/// trainee (`{user}`).
fn parse(text: &str, shown: &str) -> Result<CourseFile, PlanError> {
    let course: CourseFile = toml::from_str(text).map_err(|e| {
        bad(t::NotACourse {
            path: shown,
            why: quoted(one_line(&e.to_string())),
        })
    })?;
    if course.step.is_empty() {
        return Err(bad(t::NoStep { path: shown }));
    }
    if let Some(name) = &course.name {
        if name.trim().is_empty() || name.chars().any(crate::outcome::inert::needs_escape) {
            return Err(bad(t::BadName {
                path: shown,
                name: format!("{name:?}"),
            }));
        }
    }
    let mut seen = BTreeSet::new();
    for (n, entry) in course.step.iter().enumerate() {
        let prefix_ok = !entry.id.is_empty()
            && entry.id.len() <= MAX_STEP_ID_CHARS
            && entry.id.chars().all(|c| c.is_ascii_alphanumeric());
        if !prefix_ok {
            return Err(bad(t::BadId {
                path: shown,
                n: n + 1,
                id: &entry.id,
                max: MAX_STEP_ID_CHARS,
            }));
        }
        if !seen.insert(entry.id.clone()) {
            return Err(bad(t::IdTwice {
                path: shown,
                id: &entry.id,
            }));
        }
        if entry.step.trim().is_empty() {
            return Err(bad(t::NoStepFile {
                path: shown,
                id: &entry.id,
            }));
        }
        if entry.params.contains_key(TRAINEE_PARAM) {
            return Err(bad(t::SetsTrainee {
                path: shown,
                id: &entry.id,
                param: TRAINEE_PARAM,
            }));
        }
        for (key, value) in &entry.params {
            placeholders(value, "").map_err(|why| {
                bad(t::InParam {
                    path: shown,
                    id: &entry.id,
                    key,
                    why,
                })
            })?;
        }
    }
    Ok(course)
}

/// The longest course step id: with `-` and the longest step id it stays a valid
/// outcome id in most steps, and it is meant to be short (`S1`).
pub const MAX_STEP_ID_CHARS: usize = 8;

/// `value` with `{user}` replaced by `trainee`; any other `{…}` is refused, naming it.
fn placeholders(value: &str, trainee: &str) -> Result<String, Text> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(t::Unclosed {
                value,
                param: TRAINEE_PARAM,
            }
            .into());
        };
        let name = &after[..close];
        if name != TRAINEE_PARAM {
            return Err(t::UnknownPlaceholder {
                name,
                param: TRAINEE_PARAM,
            }
            .into());
        }
        out.push_str(trainee);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Where a course entry's step comes from.
enum Source {
    /// A file, relative to the course file.
    File(PathBuf),
    /// A published step (`REGISTRY/REPO:VERSION`).
    Reference(String),
}

/// A local file when one exists at that path (relative to the course file), else a
/// reference when it reads as one, else a missing file.
fn source(base: &Path, text: &str) -> Source {
    let path = base.join(text);
    if path.exists() {
        return Source::File(path);
    }
    match Reference::parse(text) {
        Some(_) if !text.starts_with(['.', '/']) => Source::Reference(text.to_string()),
        _ => Source::File(path),
    }
}

/// The step references a course names, in course order (for `labrun plugin lock`,
/// which pins them all); local step files are not locked.
pub fn references(path: &Path) -> Result<Vec<String>, PlanError> {
    let text = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
        bad(t::CannotRead {
            path,
            why: quoted(e),
        })
    })?;
    let course = parse(&text, &path.display().to_string())?;
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(course
        .step
        .iter()
        .filter_map(|e| match source(base, &e.step) {
            Source::Reference(r) => Some(r),
            Source::File(_) => None,
        })
        .collect())
}

/// The references `labrun plugin lock` pins: a course file among them stands for the
/// step references it names, so one `plugin lock COURSE` pins every published step of
/// the course; anything else is kept as given.
pub fn lock_references(given: Vec<String>) -> Result<Vec<String>, PlanError> {
    let mut out = Vec::with_capacity(given.len());
    for text in given {
        let path = Path::new(&text);
        if !(super::class::is_class_file(path) && path.is_file() && is_course(path)?) {
            out.push(text);
            continue;
        }
        let references = references(path)?;
        if references.is_empty() {
            return Err(bad(t::NoReference { path: &text }));
        }
        out.extend(references);
    }
    Ok(out)
}

/// What planning a course gives [`super::plan`].
pub struct Planned {
    pub name: String,
    pub title: Option<Message>,
    pub steps: Vec<CourseStep>,
    pub runs: Vec<PlannedRun>,
}

/// Reads the course, pulls its referenced steps (verified, through `--lock` when
/// given), loads every step once and plans every trainee's run of every step.
/// `--param` values go to the steps that declare them; one that no step declares
/// is refused.
pub async fn plan(
    path: &Path,
    flags: &Flags,
    roster_file: Option<&super::roster_csv::Roster>,
    limits: &Limits,
    grants: &Grants,
) -> Result<Planned, PlanError> {
    let shown = path.display().to_string();
    let text = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
        bad(t::CannotRead {
            path,
            why: quoted(e),
        })
    })?;
    let course = parse(&text, &shown)?;
    let steps = load_steps(path, &course, &flags.fetch, limits, grants).await?;

    let given = trainee_params(flags, roster_file)?;
    // A --param no step takes is a typo, as it would be for one step.
    if let Some((_, params)) = given.first() {
        for key in params.keys().filter(|k| *k != TRAINEE_PARAM) {
            if !steps.iter().any(|(s, _)| s.info().params.contains_key(key)) {
                return Err(PlanError::Load(LoadError::Params(
                    t::UnknownParam {
                        param: key,
                        path: &shown,
                    }
                    .into(),
                )));
            }
        }
    }
    let mut runs = Vec::with_capacity(given.len());
    for (trainee, flag_params) in given {
        let mut parts = Vec::with_capacity(steps.len());
        for (entry, (step, id)) in course.step.iter().zip(&steps) {
            let mut params = BTreeMap::new();
            for (key, value) in &entry.params {
                let value = placeholders(value, &trainee).map_err(|why| {
                    bad(t::InParam {
                        path: &shown,
                        id: &entry.id,
                        key,
                        why,
                    })
                })?;
                params.insert(key.clone(), value);
            }
            // The operator's --param wins over the course file, for the steps that take it.
            for (key, value) in &flag_params {
                if key == TRAINEE_PARAM || step.info().params.contains_key(key) {
                    params.insert(key.clone(), value.clone());
                }
            }
            // The step's defaults fill what neither the course nor --param gave.
            let params = check_params(step.path(), &step.info().params, &params).map_err(|e| {
                PlanError::Load(LoadError::Params(
                    t::InStep {
                        path: &shown,
                        id: &entry.id,
                        why: e.text(),
                    }
                    .into(),
                ))
            })?;
            parts.push(PlannedPart {
                course_step: Some(entry.id.clone()),
                params,
                step: Ok((step.clone(), id.clone())),
            });
        }
        runs.push(PlannedRun {
            trainee,
            parts,
            person: Default::default(),
            account: None,
        });
    }
    let name = course.name.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "course".into())
    });
    Ok(Planned {
        name,
        title: course.title.map(|t| Message::new(t.en, t.ja)),
        steps: course
            .step
            .iter()
            .zip(&steps)
            .map(|(entry, (step, _))| CourseStep {
                id: entry.id.clone(),
                name: step.info().name.clone(),
                title: step.info().title.clone(),
            })
            .collect(),
        runs,
    })
}

/// The steps a course names, in course order with their course ids, each loaded
/// once (referenced ones pulled and verified first): what `labrun iam-policy` and
/// preflight read without planning any trainee.
pub async fn steps(
    path: &Path,
    fetch: &FetchArgs,
    limits: &Limits,
    grants: &Grants,
) -> Result<Vec<(String, Arc<Step>)>, PlanError> {
    let shown = path.display().to_string();
    let text = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
        bad(t::CannotRead {
            path,
            why: quoted(e),
        })
    })?;
    let course = parse(&text, &shown)?;
    let steps = load_steps(path, &course, fetch, limits, grants).await?;
    Ok(course
        .step
        .iter()
        .zip(steps)
        .map(|(entry, (step, _))| (entry.id.clone(), step))
        .collect())
}

async fn load_steps(
    path: &Path,
    course: &CourseFile,
    fetch: &FetchArgs,
    limits: &Limits,
    grants: &Grants,
) -> Result<Vec<(Arc<Step>, crate::gate::StepId)>, PlanError> {
    let shown = path.display().to_string();
    let base = path.parent().unwrap_or(Path::new("."));
    let sources: Vec<Source> = course.step.iter().map(|e| source(base, &e.step)).collect();
    let by_reference = sources.iter().any(|s| matches!(s, Source::Reference(_)));
    if !by_reference && (fetch.lock.is_some() || !fetch.trusted_keys.is_empty()) {
        return Err(PlanError::Flag(
            t::LockOnlyReferences { path: &shown }.into(),
        ));
    }
    let mut steps: Vec<(Arc<Step>, crate::gate::StepId)> = Vec::new();
    for (entry, source) in course.step.iter().zip(sources) {
        let file = match source {
            Source::File(file) => {
                if !file.is_file() {
                    return Err(bad(t::Missing {
                        path: &shown,
                        id: &entry.id,
                        file: &file,
                    }));
                }
                file
            }
            Source::Reference(r) => pull(&r, fetch).await.map_err(|e| match e {
                PlanError::Load(l) => bad(t::InStep {
                    path: &shown,
                    id: &entry.id,
                    why: l.text(),
                }),
                other => other,
            })?,
        };
        let step = load_step(&file, limits, grants).await.map_err(|e| {
            bad(t::InStep {
                path: &shown,
                id: &entry.id,
                why: e.text(),
            })
        })?;
        let id = step_id(&step);
        steps.push((Arc::new(step), id));
    }
    Ok(steps)
}

async fn pull(reference: &str, fetch: &FetchArgs) -> Result<PathBuf, PlanError> {
    crate::publish::pull(reference, fetch)
        .await
        .map(|p| p.path)
        .map_err(super::fetch_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any text is a course or one line saying why not; never a panic.
        #[test]
        fn any_text_parses_or_is_refused_in_one_line(text in "(\\[\\[step\\]\\]\n)?(id|step|params|x) = \"[^\"]{0,12}\"\n.{0,80}") {
            if let Err(e) = parse(&text, "course.toml") {
                proptest::prop_assert!(!e.to_string().contains('\n'), "{e}");
            }
            if let Err(e) = is_course_text(&text, "course.toml") {
                proptest::prop_assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }

    #[test]
    fn a_toml_file_is_a_course_or_a_class_by_what_it_lists() {
        assert!(is_course_text("[[step]]\nid = \"S1\"\nstep = \"a.rhai\"\n", "c").unwrap());
        assert!(!is_course_text("[[submission]]\ntrainee = \"u\"\nstep = \"a\"\n", "c").unwrap());
        let both =
            "[[step]]\nid = \"S1\"\nstep = \"a\"\n[[submission]]\ntrainee = \"u\"\nstep = \"a\"\n";
        assert!(is_course_text(both, "c")
            .unwrap_err()
            .to_string()
            .contains("lists both"));
        let e = is_course_text("[[step]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("c.toml is not valid TOML (a course file lists [[step]]"),
            "{e}"
        );
    }

    #[test]
    fn refusals_name_the_fix() {
        let one = |text: &str| parse(text, "c.toml").unwrap_err().to_string();
        assert_eq!(one("name = \"x\"\n"), "c.toml lists no [[step]]");
        assert!(
            one("[[step]]\nid = \"S1\"\nstep = \"a\"\n[[step]]\nid = \"S1\"\nstep = \"b\"\n")
                .contains("the step id S1 is given twice")
        );
        assert!(one("[[step]]\nid = \"S-1\"\nstep = \"a\"\n").contains("e.g. id = \"S1\""));
        assert!(
            one("[[step]]\nid = \"S1\"\nstep = \"a\"\nparams = { reader = \"wp-{usr}\" }\n")
                .contains("`{usr}` is not a placeholder")
        );
        assert!(
            one("[[step]]\nid = \"S1\"\nstep = \"a\"\nparams = { user = \"user05\" }\n")
                .contains("the trainee is given with --trainee")
        );
        assert!(
            one("[[step]]\nid = \"S1\"\nstep = \"a\"\nparams = { n = 3 }\n")
                .starts_with("c.toml is not a course file")
        );
        assert!(one("[[step]]\nid = \"S1\"\nstep = \"a\"\nsteps = 1\n").contains("unknown field"));
    }

    #[test]
    fn user_is_the_one_placeholder() {
        assert_eq!(
            placeholders("wp-{user}-slave", "user05").unwrap(),
            "wp-user05-slave"
        );
        assert_eq!(placeholders("plain", "user05").unwrap(), "plain");
        assert!(placeholders("wp-{user", "u").is_err());
    }
}
