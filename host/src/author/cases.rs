//! `labrun test STEP CASE…`: a step's own regression cases. A case is a cassette (the
//! answers of one world) plus the status each check id must get, in a small TOML file
//! beside it:
//!
//! ```toml
//! about = "a trainee who finished Step 3"
//! cassette = "finished.cassette.json"   # relative to this file
//! trainee = "user05"
//! [params]                              # optional: --param KEY=VALUE
//! [expect]
//! A1 = "pass"
//! A2 = "fail"
//! ```
//!
//! Every case file is read and checked before any case runs (bad input: one line,
//! exit 64). Each case then runs the step on its cassette exactly as
//! `labrun STEP --replay CASSETTE` would, and prints one line. The exit code is 0 only
//! when every case matched. `--record` makes the cassette from the live world instead
//! (the run flags after `--`), and writes the observed statuses as the expectation of a
//! case that has none yet. A recording during an outage (a call that could not read
//! the world) never replaces the cassette: it is written beside it (`….failed`), exit 2.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use serde::Deserialize;

use crate::execute::execute;
use crate::flags::Flags;
use crate::outcome::{exit, Status, TraineeReport};
use crate::plan::{plan, TRAINEE_PARAM};
use crate::text::{help, quoted, string, test as t, Arg, Text, ToText};

/// The trainee a case runs as when it names none.
const DEFAULT_TRAINEE: &str = "user05";

/// What `labrun test` takes ([`crate::cli::test`] puts it in the command tree).
#[derive(Debug, Args)]
pub struct TestFlags {
    #[arg(help = string(help::TestStep))]
    pub step: PathBuf,

    #[arg(required = true, value_name = "CASE", help = string(help::TestCases))]
    pub cases: Vec<PathBuf>,

    #[arg(long, help = string(help::TestRecord))]
    pub record: bool,

    #[arg(last = true, value_name = "RUN FLAGS", help = string(help::TestRunFlags))]
    pub run_flags: Vec<OsString>,
}

/// One case file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    about: Option<String>,
    cassette: PathBuf,
    #[serde(default)]
    trainee: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    expect: BTreeMap<String, String>,
}

/// A case, checked.
#[derive(Debug)]
pub struct Case {
    pub path: PathBuf,
    pub about: Option<String>,
    pub cassette: PathBuf,
    pub trainee: String,
    pub params: BTreeMap<String, String>,
    pub expect: BTreeMap<String, Status>,
}

/// Reads and checks one case file; the error is one line naming the file and the fix.
pub fn load_case(path: &Path, recording: bool) -> Result<Case, Text> {
    let text = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
        Text::from(t::CannotRead {
            path,
            why: quoted(e),
        })
    })?;
    let file: CaseFile = toml::from_str(&text).map_err(|e| {
        Text::from(t::NotACase {
            path,
            why: quoted(one_line(&e.to_string())),
        })
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let cassette = dir.join(&file.cassette);
    if !recording && !cassette.is_file() {
        return Err(t::NoCassette {
            path,
            cassette: &cassette,
        }
        .into());
    }
    if file.params.contains_key(TRAINEE_PARAM) {
        return Err(t::TraineeAsParam {
            path,
            param: TRAINEE_PARAM,
        }
        .into());
    }
    let trainee = file.trainee.unwrap_or_else(|| DEFAULT_TRAINEE.to_string());
    if trainee.trim().is_empty() {
        return Err(t::EmptyTrainee { path }.into());
    }
    let mut expect = BTreeMap::new();
    for (id, status) in file.expect {
        let Some(status) = Status::parse(&status) else {
            return Err(t::NotAStatus {
                path,
                id: &id,
                status: &status,
            }
            .into());
        };
        expect.insert(id, status);
    }
    if expect.is_empty() && !recording {
        return Err(t::NoExpect { path }.into());
    }
    Ok(Case {
        path: path.to_path_buf(),
        about: file.about,
        cassette,
        trainee,
        params: file.params,
        expect,
    })
}

/// What differs between a case's expectation and a run, one entry per id.
pub fn compare(expect: &BTreeMap<String, Status>, got: &TraineeReport) -> Vec<Text> {
    let mut diffs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for row in &got.results {
        seen.insert(row.id.as_str());
        match expect.get(&row.id) {
            Some(want) if *want == row.status => {}
            Some(want) => diffs.push(
                t::Expected {
                    id: &row.id,
                    want: want.as_str(),
                    got: row.status.as_str(),
                    message: Arg::from(&row.message),
                }
                .into(),
            ),
            None => diffs.push(
                t::Unexpected {
                    id: &row.id,
                    got: row.status.as_str(),
                }
                .into(),
            ),
        }
    }
    for (id, want) in expect {
        if !seen.contains(id.as_str()) {
            diffs.push(
                t::NotReported {
                    id,
                    want: want.as_str(),
                }
                .into(),
            );
        }
    }
    diffs
}

/// Runs every case of `flags`; returns the exit code.
pub async fn run(flags: &TestFlags) -> u8 {
    // Every case file is checked before any case runs.
    let mut cases = Vec::with_capacity(flags.cases.len());
    for path in &flags.cases {
        match load_case(path, flags.record) {
            Ok(case) => cases.push(case),
            Err(e) => {
                eprintln!("labrun: {e}");
                return exit::BAD_INPUT;
            }
        }
    }
    let (mut failed, mut not_recorded) = (0, 0);
    for case in &cases {
        match run_case(flags, case).await {
            Ok(line) => println!("{line}"),
            Err(Outcome::Mismatch(line)) => {
                failed += 1;
                println!("{line}");
            }
            Err(Outcome::NotRecorded(line)) => {
                not_recorded += 1;
                eprintln!("labrun: {line}");
            }
            Err(Outcome::BadInput(line)) => {
                eprintln!("labrun: {line}");
                return exit::BAD_INPUT;
            }
        }
    }
    let total = cases.len();
    if not_recorded > 0 {
        println!(
            "{}",
            Text::from(t::NotRecordedCount {
                total,
                not_recorded
            })
        );
        exit::ERROR
    } else if failed == 0 {
        println!("{}", Text::from(t::AllMatched { total }));
        exit::PASS
    } else {
        println!("{}", Text::from(t::SomeDidNot { total, failed }));
        exit::FAIL
    }
}

enum Outcome {
    Mismatch(Text),
    BadInput(Text),
    /// A recording during an outage, kept aside: exit 2.
    NotRecorded(Text),
}

/// `finished.cassette.json` → `finished.cassette.json.failed`, beside it.
fn aside(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".failed");
    PathBuf::from(name)
}

/// Runs one case (replaying, or recording) and says how it went in one line.
async fn run_case(flags: &TestFlags, case: &Case) -> Result<Text, Outcome> {
    let name = case.path.display().to_string();
    let mut args: Vec<OsString> = vec!["labrun".into(), flags.step.clone().into_os_string()];
    args.extend(["--trainee".into(), case.trainee.clone().into()]);
    for (k, v) in &case.params {
        args.extend(["--param".into(), format!("{k}={v}").into()]);
    }
    args.extend(["--format".into(), "json".into()]);
    if flags.record {
        args.extend(["--record".into(), case.cassette.clone().into_os_string()]);
        args.extend(flags.run_flags.iter().cloned());
    } else {
        args.extend(["--replay".into(), case.cassette.clone().into_os_string()]);
    }
    let bad = |why: Text| Outcome::BadInput(t::InCase { name: &name, why }.into());
    let run_flags = Flags::try_parse_from(args).map_err(|e| bad(crate::flags::clap_text(&e)))?;
    let planned = plan(&run_flags).await.map_err(|e| bad(e.text()))?;
    let (executed, outputs) = execute(planned).await;
    if let Some(path) = &outputs.record {
        // An outage recorded would replace a good cassette with error answers.
        let failed = executed.hub.failed();
        if let Some(first) = failed.first() {
            let aside = aside(path);
            let kept: Text = match crate::execute::save_cassette(&executed, &aside) {
                Ok(()) => t::KeptAside { path: &aside }.into(),
                Err(e) => t::AndAlso { why: e.text() }.into(),
            };
            return Err(Outcome::NotRecorded(
                t::NotRecorded {
                    name: &name,
                    count: failed.len(),
                    capability: &first.capability,
                    operation: &first.operation,
                    why: first.message_arg(),
                    kind: first.kind.as_str(),
                    cassette: &case.cassette,
                    kept,
                }
                .into(),
            ));
        }
        crate::execute::save_cassette(&executed, path).map_err(|e| bad(e.text()))?;
    }
    let Some(got) = executed.report.trainees.first() else {
        return Err(Outcome::Mismatch(t::NoTrainee { name: &name }.into()));
    };
    if flags.record && case.expect.is_empty() {
        write_expectations(&case.path, got).map_err(Outcome::BadInput)?;
        return Ok(t::Wrote {
            name: &name,
            count: got.results.len(),
        }
        .into());
    }
    let diffs = compare(&case.expect, got);
    let about: Text = match case.about.as_deref() {
        Some(about) => t::About { about }.into(),
        None => t::NoAbout.into(),
    };
    if diffs.is_empty() {
        Ok(t::Matched {
            name: &name,
            about,
            count: got.results.len(),
        }
        .into())
    } else {
        Err(Outcome::Mismatch(
            t::Differs {
                name: &name,
                about,
                diffs: Arg::Joined(diffs.into_iter().map(Arg::Text).collect()),
            }
            .into(),
        ))
    }
}

/// Appends the observed statuses to a case file that has no `[expect]` yet.
fn write_expectations(path: &Path, got: &TraineeReport) -> Result<(), Text> {
    let mut text = std::fs::read_to_string(path).map_err(|e| {
        Text::from(t::CannotReadFile {
            path,
            why: quoted(e),
        })
    })?;
    if !text.ends_with('\n') && !text.is_empty() {
        text.push('\n');
    }
    text.push_str("\n# recorded by labrun test --record: review each status\n[expect]\n");
    for row in &got.results {
        // `web-1:http` is no bare TOML key: quote it (ids hold no quote or backslash).
        let bare = row
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let key = if bare {
            row.id.clone()
        } else {
            format!("\"{}\"", row.id)
        };
        let _ = writeln!(text, "{key} = \"{}\"", row.status.as_str());
    }
    std::fs::write(path, text).map_err(|e| {
        Text::from(t::CannotWrite {
            path,
            why: quoted(e),
        })
    })
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Message, Outcome as Row};

    fn row(id: &str, status: Status) -> Row {
        Row {
            id: id.into(),
            status,
            message: Message::new(format!("{id} said so"), "ja"),
            evidence: None,
            step: None,
            undecided: false,
        }
    }

    fn report(rows: Vec<Row>) -> TraineeReport {
        TraineeReport {
            trainee: "user05".into(),
            results: rows,
            log: vec![],
            elapsed_ms: 0,
            course: None,
            ..Default::default()
        }
    }

    #[test]
    fn a_matching_run_has_no_differences() {
        let expect = BTreeMap::from([("A1".into(), Status::Pass), ("A2".into(), Status::Fail)]);
        let got = report(vec![row("A1", Status::Pass), row("A2", Status::Fail)]);
        assert!(compare(&expect, &got).is_empty());
    }

    #[test]
    fn every_kind_of_difference_is_named() {
        let expect = BTreeMap::from([
            ("A1".into(), Status::Pass),
            ("A2".into(), Status::Pass),
            ("Z9".into(), Status::Skip),
        ]);
        let got = report(vec![
            row("A1", Status::Pass),
            row("A2", Status::Error),
            row("B1", Status::Pass),
        ]);
        assert_eq!(
            compare(&expect, &got)
                .iter()
                .map(Text::en)
                .collect::<Vec<_>>(),
            [
                "A2: expected pass, got error (A2 said so)",
                "B1: got pass, which the case does not expect: add B1 = \"pass\"",
                "Z9: expected skip, but the step did not report it",
            ]
        );
    }

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("labrun-cases-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.cassette.json"), "{}").unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_case_file_is_checked_before_running() {
        let bad_status = write(
            "s.toml",
            "cassette = \"c.cassette.json\"\n[expect]\nA1 = \"passed\"\n",
        );
        let e = load_case(&bad_status, false).unwrap_err().en();
        assert!(e.ends_with("s.toml: [expect] A1 = \"passed\" is not a status: pass, fail, pending, error or skip"), "{e}");

        let no_expect = write("n.toml", "cassette = \"c.cassette.json\"\n");
        let e = load_case(&no_expect, false).unwrap_err().en();
        assert!(e.contains("no [expect] table"), "{e}");
        assert!(
            load_case(&no_expect, true).is_ok(),
            "recording fills the expectations"
        );

        let missing = write(
            "m.toml",
            "cassette = \"gone.json\"\n[expect]\nA1 = \"pass\"\n",
        );
        let e = load_case(&missing, false).unwrap_err().en();
        assert!(
            e.contains("gone.json does not exist: record it with labrun test --record"),
            "{e}"
        );

        let unknown = write("u.toml", "cassette = \"c.cassette.json\"\nexpected = 1\n");
        let e = load_case(&unknown, false).unwrap_err().en();
        assert!(
            e.contains("u.toml is not a case file") && e.contains("unknown field"),
            "{e}"
        );
        assert!(!e.contains('\n'));

        let user = write(
            "p.toml",
            "cassette = \"c.cassette.json\"\n[params]\nuser = \"x\"\n[expect]\nA1 = \"pass\"\n",
        );
        let e = load_case(&user, false).unwrap_err().en();
        assert!(e.contains("give the trainee as trainee"), "{e}");
    }
}
