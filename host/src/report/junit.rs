//! JUnit XML: one testsuite per trainee, one testcase per outcome id.
//! fail → `<failure>`, pending → `<failure type="pending">`, error → `<error>`, skip → `<skipped>`.

use std::fmt::Write;

use crate::outcome::{Lang, Report, Status};

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

pub fn render(report: &Report, lang: Lang) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let s = &report.summary;
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        escape(&report.step),
        s.pass + s.fail + s.pending + s.error + s.skip,
        s.fail + s.pending,
        s.error,
        s.skip,
        s.elapsed_ms as f64 / 1000.0
    );
    for trainee in &report.trainees {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            escape(&trainee.trainee),
            trainee.results.len(),
            trainee.count(Status::Fail) + trainee.count(Status::Pending),
            trainee.count(Status::Error),
            trainee.count(Status::Skip),
            trainee.elapsed_ms as f64 / 1000.0
        );
        for outcome in &trainee.results {
            let message = escape(outcome.message.get(lang));
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{}\" name=\"{}\"",
                escape(&report.step),
                escape(&trainee.trainee),
                escape(&outcome.id)
            );
            let _ = match outcome.status {
                Status::Pass => writeln!(out, "/>"),
                Status::Fail => writeln!(
                    out,
                    "><failure type=\"fail\" message=\"{message}\"/></testcase>"
                ),
                Status::Pending => writeln!(
                    out,
                    "><failure type=\"pending\" message=\"{message}\"/></testcase>"
                ),
                Status::Error => writeln!(out, "><error message=\"{message}\"/></testcase>"),
                Status::Skip => writeln!(out, "><skipped message=\"{message}\"/></testcase>"),
            };
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}
