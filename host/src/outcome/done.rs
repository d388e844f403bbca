//! Done, defined once. A trainee's step is *done* when every outcome that can be
//! decided with the operator's settings passed, or was skipped: in a step that has no
//! decidable `fail`, `pending` or `error`, a skip is an outcome a later step
//! superseded (or one waiting on a check labrun was not given the means to make).
//! An *undecided* row (`error` or `skip` only because labrun lacks `--ssh-key`, a
//! password or a grant) is left out: never passed, failed or done. A step with no
//! decidable row is not done (nothing says it is).
//!
//! `--until done`, the exit code, `passed`/`total` in every format, the dashboard and
//! a course's current step all read this module.

use serde::{Deserialize, Serialize};

use super::{Message, Outcome, Status};

/// One trainee's rows, counted the one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Every step of the trainee's run is done.
    pub done: bool,
    /// Decidable rows that count toward done: passes, and every row of a done step
    /// (its skips are superseded outcomes).
    pub passed: usize,
    /// Decidable rows.
    pub total: usize,
}

/// Whether one step's rows are done.
pub fn step_done<'a>(rows: impl IntoIterator<Item = &'a Outcome>) -> bool {
    let mut decidable = 0;
    for o in rows.into_iter().filter(|o| !o.undecided) {
        decidable += 1;
        if matches!(o.status, Status::Fail | Status::Pending | Status::Error) {
            return false;
        }
    }
    decidable > 0
}

/// The tally of a trainee's rows, step by step (a course's rows carry their step;
/// outside a course every row is one step's).
pub fn tally(rows: &[Outcome]) -> Tally {
    let mut steps: Vec<Option<&str>> = Vec::new();
    for o in rows {
        if !steps.contains(&o.step.as_deref()) {
            steps.push(o.step.as_deref());
        }
    }
    let mut out = Tally {
        done: !steps.is_empty(),
        passed: 0,
        total: 0,
    };
    for step in steps {
        let of_step = || rows.iter().filter(move |o| o.step.as_deref() == step);
        let done = step_done(of_step());
        out.done &= done;
        for o in of_step().filter(|o| !o.undecided) {
            out.total += 1;
            if done || o.status == Status::Pass {
                out.passed += 1;
            }
        }
    }
    out
}

/// The grade an LMS imports, 0–100, rounded down: the outcomes done (as [`tally`]
/// counts them) over the outcomes decided, done or `fail`/`pending`. An `error`
/// (labrun could not look), a skip in a step not done and an undecided row count
/// neither way. `None` when nothing was decided.
pub fn grade(rows: &[Outcome]) -> Option<u32> {
    let t = tally(rows);
    let against = rows
        .iter()
        .filter(|o| !o.undecided && matches!(o.status, Status::Fail | Status::Pending))
        .count();
    let decided = t.passed + against;
    (decided > 0).then(|| (100 * t.passed / decided) as u32)
}

/// The course steps a trainee has not reached: after their current step, with no row
/// passed yet. The board shows them "not started", not as the fails they read as.
pub fn not_started(steps: &[super::CourseStep], t: &super::TraineeReport) -> Vec<String> {
    let Some(current) = t.course.as_ref().and_then(|c| c.current.as_deref()) else {
        return Vec::new();
    };
    steps
        .iter()
        .skip_while(|s| s.id != current)
        .skip(1)
        .filter(|s| {
            !t.results
                .iter()
                .any(|o| o.step.as_deref() == Some(s.id.as_str()) && o.status == Status::Pass)
        })
        .map(|s| s.id.clone())
        .collect()
}

/// Whether a trainee has begun: some decidable row passed.
pub fn started(t: &super::TraineeReport) -> bool {
    t.results
        .iter()
        .any(|o| !o.undecided && o.status == Status::Pass)
}

/// Outcomes a run leaves undecided, and what would decide them: the report's
/// `undecided` list and the line on stderr before the first cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undecided {
    /// The ids as the report names them (`A5`, or `S3-A5` in a course).
    pub ids: Vec<String>,
    /// What the checks need, as `describe()`'s `requires` names it (`ssh`, `vpc`,
    /// `mysql`, `mysql:NAME`, a capability).
    pub needs: Vec<String>,
    /// The same as the operator would give it ("--ssh-key and --mysql-password-file").
    pub wanting: Message,
    /// The trainees concerned; empty when it is every trainee of the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trainees: Vec<String>,
    /// The line, both languages: "A5 A6 D1 need --ssh-key: not decided in this run".
    pub message: Message,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: Option<&str>, id: &str, status: Status, undecided: bool) -> Outcome {
        Outcome {
            id: id.into(),
            status,
            message: Message::new("", ""),
            evidence: None,
            step: step.map(str::to_string),
            undecided,
        }
    }

    #[test]
    fn a_finished_step_with_a_superseded_skip_is_done_and_counts_it() {
        let rows = [
            row(None, "A1", Status::Pass, false),
            row(None, "C1", Status::Skip, false),
            row(None, "A5", Status::Error, true),
        ];
        assert_eq!(
            tally(&rows),
            Tally {
                done: true,
                passed: 2,
                total: 2
            }
        );
    }

    #[test]
    fn a_fail_pending_or_decidable_error_is_not_done_and_skips_do_not_count() {
        for bad in [Status::Fail, Status::Pending, Status::Error] {
            let rows = [
                row(None, "A1", bad, false),
                row(None, "A2", Status::Skip, false),
                row(None, "A3", Status::Pass, false),
            ];
            assert_eq!(
                tally(&rows),
                Tally {
                    done: false,
                    passed: 1,
                    total: 3
                },
                "{bad:?}"
            );
        }
    }

    #[test]
    fn course_steps_are_done_one_by_one_and_nothing_decidable_is_not_done() {
        let rows = [
            row(Some("S1"), "S1-A1", Status::Pass, false),
            row(Some("S1"), "S1-C1", Status::Skip, false),
            row(Some("S2"), "S2-A1", Status::Pass, false),
            row(Some("S2"), "S2-A2", Status::Fail, false),
            row(Some("S2"), "S2-A3", Status::Skip, false),
        ];
        assert_eq!(
            tally(&rows),
            Tally {
                done: false,
                passed: 3,
                total: 5
            }
        );
        assert!(!step_done(&[row(None, "A5", Status::Error, true)]));
        assert!(!tally(&[]).done);
    }

    #[test]
    fn the_grade_is_done_over_decided_and_an_outage_counts_neither_way() {
        let rows = [
            row(Some("S1"), "S1-A1", Status::Pass, false),
            row(Some("S1"), "S1-C1", Status::Skip, false),
            row(Some("S2"), "S2-A1", Status::Pass, false),
            row(Some("S2"), "S2-A2", Status::Fail, false),
            row(Some("S2"), "S2-A3", Status::Error, false),
            row(Some("S2"), "S2-A4", Status::Error, true),
        ];
        // S1 done (its superseded skip counts): 3 done of 4 decided.
        assert_eq!(grade(&rows), Some(75));
        assert_eq!(grade(&[row(None, "A1", Status::Error, false)]), None);
    }

    #[test]
    fn steps_after_the_current_one_with_nothing_passed_are_not_started() {
        let step = |id: &str| super::super::CourseStep {
            id: id.into(),
            name: id.into(),
            title: Message::new("", ""),
        };
        let steps = [step("S1"), step("S2"), step("S3")];
        let mut t = super::super::TraineeReport {
            trainee: "user04".into(),
            results: vec![
                row(Some("S1"), "S1-A1", Status::Pass, false),
                row(Some("S1"), "S1-A2", Status::Fail, false),
                row(Some("S2"), "S2-A1", Status::Fail, false),
                row(Some("S3"), "S3-A1", Status::Pass, false),
            ],
            ..Default::default()
        };
        t.course = Some(super::super::CourseProgress::of(&steps, &t.results));
        assert_eq!(not_started(&steps, &t), ["S2"]);
        assert!(started(&t));
    }
}
