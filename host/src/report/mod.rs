//! Reporters: one file each, one entry point. Every reporter prints the same
//! [`Report`]; the exit code comes from the report, not from the printer.

pub mod csv;
pub mod grid;
pub mod html;
mod human;
mod junit;

use clap::ValueEnum;

use crate::outcome::{Lang, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table for people (colour on a terminal).
    Human,
    /// The JSON contract documented in docs/reference.md ("Report formats").
    Json,
    /// JUnit XML for CI dashboards: one testsuite per trainee, one testcase per id.
    Junit,
    /// One JSON report per line (with --watch: one per cycle).
    Jsonl,
    /// One self-contained HTML page: the class grid.
    Html,
    /// A gradebook: trainee, one column per id, passed, total.
    Csv,
}

pub struct Style {
    pub lang: Lang,
    pub color: bool,
}

pub fn render(report: &Report, format: Format, style: &Style) -> String {
    match format {
        Format::Human => human::render(report, style),
        Format::Json => {
            let mut text =
                serde_json::to_string_pretty(report).expect("a report always serializes");
            text.push('\n');
            text
        }
        Format::Junit => junit::render(report, style.lang),
        Format::Jsonl => {
            let mut text = serde_json::to_string(report).expect("a report always serializes");
            text.push('\n');
            text
        }
        Format::Html => html::render(report, style.lang),
        Format::Csv => csv::render(report),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::outcome::{Message, Outcome, Status, Summary, TraineeReport};

    fn status() -> impl Strategy<Value = Status> {
        prop::sample::select(Status::ALL.to_vec())
    }

    /// Text as a hostile step would write it: any unicode, with controls, bidi
    /// characters and XML's forbidden ones much more likely than by chance.
    fn text() -> impl Strategy<Value = String> {
        let nasty = prop::sample::select(vec![
            '\n',
            '\r',
            '\t',
            '\u{0}',
            '\u{8}',
            '\u{1b}',
            '\u{7}',
            '\u{7f}',
            '\u{85}',
            '\u{9b}',
            '\u{202e}',
            '\u{2066}',
            '\u{200f}',
            '\u{61c}',
            '\u{2028}',
            '\u{fffe}',
            '\u{ffff}',
            '<',
            '&',
            '"',
            '\'',
            ']',
            'あ',
            '\u{10ffff}',
        ]);
        prop::collection::vec(prop_oneof![any::<char>(), nasty], 0..40)
            .prop_map(|chars| chars.into_iter().collect())
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        (text(), status(), text(), text()).prop_map(|(id, status, en, ja)| Outcome {
            id,
            status,
            message: Message::new(en, ja),
            evidence: None,
            step: None,
            undecided: false,
        })
    }

    fn report() -> impl Strategy<Value = Report> {
        let trainee = (
            text(),
            prop::collection::vec(outcome(), 0..6),
            prop::collection::vec(text(), 0..4),
        );
        (text(), prop::collection::vec(trainee, 1..4)).prop_map(|(step, trainees)| {
            let mut summary = Summary::default();
            let trainees = trainees
                .into_iter()
                .map(|(trainee, results, log)| {
                    results.iter().for_each(|o| summary.add(o.status));
                    TraineeReport {
                        trainee,
                        results,
                        log,
                        elapsed_ms: 0,
                        course: None,
                        ..Default::default()
                    }
                })
                .collect();
            Report {
                undecided: Vec::new(),
                step,
                trainees,
                summary,
                steps: Vec::new(),
            }
        })
    }

    fn lang() -> impl Strategy<Value = Lang> {
        prop::sample::select(vec![Lang::En, Lang::Ja])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn human_report_is_one_line_per_outcome_and_inert(
            r in report(), lang in lang(), color in any::<bool>()
        ) {
            let text = render(&r, Format::Human, &Style { lang, color });
            let rows: usize = r.trainees.iter().map(|t| 1 + t.results.len() + t.log.len() + 1).sum();
            prop_assert_eq!(text.lines().count(), rows + 1);
            let mut lines = text.lines();
            for t in &r.trainees {
                lines.next();
                for o in &t.results {
                    let line = lines.next().unwrap();
                    prop_assert!(line.contains(&*crate::outcome::inert(o.message.get(lang))));
                }
                for _ in 0..t.log.len() + 1 {
                    lines.next();
                }
            }
            let without_colour = ["\x1b[0m", "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[35m", "\x1b[2m"]
                .iter()
                .fold(text.clone(), |t, code| t.replace(code, ""));
            prop_assert!(!without_colour
                .chars()
                .any(|c| c != '\n' && crate::outcome::inert::needs_escape(c)));
        }

        #[test]
        fn junit_report_always_parses_as_xml(r in report(), lang in lang()) {
            let xml = render(&r, Format::Junit, &Style { lang, color: false });
            let doc = roxmltree::Document::parse(&xml);
            prop_assert!(doc.is_ok(), "{:?}\n{}", doc.err(), xml);
            let doc = doc.unwrap();
            let cases = doc.descendants().filter(|n| n.has_tag_name("testcase")).count();
            prop_assert_eq!(cases, r.trainees.iter().map(|t| t.results.len()).sum::<usize>());
        }

        /// A gradebook row per trainee and a column per id whatever the ids, names
        /// and messages hold; nothing raw a terminal or spreadsheet would act on.
        #[test]
        fn csv_report_is_one_inert_row_per_trainee(r in report()) {
            let text = render(&r, Format::Csv, &Style { lang: Lang::En, color: false });
            let rows = parse_csv(&text);
            prop_assert_eq!(rows.len(), r.trainees.len() + 1);
            // trainee, the ids, passed, total, grade, done.
            let columns = csv::ids(&r).len() + 5;
            for row in &rows {
                prop_assert_eq!(row.len(), columns, "{:?}", text);
                for cell in row {
                    prop_assert!(!cell.chars().any(crate::outcome::inert::needs_escape), "{:?}", cell);
                    prop_assert!(!cell.starts_with(['=', '+', '-', '@']), "{:?}", cell);
                }
            }
            let stripped = text.replace("\r\n", "");
            prop_assert!(!stripped.chars().any(crate::outcome::inert::needs_escape));
        }

        #[test]
        fn json_report_always_parses_back(r in report()) {
            let text = render(&r, Format::Json, &Style { lang: Lang::En, color: false });
            let back: Report = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, r);
        }
    }

    /// RFC 4180, strictly: rows end with CRLF, a quoted field doubles its quotes.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let (mut row, mut cell) = (Vec::new(), String::new());
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => cell.push(c),
                (false, '"') if cell.is_empty() => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut cell)),
                (false, '\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                    row.push(std::mem::take(&mut cell));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => cell.push(c),
            }
        }
        assert!(row.is_empty() && cell.is_empty() && !quoted, "{text:?}");
        rows
    }

    #[test]
    fn junit_keeps_what_xml_can_carry_and_marks_what_it_cannot() {
        let r = Report {
            undecided: Vec::new(),
            step: "step3".into(),
            trainees: vec![TraineeReport {
                trainee: "user05".into(),
                results: vec![Outcome {
                    id: "A1".into(),
                    status: Status::Fail,
                    message: Message::new("a\u{fffe}b\u{ffff}c\u{1}d\te\nf\rg<&\"'>", "x"),
                    evidence: None,
                    step: None,
                    undecided: false,
                }],
                log: vec![],
                elapsed_ms: 0,
                course: None,
                ..Default::default()
            }],
            summary: Summary::default(),
            steps: Vec::new(),
        };
        let xml = render(
            &r,
            Format::Junit,
            &Style {
                lang: Lang::En,
                color: false,
            },
        );
        let doc = roxmltree::Document::parse(&xml).expect("valid XML 1.0");
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.attribute("message"),
            Some("a\\u{fffe}b\\u{ffff}c\\u{1}d\te\nf\rg<&\"'>")
        );
    }
}
