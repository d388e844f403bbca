//! HTML reporter and the dashboard page: one self-contained file (styles and script
//! inline, no external asset, no CDN) showing the class grid, trainees × checklist
//! ids. `--format html` embeds a finished report; the live dashboard
//! (`crate::serve`) serves the same page with `live` set, and the page then follows
//! `/api/events`. The page builds every element with `textContent`, never from
//! markup, so what a step reported cannot inject anything.

use serde_json::{json, Value};

use crate::outcome::{Lang, Report};

/// The page template; `/*LABRUN_DATA*/null` is replaced by the data.
pub const TEMPLATE: &str = include_str!("html/dashboard.html");

/// What the page needs besides the report: the viewer's default language, whether
/// it follows live updates, and the watch's cycle information when there is one.
pub fn page(snapshot: Option<&Value>, lang: Lang, live: bool) -> String {
    let data = json!({
        "page": { "lang": match lang { Lang::Ja => "ja", Lang::En => "en" }, "live": live },
        "snapshot": snapshot,
    });
    // Inside <script>, `<` must never appear raw (`</script>`, `<!--`).
    let text = serde_json::to_string(&data)
        .expect("JSON always serializes")
        .replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    TEMPLATE.replacen("/*LABRUN_DATA*/null", &text, 1)
}

/// `--format html`: the grid of a finished report.
pub fn render(report: &Report, lang: Lang) -> String {
    let value = serde_json::to_value(report).expect("a report always serializes");
    page(Some(&value), lang, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Message, Outcome, Status, Summary, TraineeReport};

    #[test]
    fn the_page_is_self_contained_and_its_data_cannot_close_the_script() {
        let r = Report {
            step: "step3".into(),
            trainees: vec![TraineeReport {
                trainee: "user05".into(),
                results: vec![Outcome {
                    id: "A1".into(),
                    status: Status::Fail,
                    message: Message::new("</script><script>alert(1)</script>", "x"),
                    evidence: None,
                    step: None,
                }],
                log: vec![],
                elapsed_ms: 0,
                course: None,
                person: Default::default(),
            }],
            summary: Summary::default(),
            steps: Vec::new(),
        };
        let html = render(&r, Lang::En);
        assert_eq!(
            html.matches("</script>").count(),
            TEMPLATE.matches("</script>").count()
        );
        assert!(html.contains("\\u003c/script>"));
        for external in ["src=\"http", "href=\"http", "src=\"//", "@import", "<link"] {
            assert!(!html.contains(external), "{external}");
        }
        let start = html.find("id=\"labrun-data\">").unwrap() + "id=\"labrun-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let data: Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(data["snapshot"]["trainees"][0]["trainee"], "user05");
        assert_eq!(data["page"]["live"], false);
    }
}
