//! The watch loop (`--watch SECONDS`): the whole class is re-run every interval,
//! one cycle never overlapping the next, until Ctrl-C (or SIGTERM), `--until done`
//! (every trainee is done: [`crate::outcome::done`]), `--until HH:MM` or `--for
//! DURATION`. Then the final report is printed in `--format` and its exit code
//! returned.
//!
//! A cycle ([`Class::cycle`]) is one [`execute`] over a copy of the plan, with a
//! fresh hub: nothing is coalesced across cycles, and a capability that was unusable
//! (AWS unreachable) is tried again the next cycle. Only the SSH connections outlive
//! a cycle (one per server for the whole watch, opened again when one died). Each cycle is folded into the
//! [`History`] (saved to `--state` if given), published to the dashboard, and shown:
//! in a terminal (human format) a redrawn grid plus the changes; otherwise only the
//! change lines; `jsonl` prints one JSON report per cycle.
//!
//! Between and during cycles the loop takes Check now requests from trainee pages
//! ([`crate::serve::trainee`]): that trainee alone is checked at once (one check per
//! trainee at a time: presses while it runs wait for the same answer), folded in and
//! published; a cycle that ends later keeps that fresher answer for them instead of
//! its own (coalesced, so an older look never shows as a change or a regression).

pub mod board;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::execute::{execute, Answers, Executed, Outputs, PlannedRun, RunPlan};
use crate::history::{now_ms, rfc3339, Change, History};
use crate::outcome::{exit, Lang, Message, Report, TraineeReport};
use crate::report::{self, Format, Style};
use crate::serve::{CheckNow, Dashboard, ServePlan};
use crate::text::Text;

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
    /// Each id's title (`S1-A1` in a course), for the board and the trainee pages.
    pub titles: BTreeMap<String, Message>,
    /// `--stuck-after`.
    pub stuck_after: Duration,
    /// `--trainee-links`: where to write each trainee's link.
    pub trainee_links: Option<PathBuf>,
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

    /// The trainees, in roster order.
    pub fn trainees(&self) -> impl Iterator<Item = &str> {
        self.runs.iter().map(|r| r.trainee.as_str())
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
        self.check(None).await
    }

    /// One trainee at once (Check now), with a fresh hub; `None` if not in the class.
    pub async fn check_one(&self, trainee: &str) -> Option<Executed> {
        if !self.runs.iter().any(|r| r.trainee == trainee) {
            return None;
        }
        Some(self.check(Some(trainee)).await)
    }

    async fn check(&self, only: Option<&str>) -> Executed {
        let plan = RunPlan {
            name: self.name.clone(),
            course: self.course.clone(),
            title: None,
            runs: self
                .runs
                .iter()
                .filter(|r| only.is_none_or(|t| r.trainee == t))
                .cloned()
                .collect(),
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
type Broken = BTreeMap<String, (Message, u64)>;

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
    fold_broken(executed, broken, now);
    let checked: BTreeMap<String, u64> = report
        .trainees
        .iter()
        .map(|t| (t.trainee.clone(), now))
        .collect();
    let snapshot = snapshot(
        &report,
        history,
        broken,
        watch,
        executed.hub.ssh_connections(),
        &checked,
        now,
    );
    Cycle {
        number: history.cycles,
        report,
        changes,
        snapshot,
    }
}

/// What the board's banner says of an unusable capability: its error and kind.
fn broken_message(e: &crate::caps::CapError) -> Message {
    let kind = e.kind.as_str();
    Message::new(
        format!("{} ({kind})", e.message_in(Lang::En)),
        format!("{} ({kind})", e.message_in(Lang::Ja)),
    )
}

/// Which capabilities are unusable now, and since when.
fn fold_broken(executed: &Executed, broken: &mut Broken, now: u64) {
    let now_broken: BTreeMap<String, Message> = executed
        .hub
        .broken()
        .into_iter()
        .map(|e| (e.capability.to_string(), broken_message(&e)))
        .collect();
    broken.retain(|cap, _| now_broken.contains_key(cap));
    for (cap, message) in now_broken {
        let since = broken.get(&cap).map_or(now, |(_, since)| *since);
        broken.insert(cap, (message, since));
    }
}

/// The report's JSON as the dashboard and `jsonl` show it: with the history, the
/// `watch` fields, when each trainee was last checked (`checked_at`) and the class
/// summary ([`board`]).
fn snapshot(
    report: &Report,
    history: &History,
    broken: &Broken,
    watch: &WatchPlan,
    ssh_connections: u64,
    checked: &BTreeMap<String, u64>,
    now: u64,
) -> Value {
    let mut snapshot = serde_json::to_value(report).expect("a report always serializes");
    history.annotate(&mut snapshot);
    snapshot["watch"] = json!({
        "cycle": history.cycles,
        "at": rfc3339(now),
        "interval_s": watch.interval.as_secs(),
        "aws_calls": report.summary.aws_calls,
        "aws_throttled": report.summary.aws_throttled,
        "ssh_connections": ssh_connections,
        "title": { "en": watch.title.en, "ja": watch.title.ja },
        // `message` in English as always; `message_ja` for the board's Japanese.
        "broken": broken.iter().map(|(cap, (message, since))| json!({
            "capability": cap, "message": message.get(Lang::En),
            "message_ja": message.get(Lang::Ja), "since": rfc3339(*since),
        })).collect::<Vec<_>>(),
    });
    if let Some(trainees) = snapshot["trainees"].as_array_mut() {
        for t in trainees {
            let at = t["trainee"].as_str().and_then(|name| checked.get(name));
            t["checked_at"] = at.map(|ms| rfc3339(*ms)).map_or(Value::Null, Value::from);
        }
    }
    board::annotate(
        &mut snapshot,
        report,
        history,
        &watch.titles,
        watch.stuck_after.as_millis() as u64,
        now,
    );
    snapshot
}

/// Every trainee is done: the exit code would be 0.
pub fn done(report: &Report) -> bool {
    report.exit_code() == exit::PASS
}

/// Why the loop stopped.
#[derive(Debug)]
pub enum Stop {
    Done,
    Deadline,
    Signal,
    /// Standard output is gone: the report cannot be shown any more.
    Stdout(std::io::Error),
}

/// A running check: a cycle, or one trainee's Check now (when it started).
type Running<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What the loop keeps between cycles: the latest report (with Check now answers
/// folded in), its snapshot, and when each trainee was last checked.
struct Current {
    cycle: Cycle,
    checked: BTreeMap<String, u64>,
    ssh_connections: u64,
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
    let mut history = std::mem::take(&mut watch.history);
    let (check_tx, mut check_rx) = tokio::sync::mpsc::channel::<CheckNow>(64);
    let dashboard = match watch.serve.take() {
        Some(serve) => {
            let generated = serve.generated;
            let links = match &watch.trainee_links {
                Some(_) => trainee_tokens(&class, &mut history),
                None => BTreeMap::new(),
            };
            let by_token: BTreeMap<String, String> = links
                .iter()
                .map(|(trainee, token)| (token.clone(), trainee.clone()))
                .collect();
            match Dashboard::start(serve, style.lang, by_token, Some(check_tx.clone())) {
                Ok(d) => {
                    let url = d.url.as_str();
                    let line: Text = if generated {
                        crate::text::watch::DashboardGenerated { url }.into()
                    } else if d.token_given {
                        crate::text::watch::DashboardGiven { url }.into()
                    } else {
                        crate::text::watch::DashboardOn { url }.into()
                    };
                    eprintln!("labrun: {}", line.render(style.lang));
                    if let Some(path) = &watch.trainee_links {
                        if let Err(e) = write_links(path, &class, &links, &d) {
                            let line =
                                crate::text::Text::from(crate::text::class::LinksUnwritable {
                                    path,
                                    cause: crate::text::quoted(e),
                                });
                            eprintln!("labrun: {}", line.render(style.lang));
                            return exit::ERROR;
                        }
                        eprintln!("labrun: {}", links_line(path, links.len(), style.lang));
                    }
                    Some(d)
                }
                Err(e) => {
                    let line = Text::from(crate::text::watch::DashboardUnserved {
                        cause: crate::text::quoted(e),
                    });
                    eprintln!("labrun: {}", line.render(style.lang));
                    return exit::ERROR;
                }
            }
        }
        None => None,
    };
    drop(check_tx);
    let mut broken = Broken::new();
    let mut current: Option<Current> = None;
    let mut signals = Signals::new();
    let mut state_error = false;
    let mut warned: BTreeSet<String> = BTreeSet::new();
    // Check now answers since the running cycle began: they win over its own.
    let mut fresher: HashMap<String, TraineeReport> = HashMap::new();
    let mut cycle: Option<Running<'_, Executed>> = Some(Box::pin(class.cycle()));
    let mut cycle_started = Instant::now();
    let mut next_cycle: Option<Instant> = None;
    let mut checks: FuturesUnordered<Running<'_, (String, Option<Executed>)>> =
        FuturesUnordered::new();
    let mut waiting: HashMap<String, Vec<tokio::sync::oneshot::Sender<()>>> = HashMap::new();
    let mut taking_checks = dashboard.is_some();
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let stop = loop {
        let idle = cycle.is_none();
        let wake = next_cycle.unwrap_or(far);
        let deadline = watch.deadline.unwrap_or(far);
        tokio::select! {
            executed = async { cycle.as_mut().expect("a running cycle").await }, if cycle.is_some() => {
                cycle = None;
                let mut executed = executed;
                // Coalesced: a trainee checked now since this cycle began keeps that answer.
                for t in executed.report.trainees.iter_mut() {
                    if let Some(newer) = fresher.remove(&t.trainee) {
                        *t = newer;
                    }
                }
                executed.report.settle();
                fresher.clear();
                let cycle_now = fold(&executed, &mut history, &mut broken, &watch, now_ms());
                let checked = class.trainees().map(|t| (t.to_string(), now_ms())).collect();
                let first = current.is_none();
                warn_unmatched(&cycle_now.report, &mut warned, style.lang);
                save_state(&watch, &history, &mut state_error);
                if let Some(d) = &dashboard {
                    d.publish(cycle_now.snapshot.clone());
                }
                if let Err(e) = show(&cycle_now, &history, &class, &watch, format, &style, tty, first) {
                    break Stop::Stdout(e);
                }
                let finished = watch.until_done && done(&cycle_now.report);
                current = Some(Current {
                    cycle: cycle_now,
                    checked,
                    ssh_connections: executed.hub.ssh_connections(),
                });
                if finished {
                    break Stop::Done;
                }
                let next = cycle_started + watch.interval;
                if watch.deadline.is_some_and(|d| d <= Instant::now()) {
                    break Stop::Deadline;
                }
                next_cycle = Some(next);
            }
            _ = tokio::time::sleep_until(wake), if idle && next_cycle.is_some() => {
                next_cycle = None;
                cycle_started = Instant::now();
                cycle = Some(Box::pin(class.cycle()));
            }
            _ = tokio::time::sleep_until(deadline), if idle && watch.deadline.is_some() => {
                break Stop::Deadline;
            }
            request = check_rx.recv(), if taking_checks => {
                let Some(request) = request else {
                    taking_checks = false;
                    continue;
                };
                let running = waiting.contains_key(&request.trainee);
                waiting.entry(request.trainee.clone()).or_default().push(request.done);
                if !running {
                    let trainee = request.trainee;
                    let class = &class;
                    checks.push(Box::pin(async move {
                        let executed = class.check_one(&trainee).await;
                        (trainee, executed)
                    }));
                }
            }
            Some((trainee, executed)) = checks.next(), if !checks.is_empty() => {
                let replies = waiting.remove(&trainee).unwrap_or_default();
                let (Some(executed), Some(now_current)) = (executed, current.as_mut()) else {
                    // Not in the class, or no cycle yet to fold into: the page says so.
                    drop(replies);
                    continue;
                };
                let Some(fresh) = executed.report.trainees.into_iter().next() else {
                    continue;
                };
                if cycle.is_some() {
                    fresher.insert(trainee.clone(), fresh.clone());
                }
                let now = now_ms();
                let changes = checked_now(now_current, fresh, &mut history, &mut broken, &executed.hub, &watch, now);
                save_state(&watch, &history, &mut state_error);
                if let Some(d) = &dashboard {
                    d.publish(now_current.cycle.snapshot.clone());
                }
                if let Err(e) = show_changes(&changes, format, &style) {
                    break Stop::Stdout(e);
                }
                for reply in replies {
                    let _ = reply.send(());
                }
                if watch.until_done && done(&now_current.cycle.report) {
                    break Stop::Done;
                }
            }
            _ = signals.recv() => break Stop::Signal,
        }
    };
    // Pages waiting for a Check now get "the watch has stopped".
    drop(waiting);
    if matches!(stop, Stop::Signal) && (cycle.is_some() || !checks.is_empty()) {
        // The running steps stop at their next call, and the unfinished checks are
        // dropped only then: no step thread is left inside the runtime.
        crate::step::stop_all();
        let _ = tokio::time::timeout(STOP_GRACE, async {
            if let Some(cycle) = cycle.take() {
                cycle.await;
            }
            while checks.next().await.is_some() {}
        })
        .await;
    }
    drop(checks);
    drop(cycle);
    if let Some(pool) = class.ssh() {
        pool.close().await;
    }
    // Nobody reads the watch any more (`| head`, a closed terminal): it stopped.
    if let Stop::Stdout(e) = &stop {
        eprintln!(
            "labrun: {}",
            crate::text::Text::from(crate::text::watch::Stops {
                why: crate::execute::stdout_failed(e),
            })
        );
        return exit::ERROR;
    }
    let Some(last) = current else {
        eprintln!(
            "labrun: {}",
            Text::from(crate::text::watch::NothingToReport)
        );
        return exit::ERROR;
    };
    if tty && format == Format::Human {
        let why: crate::text::Text = match stop {
            Stop::Done => crate::text::watch::EndedDone.into(),
            Stop::Deadline => crate::text::watch::EndedDeadline.into(),
            // A gone stdout returned above; a signal is the only other way out.
            Stop::Signal | Stop::Stdout(_) => crate::text::watch::EndedSignal.into(),
        };
        eprintln!(
            "labrun: {}",
            crate::text::Text::from(crate::text::watch::Ended {
                why,
                cycles: last.cycle.number,
            })
        );
    }
    match final_report(&last.cycle, &history, format, &style) {
        Ok(code) => code | state_code(state_error),
        Err(e) => {
            eprintln!("labrun: {}", crate::execute::stdout_failed(&e));
            exit::ERROR
        }
    }
}

/// Folds one trainee's Check now answer into the current report, the history and
/// the snapshot; returns what changed.
fn checked_now(
    current: &mut Current,
    fresh: TraineeReport,
    history: &mut History,
    broken: &mut Broken,
    hub: &crate::caps::Hub,
    watch: &WatchPlan,
    now: u64,
) -> Vec<Change> {
    let trainee = fresh.trainee.clone();
    let one = Report {
        trainees: vec![fresh.clone()],
        steps: current.cycle.report.steps.clone(),
        ..Report::default()
    };
    let changes = history.update_trainees(&one, now);
    // A capability found unusable by the check is news; one it did not use is not.
    for e in hub.broken() {
        broken
            .entry(e.capability.to_string())
            .or_insert((broken_message(&e), now));
    }
    let report = &mut current.cycle.report;
    if let Some(slot) = report.trainees.iter_mut().find(|t| t.trainee == trainee) {
        *slot = fresh;
    }
    report.settle();
    current.checked.insert(trainee, now);
    current.cycle.snapshot = snapshot(
        report,
        history,
        broken,
        watch,
        current.ssh_connections,
        &current.checked,
        now,
    );
    current.cycle.changes = changes.clone();
    changes
}

/// Each trainee's link token, derived from the class's link key (made once and kept
/// in the history, so `--state` keeps the links across restarts).
fn trainee_tokens(class: &Class, history: &mut History) -> BTreeMap<String, String> {
    let key = history
        .link_key
        .get_or_insert_with(crate::serve::access::new_link_key)
        .clone();
    class
        .trainees()
        .map(|t| (t.to_string(), crate::serve::access::trainee_token(&key, t)))
        .collect()
}

/// `--trainee-links FILE`: a CSV `trainee,url`, readable by its owner only (each
/// link opens one trainee's page), written as `--state` is (atomically, a symlink
/// followed).
fn write_links(
    path: &std::path::Path,
    class: &Class,
    links: &BTreeMap<String, String>,
    dashboard: &Dashboard,
) -> std::io::Result<()> {
    let mut text = String::from("trainee,url\r\n");
    for trainee in class.trainees() {
        let url = dashboard.trainee_url(&links[trainee]);
        text.push_str(&format!("{},{url}\r\n", report::csv::field(trainee)));
    }
    let target = crate::files::output_target(path).map_err(std::io::Error::other)?;
    crate::files::replace_private(&target, text.as_bytes())
}

fn links_line(path: &std::path::Path, count: usize, lang: Lang) -> String {
    crate::text::Text::from(crate::text::class::LinksWritten { count, path }).render(lang)
}

/// A roster id that matches nothing: one line per id, once per watch.
fn warn_unmatched(report: &Report, warned: &mut BTreeSet<String>, lang: Lang) {
    let fresh: Vec<TraineeReport> = report
        .trainees
        .iter()
        .filter(|t| t.unmatched && warned.insert(t.trainee.clone()))
        .cloned()
        .collect();
    let fresh = Report {
        trainees: fresh,
        ..Report::default()
    };
    for line in crate::execute::unmatched_lines(&fresh, lang) {
        eprintln!("labrun: {line}");
    }
}

fn save_state(watch: &WatchPlan, history: &History, state_error: &mut bool) {
    let Some(path) = &watch.state else { return };
    match history.save(path) {
        Ok(()) => *state_error = false,
        Err(e) if !*state_error => {
            let line = Text::from(crate::text::watch::StateUnwritable {
                path,
                cause: crate::text::quoted(e),
            });
            eprintln!("labrun: {line}");
            *state_error = true;
        }
        Err(_) => {}
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
                        let line = crate::text::Text::from(crate::text::watch::Regression {
                            trainee: &t2.trainee,
                            id: &o.id,
                        });
                        t.push_str(&line.render(style.lang));
                        t.push('\n');
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
            let summary = &cycle.report.summary;
            let throttled = match summary.aws_throttled {
                0 => crate::text::plain(""),
                count => Text::from(crate::text::watch::HeaderThrottled { count }).into(),
            };
            let header = Text::from(crate::text::watch::Header {
                step: class.name(),
                title: watch.title.get(style.lang),
                clock: clock.as_str(),
                cycle: cycle.number,
                calls: summary.aws_calls,
                throttled,
                ms: summary.elapsed_ms,
                next: watch.interval.as_secs(),
            })
            .render(style.lang);
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
                    text.push_str(&first_line(t, &clock, style.lang));
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
        let line = Text::from(crate::text::watch::Throttled {
            cycle: cycle.number,
            count: throttled,
        });
        eprintln!("labrun: {}", line.render(style.lang));
    }
    if !text.is_empty() {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|_| out.flush())?;
    }
    Ok(())
}

/// The change lines of a Check now (between cycles), as a cycle's would be shown:
/// human formats only; `jsonl` keeps one line per cycle.
fn show_changes(changes: &[Change], format: Format, style: &Style) -> std::io::Result<()> {
    if format != Format::Human {
        return Ok(());
    }
    let clock = local_clock();
    let mut text = String::new();
    for c in changes.iter().filter(|c| c.from.is_some()) {
        text.push_str(&report::grid::change_line(c, &clock, style));
        text.push('\n');
    }
    if !text.is_empty() {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|_| out.flush())?;
    }
    Ok(())
}

/// A trainee on the first cycle: `09:52:10 user05 17/17 passed, done`, counted as
/// done counts ([`crate::outcome::done`]).
fn first_line(t: &TraineeReport, clock: &str, lang: Lang) -> String {
    let tally = t.tally();
    let (trainee, passed, total) = (t.trainee.as_str(), tally.passed, tally.total);
    let line: crate::text::Text = if tally.done {
        crate::text::class::FirstLineDone {
            clock,
            trainee,
            passed,
            total,
        }
        .into()
    } else {
        crate::text::class::FirstLine {
            clock,
            trainee,
            passed,
            total,
        }
        .into()
    };
    let mut line = line.render(lang);
    line.push('\n');
    line
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
