//! CSV reporter: a gradebook an LMS imports. One header row (`trainee`, one column
//! per checklist id, `passed`, `total`, and for a course `current_step`, empty once
//! every step passed), then one row per trainee with each id's
//! status. RFC 4180 quoting; control and bidi characters are shown escaped
//! (`\u{1b}`), and a cell that a spreadsheet would read as a formula (`=`, `+`, `-`,
//! `@`) is prefixed with `'`.

use crate::outcome::{Report, Status};

/// The checklist ids in report order: the first trainee's, then any others seen.
pub fn ids(report: &Report) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for t in &report.trainees {
        for o in &t.results {
            if !ids.contains(&o.id) {
                ids.push(o.id.clone());
            }
        }
    }
    ids
}

pub fn render(report: &Report) -> String {
    let ids = ids(report);
    let mut out = String::new();
    let mut header = vec!["trainee".to_string()];
    header.extend(ids.iter().cloned());
    header.extend(["passed".to_string(), "total".to_string()]);
    let course = !report.steps.is_empty();
    if course {
        header.push("current_step".to_string());
    }
    row(&mut out, &header);
    for t in &report.trainees {
        let mut cells = vec![t.trainee.clone()];
        for id in &ids {
            let status = t.results.iter().find(|o| &o.id == id).map(|o| o.status);
            cells.push(status.map(Status::as_str).unwrap_or("").to_string());
        }
        cells.push(t.count(Status::Pass).to_string());
        cells.push(ids.len().to_string());
        if course {
            // Empty when every step passed.
            let current = t.course.as_ref().and_then(|c| c.current.clone());
            cells.push(current.unwrap_or_default());
        }
        row(&mut out, &cells);
    }
    out
}

fn row(out: &mut String, cells: &[String]) {
    let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

fn field(text: &str) -> String {
    // Inert first, as every other format shows names: a cell never carries a raw
    // escape sequence, NUL or bidi control to the terminal or spreadsheet.
    let mut text = crate::outcome::inert(text).into_owned();
    if text.starts_with(['=', '+', '-', '@']) {
        text.insert(0, '\'');
    }
    if text.contains([',', '"', '\r', '\n']) || text.starts_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Message, Outcome, Summary, TraineeReport};

    #[test]
    fn one_row_per_trainee_one_column_per_id_and_passed_of_total() {
        let o = |id: &str, status| Outcome {
            id: id.into(),
            status,
            message: Message::new("", ""),
            evidence: None,
            step: None,
        };
        let t = |name: &str, results| TraineeReport {
            trainee: name.into(),
            results,
            log: vec![],
            elapsed_ms: 0,
            course: None,
        };
        let r = Report {
            step: "s".into(),
            trainees: vec![
                t("user01", vec![o("A1", Status::Pass), o("-B", Status::Fail)]),
                t(
                    "a,\"b\"",
                    vec![o("A1", Status::Pass), o("-B", Status::Pass)],
                ),
            ],
            summary: Summary::default(),
            steps: Vec::new(),
        };
        assert_eq!(
            render(&r),
            "trainee,A1,'-B,passed,total\r\nuser01,pass,fail,1,2\r\n\"a,\"\"b\"\"\",pass,pass,2,2\r\n"
        );
    }
}
