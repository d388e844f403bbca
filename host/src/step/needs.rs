//! Prerequisites between checklist ids (`needs`): declared ones form no cycle
//! ([`check_needs`]), and a row whose prerequisite did not pass becomes `skip` naming it
//! ([`enforce_needs`]), the same for both front-ends.

use std::collections::{BTreeMap, HashSet};

use crate::outcome::{Message, Outcome, Status};
use crate::text::{self, step as t, Text};

/// Prerequisites name declared ids, never the id itself, and form no cycle.
pub fn check_needs(
    needs: &BTreeMap<String, Vec<String>>,
    declared: &HashSet<&str>,
) -> Result<(), Text> {
    for (id, before) in needs {
        if !declared.contains(id.as_str()) {
            return Err(t::NeedsUndeclared { id }.into());
        }
        for b in before {
            if !declared.contains(b.as_str()) {
                return Err(t::NeedsUndeclaredBefore { id, before: b }.into());
            }
            if b == id {
                return Err(t::NeedsItself { id }.into());
            }
        }
    }
    // A cycle: walk from each id; a path that comes back to an id on it is one.
    fn walk<'a>(
        id: &'a str,
        needs: &'a BTreeMap<String, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut HashSet<&'a str>,
    ) -> Result<(), Text> {
        if let Some(at) = path.iter().position(|p| *p == id) {
            let mut cycle: Vec<&str> = path[at..].to_vec();
            cycle.push(id);
            return Err(t::NeedsCycle {
                cycle: cycle.join(" → "),
            }
            .into());
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
    let mut done = HashSet::new();
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
                message: Message::text(text::run::SkippedUnmet { unmet }),
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
