//! The terminal view of a watch: a compact class grid (one row per trainee, one
//! coloured cell per checklist id, `?` where labrun could not decide, passed/total as
//! done counts them with ✓ once done, and in a course the current step) under a header line, and one line
//! per change between cycles (a regression shown loudly). Every text a step or a
//! roster produced is shown [`inert()`].

use std::fmt::Write;

use super::human::{color, label, padded, width};
use super::Style;
use crate::history::{Change, History};
use crate::outcome::{inert, Report, Status};

const RESET: &str = "\x1b[0m";
const LOUD: &str = "\x1b[1;41;97m";

fn symbol(status: Status) -> &'static str {
    match status {
        Status::Pass => "✓",
        Status::Fail => "✗",
        Status::Pending => "…",
        Status::Error => "!",
        Status::Skip => "-",
    }
}

/// The grid of the latest cycle, `header` first.
pub fn grid(report: &Report, history: &History, header: &str, style: &Style) -> String {
    let ids = super::csv::ids(report);
    let names: Vec<String> = report
        .trainees
        .iter()
        .map(|t| inert(&t.trainee).into_owned())
        .collect();
    let name_width = names.iter().map(|n| width(n)).max().unwrap_or(0).max(7);
    let id_width = ids
        .iter()
        .map(|i| width(&inert(i)))
        .max()
        .unwrap_or(1)
        .max(1);
    let mut out = String::new();
    let _ = writeln!(out, "{}", inert(header));
    let _ = write!(out, "{}", padded("", name_width));
    for id in &ids {
        let _ = write!(out, " {}", padded(&inert(id), id_width));
    }
    let _ = writeln!(out);
    for (t, name) in report.trainees.iter().zip(&names) {
        let _ = write!(out, "{}", padded(name, name_width));
        let mut regressed = false;
        for id in &ids {
            let cell = t.results.iter().find(|o| &o.id == id);
            // Undecided: labrun was not given what the check needs.
            let text = cell
                .map(|o| if o.undecided { "?" } else { symbol(o.status) })
                .unwrap_or(" ");
            let loud = history
                .cell(&t.trainee, id)
                .is_some_and(|c| c.regressed_at.is_some());
            regressed |= loud;
            let (on, off) = match (style.color, cell) {
                (true, Some(_)) if loud => (LOUD, RESET),
                (true, Some(o)) if o.undecided => ("\x1b[2m", RESET),
                (true, Some(o)) => (color(o.status), RESET),
                _ => ("", ""),
            };
            // Every symbol is one terminal column (`width` counts ✓ as two).
            let pad = " ".repeat(id_width.saturating_sub(1));
            let _ = write!(out, " {on}{text}{off}{pad}");
        }
        let tally = t.tally();
        let _ = write!(out, "  {}/{}", tally.passed, tally.total);
        if tally.done {
            let _ = write!(out, " ✓");
        }
        // A course trainee's place in it: the current step, or ✓ when finished.
        if let Some(course) = &t.course {
            let at = course.current.as_deref().map(inert);
            let _ = write!(out, "  {}", at.as_deref().unwrap_or("✓"));
        }
        if regressed {
            let _ = write!(out, "  {}", regressed_word(style));
        }
        let _ = writeln!(out);
    }
    out
}

/// `REGRESSION`, in the style's language.
fn regressed_word(style: &Style) -> String {
    crate::text::Text::from(crate::text::watch::Regressed).render(style.lang)
}

/// One line for one change: `09:52:10 user05 C5 FAIL → PASS  message`; a regression
/// starts with `REGRESSION` (`後退` in Japanese; reversed red in colour).
pub fn change_line(change: &Change, clock: &str, style: &Style) -> String {
    let lang = style.lang;
    let paint = |status: Status| {
        let text = label(status, lang);
        if style.color {
            format!("{}{text}{RESET}", color(status))
        } else {
            text.to_string()
        }
    };
    let arrow = match change.from {
        Some(from) => format!("{} → {}", paint(from), paint(change.to)),
        None => paint(change.to),
    };
    let loud = if !change.regression {
        String::new()
    } else if style.color {
        format!("{LOUD}{}{RESET} ", regressed_word(style))
    } else {
        format!("{} ", regressed_word(style))
    };
    format!(
        "{clock} {loud}{} {} {arrow}  {}",
        inert(&change.trainee),
        inert(&change.id),
        inert(change.message.get(lang))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Lang, Message};

    #[test]
    fn grid_cells_line_up_under_their_ids() {
        use crate::outcome::{Outcome, Summary, TraineeReport};
        let o = |id: &str, status| Outcome {
            id: id.into(),
            status,
            message: Message::new("", ""),
            evidence: None,
            step: None,
            undecided: false,
        };
        let report = Report {
            undecided: Vec::new(),
            step: "s".into(),
            trainees: vec![TraineeReport {
                trainee: "user05".into(),
                results: vec![
                    o("A1", Status::Pass),
                    o("B2", Status::Fail),
                    o("C3", Status::Skip),
                ],
                log: vec![],
                elapsed_ms: 0,
                course: None,
                ..Default::default()
            }],
            summary: Summary::default(),
            steps: Vec::new(),
        };
        let style = Style {
            lang: Lang::En,
            color: false,
        };
        let text = grid(&report, &History::new("s"), "head", &style);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "        A1 B2 C3");
        assert_eq!(lines[2], "user05  ✓  ✗  -   1/3");
        let mut done = report.clone();
        done.trainees[0].results[1].status = Status::Pass;
        done.trainees[0].results[2].undecided = true;
        let text = grid(&done, &History::new("s"), "head", &style);
        assert_eq!(text.lines().nth(2), Some("user05  ✓  ✓  ?   2/2 ✓"));
    }

    #[test]
    fn a_regression_line_is_loud_and_one_line() {
        let c = Change {
            trainee: "user05".into(),
            id: "C5".into(),
            from: Some(Status::Pass),
            to: Status::Fail,
            regression: true,
            message: Message::new("no\nWordPress", "x"),
        };
        let style = Style {
            lang: Lang::En,
            color: false,
        };
        let line = change_line(&c, "09:52:10", &style);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(
            line.starts_with("09:52:10 REGRESSION user05 C5 PASS → FAIL  no"),
            "{line}"
        );
        let ja = Style {
            lang: Lang::Ja,
            color: false,
        };
        let line = change_line(&c, "09:52:10", &ja);
        assert!(
            line.starts_with("09:52:10 後退 user05 C5 合格 → 不合格  x"),
            "{line}"
        );
    }
}
