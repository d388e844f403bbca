//! HTML reporter, the instructor's board and each trainee's page: self-contained files
//! (styles and script inline, no external asset, no CDN). The board shows the class
//! grid, trainees × checklist ids (a course one step at a time), with the class
//! summary beside it: who is done, who is stuck, who has not started. `--format html`
//! embeds a finished report; the live dashboard (`crate::serve`) serves the same page
//! with `live` set, and the page then follows `/api/events`. The trainee page shows
//! one trainee's checklist and a Check now button. Both pages build every element
//! with `textContent`, never from markup, so what a step reported cannot inject
//! anything.

use serde_json::{json, Value};

use crate::outcome::{Lang, Report};

/// The page template; `/*LABRUN_DATA*/null` is replaced by the data.
pub const TEMPLATE: &str = include_str!("html/dashboard.html");

/// A trainee's page; `/*LABRUN_DATA*/null` is replaced by the data.
pub const TRAINEE_TEMPLATE: &str = include_str!("html/trainee.html");

/// `data` as it may sit inside `<script>`: `<` never raw (`</script>`, `<!--`).
fn script_json(data: &Value) -> String {
    serde_json::to_string(data)
        .expect("JSON always serializes")
        .replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A trainee's own page: `view` is their checklist (`crate::serve::trainee`), or
/// `None` before the first cycle.
pub fn trainee_page(trainee: &str, view: Option<&Value>, lang: Lang) -> String {
    let data = json!({
        "page": { "lang": lang.code(), "trainee": trainee },
        "view": view,
    });
    TRAINEE_TEMPLATE.replacen("/*LABRUN_DATA*/null", &script_json(&data), 1)
}

/// What the page needs besides the report: the viewer's default language, whether
/// it follows live updates, and the watch's cycle information when there is one.
pub fn page(snapshot: Option<&Value>, lang: Lang, live: bool) -> String {
    let data = json!({
        "page": { "lang": lang.code(), "live": live },
        "snapshot": snapshot,
    });
    TEMPLATE.replacen("/*LABRUN_DATA*/null", &script_json(&data), 1)
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
            undecided: Vec::new(),
            step: "step3".into(),
            trainees: vec![TraineeReport {
                trainee: "user05".into(),
                results: vec![Outcome {
                    id: "A1".into(),
                    status: Status::Fail,
                    message: Message::new("</script><script>alert(1)</script>", "x"),
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
