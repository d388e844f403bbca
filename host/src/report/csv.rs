//! CSV reporter: a gradebook an LMS imports. One header row (`trainee`, one column
//! per checklist id, `passed`, `total`, for a course `current_step`, empty once
//! every step is done, then `done`), then one row per trainee with each id's
//! status (`undecided` where labrun was not given what the check needs). `passed`
//! and `total` count as done does ([`crate::outcome::done`]): undecided rows are
//! left out, a done step's skips count. RFC 4180 quoting; a cell that a spreadsheet
//! would read as a formula (`=`, `+`, `-`, `@`) is prefixed with `'`.

use crate::outcome::Report;

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
    header.push("done".to_string());
    row(&mut out, &header);
    for t in &report.trainees {
        let mut cells = vec![t.trainee.clone()];
        for id in &ids {
            let cell = t.results.iter().find(|o| &o.id == id).map(|o| {
                if o.undecided {
                    "undecided"
                } else {
                    o.status.as_str()
                }
            });
            cells.push(cell.unwrap_or("").to_string());
        }
        let tally = t.tally();
        cells.push(tally.passed.to_string());
        cells.push(tally.total.to_string());
        if course {
            // Empty when every step passed.
            let current = t.course.as_ref().and_then(|c| c.current.clone());
            cells.push(current.unwrap_or_default());
        }
        cells.push(if tally.done { "yes" } else { "no" }.to_string());
        row(&mut out, &cells);
    }
    out
}

fn row(out: &mut String, cells: &[String]) {
    let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

/// One CSV field: quoted when it must be, a formula's first character disarmed.
pub fn field(text: &str) -> String {
    let mut text = text.to_string();
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
    use crate::outcome::{Message, Outcome, Status, Summary, TraineeReport};

    #[test]
    fn one_row_per_trainee_one_column_per_id_and_passed_of_total() {
        let o = |id: &str, status| Outcome {
            id: id.into(),
            status,
            message: Message::new("", ""),
            evidence: None,
            step: None,
            undecided: false,
        };
        let t = |name: &str, results| TraineeReport {
            trainee: name.into(),
            results,
            log: vec![],
            elapsed_ms: 0,
            course: None,
            ..Default::default()
        };
        let r = Report {
            undecided: Vec::new(),
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
            "trainee,A1,'-B,passed,total,done\r\nuser01,pass,fail,1,2,no\r\n\"a,\"\"b\"\"\",pass,pass,2,2,yes\r\n"
        );
    }
}
