//! A course as an operator meets it, without network: the steps of a course file run
//! in order for every trainee into one report (ids prefixed `S1-`, a `step` per row,
//! each trainee's current step), every format, bad course files refused before
//! anything runs, and Step 3 alone as a one-step course over the shipped cassette.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/course")
        .join(name)
        .display()
        .to_string()
}

fn shipped_cassette() -> String {
    root()
        .join("examples/step3-user05.cassette.json")
        .display()
        .to_string()
}

fn labrun(args: &[&str]) -> Output {
    let home = std::env::temp_dir().join(format!("labrun-course-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key == "LANG" || key.starts_with("LC_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .args(args)
        .output()
        .expect("labrun runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr: {}",
            stdout(out),
            stderr(out)
        )
    })
}

fn ids(trainee: &Value) -> Vec<String> {
    trainee["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_one_line_bad_input(out: &Output, must_contain: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(64), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(must_contain), "{must_contain:?} in {err}");
    assert!(out.stdout.is_empty(), "nothing ran: {}", stdout(out));
}

fn three(extra: &[&str]) -> Output {
    let course = fixture("three.toml");
    let mut args = vec![course.as_str(), "--trainees", "user01..user04"];
    args.extend_from_slice(extra);
    labrun(&args)
}

#[test]
fn every_step_runs_for_every_trainee_and_each_is_at_their_own_step() {
    let out = three(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["step"], "gates");
    let steps: Vec<(&str, &str)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [("S1", "gate1"), ("S2", "gate2"), ("S3", "gate3")],
        "{report}"
    );
    assert_eq!(report["steps"][1]["title"]["ja"], "ゲート 2");
    let trainees = report["trainees"].as_array().unwrap();
    assert_eq!(trainees.len(), 4);
    for t in trainees {
        assert_eq!(
            ids(t),
            ["S1-A1", "S1-A2", "S2-A1", "S2-A2", "S3-A1", "S3-A2"],
            "course order, prefixed ids"
        );
        for r in t["results"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap();
            assert_eq!(r["step"].as_str().unwrap(), &id[..2], "{r}");
        }
        // Each step's log lines, marked with the step; `seen` is gate1's and gate3's
        // default ("sees {user}"), which the course overrides for S2.
        let log: Vec<&str> = t["log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let who = t["trainee"].as_str().unwrap();
        assert_eq!(
            log,
            [
                format!("[S1] gate1: sees {who}"),
                format!("[S2] gate2: {who} reached"),
                format!("[S3] gate3: sees {who}"),
            ]
        );
    }
    let at = |n: usize| trainees[n]["course"]["current"].clone();
    assert_eq!(at(0), "S2");
    assert_eq!(at(1), "S3");
    assert_eq!(at(2), Value::Null, "user03 finished the course");
    assert_eq!(at(3), "S1");
    assert_eq!(
        trainees[1]["course"]["passed"],
        serde_json::json!(["S1", "S2"])
    );
    assert_eq!(trainees[3]["course"]["passed"], serde_json::json!([]));
    // The {user} placeholder is each trainee's own id: user03-never is nobody else.
    assert_eq!(trainees[2]["results"][4]["status"], "pass");
    assert_eq!(report["summary"]["pass"], 2 + 4 + 6);
    assert_eq!(report["summary"]["fail"], 4 + 2 + 6);
}

#[test]
fn the_human_report_has_one_block_per_step_and_the_course_line() {
    let out = three(&[]);
    let text = stdout(&out);
    let user01: Vec<&str> = text
        .split("\n\n")
        .find(|b| b.starts_with("gates · user01"))
        .unwrap_or_else(|| panic!("{text}"))
        .lines()
        .collect();
    assert_eq!(
        user01,
        [
            "gates · user01",
            "  S1 · gate1 — Gate 1",
            "    PASS     S1-A1  user01 passed 1 A1",
            "    PASS     S1-A2  user01 passed 1 A2",
            "  S2 · gate2 — Gate 2",
            "    FAIL     S2-A1  user01 not yet 2 A1",
            "    FAIL     S2-A2  user01 not yet 2 A2",
            "  S3 · gate3 — Gate 3",
            "    FAIL     S3-A1  user01 not yet 3 A1",
            "    FAIL     S3-A2  user01 not yet 3 A2",
            "  course: at S2 (Gate 2) · passed: S1",
            "  | [S1] gate1: sees user01",
            "  | [S2] gate2: user01 reached",
            "  | [S3] gate3: sees user01",
        ]
    );
    assert!(
        text.contains("gates · user03\n")
            && text.contains("  course: finished, every step passed (S1, S2, S3)\n"),
        "{text}"
    );
    assert!(
        text.contains("  course: at S1 (Gate 1) · passed: none\n"),
        "{text}"
    );
    let ja = three(&["--lang", "ja"]);
    assert!(
        stdout(&ja).contains("  コース: 現在 S2 (ゲート 2) · 合格済み: S1\n"),
        "{}",
        stdout(&ja)
    );
}

#[test]
fn csv_junit_and_html_carry_the_steps() {
    let csv = stdout(&three(&["--format", "csv"]));
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "trainee,S1-A1,S1-A2,S2-A1,S2-A2,S3-A1,S3-A2,passed,total,current_step,grade,done"
    );
    // The grade is course-wide: 2 of the 6 decided outcomes done.
    assert_eq!(rows[1], "user01,pass,pass,fail,fail,fail,fail,2,6,S2,33,no");
    assert_eq!(rows[3], "user03,pass,pass,pass,pass,pass,pass,6,6,,100,yes");

    let xml = stdout(&three(&["--format", "junit"]));
    assert!(
        xml.contains("<testcase classname=\"gates.user02.S3\" name=\"S3-A1\">"),
        "{xml}"
    );

    let html = stdout(&three(&["--format", "html"]));
    let start = html.find("id=\"labrun-data\">").unwrap() + "id=\"labrun-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data: Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(data["snapshot"]["steps"][2]["id"], "S3");
    assert_eq!(data["snapshot"]["trainees"][0]["course"]["current"], "S2");
    assert!(
        html.contains("current-step"),
        "the page shows the current step"
    );

    let jsonl = stdout(&three(&["--format", "jsonl"]));
    assert_eq!(jsonl.lines().count(), 1);
    let line: Value = serde_json::from_str(jsonl.trim()).unwrap();
    assert_eq!(line["trainees"][1]["course"]["current"], "S3");
}

/// Step 3 alone as a course gives the same rows as Step 3 run directly, ids prefixed;
/// and the direct run's report has no course field at all (today's contract).
#[test]
fn a_one_step_course_matches_the_step_and_the_step_report_is_unchanged() {
    let cassette = shipped_cassette();
    let step3 = root().join("scripts/step3.rhai").display().to_string();
    let direct = labrun(&[
        &step3,
        "--param",
        "user=user05",
        "--replay",
        &cassette,
        "--format",
        "json",
    ]);
    let course = fixture("step3_only.toml");
    let as_course = labrun(&[
        &course,
        "--trainee",
        "user05",
        "--replay",
        &cassette,
        "--format",
        "json",
    ]);
    assert_eq!(direct.status.code(), as_course.status.code());
    let (direct, as_course) = (json(&direct), json(&as_course));
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&direct), ["step", "summary", "trainees"]);
    // Additive only: done, passed and total (as done counts them) joined the trainee.
    assert_eq!(
        keys(&direct["trainees"][0]),
        [
            "done",
            "elapsed_ms",
            "passed",
            "results",
            "total",
            "trainee"
        ]
    );
    for r in direct["trainees"][0]["results"].as_array().unwrap() {
        assert!(r.get("step").is_none(), "{r}");
    }
    assert_eq!(as_course["step"], "step3-course");
    assert_eq!(as_course["steps"][0]["name"], "step3");
    let a = direct["trainees"][0]["results"].as_array().unwrap();
    let b = as_course["trainees"][0]["results"].as_array().unwrap();
    assert_eq!(a.len(), 18);
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(b) {
        let mut a = a.clone();
        a["id"] = Value::String(format!("S3-{}", a["id"].as_str().unwrap()));
        a["step"] = Value::String("S3".into());
        assert_eq!(&a, b);
    }
    assert_eq!(as_course["trainees"][0]["course"]["current"], Value::Null);
    assert_eq!(direct["summary"]["pass"], as_course["summary"]["pass"]);
}

#[test]
fn a_course_naming_a_missing_step_is_bad_input() {
    let out = labrun(&[&fixture("missing_step.toml"), "--trainee", "user05"]);
    assert_one_line_bad_input(&out, "step S2 names ");
    assert!(stderr(&out).contains("no-such-step.rhai, which does not exist"));
}

#[test]
fn a_param_the_step_does_not_take_is_bad_input_naming_the_step() {
    let out = labrun(&[&fixture("unknown_param.toml"), "--trainee", "user05"]);
    assert_one_line_bad_input(&out, "step S1: unknown param `reader`");
    let out = three(&["--param", "readr=x"]);
    assert_one_line_bad_input(&out, "unknown param `readr`: no step of ");
}

#[test]
fn a_malformed_course_file_is_bad_input() {
    let out = labrun(&[&fixture("malformed.toml"), "--trainee", "user05"]);
    assert_one_line_bad_input(&out, "malformed.toml is not valid TOML");
    let dir = std::env::temp_dir().join(format!("labrun-course-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("[[step]]\nstep = \"x.rhai\"\n", "missing field `id`"),
        (
            "[[step]]\nid = \"S1\"\nstep = \"x.rhai\"\nparam = {}\n",
            "unknown field `param`",
        ),
        (
            "[[step]]\nid = \"S 1\"\nstep = \"x.rhai\"\n",
            "a course step id is 1 to 8 letters or digits",
        ),
        (
            "[[step]]\nid = \"S1\"\nstep = \"x.rhai\"\nparams = { reader = \"wp-{trainee}\" }\n",
            "`{trainee}` is not a placeholder",
        ),
    ];
    for (n, (text, fragment)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{n}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = labrun(&[path.to_str().unwrap(), "--trainee", "user05"]);
        assert_one_line_bad_input(&out, fragment);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_lock_for_a_course_of_local_files_is_refused() {
    let out = three(&["--lock", "labrun.lock"]);
    assert_one_line_bad_input(&out, "this course names only local files");
    let out = labrun(&[
        "plugin",
        "lock",
        &fixture("three.toml"),
        "--lock",
        "/nonexistent/x",
    ]);
    assert_one_line_bad_input(&out, "names no step by reference");
}

/// `GET path` on 127.0.0.1:port: the status code and the body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((code, body))
}

#[test]
fn a_course_can_be_watched_and_served() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let course = fixture("three.toml");
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args([
            &course,
            "--trainees",
            "user01..user04",
            "--watch",
            "5",
            "--for",
            "7s",
            "--serve",
            &addr,
            "--format",
            "jsonl",
        ])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut served = None;
    for _ in 0..100 {
        match get(port, "/api/report") {
            Some((200, body)) => {
                served = Some(body);
                break;
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    let out = child.wait_with_output().unwrap();
    let served: Value =
        serde_json::from_str(&served.expect("the dashboard served a cycle")).unwrap();
    assert_eq!(served["steps"][0]["id"], "S1");
    assert_eq!(served["trainees"][1]["course"]["current"], "S3");
    assert_eq!(served["trainees"][0]["results"][2]["id"], "S2-A1");
    assert_eq!(
        served["watch"]["title"]["en"], "Three gates",
        "the course's title"
    );
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "one line per cycle: {}", stdout(&out));
    for line in &lines {
        assert_eq!(line["trainees"][3]["course"]["current"], "S1");
        assert_eq!(line["trainees"][2]["course"]["current"], Value::Null);
    }
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// The two shipped courses load (every step exists and takes the params its edition
/// gives) and report every id of the three checklists, prefixed, in checklist order.
/// An empty cassette answers nothing, so nothing here passes: no AWS account needed.
#[test]
fn the_shipped_courses_report_every_checklist_id() {
    let empty =
        std::env::temp_dir().join(format!("labrun-course-empty-{}.json", std::process::id()));
    std::fs::write(&empty, r#"{"labrun_cassette":1,"recorded":{},"calls":[]}"#).unwrap();
    let step1 = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "C1", "C2", "C3"];
    let step2 = [
        "A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3", "B4", "C1", "C2", "C3", "C4",
    ];
    let step3 = [
        "A1", "A2", "A3", "A4", "A5", "A6", "A7", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "D1",
        "E1", "E2", "F1",
    ];
    let expected: Vec<String> = [("S1", &step1[..]), ("S2", &step2[..]), ("S3", &step3[..])]
        .iter()
        .flat_map(|(s, ids)| ids.iter().map(move |id| format!("{s}-{id}")))
        .collect();
    for edition in ["2019", "2021"] {
        let course = root().join(format!("courses/wordpress-{edition}.toml"));
        let out = labrun(&[
            course.to_str().unwrap(),
            "--trainees",
            "user01..user02",
            "--replay",
            empty.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let report = json(&out);
        assert_eq!(report["step"], format!("wordpress-{edition}"));
        let names: Vec<&str> = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["step1", "step2", "step3"]);
        for t in report["trainees"].as_array().unwrap() {
            assert_eq!(ids(t), expected, "{edition}");
            assert_eq!(t["course"]["current"], "S1");
            for r in t["results"].as_array().unwrap() {
                assert_ne!(
                    r["status"], "pass",
                    "{edition}: nothing answered, nothing passes: {r}"
                );
            }
        }
    }
    std::fs::remove_file(&empty).unwrap();
}
