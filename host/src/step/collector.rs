//! The [`Collector`]: what a step reports while it runs (outcomes, log lines), held to
//! the run's limits, and turned into the final rows in checklist order.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::bounds::truncate;
use super::Limits;
use crate::outcome::{check_id, Message, Outcome, Status};
use crate::text::{self, Text};

/// Collects what a step reports, enforcing the limits on outcomes and log output.
#[derive(Default)]
pub struct Collector {
    inner: Mutex<Collected>,
}

#[derive(Default)]
struct Collected {
    outcomes: Vec<Outcome>,
    /// The ids in `outcomes`, so a repeat is found without scanning them all.
    ids: HashSet<String>,
    log: Vec<String>,
    log_dropped: usize,
    /// Outcomes the step reported and labrun refused, as (status, why); each becomes
    /// an `error` row, so a refused fail is never silently gone.
    refused: Vec<(Status, Text)>,
    refused_dropped: usize,
}

/// The most refused outcomes shown each as a row of its own; the rest are counted
/// in the last one.
const MAX_REFUSED_ROWS: usize = 8;

impl Collector {
    /// Takes one outcome from a step (Rhai or WASM): the id must be valid (see
    /// [`check_id`]) and new, the count within `max_outcomes`; the messages are cut to
    /// `max_message_bytes` on a character boundary. A refused outcome is remembered
    /// ([`Collector::refuse`]) as well as returned as the error.
    pub fn report(&self, outcome: Outcome, limits: &Limits) -> Result<(), Text> {
        let refused = |why: Text| {
            self.refuse(outcome.status, &why);
            Err(why)
        };
        if let Err(why) = check_id(&outcome.id) {
            return refused(why);
        }
        let mut inner = self.inner.lock().expect("collector lock poisoned");
        if inner.ids.contains(&outcome.id) {
            drop(inner);
            return refused(text::run::ReportedTwice { id: &outcome.id }.into());
        }
        if inner.outcomes.len() >= limits.max_outcomes {
            drop(inner);
            return refused(
                text::run::TooManyOutcomes {
                    max: limits.max_outcomes,
                }
                .into(),
            );
        }
        let outcome = Outcome {
            message: Message {
                en: truncate(&outcome.message.en, limits.max_message_bytes),
                ja: truncate(&outcome.message.ja, limits.max_message_bytes),
            },
            ..outcome
        };
        inner.ids.insert(outcome.id.clone());
        inner.outcomes.push(outcome);
        Ok(())
    }

    /// Remembers an outcome the step reported and labrun refused (`why` names its id
    /// inert and cut short): it becomes an `error` row at [`Collector::finish`].
    pub fn refuse(&self, status: Status, why: &Text) {
        let mut inner = self.inner.lock().expect("collector lock poisoned");
        if inner.refused.len() < MAX_REFUSED_ROWS {
            inner.refused.push((status, why.clone()));
        } else {
            inner.refused_dropped += 1;
        }
    }

    /// The status the step reported for `id` so far, if it did.
    pub fn status(&self, id: &str) -> Option<Status> {
        let inner = self.inner.lock().expect("collector lock poisoned");
        inner.outcomes.iter().find(|o| o.id == id).map(|o| o.status)
    }

    pub fn log(&self, line: &str, limits: &Limits) {
        let mut inner = self.inner.lock().expect("collector lock poisoned");
        if inner.log.len() < limits.max_log_lines {
            inner.log.push(truncate(line, limits.max_message_bytes));
        } else {
            inner.log_dropped += 1;
        }
    }

    /// The final rows in checklist order. Planned ids the step never reported become
    /// `error`, carrying why the step stopped (if it did, as one bounded line); ids the
    /// step reported without declaring them follow as `error` rows saying so.
    pub fn finish(&self, plan: &[String], stopped: Option<&Text>) -> (Vec<Outcome>, Vec<String>) {
        let mut inner = std::mem::take(&mut *self.inner.lock().expect("collector lock poisoned"));
        let mut reported: Vec<Option<Outcome>> = std::mem::take(&mut inner.outcomes)
            .into_iter()
            .map(Some)
            .collect();
        let by_id: HashMap<String, usize> = reported
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.as_ref().map(|o| (o.id.clone(), i)))
            .collect();
        let mut rows = Vec::with_capacity(plan.len() + reported.len());
        let mut unreported = false;
        for id in plan {
            match by_id.get(id).and_then(|&i| reported[i].take()) {
                Some(outcome) => rows.push(outcome),
                None => {
                    unreported = true;
                    rows.push(not_reported(id, stopped));
                }
            }
        }
        // A refusal that stopped the step (Rhai) already reads in every row it left
        // unreported.
        if let (Some(cause), true) = (stopped, unreported) {
            inner.refused.retain(|(_, why)| !cause.holds(why));
        }
        // What is left was reported but never declared: in the step's order.
        rows.extend(reported.into_iter().flatten().map(not_declared));
        // Then what labrun refused, under ids of its own no other row has.
        let mut n = 0;
        let last = inner.refused.len();
        for (i, (status, why)) in std::mem::take(&mut inner.refused).into_iter().enumerate() {
            let id = loop {
                n += 1;
                let id = format!("refused-{n}");
                if !rows.iter().any(|r| r.id == id) {
                    break id;
                }
            };
            let more = match inner.refused_dropped {
                d if d > 0 && i + 1 == last => Some(d),
                _ => None,
            };
            rows.push(refused_row(id, status, why, more));
        }
        if inner.log_dropped > 0 {
            let dropped = inner.log_dropped;
            inner
                .log
                .push(Text::from(text::run::LogDropped { dropped }).to_string());
        }
        (rows, inner.log)
    }
}

fn not_reported(id: &str, stopped: Option<&Text>) -> Outcome {
    let message = match stopped {
        Some(cause) => Message::text(text::run::NotCheckedStopped { cause }),
        None => Message::text(text::run::NotCheckedEnded),
    };
    Outcome {
        id: id.to_string(),
        status: Status::Error,
        message,
        evidence: None,
        step: None,
        undecided: false,
    }
}

/// An outcome labrun refused (a malformed or repeated id, one too many), shown as
/// an `error` row under labrun's own id: the step tried to say something.
fn refused_row(id: String, status: Status, why: Text, more: Option<usize>) -> Outcome {
    let said = status.as_str();
    let message = match more {
        Some(more) => Message::text(text::run::RefusedMore { said, why, more }),
        None => Message::text(text::run::Refused { said, why }),
    };
    Outcome {
        id,
        status: Status::Error,
        message,
        evidence: None,
        step: None,
        undecided: false,
    }
}

/// An outcome whose id the step did not list in `checks`: it counts as `error`, never
/// as what the step said, so a step cannot add passes its checklist lacks.
fn not_declared(outcome: Outcome) -> Outcome {
    let id = &outcome.id;
    let said = outcome.status.as_str();
    Outcome {
        message: Message::text(text::run::NotDeclared { id, said }),
        status: Status::Error,
        ..outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::bounds::MAX_CAUSE_BYTES;
    use crate::step::bounds::{one_line_cause, remote_cause};

    fn outcome(id: &str, status: Status, en: &str) -> Outcome {
        Outcome {
            id: id.to_string(),
            status,
            message: Message::new(en, en),
            evidence: None,
            step: None,
            undecided: false,
        }
    }

    #[test]
    fn reported_ids_are_short_and_printable() {
        let limits = Limits::default();
        let c = Collector::default();
        let huge = "i".repeat(64 << 10);
        for bad in [
            huge.as_str(),
            "",
            "A1\n  PASS  A2",
            "A\u{202e}1",
            "Ａ1",
            "A1 ",
        ] {
            let err = c
                .report(outcome(bad, Status::Pass, "x"), &limits)
                .unwrap_err()
                .to_string();
            assert!(err.len() < 200 && !err.contains('\n'), "{err}");
        }
        assert!(c
            .report(outcome(&"i".repeat(32), Status::Pass, "x"), &limits)
            .is_ok());
        let err = c
            .report(outcome(&"i".repeat(32), Status::Fail, "y"), &limits)
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("was reported twice"), "{err}");
        let err = c
            .report(outcome(&"i".repeat(33), Status::Pass, "x"), &limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 32"), "{err}");
    }

    #[test]
    fn messages_and_log_lines_are_cut_on_character_boundaries() {
        let limits = Limits {
            max_message_bytes: 10,
            ..Limits::default()
        };
        let c = Collector::default();
        // Three bytes each: byte 10 falls inside the fourth character.
        c.report(outcome("A1", Status::Fail, &"あ".repeat(1000)), &limits)
            .unwrap();
        c.log(&"い".repeat(1000), &limits);
        let (rows, log) = c.finish(&["A1".to_string()], None);
        assert_eq!(rows[0].message.en, "あああ…");
        assert_eq!(log, ["いいい…"]);
        assert_eq!(truncate("あい", 0), "…");
    }

    #[test]
    fn a_refused_outcome_is_an_error_row_with_its_id_cut_and_inert() {
        let limits = Limits::default();
        let c = Collector::default();
        c.report(outcome("H1", Status::Pass, "ok"), &limits)
            .unwrap();
        let huge = format!("\u{1b}]0;{}", "X".repeat(60_000));
        assert!(c
            .report(outcome(&huge, Status::Fail, "hidden"), &limits)
            .is_err());
        assert!(c
            .report(outcome("H1", Status::Fail, "again"), &limits)
            .is_err());
        let (rows, _) = c.finish(&["H1".to_string(), "refused-1".to_string()], None);
        let ids: Vec<&str> = rows.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["H1", "refused-1", "refused-2", "refused-3"]);
        let (first, second) = (&rows[2], &rows[3]);
        assert_eq!(
            (first.status, second.status),
            (Status::Error, Status::Error)
        );
        assert!(
            first.message.en.starts_with(
                "the step reported a fail that labrun refused: outcome id `\\u{1b}]0;XXX"
            ),
            "{}",
            first.message.en
        );
        assert!(
            first.message.en.len() < 300,
            "cut: {}",
            first.message.en.len()
        );
        assert!(!first.message.en.contains('\u{1b}'));
        assert!(
            second.message.en.contains("`H1` was reported twice"),
            "{}",
            second.message.en
        );
        // A flood of refusals is a few rows, the rest counted.
        let c = Collector::default();
        for _ in 0..100 {
            let _ = c.report(outcome("bad id", Status::Pass, "x"), &limits);
        }
        let (rows, _) = c.finish(&[], None);
        assert_eq!(rows.len(), MAX_REFUSED_ROWS);
        assert!(rows[MAX_REFUSED_ROWS - 1]
            .message
            .en
            .ends_with("(and 92 more refused)"));
    }

    #[test]
    fn an_undeclared_id_is_an_error_row_never_a_pass() {
        let limits = Limits::default();
        let c = Collector::default();
        c.report(outcome("X9", Status::Pass, "sneaked in"), &limits)
            .unwrap();
        c.report(outcome("A1", Status::Pass, "ok"), &limits)
            .unwrap();
        c.report(outcome("X1", Status::Fail, "also"), &limits)
            .unwrap();
        let (rows, _) = c.finish(&["A1".to_string(), "A2".to_string()], None);
        let ids: Vec<&str> = rows.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["A1", "A2", "X9", "X1"]);
        assert_eq!(rows[0].status, Status::Pass);
        assert_eq!(rows[1].status, Status::Error);
        assert!(rows[1].message.en.contains("without reporting"));
        assert_eq!(rows[2].status, Status::Error);
        assert!(
            rows[2].message.en.starts_with(
                "not a declared check: the step reported `X9` (pass) but describe() does not list it"
            ),
            "{}",
            rows[2].message.en
        );
        assert!(rows[3].message.ja.contains("`X1` (fail)"));
    }

    #[test]
    fn a_stop_cause_is_one_bounded_line() {
        let trace = "Runtime error: boom\nin call to function 'check_a1'\n    in closure call\r\nat line 3\rx";
        assert_eq!(
            one_line_cause(trace),
            "Runtime error: boom in call to function 'check_a1' in closure call at line 3 x"
        );
        let huge = format!("{}\n{}", "a".repeat(10_000), "あ".repeat(10_000));
        let cut = one_line_cause(&huge);
        assert!(cut.len() <= MAX_CAUSE_BYTES + 3 && !cut.contains('\n'));
        let c = Collector::default();
        let cause = Text::from(text::rhai::Thrown {
            what: remote_cause(&huge),
        });
        let (rows, _) = c.finish(&["A1".to_string()], Some(&cause));
        assert!(rows[0].message.en.len() < MAX_CAUSE_BYTES + 100);
        assert!(!rows[0].message.en.contains('\n'));
    }
}
