//! What a step says about itself before it runs ([`StepInfo`]: name, title, params,
//! checklist ids, prerequisites, titles) and the contract both front-ends check it
//! against when a step is loaded ([`check_info`]).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::needs::check_needs;
use super::params::{check_param_decls, Param};
use crate::outcome::{check_id, Message};
use crate::text::inert::{describe_char, needs_escape};
use crate::text::{step as t, Text};

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
    /// trainee's ([`super::requires`]). WIT 0.2.0 has no field for it: components
    /// declare none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requires: BTreeMap<String, Vec<super::requires::Need>>,
    /// Titles of (some of) the checklist ids, for `labrun describe`.
    pub titles: BTreeMap<String, Message>,
}

/// The longest step name, in characters (it heads every trainee's block).
pub const MAX_NAME_CHARS: usize = 64;

/// The step contract, checked when a step is loaded (both front-ends): a name of 1 to
/// [`MAX_NAME_CHARS`] printable characters, and a `checks` list that is not empty,
/// holds valid outcome ids (see [`check_id`]) and names each id once. The error is one
/// line saying what to change in `describe()`.
pub fn check_info(info: &StepInfo) -> Result<(), Text> {
    let name_chars = info.name.chars().count();
    if name_chars == 0 {
        return Err(t::NameEmpty.into());
    }
    if name_chars > MAX_NAME_CHARS {
        return Err(t::NameLong {
            chars: name_chars,
            max: MAX_NAME_CHARS,
        }
        .into());
    }
    if let Some(bad) = info.name.chars().find(|c| needs_escape(*c)) {
        return Err(t::NameChar {
            name: &info.name,
            bad: describe_char(bad),
        }
        .into());
    }
    if info.checks.is_empty() {
        return Err(t::ChecksEmpty.into());
    }
    let mut seen = HashSet::with_capacity(info.checks.len());
    for id in &info.checks {
        check_id(id).map_err(|why| Text::from(t::BadCheck { why }))?;
        if !seen.insert(id.as_str()) {
            return Err(t::CheckTwice { id }.into());
        }
    }
    check_needs(&info.needs, &seen)?;
    if let Some(id) = info.requires.keys().find(|id| !seen.contains(id.as_str())) {
        return Err(t::RequiresUndeclared { id }.into());
    }
    if let Some(id) = info.titles.keys().find(|id| !seen.contains(id.as_str())) {
        return Err(t::TitleUndeclared { id }.into());
    }
    check_param_decls(&info.params)
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

    #[test]
    fn the_checklist_must_be_declared_once_and_not_empty() {
        assert!(check_info(&info("step3", &["A1", "A2", "web-1:http", "x.y_z#2"])).is_ok());
        let err = check_info(&info("step3", &[])).unwrap_err().to_string();
        assert!(err.starts_with("`checks` is empty"), "{err}");
        let err = check_info(&info("step3", &["A1", "A2", "A1"]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`checks` lists `A1` twice: declare each checklist id once"
        );
        let err = check_info(&info("step3", &["A 1"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds a space"), "{err}");
        let long = "C".repeat(100_000);
        let err = check_info(&info("step3", &[&long]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("100000 characters long"), "{err}");
        assert!(err.len() < 200, "the error shows the id cut short: {err}");
        let err = check_info(&info("step3", &["A1\x1b[2J\n"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("A1\\u{1b}[2J\\n"), "{err}");
        assert!(err.contains("U+001B"), "{err}");
        assert!(!err.contains('\x1b') && !err.contains('\n'), "{err}");
    }

    #[test]
    fn a_step_name_is_short_printable_text() {
        assert!(check_info(&info("Step 3: web tier", &["A1"])).is_ok());
        assert!(check_info(&info("", &["A1"]))
            .unwrap_err()
            .to_string()
            .contains("`name` is empty"));
        let err = check_info(&info("step3\x1b[2J", &["A1"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("step3\\u{1b}[2J") && !err.contains('\x1b'),
            "{err}"
        );
        let err = check_info(&info(&"n".repeat(65), &["A1"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 64"), "{err}");
    }
}
