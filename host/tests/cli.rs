//! The CLI as an operator meets it: exit codes, one-line errors, sandbox limits,
//! report formats and replay — all without network (fixtures + cassettes).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The labrun binary with no AWS configuration reachable: HOME points at an empty
/// directory and no AWS variables are inherited.
fn labrun(args: &[&str]) -> Output {
    labrun_env(args, &[])
}

/// [`labrun`] with some environment variables set on top (e.g. AWS ones).
fn labrun_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let home = std::env::temp_dir().join(format!("labrun-cli-home-{}", std::process::id()));
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
        .envs(vars.iter().copied())
        .args(args)
        .output()
        .expect("labrun runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

fn status_of(report: &Value, trainee: usize, id: &str) -> String {
    report["trainees"][trainee]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no result {id} in {report}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn assert_one_line_bad_input(out: &Output, must_contain: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(64), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.contains(must_contain), "{must_contain:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let script = fixture("syntax_error.rhai");
    let out = labrun(&[script.to_str().unwrap()]);
    assert_one_line_bad_input(&out, "syntax_error.rhai:4:13: syntax error");
}

#[test]
fn unknown_param_is_bad_input_naming_it() {
    let out = labrun(&[
        fixture("tiny.rhai").to_str().unwrap(),
        "--param",
        "usr=user05",
    ]);
    assert_one_line_bad_input(&out, "unknown param `usr`");
}

#[test]
fn missing_param_is_bad_input_with_the_fix() {
    let out = labrun(&[fixture("tiny.rhai").to_str().unwrap()]);
    assert_one_line_bad_input(&out, "--param user=VALUE");
}

#[test]
fn unknown_format_is_bad_input() {
    let out = labrun(&[
        fixture("tiny.rhai").to_str().unwrap(),
        "--param",
        "user=user05",
        "--format",
        "xml",
    ]);
    assert_one_line_bad_input(&out, "invalid value 'xml' for '--format");
}

#[test]
fn unreadable_cassette_is_bad_input() {
    let out = labrun(&[
        fixture("tiny.rhai").to_str().unwrap(),
        "--param",
        "user=user05",
        "--replay",
        fixture("tiny.rhai").to_str().unwrap(),
    ]);
    assert_one_line_bad_input(&out, "is not a labrun cassette");
}

#[test]
fn missing_or_unknown_step_files_are_bad_input() {
    let out = labrun(&["no-such-step.wasm"]);
    assert_one_line_bad_input(&out, "cannot read step no-such-step.wasm");
    let out = labrun(&["notes.txt"]);
    assert_one_line_bad_input(&out, "notes.txt: unknown step type");
}

#[test]
fn replay_answers_from_the_cassette_and_reports_json_contract() {
    let out = labrun(&[
        fixture("tiny.rhai").to_str().unwrap(),
        "--trainee",
        "user05",
        "--trainee",
        "user07",
        "--replay",
        fixture("tiny.cassette.json").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report = json(&out);
    assert_eq!(report["step"], "tiny");
    assert_eq!(report["trainees"][0]["trainee"], "user05");
    assert_eq!(report["trainees"][1]["trainee"], "user07");
    assert_eq!(status_of(&report, 0, "V1"), "pass");
    assert_eq!(
        report["trainees"][0]["results"][0]["evidence"]["id"],
        "vpc-1"
    );
    assert_eq!(status_of(&report, 0, "V2"), "pass");
    assert_eq!(status_of(&report, 1, "V1"), "fail");
    assert_eq!(status_of(&report, 1, "V2"), "fail");
    // A call the cassette does not hold is an error, never a pass.
    assert_eq!(status_of(&report, 0, "V3"), "error");
    let v3 = &report["trainees"][0]["results"][2]["message"]["en"];
    assert!(v3.as_str().unwrap().contains("not_recorded"), "{v3}");
    assert!(report["trainees"][0]["results"][0]["message"]["ja"]
        .as_str()
        .unwrap()
        .contains("vpc-user05"));
    // Identical calls from two trainees were answered once.
    assert_eq!(report["summary"]["replayed_calls"], 2);
    assert_eq!(out.status.code(), Some(2), "an error outcome exits 2");
}

#[test]
fn human_report_is_aligned_and_translated() {
    let args = |lang: &'static str| {
        vec![
            fixture("tiny.rhai").to_string_lossy().into_owned(),
            "--param".into(),
            "user=user05".into(),
            "--replay".into(),
            fixture("tiny.cassette.json").to_string_lossy().into_owned(),
            "--lang".into(),
            lang.into(),
        ]
    };
    let en = labrun(&args("en").iter().map(String::as_str).collect::<Vec<_>>());
    let text = String::from_utf8_lossy(&en.stdout);
    assert!(
        text.contains("  PASS   ") || text.contains("  PASS  "),
        "{text}"
    );
    assert!(text.contains("V1  found vpc-user05"), "{text}");
    assert!(
        text.contains("2 pass · 0 fail · 0 pending · 1 error · 0 skip"),
        "{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no colour when not a terminal: {text}"
    );
    let ja = labrun(&args("ja").iter().map(String::as_str).collect::<Vec<_>>());
    let text = String::from_utf8_lossy(&ja.stdout);
    assert!(text.contains("合格"), "{text}");
    assert!(text.contains("vpc-user05 があります"), "{text}");
}

#[test]
fn junit_report_has_one_testcase_per_outcome() {
    let out = labrun(&[
        fixture("tiny.rhai").to_str().unwrap(),
        "--param",
        "user=user06",
        "--replay",
        fixture("tiny.cassette.json").to_str().unwrap(),
        "--format",
        "junit",
    ]);
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert!(xml.contains("name=\"V1\"/>"), "{xml}");
    assert!(xml.contains("name=\"V2\"><failure type=\"fail\""), "{xml}");
    assert!(xml.contains("name=\"V3\"><error "), "{xml}");
    assert!(xml.contains("<testsuite name=\"user06\""), "{xml}");
}

/// Runs a hostile fixture and returns the status and English message of `H1`.
fn hostile(name: &str, extra: &[&str]) -> (String, String, Output) {
    let path = fixture(name);
    let mut args = vec![path.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let out = labrun(&args);
    let report = json(&out);
    let h1 = &report["trainees"][0]["results"][0];
    assert_eq!(h1["id"], "H1");
    (
        h1["status"].as_str().unwrap().to_string(),
        h1["message"]["en"].as_str().unwrap().to_string(),
        out,
    )
}

#[test]
fn endless_loop_is_stopped_by_the_wall_clock() {
    let (status, message, out) = hostile("hostile.rhai", &["--timeout", "1"]);
    assert_eq!(status, "error");
    assert!(
        message.contains("wall-clock limit of 1 s") || message.contains("operations"),
        "{message}"
    );
    assert!(
        message.contains("hostile.rhai:"),
        "position missing: {message}"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn deep_recursion_is_stopped() {
    let (status, message, _) = hostile("deep.rhai", &[]);
    assert_eq!(status, "error");
    assert!(message.contains("levels"), "{message}");
}

#[test]
fn eval_is_not_available() {
    let out = labrun(&[fixture("uses_eval.rhai").to_str().unwrap()]);
    // `eval` is a disabled symbol: the script does not even compile.
    assert_one_line_bad_input(&out, "uses_eval.rhai:4:5: syntax error");
}

#[test]
fn import_cannot_load_files() {
    let (status, message, out) = hostile("uses_import.rhai", &[]);
    assert_eq!(status, "error", "{message}");
    assert!(message.contains("`import` is not available"), "{message}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("root:"));
}

#[test]
fn missing_credentials_are_one_clear_line_and_exit_2() {
    // No AWS variables, an empty HOME, metadata disabled: nothing to sign with, so the
    // SDK stops before sending anything.
    let tiny = fixture("tiny.rhai");
    let out = labrun_env(
        &[
            tiny.to_str().unwrap(),
            "--param",
            "user=user05",
            "--format",
            "json",
        ],
        &[("AWS_REGION", "ap-northeast-1")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("could not use aws"), "{err}");
    assert!(err.contains("credentials"), "{err}");
    let report = json(&out);
    assert_eq!(status_of(&report, 0, "V1"), "error");
}

/// An endpoint that throttles every request, answering in EC2's wire format: the
/// SDK's adaptive retry gives up and the check is `error`, never `fail`.
fn throttling_endpoint() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error>\
                <Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>\
                </Error></Errors><RequestID>labrun-test</RequestID></Response>";
            let _ = write!(
                stream,
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn throttling_after_retries_is_an_error_naming_it() {
    let tiny = fixture("tiny.rhai");
    let endpoint = throttling_endpoint();
    let out = labrun_env(
        &[
            tiny.to_str().unwrap(),
            "--param",
            "user=user05",
            "--format",
            "json",
        ],
        &[
            ("AWS_REGION", "ap-northeast-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret"),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(status_of(&report, 0, "V1"), "error");
    let v1 = report["trainees"][0]["results"][0]["message"]["en"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(v1.contains("throttled"), "{v1}");
    assert!(v1.contains("RequestLimitExceeded"), "{v1}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not-a-real-secret"));
}
