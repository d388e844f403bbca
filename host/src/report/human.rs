//! The human report: one block per trainee, one aligned row per outcome; in a course,
//! one block per step inside each trainee's and the trainee's place in the course.

use std::fmt::Write;

use super::Style;
use crate::outcome::{
    inert, CourseProgress, Lang, Outcome, Report, Status, TraineeReport, MAX_ID_CHARS,
};
use crate::text::{report as t, Arg, Text};

pub(super) fn label(status: Status, lang: Lang) -> &'static str {
    match (status, lang) {
        (Status::Pass, Lang::En) => "PASS",
        (Status::Fail, Lang::En) => "FAIL",
        (Status::Pending, Lang::En) => "PENDING",
        (Status::Error, Lang::En) => "ERROR",
        (Status::Skip, Lang::En) => "SKIP",
        (Status::Pass, Lang::Ja) => "合格",
        (Status::Fail, Lang::Ja) => "不合格",
        (Status::Pending, Lang::Ja) => "待機中",
        (Status::Error, Lang::Ja) => "確認不可",
        (Status::Skip, Lang::Ja) => "省略",
    }
}

/// The label of a row: its status's, or UNDECIDED when labrun was not given what
/// the check needs (its `error` or `skip` is not the trainee's).
pub(super) fn row_label(outcome: &Outcome, lang: Lang) -> std::borrow::Cow<'static, str> {
    if outcome.undecided {
        crate::text::Text::from(crate::text::class::UndecidedLabel)
            .render(lang)
            .into()
    } else {
        label(outcome.status, lang).into()
    }
}

pub(super) fn color(status: Status) -> &'static str {
    match status {
        Status::Pass => "\x1b[32m",
        Status::Fail => "\x1b[31m",
        Status::Pending => "\x1b[33m",
        Status::Error => "\x1b[35m",
        Status::Skip => "\x1b[2m",
    }
}

/// Display width: CJK characters take two terminal columns.
pub(super) fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// `text` padded with spaces to `columns` terminal columns (never cut: a longer text
/// only widens its own row).
pub(super) fn padded(text: &str, columns: usize) -> String {
    let mut out = String::with_capacity(text.len() + columns);
    out.push_str(text);
    out.extend(std::iter::repeat_n(
        ' ',
        columns.saturating_sub(width(text)),
    ));
    out
}

/// Every field here came from a step or a class file: each is shown [`inert`], so one
/// outcome is one row whatever its text holds, and the id column is at most
/// [`MAX_ID_CHARS`] wide whatever one trainee's ids are.
pub fn render(report: &Report, style: &Style) -> String {
    let lang = style.lang;
    let mut out = String::new();
    let undecided = report
        .trainees
        .iter()
        .flat_map(|t| &t.results)
        .find(|o| o.undecided);
    let label_width = Status::ALL
        .iter()
        .map(|s| width(label(*s, lang)))
        .chain(undecided.map(|o| width(&row_label(o, lang))))
        .max()
        .unwrap_or(0);
    let id_width = report
        .trainees
        .iter()
        .flat_map(|t| t.results.iter().map(|o| width(&inert(&o.id))))
        .max()
        .unwrap_or(2)
        .clamp(2, MAX_ID_CHARS);
    let step = inert(&report.step);
    let row = |out: &mut String, outcome: &crate::outcome::Outcome, indent: &str| {
        let text = row_label(outcome, lang);
        let (on, off) = if style.color && outcome.undecided {
            ("\x1b[2m", "\x1b[0m")
        } else if style.color {
            (color(outcome.status), "\x1b[0m")
        } else {
            ("", "")
        };
        let _ = writeln!(
            out,
            "{indent}{on}{text}{off}{}  {}  {}",
            " ".repeat(label_width.saturating_sub(width(&text))),
            padded(&inert(&outcome.id), id_width),
            inert(outcome.message.get(lang))
        );
    };
    for trainee in &report.trainees {
        let _ = writeln!(out, "{step} · {}", inert(&trainee.trainee));
        if report.steps.is_empty() {
            for outcome in &trainee.results {
                row(&mut out, outcome, "  ");
            }
        } else {
            course_blocks(&mut out, report, trainee, lang, &|out, o| {
                row(out, o, "    ")
            });
        }
        for line in &trainee.log {
            let _ = writeln!(out, "  | {}", inert(line));
        }
        out.push('\n');
    }
    let s = &report.summary;
    let seconds = s.elapsed_ms as f64 / 1000.0;
    let calls: Text = if s.replayed_calls > 0 {
        t::Replayed {
            count: s.replayed_calls,
        }
        .into()
    } else {
        t::AwsCalls { count: s.aws_calls }.into()
    };
    let calls: Text = match s.ssh_connections {
        0 => calls,
        count => t::WithSsh { calls, count }.into(),
    };
    let calls: Text = match s.aws_throttled {
        0 => calls,
        count => t::WithThrottled { calls, count }.into(),
    };
    // Undecided rows are counted apart, as the rows show them.
    let undecided_of = |status: Status| {
        report
            .trainees
            .iter()
            .flat_map(|t| &t.results)
            .filter(|o| o.undecided && o.status == status)
            .count()
    };
    let (error, skip) = (
        s.error - undecided_of(Status::Error).min(s.error),
        s.skip - undecided_of(Status::Skip).min(s.skip),
    );
    let undecided = undecided_of(Status::Error) + undecided_of(Status::Skip);
    let done = report.trainees.iter().filter(|t| t.tally().done).count();
    let summary = Text::from(t::Summary {
        pass: s.pass,
        fail: s.fail,
        pending: s.pending,
        error,
        skip,
        undecided: undecided_count(undecided),
        trainees: report.trainees.len(),
        done,
        seconds: format!("{seconds:.1}"),
        calls,
    });
    let _ = writeln!(out, "{}", summary.render(lang));
    out
}

/// ` · 4 undecided` after the summary's counts, when there are any.
fn undecided_count(count: usize) -> Arg {
    if count == 0 {
        return crate::text::plain("");
    }
    Text::from(crate::text::class::UndecidedCount { count }).into()
}

/// A course trainee's rows: one block per course step (its id, name and title, then
/// its rows; rows of no listed step last), then the course line: the current step
/// (the first not fully passed) and the steps passed.
fn course_blocks(
    out: &mut String,
    report: &Report,
    trainee: &TraineeReport,
    lang: Lang,
    row: &dyn Fn(&mut String, &Outcome),
) {
    for step in &report.steps {
        let _ = writeln!(
            out,
            "  {} · {} — {}",
            inert(&step.id),
            inert(&step.name),
            inert(step.title.get(lang))
        );
        for outcome in trainee
            .results
            .iter()
            .filter(|o| o.step.as_deref() == Some(step.id.as_str()))
        {
            row(out, outcome);
        }
    }
    for outcome in trainee.results.iter().filter(|o| {
        !report
            .steps
            .iter()
            .any(|s| o.step.as_deref() == Some(s.id.as_str()))
    }) {
        row(out, outcome);
    }
    let progress = trainee
        .course
        .clone()
        .unwrap_or_else(|| CourseProgress::of(&report.steps, &trainee.results));
    let passed: Arg = if progress.passed.is_empty() {
        Text::from(t::NonePassed).into()
    } else {
        // Step ids, listed the same way in both languages.
        crate::text::plain(progress.passed.join(", "))
    };
    let title = |id: &str| {
        report
            .steps
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.title.get(lang).to_string())
            .unwrap_or_default()
    };
    let line: Text = match &progress.current {
        Some(current) => t::CourseAt {
            current,
            title: title(current),
            passed,
        }
        .into(),
        None => t::CourseFinished { passed }.into(),
    };
    let _ = writeln!(out, "  {}", line.render(lang));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Message, Outcome, Summary, TraineeReport};

    fn report(step: &str, trainees: Vec<(&str, Vec<Outcome>, Vec<String>)>) -> Report {
        let mut summary = Summary::default();
        let trainees = trainees
            .into_iter()
            .map(|(trainee, results, log)| {
                for o in &results {
                    summary.add(o.status);
                }
                TraineeReport {
                    trainee: trainee.to_string(),
                    results,
                    log,
                    elapsed_ms: 1,
                    course: None,
                    ..Default::default()
                }
            })
            .collect();
        Report {
            undecided: Vec::new(),
            step: step.to_string(),
            trainees,
            summary,
            steps: Vec::new(),
        }
    }

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

    fn plain(lang: Lang) -> Style {
        Style { lang, color: false }
    }

    #[test]
    fn a_64_kib_id_and_a_megabyte_message_render_one_row_each() {
        let id = "i".repeat(64 << 10);
        let message = "m".repeat(1 << 20);
        let r = report(
            "step3",
            vec![(
                "user05",
                vec![
                    outcome(&id, Status::Fail, &message),
                    outcome("A1", Status::Pass, "ok"),
                ],
                vec!["l".repeat(1 << 20)],
            )],
        );
        for lang in [Lang::En, Lang::Ja] {
            let text = render(&r, &plain(lang));
            // header, two rows, one log line, blank line, summary.
            assert_eq!(text.lines().count(), 6, "{lang:?}");
            assert!(text.contains(&message));
        }
    }

    #[test]
    fn one_long_id_does_not_widen_the_other_rows() {
        let r = report(
            "step3",
            vec![
                (
                    "user05",
                    vec![outcome(&"x".repeat(60_000), Status::Fail, "long")],
                    vec![],
                ),
                ("user06", vec![outcome("A1", Status::Pass, "short")], vec![]),
            ],
        );
        let text = render(&r, &plain(Lang::En));
        let a1 = text.lines().find(|l| l.contains("short")).unwrap();
        assert_eq!(
            a1,
            format!("  PASS     A1{}  short", " ".repeat(MAX_ID_CHARS - 2))
        );
    }

    #[test]
    fn what_a_step_produced_is_inert_and_forges_no_rows() {
        let forged = "ok\r\n  PASS     A2  fake\n\nstep3 · user06\n  PASS     A1  fake\n\
                      9 pass · 0 fail · 0 pending · 0 error · 0 skip";
        let osc52 = "\x1b]52;c;ZWNobyBvd25lZA==\x07 \x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\";
        let r = report(
            "step3\x1b[2J\x1b]0;title\x07",
            vec![(
                "user05\u{202e}",
                vec![
                    outcome("A1\r\x1b[2K", Status::Fail, forged),
                    outcome("A2", Status::Error, osc52),
                    outcome(
                        "A3",
                        Status::Skip,
                        "back\u{8}\u{8}\u{7f}\u{9b}31m \u{2066}rtl\u{2069}",
                    ),
                ],
                vec!["log\nline\r\x1b[1A".to_string()],
            )],
        );
        for color in [false, true] {
            let text = render(
                &r,
                &Style {
                    lang: Lang::En,
                    color,
                },
            );
            assert_eq!(text.lines().count(), 1 + 3 + 1 + 1 + 1, "{text}");
            let own_colour = text
                .replace("\x1b[0m", "")
                .replace("\x1b[31m", "")
                .replace("\x1b[35m", "")
                .replace("\x1b[2m", "");
            for c in own_colour.chars() {
                assert!(
                    c == '\n' || !crate::outcome::inert::needs_escape(c),
                    "raw U+{:04X} in {text:?}",
                    c as u32
                );
            }
            assert!(
                text.contains("ok\\r\\n  PASS     A2  fake\\n\\nstep3 · user06"),
                "{text}"
            );
            assert!(text.contains("\\u{1b}]52;c;"), "{text}");
            assert!(text.contains("step3\\u{1b}[2J"), "{text}");
            assert!(text.contains("user05\\u{202e}"), "{text}");
            assert!(text.contains("  | log\\nline\\r\\u{1b}[1A"), "{text}");
            let summaries = text
                .lines()
                .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()));
            assert_eq!(summaries.count(), 1, "one summary: {text}");
        }
    }
}
