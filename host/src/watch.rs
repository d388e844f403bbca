//! The watch loop (`--watch SECONDS`): the whole class is re-run every interval,
//! one cycle never overlapping the next, until Ctrl-C (or SIGTERM), `--until done`
//! (every trainee's exit code would be 0), `--until HH:MM` or `--for DURATION`. Then
//! the final report is printed in `--format` and its exit code returned.
//!
//! A cycle ([`Class::cycle`]) is one [`execute`] over a copy of the plan, with a
//! fresh hub: nothing is coalesced across cycles, and a capability that was unusable
//! (AWS unreachable) is tried again the next cycle. Only the SSH connections outlive
//! a cycle (one per server for the whole watch, opened again when one died). Each cycle is folded into the
//! [`History`] (saved to `--state` if given), published to the dashboard, and shown:
//! in a terminal (human format) a redrawn grid plus the changes; otherwise only the
//! change lines; `jsonl` prints one JSON report per cycle.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::execute::{execute, Answers, Executed, Outputs, PlannedRun, RunPlan};
use crate::history::{now_ms, rfc3339, Change, History};
use crate::outcome::{exit, Message, Report};
use crate::report::{self, Format, Style};
use crate::serve::{Dashboard, ServePlan};

/// How long a signal waits for the running steps to stop before the watch ends.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Everything `--watch` and its companions asked for, checked by [`crate::plan`].
pub struct WatchPlan {
    pub interval: Duration,
    /// `--until done`.
    pub until_done: bool,
    /// `--until HH:MM` and `--for`: the earlier of the two.
    pub deadline: Option<Instant>,
    pub state: Option<PathBuf>,
    /// The history to resume (from `--state`, or fresh).
    pub history: History,
    pub serve: Option<ServePlan>,
    /// The step's title, for the grid header and the dashboard.
    pub title: Message,
}

/// The class as planned, re-runnable: each [`Class::cycle`] executes a copy.
pub struct Class {
    name: String,
    course: Vec<crate::outcome::CourseStep>,
    runs: Vec<PlannedRun>,
    policy: Arc<crate::policy::Policy>,
    answers: Answers,
    jobs: usize,
    outputs: Outputs,
}

impl Class {
    pub fn new(plan: RunPlan) -> Class {
        Class {
            name: plan.name,
            course: plan.course,
            runs: plan.runs,
            policy: plan.policy,
            answers: plan.answers,
            jobs: plan.jobs,
            outputs: plan.outputs,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SSH pool every cycle shares (`--ssh-key`), if any.
    fn ssh(&self) -> Option<&Arc<crate::caps::ssh::SshPool>> {
        match &self.answers {
            Answers::Live(settings) => settings.net.ssh.as_ref(),
            Answers::Replay(_) => None,
        }
    }

    /// One cycle: every trainee once, with a fresh hub.
    pub async fn cycle(&self) -> Executed {
        let plan = RunPlan {
            name: self.name.clone(),
            course: self.course.clone(),
            title: None,
            runs: self.runs.clone(),
            policy: self.policy.clone(),
            answers: match &self.answers {
                Answers::Live(settings) => Answers::Live(settings.clone()),
                Answers::Replay(cassette) => Answers::Replay(cassette.clone()),
            },
            jobs: self.jobs,
            warnings: Vec::new(),
            outputs: Outputs {
                record: None,
                audit: self.outputs.audit.clone(),
                format: self.outputs.format,
                style: style(&self.outputs.style),
                progress: None,
                notice: None,
            },
        };
        execute(plan).await.0
    }
}

fn style(s: &Style) -> Style {
    Style {
        lang: s.lang,
        color: s.color,
    }
}

/// What one cycle produced, after it was folded into the history.
pub struct Cycle {
    pub number: u64,
    pub report: Report,
    pub changes: Vec<Change>,
    /// The report's JSON with the history and `watch` fields.
    pub snapshot: Value,
}

/// A capability that became unusable, and since when (ms).
type Broken = BTreeMap<String, (String, u64)>;

/// Folds an executed cycle into the history and builds its snapshot.
pub fn fold(
    executed: &Executed,
    history: &mut History,
    broken: &mut Broken,
    watch: &WatchPlan,
    now: u64,
) -> Cycle {
    let report = executed.report.clone();
    let changes = history.update(&report, now);
    let now_broken: BTreeMap<String, String> = executed
        .hub
        .broken()
        .into_iter()
        .map(|e| {
            (
                e.capability.to_string(),
                format!("{} ({})", e.message, e.kind.as_str()),
            )
        })
        .collect();
    broken.retain(|cap, _| now_broken.contains_key(cap));
    for (cap, message) in now_broken {
        let since = broken.get(&cap).map_or(now, |(_, since)| *since);
        broken.insert(cap, (message, since));
    }
    let mut snapshot = serde_json::to_value(&report).expect("a report always serializes");
    history.annotate(&mut snapshot);
    snapshot["watch"] = json!({
        "cycle": history.cycles,
        "at": rfc3339(now),
        "interval_s": watch.interval.as_secs(),
        "aws_calls": report.summary.aws_calls,
        "aws_throttled": report.summary.aws_throttled,
        "ssh_connections": executed.hub.ssh_connections(),
        "title": { "en": watch.title.en, "ja": watch.title.ja },
        "broken": broken.iter().map(|(cap, (message, since))| json!({
            "capability": cap, "message": message, "since": rfc3339(*since),
        })).collect::<Vec<_>>(),
    });
    Cycle {
        number: history.cycles,
        report,
        changes,
        snapshot,
    }
}

/// Every trainee would exit 0: nothing fails, is pending or is in error.
pub fn done(report: &Report) -> bool {
    report.exit_code() == exit::PASS
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Done,
    Deadline,
    Signal,
}

/// Runs the watch; returns the final report's exit code.
pub async fn run(plan: RunPlan, mut watch: WatchPlan) -> u8 {
    let format = plan.outputs.format;
    let style = style(&plan.outputs.style);
    let class = Class::new(plan);
    // One SSH connection per server for the whole watch, not one per cycle.
    if let Some(pool) = class.ssh() {
        pool.keep_across_runs();
    }
    let tty = std::io::stdout().is_terminal();
    let dashboard = match watch.serve.take() {
        Some(serve) => {
            let generated = serve.generated;
            match Dashboard::start(serve, style.lang) {
                Ok(d) => {
                    let note = if generated { " (generated token)" } else { "" };
                    eprintln!("labrun: dashboard on {}{note}", d.url);
                    Some(d)
                }
                Err(e) => {
                    eprintln!("labrun: cannot serve the dashboard: {e}");
                    return exit::ERROR;
                }
            }
        }
        None => None,
    };
    let mut history = std::mem::take(&mut watch.history);
    let mut broken = Broken::new();
    let mut last: Option<Cycle> = None;
    let mut signals = Signals::new();
    let mut state_error = false;
    let stop = loop {
        let started = Instant::now();
        let cycle = class.cycle();
        tokio::pin!(cycle);
        let executed = tokio::select! {
            e = &mut cycle => e,
            _ = signals.recv() => {
                // The running steps stop at their next call, and the unfinished cycle
                // is dropped only then: no step thread is left inside the runtime.
                crate::step::stop_all();
                let _ = tokio::time::timeout(STOP_GRACE, cycle).await;
                break Stop::Signal;
            }
        };
        let cycle = fold(&executed, &mut history, &mut broken, &watch, now_ms());
        if let Some(path) = &watch.state {
            match history.save(path) {
                Ok(()) => state_error = false,
                Err(e) if !state_error => {
                    eprintln!("labrun: cannot write --state {}: {e}", path.display());
                    state_error = true;
                }
                Err(_) => {}
            }
        }
        if let Some(d) = &dashboard {
            d.publish(cycle.snapshot.clone());
        }
        let shown = show(
            &cycle,
            &history,
            &class,
            &watch,
            format,
            &style,
            tty,
            last.is_none(),
        );
        // Nobody reads the watch any more (`| head`, a closed terminal): stop it.
        if let Err(e) = shown {
            eprintln!(
                "labrun: {}",
                crate::text::Text::from(crate::text::watch::Stops {
                    why: crate::execute::stdout_failed(&e),
                })
            );
            if let Some(pool) = class.ssh() {
                pool.close().await;
            }
            return exit::ERROR;
        }
        let finished = watch.until_done && done(&cycle.report);
        last = Some(cycle);
        if finished {
            break Stop::Done;
        }
        let next = started + watch.interval;
        let deadline = watch.deadline.unwrap_or(next + Duration::from_secs(86_400));
        if deadline <= Instant::now() {
            break Stop::Deadline;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next.min(deadline)) => {
                if deadline <= Instant::now() { break Stop::Deadline; }
            }
            _ = signals.recv() => break Stop::Signal,
        }
    };
    if let Some(pool) = class.ssh() {
        pool.close().await;
    }
    let Some(last) = last else {
        eprintln!("labrun: stopped before the first cycle finished; nothing to report");
        return exit::ERROR;
    };
    if tty && format == Format::Human {
        eprintln!(
            "labrun: watch ended ({stop:?}) after {} cycles",
            last.number
        );
    }
    match final_report(&last, &history, format, &style) {
        Ok(code) => code | state_code(state_error),
        Err(e) => {
            eprintln!("labrun: {}", crate::execute::stdout_failed(&e));
            exit::ERROR
        }
    }
}

fn state_code(error: bool) -> u8 {
    if error {
        exit::ERROR
    } else {
        0
    }
}

/// The final report in the chosen format; returns its exit code, or why stdout
/// could not take it.
fn final_report(
    last: &Cycle,
    history: &History,
    format: Format,
    style: &Style,
) -> std::io::Result<u8> {
    let text = match format {
        Format::Json => {
            let mut t = serde_json::to_string_pretty(&last.snapshot).expect("JSON serializes");
            t.push('\n');
            t
        }
        // Already streamed: the last line is the final report.
        Format::Jsonl => String::new(),
        Format::Html => report::html::page(Some(&last.snapshot), style.lang, false),
        Format::Human => {
            let mut t = report::render(&last.report, format, style);
            for t2 in &last.report.trainees {
                for o in &t2.results {
                    if history
                        .cell(&t2.trainee, &o.id)
                        .is_some_and(|c| c.regressed_at.is_some())
                    {
                        t.push_str(&format!(
                            "REGRESSION {} {}: it passed before and fails now\n",
                            crate::outcome::inert(&t2.trainee),
                            crate::outcome::inert(&o.id)
                        ));
                    }
                }
            }
            t
        }
        _ => report::render(&last.report, format, style),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|_| out.flush())?;
    Ok(last.report.exit_code())
}

/// Shows one cycle on stdout as the format asks; the error is stdout's.
#[allow(clippy::too_many_arguments)]
fn show(
    cycle: &Cycle,
    history: &History,
    class: &Class,
    watch: &WatchPlan,
    format: Format,
    style: &Style,
    tty: bool,
    first: bool,
) -> std::io::Result<()> {
    let clock = local_clock();
    let mut text = String::new();
    match format {
        Format::Jsonl => {
            text = serde_json::to_string(&cycle.snapshot).expect("JSON serializes");
            text.push('\n');
        }
        Format::Human if tty => {
            let throttled = match cycle.report.summary.aws_throttled {
                0 => String::new(),
                n => format!(" (throttled {n}×, retried)"),
            };
            let header = format!(
                "{} — {} · {clock} · cycle {} · {} AWS calls{throttled} · {} ms · next in {} s",
                class.name(),
                watch.title.get(style.lang),
                cycle.number,
                cycle.report.summary.aws_calls,
                cycle.report.summary.elapsed_ms,
                watch.interval.as_secs()
            );
            text.push_str("\x1b[H\x1b[2J");
            text.push_str(&report::grid::grid(&cycle.report, history, &header, style));
            for c in cycle.changes.iter().filter(|c| c.from.is_some()) {
                text.push_str(&report::grid::change_line(c, &clock, style));
                text.push('\n');
            }
        }
        Format::Human => {
            // The first cycle: one line per trainee; then only what changed.
            if first {
                for t in &cycle.report.trainees {
                    text.push_str(&format!(
                        "{clock} {} {}/{} passed\n",
                        crate::outcome::inert(&t.trainee),
                        t.count(crate::outcome::Status::Pass),
                        t.results.len()
                    ));
                }
            }
            for c in cycle.changes.iter().filter(|c| c.from.is_some()) {
                text.push_str(&report::grid::change_line(c, &clock, style));
                text.push('\n');
            }
        }
        _ => {}
    }
    // Not in the grid's header (no terminal): one line on stderr, so that stdout
    // keeps only the changes.
    let throttled = cycle.report.summary.aws_throttled;
    if throttled > 0 && !(tty && format == Format::Human) {
        eprintln!(
            "labrun: cycle {}: AWS throttled {throttled}×; labrun backed off and retried at the pace AWS refills",
            cycle.number
        );
    }
    if !text.is_empty() {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|_| out.flush())?;
    }
    Ok(())
}

/// `HH:MM:SS` in local time.
pub fn local_clock() -> String {
    let (h, m, s) = local_hms();
    format!("{h:02}:{m:02}:{s:02}")
}

/// The local time of day (hour, minute, second), from the C library's time zone.
pub fn local_hms() -> (u32, u32, u32) {
    // SAFETY: `time` and `localtime_r` only write to the `tm` we own.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return (0, 0, 0);
        }
        (tm.tm_hour as u32, tm.tm_min as u32, tm.tm_sec as u32)
    }
}

/// Ctrl-C and SIGTERM, registered at once (a signal during the first cycle counts).
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn recv(&mut self) {
        let Signals { int, term } = self;
        let int = async {
            match int {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let term = async {
            match term {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = int => {}
            _ = term => {}
        }
    }
}
