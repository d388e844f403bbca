//! JUnit XML: one testsuite per trainee, one testcase per outcome id (in a course,
//! its class is `COURSE.TRAINEE.S1`).
//! fail → `<failure>`, pending → `<failure type="pending">`, error → `<error>`, skip → `<skipped>`;
//! an undecided row (labrun was not given what the check needs) → `<skipped type="undecided">`,
//! never an error of the trainee's.

use std::fmt::Write;

use crate::outcome::{Lang, Outcome, Report, Status};

/// The JUnit element a row becomes: an undecided row is skipped, whatever its status.
fn shown(o: &Outcome) -> Option<Status> {
    if o.undecided {
        None
    } else {
        Some(o.status)
    }
}

fn count<'a>(rows: impl IntoIterator<Item = &'a Outcome>, kind: Option<Status>) -> usize {
    rows.into_iter().filter(|o| shown(o) == kind).count()
}

/// Text for an XML 1.0 attribute value. Markup characters become entities; tab, LF
/// and CR become character references so parsers keep them (attribute normalisation
/// would turn them into spaces); characters XML 1.0 cannot carry at all (other C0
/// controls, U+FFFE, U+FFFF) are written visibly as `\u{…}`, the way the human report
/// shows them.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// XML 1.0's `Char` production (surrogates cannot occur in a Rust `char`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{fffd}' | '\u{10000}'..)
}

pub fn render(report: &Report, lang: Lang) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let s = &report.summary;
    let all = || report.trainees.iter().flat_map(|t| &t.results);
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        escape(&report.step),
        all().count(),
        count(all(), Some(Status::Fail)) + count(all(), Some(Status::Pending)),
        count(all(), Some(Status::Error)),
        count(all(), Some(Status::Skip)) + count(all(), None),
        s.elapsed_ms as f64 / 1000.0
    );
    for trainee in &report.trainees {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            escape(&trainee.trainee),
            trainee.results.len(),
            count(&trainee.results, Some(Status::Fail))
                + count(&trainee.results, Some(Status::Pending)),
            count(&trainee.results, Some(Status::Error)),
            count(&trainee.results, Some(Status::Skip)) + count(&trainee.results, None),
            trainee.elapsed_ms as f64 / 1000.0
        );
        for outcome in &trainee.results {
            let message = escape(outcome.message.get(lang));
            // In a course the class names the step too: CI groups the rows by step.
            let step = outcome
                .step
                .as_deref()
                .map(|s| format!(".{}", escape(s)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{}{step}\" name=\"{}\"",
                escape(&report.step),
                escape(&trainee.trainee),
                escape(&outcome.id)
            );
            let _ = match shown(outcome) {
                None => writeln!(
                    out,
                    "><skipped type=\"undecided\" message=\"{message}\"/></testcase>"
                ),
                Some(Status::Pass) => writeln!(out, "/>"),
                Some(Status::Fail) => writeln!(
                    out,
                    "><failure type=\"fail\" message=\"{message}\"/></testcase>"
                ),
                Some(Status::Pending) => writeln!(
                    out,
                    "><failure type=\"pending\" message=\"{message}\"/></testcase>"
                ),
                Some(Status::Error) => {
                    writeln!(out, "><error message=\"{message}\"/></testcase>")
                }
                Some(Status::Skip) => {
                    writeln!(out, "><skipped message=\"{message}\"/></testcase>")
                }
            };
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}
