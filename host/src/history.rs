//! History of a live class: for every trainee and checklist id, its current status,
//! when it first passed, when it last changed, and its regressions (it passed, and
//! now fails: the trainee broke something); for every trainee, where they are (their
//! first outcome not done, and since when: who is stuck) and when they finished.
//! [`History::update`] folds one cycle's report in and returns what changed;
//! [`History::annotate`] adds the history to a report's JSON without changing the
//! documented contract (new fields only). The history can be kept on disk
//! ([`History::save`], atomic, owner-only: it holds the key of the trainee links;
//! [`History::load`]) so a restarted watch resumes it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::outcome::{Report, Status};
use crate::text::Text;

/// The state file's format version.
pub const STATE_VERSION: u32 = 1;

/// The largest count or time (ms) a state file may hold: the largest integer a
/// JSON reader such as the dashboard's JavaScript keeps exact.
const MAX_NUMBER: u64 = (1 << 53) - 1;

/// The longest trainee or check id a state file may hold (a course's ids are the
/// step's id, `-`, the check's id).
const MAX_NAME_CHARS: usize = 128;

/// The first 32 characters of a name from a file, for an error line.
fn cut(text: &str) -> String {
    let mut cut: String = text.chars().take(32).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// One trainee's one id over time. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub status: Status,
    /// The last status that said something about the trainee's work: not `error`
    /// (labrun could not look), nor a `skip` while some of the trainee's checks were
    /// in error (the outage's consequence, not the trainee's doing). `last_changed`
    /// moves only when this does, so an outage resets no cell's time.
    pub known: Status,
    pub first_seen: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_passed: Option<u64>,
    pub last_changed: u64,
    #[serde(default)]
    pub regressions: u32,
    /// Set while the cell fails after having passed; cleared when it passes again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regressed_at: Option<u64>,
}

/// What changed for one cell in one cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub trainee: String,
    pub id: String,
    /// `None` the first time the cell is seen.
    pub from: Option<Status>,
    pub to: Status,
    /// It passed before (outages aside) and now fails.
    pub regression: bool,
    /// The message of the new status, English and Japanese.
    pub message: crate::outcome::Message,
}

/// The whole class's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub version: u32,
    /// The step (report name) this history belongs to.
    pub step: String,
    /// Cycles folded in so far, over every run that shared this history.
    pub cycles: u64,
    pub cells: BTreeMap<String, BTreeMap<String, Cell>>,
    /// Where each trainee is, and since when (absent in state files of older labruns).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trainees: BTreeMap<String, Place>,
    /// The secret every trainee link's token derives from (`--trainee-links`), kept so
    /// a restarted watch hands out the same links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_key: Option<String>,
}

/// Where a trainee is: the first outcome of their current step that is not done yet
/// (`fail` or `pending`), since when it has been that outcome with that status, and
/// when the trainee became done. Times in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Place {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    pub since: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}

/// A trainee whose first outcome not done has not changed for longer than the
/// threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    pub trainee: String,
    pub id: String,
    pub since: u64,
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `2026-12-01T09:45:00Z` for a time in milliseconds.
pub fn rfc3339(ms: u64) -> String {
    aws_smithy_types::DateTime::from_millis(ms as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

impl History {
    pub fn new(step: &str) -> History {
        History {
            version: STATE_VERSION,
            step: step.to_string(),
            cycles: 0,
            cells: BTreeMap::new(),
            trainees: BTreeMap::new(),
            link_key: None,
        }
    }

    /// Reads a state file; a missing file is a fresh history. A file that is not a
    /// state file, belongs to another step or holds numbers or names labrun never
    /// writes, is an error (one line).
    pub fn load(path: &Path, step: &str) -> Result<History, Text> {
        use crate::text::{history as t, quoted};
        let text = match crate::files::read_to_string(path, crate::files::cap::STATE) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::new(step)),
            Err(e) => {
                return Err(t::CannotRead {
                    path,
                    why: quoted(e),
                }
                .into())
            }
        };
        let history: History = serde_json::from_str(&text).map_err(|e| {
            Text::from(t::NotAStateFile {
                path,
                why: quoted(e),
            })
        })?;
        if history.version != STATE_VERSION {
            return Err(t::Version {
                path,
                version: history.version,
                reads: STATE_VERSION,
            }
            .into());
        }
        if history.step != step {
            return Err(t::OtherStep {
                path,
                theirs: cut(&history.step),
                step,
            }
            .into());
        }
        history
            .check()
            .map_err(|why| Text::from(t::NeverWritten { path, why }))?;
        Ok(history)
    }

    /// The numbers and names of a state file are ones labrun writes: counts and
    /// times a JSON reader keeps exact, printable trainee and check ids.
    fn check(&self) -> Result<(), Text> {
        use crate::text::history as t;
        let number = |what: Text, n: u64| -> Result<(), Text> {
            if n > MAX_NUMBER {
                Err(t::Number {
                    what,
                    n,
                    max: MAX_NUMBER,
                }
                .into())
            } else {
                Ok(())
            }
        };
        number(t::Cycles.into(), self.cycles)?;
        for (trainee, cells) in &self.cells {
            crate::outcome::inert::check_printable(
                trainee,
                crate::text::roster::TraineeId.into(),
                MAX_NAME_CHARS,
            )
            .map_err(|why| Text::from(t::HoldsName { why }))?;
            for (id, cell) in cells {
                crate::outcome::inert::check_printable(id, t::CheckId.into(), MAX_NAME_CHARS)
                    .map_err(|why| Text::from(t::HoldsName { why }))?;
                let at = |field: &str| -> Text {
                    t::FieldOf {
                        field,
                        trainee: cut(trainee),
                        id: cut(id),
                    }
                    .into()
                };
                number(at("first_seen"), cell.first_seen)?;
                number(at("last_changed"), cell.last_changed)?;
                for time in cell.first_passed.iter().chain(&cell.regressed_at) {
                    number(at("a time"), *time)?;
                }
            }
        }
        for (trainee, place) in &self.trainees {
            crate::outcome::inert::check_printable(
                trainee,
                crate::text::roster::TraineeId.into(),
                MAX_NAME_CHARS,
            )
            .map_err(|why| Text::from(t::HoldsName { why }))?;
            if let Some(id) = &place.at {
                crate::outcome::inert::check_printable(id, t::CheckId.into(), MAX_NAME_CHARS)
                    .map_err(|why| Text::from(t::HoldsName { why }))?;
            }
            let at = |field: &str| -> Text {
                t::PlaceOf {
                    field,
                    trainee: cut(trainee),
                }
                .into()
            };
            number(at("since"), place.since)?;
            if let Some(time) = place.finished_at {
                number(at("finished_at"), time)?;
            }
        }
        // The key every trainee link derives from is as labrun makes it (32 random
        // bytes, hex): a short or hand-made one would make the links guessable.
        if let Some(key) = &self.link_key {
            if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(t::LinkKey.into());
            }
        }
        Ok(())
    }

    /// Writes the state file atomically: a temporary file beside it, then a rename.
    /// A symlink is followed (the link stays); a path that is not a regular file is
    /// refused. Only its owner may read it (it holds the trainee links' key).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let target = crate::files::output_target(path).map_err(std::io::Error::other)?;
        let text = serde_json::to_vec_pretty(self).expect("a history always serializes");
        crate::files::replace_private(&target, &text)
    }

    /// Folds one cycle's report in at time `now`; returns the changes, in report order.
    ///
    /// A regression is a fail after a pass with nothing but fail, pending, skip or
    /// error in between: whatever labrun saw while it could not look (an outage's
    /// errors, and the skips they cause) neither hides one nor counts as one.
    pub fn update(&mut self, report: &Report, now: u64) -> Vec<Change> {
        // At most what a state file may hold, so a saved history always loads again.
        self.cycles = self.cycles.saturating_add(1).min(MAX_NUMBER);
        self.fold(report, now)
    }

    /// Folds in the rows of some trainees checked between cycles (Check now): the
    /// same as a cycle for them, without counting a cycle.
    pub fn update_trainees(&mut self, report: &Report, now: u64) -> Vec<Change> {
        self.fold(report, now)
    }

    fn fold(&mut self, report: &Report, now: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        for t in &report.trainees {
            self.place(t, now);
            // A skip beside an error most likely waits on that error's prerequisite.
            let outage = t.results.iter().any(|o| o.status == Status::Error);
            let cells = self.cells.entry(t.trainee.clone()).or_default();
            for o in &t.results {
                let change = |from: Option<Status>, regression: bool| Change {
                    trainee: t.trainee.clone(),
                    id: o.id.clone(),
                    from,
                    to: o.status,
                    regression,
                    message: o.message.clone(),
                };
                let Some(cell) = cells.get_mut(&o.id) else {
                    cells.insert(
                        o.id.clone(),
                        Cell {
                            status: o.status,
                            known: o.status,
                            first_seen: now,
                            first_passed: (o.status == Status::Pass).then_some(now),
                            last_changed: now,
                            regressions: 0,
                            regressed_at: None,
                        },
                    );
                    changes.push(change(None, false));
                    continue;
                };
                if cell.status == o.status {
                    continue;
                }
                let looked = match o.status {
                    Status::Error => false,
                    Status::Skip => !outage,
                    _ => true,
                };
                let regression = o.status == Status::Fail
                    && cell.first_passed.is_some()
                    && cell.regressed_at.is_none();
                let from = cell.status;
                cell.status = o.status;
                if looked && cell.known != o.status {
                    cell.known = o.status;
                    cell.last_changed = now;
                }
                if o.status == Status::Pass {
                    cell.first_passed.get_or_insert(now);
                    cell.regressed_at = None;
                }
                if regression {
                    cell.regressions = cell.regressions.saturating_add(1);
                    cell.regressed_at = Some(now);
                }
                changes.push(change(Some(from), regression));
            }
        }
        changes
    }

    pub fn cell(&self, trainee: &str, id: &str) -> Option<&Cell> {
        self.cells.get(trainee)?.get(id)
    }

    /// Moves a trainee's [`Place`]: done (and since when), or their first outcome not
    /// done. An `error` there says nothing about the trainee's work: the place stays.
    fn place(&mut self, t: &crate::outcome::TraineeReport, now: u64) {
        let place = self.trainees.entry(t.trainee.clone()).or_insert(Place {
            since: now,
            ..Place::default()
        });
        let tally = t.tally();
        if tally.done {
            place.finished_at.get_or_insert(now);
            if place.at.is_some() {
                (place.at, place.status, place.since) = (None, None, now);
            }
            return;
        }
        place.finished_at = None;
        let current = t.course.as_ref().and_then(|c| c.current.as_deref());
        let first = t
            .results
            .iter()
            .filter(|o| !o.undecided)
            .filter(|o| current.is_none() || o.step.as_deref() == current)
            .find(|o| matches!(o.status, Status::Fail | Status::Pending | Status::Error));
        let Some(first) = first else { return };
        if first.status == Status::Error {
            return;
        }
        if place.at.as_deref() != Some(first.id.as_str()) || place.status != Some(first.status) {
            (place.at, place.status, place.since) =
                (Some(first.id.clone()), Some(first.status), now);
        }
    }

    /// Trainees whose first outcome not done has been failing, unchanged, for at least
    /// `threshold_ms`, longest first (then by name).
    pub fn stuck(&self, now: u64, threshold_ms: u64) -> Vec<Stuck> {
        let mut out: Vec<Stuck> = self
            .trainees
            .iter()
            .filter_map(|(trainee, p)| {
                let id = p.at.clone()?;
                (p.status == Some(Status::Fail) && now.saturating_sub(p.since) >= threshold_ms)
                    .then(|| Stuck {
                        trainee: trainee.clone(),
                        id,
                        since: p.since,
                    })
            })
            .collect();
        out.sort_by(|a, b| {
            a.since
                .cmp(&b.since)
                .then_with(|| a.trainee.cmp(&b.trainee))
        });
        out
    }

    /// Adds the history to a report's JSON (as [`crate::report`] prints it): each
    /// result gains `first_passed`, `last_changed` (RFC 3339), `regressions` and
    /// `regressed`; nothing documented changes.
    pub fn annotate(&self, report: &mut Value) {
        let Some(trainees) = report.get_mut("trainees").and_then(Value::as_array_mut) else {
            return;
        };
        for t in trainees {
            let name = t["trainee"].as_str().unwrap_or_default().to_string();
            let Some(results) = t.get_mut("results").and_then(Value::as_array_mut) else {
                continue;
            };
            for r in results {
                let id = r["id"].as_str().unwrap_or_default().to_string();
                let (Some(cell), Some(obj)) = (self.cell(&name, &id), r.as_object_mut()) else {
                    continue;
                };
                obj.insert(
                    "first_passed".into(),
                    cell.first_passed
                        .map(rfc3339)
                        .map_or(Value::Null, Value::from),
                );
                obj.insert("last_changed".into(), json!(rfc3339(cell.last_changed)));
                obj.insert("regressions".into(), json!(cell.regressions));
                obj.insert("regressed".into(), json!(cell.regressed_at.is_some()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Message, Outcome, Summary, TraineeReport};

    fn report(statuses: &[(&str, &str, Status)]) -> Report {
        let mut trainees: Vec<TraineeReport> = Vec::new();
        for (t, id, s) in statuses {
            if trainees.last().is_none_or(|x| x.trainee != *t) {
                trainees.push(TraineeReport {
                    trainee: t.to_string(),
                    results: vec![],
                    log: vec![],
                    elapsed_ms: 0,
                    course: None,
                    ..Default::default()
                });
            }
            trainees.last_mut().unwrap().results.push(Outcome {
                id: id.to_string(),
                status: *s,
                message: Message::new("m", "m"),
                evidence: None,
                step: None,
                undecided: false,
            });
        }
        Report {
            undecided: Vec::new(),
            step: "step3".into(),
            trainees,
            summary: Summary::default(),
            steps: Vec::new(),
        }
    }

    fn status() -> impl proptest::strategy::Strategy<Value = Status> {
        proptest::sample::select(Status::ALL.to_vec())
    }

    /// A state file as labrun writes it, with any numbers, names and statuses.
    fn state_json() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let number = prop_oneof![any::<u64>(), 0..10_000u64, Just((1u64 << 53) - 1)];
        let name = prop_oneof![
            "[A-Za-z0-9]{1,8}".boxed(),
            ".{0,12}".boxed(),
            Just("x".repeat(129)).boxed()
        ];
        let cell = (
            status(),
            status(),
            number.clone(),
            number.clone(),
            any::<u32>(),
        )
            .prop_map(|(s, k, seen, changed, regressions)| {
                json!({ "status": s, "known": s.max(k), "first_seen": seen,
                        "last_changed": changed, "regressions": regressions })
            });
        let cells = proptest::collection::btree_map(
            name.clone(),
            proptest::collection::btree_map(name, cell, 0..3),
            0..3,
        );
        (
            prop_oneof![Just("step3".to_string()), ".{0,8}"],
            number,
            cells,
        )
            .prop_map(|(step, cycles, cells)| {
                json!({ "version": STATE_VERSION, "step": step, "cycles": cycles, "cells": cells })
                    .to_string()
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any state file loads, or is refused in one inert line; one that loads takes
        /// another cycle and saves without a panic (no overflow, whatever it held).
        #[test]
        fn any_state_file_loads_or_is_refused_in_one_inert_line(
            text in proptest::prop_oneof![state_json(), ".{0,200}"],
            next in status(),
        ) {
            let dir = std::env::temp_dir().join(format!("labrun-history-prop-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("state.json");
            std::fs::write(&path, &text).unwrap();
            match History::load(&path, "step3") {
                Ok(mut h) => {
                    h.update(&report(&[("u1", "A1", next)]), now_ms());
                    h.save(&path).unwrap();
                    proptest::prop_assert_eq!(History::load(&path, "step3").unwrap(), h);
                }
                Err(e) => {
                    proptest::prop_assert!(
                        !e.en().chars().any(crate::outcome::inert::needs_escape),
                        "{:?}", e
                    );
                }
            }
        }

        /// Whatever a cell goes through, an `error` never becomes what labrun knows of
        /// the trainee's work, regressions never outnumber the fails, and a run of
        /// errors leaves the last change where it was.
        #[test]
        fn any_sequence_of_cycles_keeps_the_history_honest(
            statuses in proptest::collection::vec(status(), 1..24)
        ) {
            let mut h = History::new("step3");
            let mut fails = 0;
            for (t, s) in statuses.iter().enumerate() {
                let before = h.cell("u1", "A1").map(|c| c.last_changed);
                h.update(&report(&[("u1", "A1", *s)]), t as u64 + 1);
                let cell = h.cell("u1", "A1").unwrap();
                if *s == Status::Fail {
                    fails += 1;
                }
                if *s == Status::Error && before.is_some() {
                    proptest::prop_assert_eq!(Some(cell.last_changed), before);
                }
                proptest::prop_assert!(cell.known != Status::Error || statuses[..=t].iter().all(|s| *s == Status::Error));
                proptest::prop_assert!(cell.regressions <= fails);
            }
        }
    }

    #[test]
    fn first_pass_and_last_change_are_kept_and_only_changes_are_returned() {
        let mut h = History::new("step3");
        let c = h.update(&report(&[("u1", "A1", Status::Fail)]), 1000);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].from, None);
        assert!(h
            .update(&report(&[("u1", "A1", Status::Fail)]), 2000)
            .is_empty());
        let c = h.update(&report(&[("u1", "A1", Status::Pass)]), 3000);
        assert_eq!(
            (c[0].from, c[0].to, c[0].regression),
            (Some(Status::Fail), Status::Pass, false)
        );
        let cell = h.cell("u1", "A1").unwrap();
        assert_eq!(
            (cell.first_passed, cell.last_changed, cell.first_seen),
            (Some(3000), 3000, 1000)
        );
        assert_eq!(h.cycles, 3);
    }

    #[test]
    fn pass_then_fail_is_a_regression_even_across_an_outage_but_error_is_not() {
        let mut h = History::new("step3");
        h.update(&report(&[("u1", "A1", Status::Pass)]), 1);
        let c = h.update(&report(&[("u1", "A1", Status::Error)]), 2);
        assert!(!c[0].regression, "an outage is not the trainee's doing");
        let c = h.update(&report(&[("u1", "A1", Status::Fail)]), 3);
        assert!(c[0].regression);
        let cell = h.cell("u1", "A1").unwrap();
        assert_eq!(
            (cell.regressions, cell.regressed_at, cell.first_passed),
            (1, Some(3), Some(1))
        );
        h.update(&report(&[("u1", "A1", Status::Pass)]), 4);
        let cell = h.cell("u1", "A1").unwrap();
        assert_eq!(
            (cell.regressions, cell.regressed_at, cell.first_passed),
            (1, None, Some(1))
        );
    }

    #[test]
    fn a_skip_caused_by_an_outage_neither_hides_a_regression_nor_moves_last_changed() {
        let mut h = History::new("step3");
        let finished = [("u1", "A1", Status::Pass), ("u1", "A2", Status::Pass)];
        h.update(&report(&finished), 1);
        // The outage: A1 cannot be looked at, so A2 (which needs A1) skips.
        let c = h.update(
            &report(&[("u1", "A1", Status::Error), ("u1", "A2", Status::Skip)]),
            2,
        );
        assert!(c.iter().all(|c| !c.regression));
        for id in ["A1", "A2"] {
            assert_eq!(h.cell("u1", id).unwrap().last_changed, 1, "{id}");
        }
        // Back: A1 passes again, A2 now fails: it passed before, so it regressed.
        let c = h.update(
            &report(&[("u1", "A1", Status::Pass), ("u1", "A2", Status::Fail)]),
            3,
        );
        assert_eq!(c.len(), 2);
        assert!(!c[0].regression && c[1].regression, "{c:?}");
        let a1 = h.cell("u1", "A1").unwrap();
        assert_eq!(a1.last_changed, 1, "pass, outage, pass: A1 never changed");
        let a2 = h.cell("u1", "A2").unwrap();
        assert_eq!((a2.last_changed, a2.regressions), (3, 1));
    }

    #[test]
    fn a_skip_after_a_real_fail_is_a_change_and_a_later_fail_still_a_regression() {
        let mut h = History::new("step3");
        h.update(
            &report(&[("u1", "A1", Status::Pass), ("u1", "A2", Status::Pass)]),
            1,
        );
        h.update(
            &report(&[("u1", "A1", Status::Fail), ("u1", "A2", Status::Skip)]),
            2,
        );
        assert_eq!(h.cell("u1", "A2").unwrap().last_changed, 2);
        let c = h.update(
            &report(&[("u1", "A1", Status::Pass), ("u1", "A2", Status::Fail)]),
            3,
        );
        assert!(c[1].regression, "A2 passed at 1 and fails at 3");
        assert_eq!(h.cell("u1", "A1").unwrap().regressions, 1);
    }

    #[test]
    fn counters_saturate_instead_of_overflowing() {
        let mut h = History::new("step3");
        h.cycles = u64::MAX;
        h.update(&report(&[("u1", "A1", Status::Pass)]), 1);
        assert_eq!(h.cycles, MAX_NUMBER);
    }

    #[test]
    fn the_state_file_round_trips_atomically_and_refuses_another_step() {
        let dir = std::env::temp_dir().join(format!("labrun-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(
            History::load(&path, "step3").unwrap(),
            History::new("step3")
        );
        let mut h = History::new("step3");
        h.update(
            &report(&[("u1", "A1", Status::Pass), ("u2", "A1", Status::Fail)]),
            5,
        );
        h.save(&path).unwrap();
        assert_eq!(History::load(&path, "step3").unwrap(), h);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        let e = History::load(&path, "step4").unwrap_err().to_string();
        assert!(e.contains("not `step4`"), "{e}");
        std::fs::write(&path, "{").unwrap();
        assert!(History::load(&path, "step3")
            .unwrap_err()
            .to_string()
            .contains("not a labrun state file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_first_outcome_not_done_is_where_a_trainee_is_and_stuck_is_how_long_unchanged() {
        let mut h = History::new("step3");
        let class = |a2: Status, b1: Status| {
            report(&[
                ("u1", "A1", Status::Pass),
                ("u1", "A2", a2),
                ("u1", "B1", b1),
                ("u2", "A1", Status::Pass),
                ("u2", "A2", Status::Fail),
            ])
        };
        h.update(&class(Status::Fail, Status::Fail), 1_000);
        h.update(&class(Status::Fail, Status::Fail), 5_000);
        assert_eq!(
            h.stuck(9_000, 5_000),
            vec![
                Stuck {
                    trainee: "u1".into(),
                    id: "A2".into(),
                    since: 1_000
                },
                Stuck {
                    trainee: "u2".into(),
                    id: "A2".into(),
                    since: 1_000
                },
            ]
        );
        // u1 moves on: A2 passes, B1 is where they are now, since then.
        h.update(&class(Status::Pass, Status::Fail), 9_000);
        let stuck = h.stuck(12_000, 5_000);
        assert_eq!(stuck.len(), 1, "{stuck:?}");
        assert_eq!(stuck[0].trainee, "u2");
        assert_eq!(h.trainees["u1"].at.as_deref(), Some("B1"));
        // An outage says nothing: the place stays, and so does its time.
        h.update(&class(Status::Error, Status::Error), 13_000);
        assert_eq!(h.trainees["u1"].since, 9_000);
        // Done: no place, and when.
        h.update(&class(Status::Pass, Status::Pass), 20_000);
        assert_eq!(h.trainees["u1"].finished_at, Some(20_000));
        assert_eq!(h.trainees["u1"].at, None);
        assert!(h.stuck(99_000, 5_000).iter().all(|s| s.trainee != "u1"));
    }

    #[test]
    fn a_state_file_with_numbers_or_names_labrun_never_writes_is_refused_inert() {
        let dir = std::env::temp_dir().join(format!("labrun-history-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let cell = r#"{"status":"pass","known":"pass","first_seen":1,"last_changed":1}"#;
        for (text, why) in [
            (
                format!(
                    r#"{{"version":1,"step":"step3","cycles":{},"cells":{{}}}}"#,
                    u64::MAX
                ),
                "has cycles 18446744073709551615, above 9007199254740991",
            ),
            (
                format!(
                    r#"{{"version":1,"step":"step3","cycles":1,"cells":{{"u1":{{"A1":{}}}}}}}"#,
                    cell.replace(
                        "\"last_changed\":1",
                        &format!("\"last_changed\":{}", 1u64 << 60)
                    )
                ),
                "last_changed of u1 A1",
            ),
            (
                format!(
                    r#"{{"version":1,"step":"step3","cycles":1,"cells":{{"u\u001b]0;x\u0007":{{"A1":{cell}}}}}}}"#
                ),
                "trainee id `u\\u{1b}]0;x\\u{7}`, which holds the character U+001B",
            ),
            (
                format!(
                    r#"{{"version":1,"step":"step3","cycles":1,"cells":{{"u1":{{"{}":{cell}}}}}}}"#,
                    "A".repeat(200)
                ),
                "200 characters long: at most 128",
            ),
            (
                r#"{"version":1,"step":"st\u001b[2Jep","cycles":1,"cells":{}}"#.to_string(),
                "holds the history of step `st\\u{1b}[2Jep`",
            ),
        ] {
            std::fs::write(&path, &text).unwrap();
            let e = History::load(&path, "step3").unwrap_err().to_string();
            assert!(e.contains(why), "{text}: {e}");
            assert!(!e.chars().any(crate::outcome::inert::needs_escape), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn annotate_adds_fields_and_keeps_the_contract() {
        let mut h = History::new("step3");
        let r = report(&[("u1", "A1", Status::Pass)]);
        h.update(&r, 0);
        let mut v = serde_json::to_value(&r).unwrap();
        h.annotate(&mut v);
        let res = &v["trainees"][0]["results"][0];
        assert_eq!(res["first_passed"], "1970-01-01T00:00:00Z");
        assert_eq!(res["regressions"], 0);
        assert_eq!(res["regressed"], false);
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, r, "the documented fields are unchanged");
    }
}
