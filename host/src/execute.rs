//! Executing a [`RunPlan`]: every trainee's run (bounded by `--jobs`, each behind
//! its own [`Gate`]) into one [`Report`], then the outputs: the cassette, the audit
//! log, the report itself. A trainee whose step crashed or could not load is one
//! `error` row; it never stops the class.

pub mod progress;
pub mod undecided;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::caps::{Cassette, Hub, Settings};
use crate::gate::{Audit, Gate, StepId};
use crate::outcome::{exit, CourseStep, Message, Outcome, Report, Status, Summary, TraineeReport};
use crate::policy::Policy;
use crate::report::{self, Format, Style};
use crate::step::{RunContext, Step};
use crate::text::{self, execute as t, quoted, Text};

/// The row a trainee gets when their step cannot run at all.
pub const UNLOADABLE_ID: &str = "step";

/// Everything a run needs, checked: built by [`crate::plan::plan`].
pub struct RunPlan {
    /// The report's name: the step's, the class file's or the course's.
    pub name: String,
    /// A course's steps in course order; empty outside a course.
    pub course: Vec<CourseStep>,
    /// What a watch's header and dashboard call the run: the course's title (the
    /// step's own title is used otherwise).
    pub title: Option<Message>,
    pub runs: Vec<PlannedRun>,
    pub policy: Arc<Policy>,
    pub answers: Answers,
    /// Trainees checked at once.
    pub jobs: usize,
    pub outputs: Outputs,
    /// Lines for stderr before anything runs (`warning: …`): accepted, but worth saying.
    pub warnings: Vec<Text>,
}

/// One trainee's run as planned: one part for a step or a class submission, or a
/// course's steps in course order.
#[derive(Clone)]
pub struct PlannedRun {
    pub trainee: String,
    pub parts: Vec<PlannedPart>,
    /// Who the trainee is (`--roster`), carried into their report.
    pub person: crate::outcome::Person,
    /// Where the trainee's AWS calls go: their own account's label (`--roster`,
    /// [`crate::caps::settings::AwsIdentity::label`]); `None`: the operator's.
    pub account: Option<String>,
}

/// One step of a trainee's run: the step it runs (or why that step could not load)
/// with that trainee's params for it.
#[derive(Clone)]
pub struct PlannedPart {
    /// The course's id for this step (`S1`): its rows' ids get the prefix `S1-`.
    /// `None` outside a course, where rows keep the step's own ids.
    pub course_step: Option<String>,
    pub params: std::collections::BTreeMap<String, String>,
    pub step: Result<(Arc<Step>, StepId), Text>,
}

impl PlannedRun {
    /// A run of one step (or one class submission).
    pub fn single(
        trainee: String,
        params: std::collections::BTreeMap<String, String>,
        step: Result<(Arc<Step>, StepId), Text>,
    ) -> PlannedRun {
        PlannedRun {
            trainee,
            parts: vec![PlannedPart {
                course_step: None,
                params,
                step,
            }],
            person: Default::default(),
            account: None,
        }
    }
}

/// Where answers come from.
pub enum Answers {
    /// The real world, with the operator's settings.
    Live(Settings),
    /// A cassette; no network, no credentials.
    Replay(Cassette),
}

/// Where the results go; paths already checked while planning.
pub struct Outputs {
    /// `--record`: the cassette to write.
    pub record: Option<PathBuf>,
    /// `--audit`: already created.
    pub audit: Option<Arc<Audit>>,
    pub format: Format,
    pub style: Style,
    /// A line shown above the human report (e.g. a class run at instructor trust);
    /// never part of the JSON or JUnit contract.
    pub notice: Option<Message>,
    /// The progress line on stderr (one-shot class runs in a terminal).
    pub progress: Option<Arc<progress::Progress>>,
}

/// A finished run: its report and the hub that answered it.
pub struct Executed {
    pub report: Report,
    pub hub: Arc<Hub>,
    /// What a recording notes of the operator's settings (live runs only).
    pub settings: Option<serde_json::Value>,
}

/// Runs every planned trainee and collects one report.
pub async fn execute(plan: RunPlan) -> (Executed, Outputs) {
    let started = Instant::now();
    // Decided before anything runs: the same list the operator was shown.
    let undecided_rows = undecided::by_trainee(&plan);
    let undecided_groups = undecided::undecided(&plan);
    let settings = match &plan.answers {
        Answers::Live(s) => Some(crate::step::requires::recorded_settings(s)),
        Answers::Replay(_) => None,
    };
    let hub = Arc::new(match plan.answers {
        Answers::Live(settings) => Hub::live(settings),
        Answers::Replay(cassette) => Hub::replay(cassette),
    });
    let audit = plan.outputs.audit.clone();
    let slots = Arc::new(Semaphore::new(plan.jobs.max(1)));
    let progress = plan.outputs.progress.clone();
    let course = Arc::new(plan.course.clone());
    let trainees = join_all(plan.runs.into_iter().zip(undecided_rows).map(
        |(planned, (_, undecided_ids))| {
            let course = course.clone();
            let progress = progress.clone();
            let hub = hub.clone();
            let policy = plan.policy.clone();
            let audit = audit.clone();
            let slots = slots.clone();
            async move {
                let _slot = slots.acquire().await.expect("semaphore never closed");
                let mut parts = Vec::with_capacity(planned.parts.len());
                for part in planned.parts {
                    let report = run_part(
                        &planned.trainee,
                        planned.account.as_deref(),
                        part.params,
                        part.step,
                        &hub,
                        &policy,
                        &audit,
                    )
                    .await;
                    parts.push((part.course_step, report));
                }
                if let Some(p) = &progress {
                    p.tick();
                }
                let mut merged = merge(planned.trainee, parts, &course);
                undecided::mark(&mut merged.results, &undecided_ids);
                merged.person = planned.person;
                merged
            }
        },
    ))
    .await;
    if let Some(p) = &progress {
        p.finish();
    }
    // SSH connections to the trainees' servers end with the run.
    hub.close().await;

    let mut trainees = trainees;
    let summary = Summary {
        aws_calls: hub.live_calls(),
        replayed_calls: hub.replayed_calls(),
        ssh_connections: hub.ssh_connections(),
        aws_throttled: hub.throttled(),
        elapsed_ms: started.elapsed().as_millis() as u64,
        ..Summary::default()
    };
    // A roster id that nothing in the account mentions: say so, not 18 silent fails.
    let aws = hub.responses(crate::caps::aws::CAPABILITY);
    if !aws.is_empty() {
        for t in trainees.iter_mut().filter(|t| t.trainee != "-") {
            t.unmatched = !aws
                .iter()
                .any(|answer| crate::caps::owner::mentioned(answer, &t.trainee));
        }
    }
    let mut report = Report {
        undecided: undecided_groups,
        step: plan.name,
        steps: plan.course,
        trainees,
        summary,
    };
    report.settle();
    (
        Executed {
            report,
            hub,
            settings,
        },
        plan.outputs,
    )
}

/// One step of one trainee's run, behind its own [`Gate`] (so the audit log names
/// the step that made each call); a step that could not load is one `error` row.
async fn run_part(
    trainee: &str,
    account: Option<&str>,
    params: std::collections::BTreeMap<String, String>,
    step: Result<(Arc<Step>, StepId), Text>,
    hub: &Arc<Hub>,
    policy: &Arc<Policy>,
    audit: &Option<Arc<Audit>>,
) -> TraineeReport {
    let (step, step_id) = match step {
        Ok(step) => step,
        Err(why) => return unloadable(trainee.to_string(), why),
    };
    let gate = Arc::new(
        Gate::new(
            hub.clone(),
            policy.clone(),
            trainee.to_string(),
            step_id,
            audit.clone(),
        )
        .in_account(account),
    );
    let ctx = RunContext {
        hub: hub.clone(),
        gate: gate.clone(),
        trainee: trainee.to_string(),
        params,
        limits: policy.limits.clone(),
    };
    // A panic in one trainee's run is that trainee's error, never the class's.
    let run = tokio::spawn(async move { step.run(ctx).await });
    let mut report = match run.await {
        Ok(report) => report,
        Err(e) => unloadable(
            gate.trainee().to_string(),
            t::Crashed { why: quoted(e) }.into(),
        ),
    };
    // Denials belong in the report, not only in the audit log; the log stays
    // within its limit all the same.
    let room = policy.limits.max_log_lines.saturating_sub(report.log.len());
    report.log.extend(
        gate.denials(room)
            .into_iter()
            .map(|denial| Text::from(t::Denied { denial }).to_string()),
    );
    gate.finish();
    report
}

/// One trainee's report from the reports of their run's steps. Outside a course
/// (one part, no course step) it is that step's report unchanged; in a course each
/// row's id gets its step's prefix (`S1-A1`) and its `step`, each log line the
/// prefix `[S1] ` (the trainee's course progress is [`Report::settle`]'s).
fn merge(
    trainee: String,
    parts: Vec<(Option<String>, TraineeReport)>,
    course: &[CourseStep],
) -> TraineeReport {
    if course.is_empty() {
        if let Some((_, report)) = parts.into_iter().next() {
            return report;
        }
        return unloadable(trainee, t::NoStep.into());
    }
    let mut merged = TraineeReport {
        trainee,
        results: Vec::new(),
        log: Vec::new(),
        elapsed_ms: 0,
        course: None,
        ..Default::default()
    };
    for (id, report) in parts {
        let id = id.unwrap_or_default();
        merged.elapsed_ms += report.elapsed_ms;
        merged
            .log
            .extend(report.log.into_iter().map(|l| format!("[{id}] {l}")));
        merged
            .results
            .extend(report.results.into_iter().map(|mut o| {
                o.id = course_id(&id, &o.id);
                o.step = Some(id.clone());
                o
            }));
    }
    // Course progress and the tally come once every row is marked: Report::settle.
    merged
}

/// A row's id in a course report: the course step's id, `-`, the step's own id.
pub fn course_id(course_step: &str, id: &str) -> String {
    format!("{course_step}-{id}")
}

/// Writes the outputs: the cassette, the audit log, the broken-capability lines and
/// the report on stdout. Returns the exit code: the report's, or 2 when an output
/// could not be written (the report is printed all the same).
pub fn deliver(executed: &Executed, outputs: &Outputs) -> u8 {
    let report = &executed.report;
    let mut code = report.exit_code();
    if let Some(path) = &outputs.record {
        if let Err(e) = save_cassette(executed, path) {
            eprintln!("labrun: {e}");
            code = code.max(exit::ERROR);
        }
    }
    if let Some(audit) = &outputs.audit {
        if let Err(e) = audit.finish() {
            eprintln!("labrun: {e}");
            code = code.max(exit::ERROR);
        }
    }
    for line in unmatched_lines(report, outputs.style.lang) {
        eprintln!("labrun: {line}");
    }
    // The one line an operator needs when a whole capability was unusable.
    for err in executed.hub.broken() {
        eprintln!(
            "labrun: {}",
            Text::from(text::caps::Broken {
                capability: &err.capability,
                why: err.message_arg(),
                kind: err.kind.as_str(),
            })
        );
    }
    let mut text = report::render(report, outputs.format, &outputs.style);
    if let (Some(notice), Format::Human) = (&outputs.notice, outputs.format) {
        text.insert_str(0, &format!("{}\n\n", notice.get(outputs.style.lang)));
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => code,
        Err(e) => {
            eprintln!("labrun: {}", stdout_failed(&e));
            code.max(exit::ERROR)
        }
    }
}

/// One warning per trainee whose id nothing in the account mentions.
pub fn unmatched_lines(report: &Report, lang: crate::outcome::Lang) -> Vec<String> {
    report
        .trainees
        .iter()
        .filter(|t| t.unmatched)
        .map(|t| {
            crate::text::Text::from(crate::text::class::Unmatched {
                trainee: t.trainee.as_str(),
            })
            .render(lang)
        })
        .collect()
}

/// The one line when the report could not be written to standard output: the reader
/// went away (`| head`), or the output is full. Either way part of the report is lost,
/// and the exit code (2) says so.
pub fn stdout_failed(e: &std::io::Error) -> Text {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        t::BrokenPipe.into()
    } else {
        t::CannotWriteReport { why: quoted(e) }.into()
    }
}

/// Writes the cassette of a finished run (`--record`): every call and its answer,
/// secrets redacted.
pub fn save_cassette(
    executed: &Executed,
    path: &std::path::Path,
) -> Result<(), crate::error::OutputError> {
    let report = &executed.report;
    executed
        .hub
        .cassette(json!({
            "step": report.step,
            "trainees": report.trainees.iter().map(|t| t.trainee.clone()).collect::<Vec<_>>(),
            "labrun": env!("CARGO_PKG_VERSION"),
            // Its replay leaves undecided what this run could not decide.
            "operator": executed.settings,
        }))
        .save(path)
}

/// A report for a trainee whose step could not run: one `error` row saying why.
pub fn unloadable(trainee: String, why: Text) -> TraineeReport {
    TraineeReport {
        trainee,
        results: vec![Outcome {
            id: UNLOADABLE_ID.to_string(),
            status: Status::Error,
            message: Message::text(t::CouldNotRun { why }),
            evidence: None,
            step: None,
            undecided: false,
        }],
        log: Vec::new(),
        elapsed_ms: 0,
        course: None,
        ..Default::default()
    }
}
