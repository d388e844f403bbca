//! What a step reports: one outcome per checklist id.

pub mod done;

use serde::{Deserialize, Serialize};
use serde_json::Value;

// Where they lived before the host catalog; the text layer owns them now.
use crate::text::{self, Text};
pub use crate::text::{inert, Lang};
pub use done::{Tally, Undecided};

/// The longest outcome id, in characters (ids are ASCII, so also in bytes).
pub const MAX_ID_CHARS: usize = 32;

/// An outcome id is short and printable: 1 to [`MAX_ID_CHARS`] characters, each an
/// ASCII letter or digit or one of `-` `_` `.` `:` `#` (e.g. `A1`, `C5`, `web-1:http`).
/// The error says what is wrong and shows the id inert and cut short.
pub fn check_id(id: &str) -> Result<(), Text> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '#');
    if id.is_empty() {
        return Err(text::outcome::IdEmpty.into());
    }
    let shown = || {
        let mut cut: String = id.chars().take(MAX_ID_CHARS).collect();
        if cut.len() < id.len() {
            cut.push('…');
        }
        inert(&cut).into_owned()
    };
    if let Some(bad) = id.chars().find(|c| !allowed(*c)) {
        return Err(text::outcome::IdChar {
            id: shown(),
            bad: inert::describe_char(bad),
        }
        .into());
    }
    if id.len() > MAX_ID_CHARS {
        return Err(text::outcome::IdLong {
            id: shown(),
            chars: id.len(),
            max: MAX_ID_CHARS,
        }
        .into());
    }
    Ok(())
}

/// The five statuses mean different things to an instructor: only `fail` says the
/// trainee's environment is wrong; `pending` can be waited for; `error` means labrun
/// could not look; `skip` means a prerequisite outcome already failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Pending,
    Error,
    Skip,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pass,
        Status::Fail,
        Status::Pending,
        Status::Error,
        Status::Skip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Pending => "pending",
            Status::Error => "error",
            Status::Skip => "skip",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A message in both languages of the workshop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub en: String,
    pub ja: String,
}

impl Message {
    pub fn new(en: impl Into<String>, ja: impl Into<String>) -> Self {
        Message {
            en: en.into(),
            ja: ja.into(),
        }
    }

    /// A catalog text in both languages (a row labrun itself writes).
    pub fn text(text: impl Into<Text>) -> Self {
        let text = text.into();
        Message {
            en: text.render(Lang::En),
            ja: text.render(Lang::Ja),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Ja => &self.ja,
        }
    }
}

/// A row's message as a value of a host text: each language its own.
impl From<&Message> for crate::text::Arg {
    fn from(m: &Message) -> Self {
        crate::text::Arg::Each {
            en: m.en.clone(),
            ja: m.ja.clone(),
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub id: String,
    pub status: Status,
    pub message: Message,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Value>,
    /// In a course report, the course step this row belongs to (`S1`); its id then
    /// carries the same prefix (`S1-A1`). Absent outside a course.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The row is `error` or `skip` only because the operator did not give what the
    /// check needs (`--ssh-key`, a MySQL password, a grant): not decided in this run,
    /// so never counted as passed, failed or done ([`done`]). Absent when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub undecided: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Everything checked for one trainee.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraineeReport {
    pub trainee: String,
    pub results: Vec<Outcome>,
    /// Log lines the step wrote (`log::info`, `print`), capped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
    pub elapsed_ms: u64,
    /// In a course report, where the trainee is in the course. Absent outside a course.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course: Option<CourseProgress>,
    /// Every step of the trainee's run is done ([`done`]); set by [`Report::settle`].
    #[serde(default)]
    pub done: bool,
    /// Decidable rows that count toward done: passes, and in a done step its skips
    /// (outcomes a later step superseded).
    #[serde(default)]
    pub passed: usize,
    /// Decidable rows (undecided ones left out).
    #[serde(default)]
    pub total: usize,
    /// Nothing the run read from the account is named with the trainee id: a typo in
    /// the roster (`user1` for `user01`), or nothing made yet. Absent when false, and
    /// when AWS gave no answer to look in.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unmatched: bool,
    /// Who the trainee is, from the `--roster` file: `name`, `email`, `idnumber` beside
    /// `trainee`, each absent when the roster does not give it.
    #[serde(default, flatten)]
    pub person: Person,
}

/// A trainee as the class's roster names them (what an LMS matches grades by).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idnumber: Option<String>,
}

/// Where a trainee is in a course: the steps passed, and the current step, the first
/// one not done (`None` when every step is done). A step is passed when it is done
/// ([`done`]): none of its decidable rows is `fail`, `pending` or `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseProgress {
    pub current: Option<String>,
    pub passed: Vec<String>,
}

impl CourseProgress {
    /// The progress of a trainee's course rows over `steps` (course order).
    pub fn of(steps: &[CourseStep], results: &[Outcome]) -> CourseProgress {
        let passed_step =
            |id: &str| done::step_done(results.iter().filter(|o| o.step.as_deref() == Some(id)));
        let passed: Vec<String> = steps
            .iter()
            .filter(|s| passed_step(&s.id))
            .map(|s| s.id.clone())
            .collect();
        let current = steps
            .iter()
            .find(|s| !passed_step(&s.id))
            .map(|s| s.id.clone());
        CourseProgress { current, passed }
    }
}

/// One step of a course, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseStep {
    /// The course's id for the step (`S1`), the prefix of its rows' ids.
    pub id: String,
    /// The step's own name (`step1`).
    pub name: String,
    pub title: Message,
}

impl TraineeReport {
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|o| o.status == status).count()
    }

    /// Done, passed and total, computed from the rows ([`done`]).
    pub fn tally(&self) -> Tally {
        done::tally(&self.results)
    }
}

/// The whole run: one step (or one course of steps) over one or more trainees.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Report {
    /// The step's name, the class file's or the course's.
    pub step: String,
    /// A course's steps in course order; absent (empty) outside a course.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<CourseStep>,
    pub trainees: Vec<TraineeReport>,
    pub summary: Summary,
    /// The outcomes this run leaves undecided, and what the operator would have to
    /// give to decide them. Absent when every outcome can be decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<Undecided>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub pending: usize,
    pub error: usize,
    pub skip: usize,
    /// Capability calls that really went out (cache hits and replays not counted).
    pub aws_calls: u64,
    /// Calls answered from a cassette (replay mode).
    pub replayed_calls: u64,
    /// SSH connections opened to the trainees' servers (`--ssh-key`): at most one per
    /// server of the run, however many probes and checks went through it. Left out
    /// of the JSON when none was opened.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ssh_connections: u64,
    /// Throttling answers from AWS (each throttled attempt; labrun backs off and
    /// retries them). Left out when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aws_throttled: u64,
    pub elapsed_ms: u64,
    /// Trainees done ([`done`]).
    #[serde(default)]
    pub done: usize,
    /// Rows not decided in this run (counted in `error` or `skip` as well, as their
    /// status says). Left out when 0.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub undecided: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Summary {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Pending => self.pending += 1,
            Status::Error => self.error += 1,
            Status::Skip => self.skip += 1,
        }
    }
}

/// Exit codes, documented in docs/reference.md ("Exit codes").
pub mod exit {
    /// Every trainee is done ([`super::done`]): every outcome that could be decided
    /// passed or was skipped (a skip always follows a failure, a check labrun cannot
    /// make yet, or an outcome a later step superseded).
    pub const PASS: u8 = 0;
    /// Some decidable outcome is `fail` or `pending`: work to do or to wait for.
    pub const FAIL: u8 = 1;
    /// Some decidable outcome is `error`: labrun could not check (credentials,
    /// network, …).
    pub const ERROR: u8 = 2;
    /// Bad input: unknown flag or format, bad script, missing or unknown param,
    /// unreadable cassette. Nothing was checked.
    pub const BAD_INPUT: u8 = 64;
}

impl Report {
    /// 0 when every trainee is done; else 2 when a decidable row is `error`, else 1.
    /// Computed from the rows, so a report built by hand answers the same.
    pub fn exit_code(&self) -> u8 {
        if self.trainees.iter().all(|t| t.tally().done) {
            exit::PASS
        } else if self
            .trainees
            .iter()
            .flat_map(|t| &t.results)
            .any(|o| o.status == Status::Error && !o.undecided)
        {
            exit::ERROR
        } else {
            exit::FAIL
        }
    }

    /// Fills what follows from the rows: each trainee's course progress (in a course),
    /// `done`, `passed` and `total`, and the summary's counts.
    pub fn settle(&mut self) {
        let mut summary = Summary {
            aws_calls: self.summary.aws_calls,
            replayed_calls: self.summary.replayed_calls,
            ssh_connections: self.summary.ssh_connections,
            aws_throttled: self.summary.aws_throttled,
            elapsed_ms: self.summary.elapsed_ms,
            ..Summary::default()
        };
        for t in &mut self.trainees {
            if !self.steps.is_empty() {
                t.course = Some(CourseProgress::of(&self.steps, &t.results));
            }
            let tally = t.tally();
            (t.done, t.passed, t.total) = (tally.done, tally.passed, tally.total);
            summary.done += usize::from(tally.done);
            for o in &t.results {
                summary.add(o.status);
                summary.undecided += usize::from(o.undecided);
            }
        }
        self.summary = summary;
    }
}
