//! CSV reporter: a gradebook an LMS imports. One header row, then one row per trainee:
//! `trainee`; the roster's `name`, `email` and `idnumber` when the `--roster` gives
//! any (Moodle matches grades by email or ID number); one column per checklist id with
//! its status (`undecided` where labrun was not given what the check needs);
//! `passed` and `total` as done counts them ([`crate::outcome::done`]: undecided rows
//! left out, a done step's skips counted); for a course `current_step` (empty once
//! every step is done); `grade`, 0–100 ([`grade`]); and `done` (`yes`/`no`). RFC 4180
//! quoting; control and bidi characters are shown escaped (`\u{1b}`), and a cell that
//! a spreadsheet would read as a formula (`=`, `+`, `-`, `@`) is prefixed with `'`.

use crate::outcome::{done, Person, Report, TraineeReport};

/// The grade an LMS imports, 0–100: the outcomes the trainee has done over the
/// outcomes labrun decided, course-wide for a course, rounded down
/// ([`done::grade`]). `None` when nothing was decided.
pub fn grade(trainee: &TraineeReport) -> Option<u32> {
    done::grade(&trainee.results)
}

/// A roster column: its header and how a person fills it.
type PersonColumn = (&'static str, fn(&Person) -> Option<&String>);

/// The roster columns this report fills: those any trainee has.
fn person_columns(report: &Report) -> Vec<PersonColumn> {
    let all: [PersonColumn; 3] = [
        ("name", |p| p.name.as_ref()),
        ("email", |p| p.email.as_ref()),
        ("idnumber", |p| p.idnumber.as_ref()),
    ];
    all.into_iter()
        .filter(|(_, get)| report.trainees.iter().any(|t| get(&t.person).is_some()))
        .collect()
}

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
    let people = person_columns(report);
    let mut header = vec!["trainee".to_string()];
    header.extend(people.iter().map(|(name, _)| name.to_string()));
    header.extend(ids.iter().cloned());
    header.extend(["passed".to_string(), "total".to_string()]);
    let course = !report.steps.is_empty();
    if course {
        header.push("current_step".to_string());
    }
    header.push("grade".to_string());
    header.push("done".to_string());
    row(&mut out, &header);
    for t in &report.trainees {
        let mut cells = vec![t.trainee.clone()];
        cells.extend(
            people
                .iter()
                .map(|(_, get)| get(&t.person).cloned().unwrap_or_default()),
        );
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
        cells.push(grade(t).map(|g| g.to_string()).unwrap_or_default());
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
            "trainee,A1,'-B,passed,total,grade,done\r\nuser01,pass,fail,1,2,50,no\r\n\"a,\"\"b\"\"\",pass,pass,2,2,100,yes\r\n"
        );
    }

    #[test]
    fn the_rosters_people_and_a_grade_over_decided_outcomes() {
        let o = |id: &str, status| Outcome {
            id: id.into(),
            status,
            message: Message::new("", ""),
            evidence: None,
            step: None,
            undecided: false,
        };
        let t = |name: &str, person: Person, results| TraineeReport {
            trainee: name.into(),
            results,
            log: vec![],
            elapsed_ms: 0,
            course: None,
            person,
            ..Default::default()
        };
        use Status::*;
        let r = Report {
            step: "s".into(),
            trainees: vec![
                t(
                    "user01",
                    Person {
                        name: Some("Sato, Hana".into()),
                        email: Some("hana@example.org".into()),
                        idnumber: None,
                    },
                    vec![
                        o("A1", Pass),
                        o("A2", Fail),
                        o("A3", Skip),
                        o("A4", Error),
                        o("A5", Pass),
                        o("A6", Pending),
                    ],
                ),
                t(
                    "user02",
                    Person::default(),
                    vec![
                        o("A1", Error),
                        o("A2", Skip),
                        o("A3", Error),
                        o("A4", Error),
                        o("A5", Error),
                        o("A6", Error),
                    ],
                ),
            ],
            summary: Summary::default(),
            steps: Vec::new(),
            undecided: Vec::new(),
        };
        assert_eq!(
            render(&r),
            "trainee,name,email,A1,A2,A3,A4,A5,A6,passed,total,grade,done\r\n\
             user01,\"Sato, Hana\",hana@example.org,pass,fail,skip,error,pass,pending,2,6,50,no\r\n\
             user02,,,error,skip,error,error,error,error,0,6,,no\r\n"
        );
    }
}
