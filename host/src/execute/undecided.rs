//! Which outcomes a run leaves undecided: the checks whose `requires` the operator
//! did not give (no `--ssh-key`, no MySQL password, a capability the policy does not
//! grant), and the checks that need one of those first (`needs`). Computed from the
//! plan alone, before anything runs, so the same list is named on stderr before the
//! first cycle, marked on the rows after each run, and printed by a preflight.

use std::collections::BTreeMap;

use super::{course_id, Answers, PlannedPart, RunPlan};
use crate::outcome::{Outcome, Status, Undecided};
use crate::policy::Policy;
use crate::step::requires::{needs_phrase, undecided_line, Need, Operator};

/// The operator's side of deciding: what the plan was given.
pub fn operator<'a>(answers: &Answers, policy: &'a Policy) -> Operator<'a> {
    match answers {
        Answers::Live(settings) => Operator::live(settings, policy),
        Answers::Replay(cassette) => Operator::recorded(&cassette.recorded, policy),
    }
}

/// Undecided ids (as the report names them), each with the needs not given.
pub type UndecidedIds = Vec<(String, Vec<Need>)>;

/// One part's undecided ids (as the report names them, `S3-A5` in a course), in the
/// step's checklist order, each with the needs the operator did not give.
pub fn of_part(part: &PlannedPart, operator: &Operator) -> UndecidedIds {
    let Ok((step, _)) = &part.step else {
        return Vec::new();
    };
    let info = step.info();
    let mut unmet: BTreeMap<&str, Vec<Need>> = BTreeMap::new();
    for (id, needs) in &info.requires {
        let mut missing: Vec<Need> = needs
            .iter()
            .filter(|n| n.unmet(operator))
            .cloned()
            .collect();
        missing.sort();
        if !missing.is_empty() {
            unmet.insert(id.as_str(), missing);
        }
    }
    // A check that needs an undecided one first is undecided too (D1 needs A5).
    // Prerequisites are acyclic (checked at load): this settles within checks.len().
    for _ in 0..info.checks.len() {
        let mut changed = false;
        for (id, before) in &info.needs {
            let mut inherited: Vec<Need> = before
                .iter()
                .filter_map(|b| unmet.get(b.as_str()))
                .flatten()
                .cloned()
                .collect();
            if inherited.is_empty() {
                continue;
            }
            let entry = unmet.entry(id.as_str()).or_default();
            inherited.retain(|n| !entry.contains(n));
            if !inherited.is_empty() {
                entry.extend(inherited);
                entry.sort();
                entry.dedup();
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    info.checks
        .iter()
        .filter_map(|id| {
            let needs = unmet.get(id.as_str())?.clone();
            let shown = match &part.course_step {
                Some(s) => course_id(s, id),
                None => id.clone(),
            };
            Some((shown, needs))
        })
        .collect()
}

/// Every trainee's undecided ids with their needs.
pub fn by_trainee(plan: &RunPlan) -> Vec<(String, UndecidedIds)> {
    let operator = operator(&plan.answers, &plan.policy);
    plan.runs
        .iter()
        .map(|run| {
            let ids = run
                .parts
                .iter()
                .flat_map(|p| of_part(p, &operator))
                .collect();
            (run.trainee.clone(), ids)
        })
        .collect()
}

/// What the plan leaves undecided, grouped for people: one entry per set of ids
/// sharing the same needs, naming the trainees only when it is not all of them.
pub fn undecided(plan: &RunPlan) -> Vec<Undecided> {
    group(&by_trainee(plan))
}

fn group(by_trainee: &[(String, UndecidedIds)]) -> Vec<Undecided> {
    // (needs, ids) → trainees, in first-seen order.
    let mut groups: Vec<(Vec<Need>, Vec<String>, Vec<String>)> = Vec::new();
    for (trainee, ids) in by_trainee {
        let mut by_needs: Vec<(Vec<Need>, Vec<String>)> = Vec::new();
        for (id, needs) in ids {
            match by_needs.iter_mut().find(|(n, _)| n == needs) {
                Some((_, list)) => list.push(id.clone()),
                None => by_needs.push((needs.clone(), vec![id.clone()])),
            }
        }
        for (needs, ids) in by_needs {
            match groups.iter_mut().find(|(n, i, _)| *n == needs && *i == ids) {
                Some((_, _, trainees)) => trainees.push(trainee.clone()),
                None => groups.push((needs, ids, vec![trainee.clone()])),
            }
        }
    }
    groups
        .into_iter()
        .map(|(needs, ids, trainees)| {
            let trainees = if trainees.len() == by_trainee.len() {
                Vec::new()
            } else {
                trainees
            };
            Undecided {
                message: undecided_line(&ids, &needs, &trainees),
                needs: needs.iter().cloned().map(String::from).collect(),
                wanting: needs_phrase(&needs),
                ids,
                trainees,
            }
        })
        .collect()
}

/// Marks a trainee's rows that the run could not decide: an `error` or `skip` of an
/// undecided id. A pass, fail or pending there was decided after all (a tunnel the
/// operator made, a cassette that holds the answer) and stays as it is.
pub fn mark(rows: &mut [Outcome], undecided: &[(String, Vec<Need>)]) {
    for row in rows {
        if matches!(row.status, Status::Error | Status::Skip)
            && undecided.iter().any(|(id, _)| *id == row.id)
        {
            row.undecided = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sharing_needs_are_one_line_and_trainees_are_named_only_when_not_all() {
        let ssh = vec![Need::Ssh];
        let both = vec![Need::Vpc, Need::Mysql(None)];
        let same = vec![
            ("A5".to_string(), both.clone()),
            ("A6".to_string(), both.clone()),
            ("F1".to_string(), ssh.clone()),
        ];
        let groups = group(&[
            ("user01".into(), same.clone()),
            ("user02".into(), same.clone()),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].ids, ["A5", "A6"]);
        assert!(groups[0].trainees.is_empty());
        assert_eq!(
            groups[1].message.en,
            "F1 needs --ssh-key: not decided in this run"
        );
        let groups = group(&[("user01".into(), same), ("user02".into(), Vec::new())]);
        assert_eq!(groups[0].trainees, ["user01"]);
    }
}
