//! The class's own questions, answered in a cycle's snapshot (new JSON fields only):
//! who is done and since when, who is stuck on what and for how long, who has not
//! started, whose roster id matches nothing, each trainee's place, and the ids'
//! titles. The board and the trainee pages read these; nothing here decides, it reads
//! [`crate::outcome::done`] and the [`History`].

use serde_json::{json, Value};

use crate::history::{rfc3339, History};
use crate::outcome::{done, Report};

/// What a trainee is, for the board: in this order, the first that holds.
pub fn state(t: &crate::outcome::TraineeReport, stuck: &[crate::history::Stuck]) -> &'static str {
    if t.unmatched {
        "unmatched"
    } else if t.tally().done {
        "done"
    } else if !done::started(t) {
        "not_started"
    } else if stuck.iter().any(|s| s.trainee == t.trainee) {
        "stuck"
    } else {
        "working"
    }
}

/// Adds the class summary to `snapshot` (a report's JSON, already annotated with the
/// history): `titles`, each trainee's `state`, `finished_at`, `at` and (in a course)
/// `not_started`, and `watch.class`.
pub fn annotate(
    snapshot: &mut Value,
    report: &Report,
    history: &History,
    titles: &std::collections::BTreeMap<String, crate::outcome::Message>,
    stuck_after_ms: u64,
    now: u64,
) {
    // Not started and unmatched trainees are named apart, not as stuck.
    let stuck: Vec<_> = history
        .stuck(now, stuck_after_ms)
        .into_iter()
        .filter(|s| {
            report
                .trainees
                .iter()
                .find(|t| t.trainee == s.trainee)
                .is_some_and(|t| !t.unmatched && done::started(t) && !t.tally().done)
        })
        .collect();
    snapshot["titles"] = json!(titles);
    let mut finished = Vec::new();
    if let Some(trainees) = snapshot["trainees"].as_array_mut() {
        for (t, value) in report.trainees.iter().zip(trainees) {
            let place = history.trainees.get(&t.trainee);
            let finished_at = place.and_then(|p| p.finished_at).filter(|_| t.tally().done);
            if let Some(at) = finished_at {
                finished.push((at, t.trainee.clone()));
            }
            value["state"] = json!(state(t, &stuck));
            value["finished_at"] = finished_at.map(rfc3339).map_or(Value::Null, Value::from);
            value["at"] = match place.and_then(|p| Some((p.at.as_ref()?, p))) {
                Some((id, p)) if !t.tally().done => json!({
                    "id": id,
                    "status": p.status,
                    "since": rfc3339(p.since),
                }),
                _ => Value::Null,
            };
            if !report.steps.is_empty() {
                value["not_started"] = json!(done::not_started(&report.steps, t));
            }
        }
    }
    finished.sort();
    let names = |state_of: &str| -> Vec<String> {
        report
            .trainees
            .iter()
            .filter(|t| state(t, &stuck) == state_of)
            .map(|t| t.trainee.clone())
            .collect()
    };
    snapshot["watch"]["class"] = json!({
        "trainees": report.trainees.len(),
        "done": report.trainees.iter().filter(|t| t.tally().done).count(),
        "finished": finished.iter().map(|(at, trainee)| json!({
            "trainee": trainee, "at": rfc3339(*at),
        })).collect::<Vec<_>>(),
        "stuck_after_s": stuck_after_ms / 1000,
        "stuck": stuck.iter().map(|s| json!({
            "trainee": s.trainee,
            "id": s.id,
            "since": rfc3339(s.since),
            "seconds": now.saturating_sub(s.since) / 1000,
        })).collect::<Vec<_>>(),
        "not_started": names("not_started"),
        "unmatched": names("unmatched"),
    });
}
