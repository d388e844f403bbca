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

/// Characters that would act on a terminal if they reached it raw: C0 (but the line
/// feed ending each row), DEL, C1 and the bidi controls.
fn raw_terminal_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            c != '\n'
                && matches!(c,
                    '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{61c}' | '\u{200e}' | '\u{200f}'
                    | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn a_64_kib_id_and_a_huge_message_do_not_panic() {
    let step = fixture("long_id.rhai");
    let out = labrun(&[step.to_str().unwrap(), "--lang", "en"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}\n{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    // Header, A1, A2, blank line, summary: one row per declared check.
    assert_eq!(text.lines().count(), 5, "{text}");
    let a2 = text.lines().find(|l| l.contains(" A2 ")).unwrap();
    assert!(
        a2.starts_with("  ERROR    A2  not checked: the step stopped"),
        "{a2}"
    );
    assert!(
        a2.contains("is 65536 characters long: an id is at most 32"),
        "{a2}"
    );
    assert!(a2.len() < 400, "the refused id is shown cut short: {a2}");
    let a1 = text.lines().find(|l| l.contains(" A1 ")).unwrap();
    assert!(
        a1.len() <= 4096 + 32,
        "the message is cut: {} bytes",
        a1.len()
    );

    let out = labrun(&[step.to_str().unwrap(), "--format", "json"]);
    let report = json(&out);
    let rows = report["trainees"][0]["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{report}");
    assert!(rows[0]["message"]["en"].as_str().unwrap().len() <= 4096 + 3);
}

#[test]
fn a_64_kib_declared_id_is_bad_input() {
    let out = labrun(&[fixture("long_checks.rhai").to_str().unwrap()]);
    assert_one_line_bad_input(&out, "describe(): `checks`: outcome id `iiii");
    assert!(
        stderr(&out).contains("65536 characters long"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).len() < 300, "{}", stderr(&out));
}

#[test]
fn escape_sequences_from_a_step_reach_the_terminal_inert() {
    let step = fixture("escape_sequences.rhai");
    for lang in ["en", "ja"] {
        let out = labrun(&[step.to_str().unwrap(), "--lang", lang, "--color", "never"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert_eq!(raw_terminal_controls(&text), Vec::<char>::new(), "{text:?}");
        // Header, H1, H2, H3, two log lines, blank line, summary.
        assert_eq!(text.lines().count(), 8, "{text}");
        let headers = text
            .lines()
            .filter(|l| l.starts_with("escape_sequences · "));
        assert_eq!(headers.count(), 1, "one block: {text}");
        for forged in ["  PASS ", "  合格 "] {
            assert!(
                !text.lines().any(|l| l.starts_with(forged)),
                "forged row: {text}"
            );
        }
        // The summary is the last line, and no other line starts like one.
        let summary_start = if lang == "en" {
            "0 pass · "
        } else {
            "合格 0 · "
        };
        let summaries = text
            .lines()
            .filter(|l| l.starts_with(summary_start))
            .count();
        assert_eq!(summaries, 1, "one summary: {text}");
        assert!(
            text.lines().last().unwrap().starts_with(summary_start),
            "{text}"
        );
    }
    let out = labrun(&[step.to_str().unwrap(), "--lang", "en"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad\\r\\n  PASS     H2  forged row\\n\\nescape_sequences"),
        "{text}"
    );
    assert!(
        text.contains("osc52 \\u{1b}]52;c;ZWNobyBvd25lZA==\\u{7}"),
        "{text}"
    );
    assert!(
        text.contains("clear \\u{1b}[2J\\u{1b}[H bs xx\\u{8}\\u{8} del \\u{7f} csi \\u{9b}31m"),
        "{text}"
    );
    assert!(text.contains("  | a log line\\r\\n  PASS     H9"), "{text}");
    assert!(
        text.contains(
            "bidi \\u{202e}gnp.exe\\u{202c} \\u{2066}x\\u{2069} \\u{200e}\\u{200f}\\u{61c}"
        ),
        "{text}"
    );
    let h3 = text.lines().find(|l| l.contains(" H3 ")).unwrap();
    assert!(h3.starts_with("  ERROR    H3  not checked"), "{h3}");
    assert!(
        h3.contains("outcome id `H3\\u{1b}[2J\\r` holds the character U+001B"),
        "{h3}"
    );
}

#[test]
fn a_hostile_trainee_id_is_refused_at_the_roster_and_shown_inert() {
    let long = "u".repeat(65);
    for (id, needle) in [
        (
            "user05\x1b]0;pwned\x07\r\n  PASS     V9  fake",
            "the trainee id `user05\\u{1b}]0;pwned\\u{7}\\r\\n  PASS",
        ),
        ("user\u{202e}50", "which holds the character U+202E"),
        ("user 05", "which holds a space"),
        (long.as_str(), "65 characters long: at most 64"),
    ] {
        let out = labrun(&[
            fixture("tiny.rhai").to_str().unwrap(),
            "--trainee",
            id,
            "--replay",
            fixture("tiny.cassette.json").to_str().unwrap(),
        ]);
        assert_one_line_bad_input(&out, needle);
        assert_eq!(raw_terminal_controls(&stderr(&out)), Vec::<char>::new());
    }
    let out = labrun(&[
        fixture("tiny.rhai").to_str().unwrap(),
        "--param",
        "user=user05\x1b[2J",
        "--replay",
        fixture("tiny.cassette.json").to_str().unwrap(),
    ]);
    assert_one_line_bad_input(&out, "--param user=…: the trainee id `user05\\u{1b}[2J`");
}

#[test]
fn junit_with_characters_xml_forbids_still_parses() {
    let step = fixture("xml_forbidden.rhai");
    let out = labrun(&[step.to_str().unwrap(), "--format", "junit", "--lang", "en"]);
    let xml = String::from_utf8(out.stdout.clone()).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let message = |id: &str| {
        let case = doc
            .descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(id))
            .unwrap();
        case.first_element_child()
            .unwrap()
            .attribute("message")
            .unwrap()
            .to_string()
    };
    assert_eq!(message("X1"), "nonchars \\u{fffe} and \\u{ffff}");
    assert_eq!(
        message("X2"),
        "controls \\u{1}\\u{2}\\u{1b}[31m\u{7f} and <&\"'>"
    );
    assert_eq!(message("X3"), "tab\tlf\ncr\r");
    let out = labrun(&[step.to_str().unwrap(), "--format", "junit", "--lang", "ja"]);
    roxmltree::Document::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    // JSON keeps every character, escaped as JSON does.
    let out = labrun(&[step.to_str().unwrap(), "--format", "json"]);
    let report = json(&out);
    let x1 = &report["trainees"][0]["results"][0]["message"]["en"];
    assert_eq!(x1, "nonchars \u{fffe} and \u{ffff}");
}

#[test]
fn an_undeclared_id_is_an_error_row_and_exit_2() {
    let step = fixture("undeclared.rhai");
    let out = labrun(&[step.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(status_of(&report, 0, "A1"), "pass");
    assert_eq!(status_of(&report, 0, "X1"), "error");
    let x1 = &report["trainees"][0]["results"][1]["message"]["en"];
    assert!(
        x1.as_str().unwrap().starts_with(
            "not a declared check: the step reported `X1` (pass) but describe() does not list it in `checks`"
        ),
        "{x1}"
    );
    assert_eq!(report["summary"]["pass"], 1);
    assert_eq!(report["summary"]["error"], 1);
}

#[test]
fn duplicate_or_empty_checks_are_bad_input() {
    let out = labrun(&[fixture("duplicate_checks.rhai").to_str().unwrap()]);
    assert_one_line_bad_input(
        &out,
        "duplicate_checks.rhai: describe(): `checks` lists `A1` twice: declare each checklist id once",
    );
    let out = labrun(&[fixture("empty_checks.rhai").to_str().unwrap()]);
    assert_one_line_bad_input(&out, "empty_checks.rhai: describe(): `checks` is empty");
}

#[test]
fn policy_limits_out_of_range_are_bad_input_naming_the_key() {
    for (policy, expected) in [
        (
            "huge_wall_clock.policy.toml",
            "limits.wall_clock_secs = 9223372036854775807 is out of range: give 1..=86400",
        ),
        (
            "zero_operations.policy.toml",
            "limits.max_operations = 0 is out of range: give 1..=",
        ),
    ] {
        let out = labrun(&[
            fixture("tiny.rhai").to_str().unwrap(),
            "--param",
            "user=user05",
            "--replay",
            fixture("tiny.cassette.json").to_str().unwrap(),
            "--policy",
            fixture(policy).to_str().unwrap(),
        ]);
        assert_one_line_bad_input(&out, expected);
        assert!(
            stderr(&out).contains(policy),
            "names the file: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_cassette_answer_of_the_wrong_type_is_one_line_naming_it() {
    for (cassette, names, names_ja) in [
        ("wrong_type.cassette.json", "`filter`", "`filter`"),
        (
            "wrong_field_type.cassette.json",
            "field `Value` read from a bool",
            "フィールド `Value` を真偽値から読みました",
        ),
    ] {
        let out = labrun(&[
            fixture("tiny.rhai").to_str().unwrap(),
            "--param",
            "user=user05",
            "--replay",
            fixture(cassette).to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let report = json(&out);
        for row in report["trainees"][0]["results"].as_array().unwrap() {
            assert_eq!(row["status"], "error", "{row}");
            for (lang, names) in [("en", names), ("ja", names_ja)] {
                let message = row["message"][lang].as_str().unwrap();
                assert!(!message.contains('\n'), "{cassette}: {message:?}");
                assert!(message.contains("tiny.rhai:"), "{cassette}: {message}");
                assert!(message.contains(names), "{cassette}: {message}");
            }
        }
    }
}

#[test]
fn step3_says_in_one_line_which_function_got_an_answer_of_the_wrong_type() {
    // The shipped cassette with each cluster's members turned into a string.
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut cassette: Value = serde_json::from_str(
        &std::fs::read_to_string(examples.join("step3-user05.cassette.json")).unwrap(),
    )
    .unwrap();
    let mut changed = 0;
    for call in cassette["calls"].as_array_mut().unwrap() {
        if call["operation"] == "rds_describe_db_clusters" {
            for cluster in call["response"]["DBClusters"].as_array_mut().unwrap() {
                cluster["DBClusterMembers"] = Value::from("not a list");
                changed += 1;
            }
        }
    }
    assert!(changed > 0);
    let path = std::env::temp_dir().join(format!("labrun-wrong-{}.json", std::process::id()));
    std::fs::write(&path, cassette.to_string()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/step3.rhai");
    let out = labrun(&[
        script.to_str().unwrap(),
        "--param",
        "user=user05",
        "--replay",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json(&out);
    let a1 = report["trainees"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "A1")
        .unwrap();
    assert_eq!(a1["status"], "error");
    for lang in ["en", "ja"] {
        let message = a1["message"][lang].as_str().unwrap();
        assert!(!message.contains('\n'), "{message:?}");
        assert!(message.contains("Function not found: map ("), "{message}");
        assert!(message.ends_with("in fn a1_reader_member"), "{message}");
    }
}

#[test]
fn deep_nesting_within_the_limits_never_overflows_the_stack() {
    let step = fixture("deep_nesting.rhai");
    for (trust, levels) in [("untrusted", 32), ("instructor", 64)] {
        let (status, message, out) = hostile("deep_nesting.rhai", &["--trust", trust]);
        assert_eq!(out.status.code(), Some(2), "{trust}: {}", stderr(&out));
        assert_eq!(status, "error");
        assert!(
            message.contains(&format!("nested calls deeper than {levels} levels")),
            "{message}"
        );
    }
    // The largest nesting limits a policy may set.
    let policy = std::env::temp_dir().join(format!("labrun-deep-{}.toml", std::process::id()));
    std::fs::write(
        &policy,
        "trust = \"instructor\"\n[limits]\nmax_call_levels = 128\nmax_expr_depth = 128\n",
    )
    .unwrap();
    let out = labrun(&[step.to_str().unwrap(), "--policy", policy.to_str().unwrap()]);
    let _ = std::fs::remove_file(&policy);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("deeper than 128 levels"));
}

// --- issue 10: the plan refuses what would run wrongly; outputs never fail silently ---

/// A fresh, empty folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("labrun-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a class file in `dir`: one `[[submission]]` per (trainee, step).
fn class_file(dir: &std::path::Path, submissions: &[(&str, PathBuf)]) -> PathBuf {
    let text: String = submissions
        .iter()
        .map(|(trainee, step)| {
            format!(
                "[[submission]]\ntrainee = \"{trainee}\"\nstep = \"{}\"\n\n",
                step.display()
            )
        })
        .collect();
    let path = dir.join("class.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `scripts/step3.rhai` for user05 replayed from the shipped cassette (exit 0 alone),
/// plus `extra`.
fn step3_replayed(extra: &[&str]) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = vec![
        root.join("scripts/step3.rhai")
            .to_string_lossy()
            .into_owned(),
        "--param".into(),
        "user=user05".into(),
        "--replay".into(),
        root.join("examples/step3-user05.cassette.json")
            .to_string_lossy()
            .into_owned(),
        "--lang".into(),
        "en".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn assert_one_line(out: &Output, code: i32, must_contain: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    for word in must_contain {
        assert!(err.contains(word), "{word:?} not in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn step3_replay_alone_passes_and_prints_the_report() {
    // The baseline of the write-failure tests below: the same run exits 0.
    let out = labrun(&strs(&step3_replayed(&[])));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("18 pass"));
}

// 9: class loads run concurrently, each describe() within a short limit.

#[test]
fn class_submissions_load_concurrently_with_a_short_describe_limit() {
    let dir = scratch("slow-class");
    let slow = fixture("slow_describe.rhai");
    let class = class_file(
        &dir,
        &[
            ("user03", slow.clone()),
            ("user01", fixture("no_calls.rhai")),
            ("user02", slow.clone()),
            ("user04", slow),
        ],
    );
    // Operations are unlimited in effect, so only the describe limit stops the loops.
    let policy = dir.join("many-operations.policy.toml");
    std::fs::write(
        &policy,
        "trust = \"untrusted\"\n[limits]\nmax_operations = 1000000000000\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = labrun(&[
        class.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let elapsed = started.elapsed();
    // One after another, three describe() of 5 s each would take 15 s (and of their
    // whole 60 s limit, 3 minutes).
    assert!(
        elapsed < std::time::Duration::from_secs(12),
        "loads were not concurrent: {elapsed:?}"
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json(&out);
    let order: Vec<&str> = report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trainee"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["user03", "user01", "user02", "user04"],
        "class file order"
    );
    assert_eq!(status_of(&report, 1, "N1"), "pass");
    for i in [0, 2, 3] {
        assert_eq!(status_of(&report, i, "step"), "error");
        let why = report["trainees"][i]["results"][0]["message"]["en"]
            .as_str()
            .unwrap();
        assert!(why.contains("describe() may take at most 5 s"), "{why}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// 11: class files are untrusted unless told otherwise; `user` is each trainee's own.

#[test]
fn a_class_file_runs_untrusted_by_default() {
    let dir = scratch("untrusted-default");
    let class = class_file(&dir, &[("user05", fixture("no_calls.rhai"))]);
    let out = labrun(&[class.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "no warning: {}", stderr(&out));
    // The untrusted limit of 100 log lines applies (instructor steps get 1,000).
    let log = json(&out)["trainees"][0]["log"].clone();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 101, "{log:?}");
    assert!(log[100]
        .as_str()
        .unwrap()
        .contains("50 more log lines dropped"));
    let human = labrun(&[class.to_str().unwrap(), "--lang", "en"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).starts_with("class · user05"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_class_at_instructor_trust_says_so_on_stderr_and_atop_the_human_report() {
    let dir = scratch("instructor-class");
    let class = class_file(&dir, &[("user05", fixture("no_calls.rhai"))]);
    let path = class.to_str().unwrap();
    let out = labrun(&[path, "--trust", "instructor", "--lang", "en"]);
    assert_one_line(&out, 0, &["warning", "instructor trust", "class.toml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("note: this class ran at instructor trust"),
        "{text}"
    );
    assert!(text.contains("class · user05"), "{text}");
    let ja = labrun(&[path, "--trust", "instructor", "--lang", "ja"]);
    assert!(
        String::from_utf8_lossy(&ja.stdout).starts_with("注意: このクラスは instructor"),
        "{}",
        String::from_utf8_lossy(&ja.stdout)
    );
    // The JSON contract is unchanged: no note in it, and the instructor limits apply.
    let out = labrun(&[path, "--trust", "instructor", "--format", "json"]);
    let report = json(&out);
    let keys: Vec<&String> = report.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["step", "trainees", "summary"], "{report}");
    assert_eq!(report["trainees"][0]["log"].as_array().unwrap().len(), 150);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_class_wide_user_param_is_bad_input() {
    let dir = scratch("class-user");
    let class = class_file(&dir, &[("user05", fixture("no_calls.rhai"))]);
    let out = labrun(&[class.to_str().unwrap(), "--param", "user=user06"]);
    assert_one_line_bad_input(&out, "drop --param user=");
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

// 12: an output that cannot be written is exit 2 and one line naming it.

#[test]
fn a_report_to_a_full_disk_is_exit_2_naming_standard_output() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let home = std::env::temp_dir().join(format!("labrun-cli-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(step3_replayed(&[]))
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .stdout(full)
        .output()
        .expect("labrun runs");
    assert_one_line(&out, 2, &["cannot write the report to standard output"]);
}

#[test]
fn an_audit_log_on_a_full_disk_is_exit_2_naming_it_and_the_report_is_printed() {
    // A full disk of its own: a 4 KiB tmpfs in a private mount namespace (never the
    // real /dev/full, which an output refuses as a device anyway).
    let dir = scratch("audit-full");
    let disk = dir.join("disk");
    std::fs::create_dir(&disk).unwrap();
    let audit = disk.join("audit.jsonl");
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs -o size=4k tmpfs \"$DISK\" && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_labrun"))
        .args(step3_replayed(&["--audit", audit.to_str().unwrap()]))
        .env("DISK", &disk)
        .env("NO_COLOR", "1")
        .output()
        .expect("unshare runs (the tests run as root)");
    assert_one_line(&out, 2, &["the audit log --audit", "audit.jsonl"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("18 pass"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cassette_that_cannot_be_saved_is_exit_2_naming_it_and_the_report_is_printed() {
    let dir = scratch("record-fails");
    let cassette = dir.join("class.cassette.json");
    let args = [
        fixture("no_calls.rhai").to_string_lossy().into_owned(),
        "--param".into(),
        "user=user05".into(),
        "--record".into(),
        cassette.to_string_lossy().into_owned(),
    ];
    // The folder passes the plan-time check, but the cassette's temporary file
    // cannot be created when the run is over: a folder already has its name.
    std::fs::create_dir(dir.join(".class.cassette.json.labrun-tmp")).unwrap();
    let out = labrun(&strs(&args));
    assert_one_line(&out, 2, &["cannot write cassette", "class.cassette.json"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("N1"));
    assert!(!cassette.exists());
    // Without the obstacle, the same run saves it and passes.
    std::fs::remove_dir(dir.join(".class.cassette.json.labrun-tmp")).unwrap();
    let out = labrun(&strs(&args));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(cassette.is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

// 13: --record to a bad path is found while planning; nothing runs.

#[test]
fn record_into_a_missing_folder_is_bad_input_before_anything_runs() {
    let dir = scratch("record-missing");
    let target = dir.join("no-such-folder/c.json");
    let out = labrun(&[
        fixture("no_calls.rhai").to_str().unwrap(),
        "--param",
        "user=user05",
        "--record",
        target.to_str().unwrap(),
    ]);
    assert_one_line_bad_input(&out, "does not exist");
    assert!(stderr(&out).contains("--record"), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "the report was printed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn record_to_a_folder_is_bad_input_before_anything_runs() {
    let dir = scratch("record-folder");
    let out = labrun(&[
        fixture("no_calls.rhai").to_str().unwrap(),
        "--param",
        "user=user05",
        "--record",
        dir.to_str().unwrap(),
    ]);
    assert_one_line_bad_input(&out, "it is a folder");
    assert!(out.stdout.is_empty(), "the report was printed");
    let _ = std::fs::remove_dir_all(&dir);
}

// 17: accepted silently before; now one line (64) or a warning.

#[test]
fn an_empty_trainee_is_bad_input() {
    let out = labrun(&[fixture("no_calls.rhai").to_str().unwrap(), "--trainee", ""]);
    assert_one_line_bad_input(&out, "a trainee id is empty");
    let out = labrun(&[
        fixture("no_calls.rhai").to_str().unwrap(),
        "--param",
        "user=",
    ]);
    assert_one_line_bad_input(&out, "the trainee id is empty");
    let dir = scratch("empty-trainee");
    let class = class_file(&dir, &[("", fixture("no_calls.rhai"))]);
    let out = labrun(&[class.to_str().unwrap()]);
    assert_one_line_bad_input(&out, "submission 1 has an empty trainee id");
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cassette_with_two_answers_for_one_call_is_bad_input() {
    let out = labrun(&[
        fixture("tiny.rhai").to_str().unwrap(),
        "--param",
        "user=user05",
        "--replay",
        fixture("conflicting.cassette.json").to_str().unwrap(),
    ]);
    assert_one_line_bad_input(
        &out,
        "calls 1 and 2 are the same aws.ec2_describe_vpcs request with different answers",
    );
}

#[test]
fn a_cassette_naming_an_unknown_capability_or_operation_is_bad_input() {
    let replay = |cassette: &str| {
        labrun(&[
            fixture("tiny.rhai").to_str().unwrap(),
            "--param",
            "user=user05",
            "--replay",
            fixture(cassette).to_str().unwrap(),
        ])
    };
    let out = replay("unknown_capability.cassette.json");
    assert_one_line_bad_input(&out, "call 1 names unknown capability `s3`");
    assert!(stderr(&out).contains("aws, dns, mysql, http, tcp"));
    let out = replay("unknown_operation.cassette.json");
    assert_one_line_bad_input(
        &out,
        "call 1 names unknown operation `aws.ec2_terminate_instances`",
    );
}

#[test]
fn dns_server_port_0_is_bad_input() {
    let out = labrun(&[
        fixture("no_calls.rhai").to_str().unwrap(),
        "--param",
        "user=user05",
        "--dns-server",
        "127.0.0.1:0",
    ]);
    assert_one_line_bad_input(&out, "port 0 is no DNS server's port");
}

#[test]
fn grant_for_a_rhai_step_warns_that_it_has_no_effect() {
    let out = labrun(&strs(&step3_replayed(&["--grant", "aws"])));
    assert_one_line(&out, 0, &["warning", "--grant", "no effect", "Rhai step"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("18 pass"));
}

#[test]
fn a_malformed_region_is_bad_input() {
    for region in ["bad!", "AP-NORTHEAST-1", "", "ap northeast 1"] {
        let out = labrun(&[
            fixture("no_calls.rhai").to_str().unwrap(),
            "--param",
            "user=user05",
            "--region",
            region,
        ]);
        assert_one_line_bad_input(&out, "is not an AWS region");
    }
    let out = labrun(&[
        fixture("no_calls.rhai").to_str().unwrap(),
        "--param",
        "user=user05",
        "--region",
        "ap-northeast-1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_live_run_with_no_region_says_so_in_one_line() {
    // No AWS variables and an empty HOME: no region anywhere.
    let out = labrun(&[
        fixture("tiny.rhai").to_str().unwrap(),
        "--param",
        "user=user05",
        "--format",
        "json",
    ]);
    assert_one_line(&out, 2, &["could not use aws", "no AWS region configured"]);
    assert_eq!(status_of(&json(&out), 0, "V1"), "error");
}

// 18: help, no argument, negative numbers, ranges in the help.

#[test]
fn labrun_help_prints_the_help() {
    let out = labrun(&["help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Usage: labrun"), "{text}");
    assert!(text.contains("--param"), "{text}");
    assert!(!stderr(&out).contains("unknown step type"));
    let out = labrun(&["help", "plugin"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: labrun plugin"));
}

#[test]
fn help_shows_the_ranges_of_numbers() {
    let out = labrun(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["(1–256)", "(1–600)", "1–86400", "Exit codes:"] {
        assert!(text.contains(word), "{word:?} not in {text}");
    }
}

/// Every command of the tree, as the words that name it: `[]` (the run),
/// `["describe"]`, `["plugin", "lock"]`, … (clap's own `help` left out).
fn command_paths(cmd: &clap::Command, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut path = at.clone();
        path.push(sub.get_name().to_string());
        command_paths(sub, path, out);
    }
}

#[test]
fn every_command_has_its_help_and_labrun_help_lists_them() {
    let mut paths = Vec::new();
    command_paths(&labrun::cli::command(), Vec::new(), &mut paths);
    for want in [
        &["describe"][..],
        &["test"],
        &["new", "step"],
        &["plugin", "publish"],
        &["plugin", "pull"],
        &["plugin", "lock"],
        &["plugin", "keygen"],
        &["plugin", "sign"],
    ] {
        assert!(paths.iter().any(|p| p == want), "{want:?} not in {paths:?}");
    }
    for path in &paths {
        let words: Vec<&str> = path.iter().map(String::as_str).collect();
        let shown = format!("labrun {}", words.join(" "));
        let asked = labrun(&[&words[..], &["--help"]].concat());
        assert_eq!(
            asked.status.code(),
            Some(0),
            "{shown} --help: {}",
            stderr(&asked)
        );
        let help = String::from_utf8_lossy(&asked.stdout).into_owned();
        assert!(
            help.contains(&format!("Usage: {}", shown.trim_end())),
            "{shown} --help: {help}"
        );
        // `labrun help X` is `labrun X --help`.
        let via_help = labrun(&[&["help"][..], &words[..]].concat());
        assert_eq!(
            via_help.status.code(),
            Some(0),
            "help {shown}: {}",
            stderr(&via_help)
        );
        assert_eq!(
            String::from_utf8_lossy(&via_help.stdout),
            help,
            "labrun help {}",
            words.join(" ")
        );
        // A command's help lists each of its subcommands, by name, aliases too.
        let cmd = path.iter().fold(labrun::cli::command(), |c, w| {
            c.find_subcommand(w).expect("a path of the tree").clone()
        });
        for sub in cmd.get_subcommands() {
            let listed = help
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{} ", sub.get_name())));
            assert!(
                listed,
                "{shown} --help does not list {}: {help}",
                sub.get_name()
            );
            for alias in sub.get_all_aliases() {
                assert!(
                    help.contains(alias),
                    "{shown} --help hides the alias {alias}: {help}"
                );
            }
        }
    }
    let bad = labrun(&["help", "no-such-command"]);
    assert_one_line_bad_input(&bad, "no-such-command");
    // README's list of subcommands names each of them.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    for path in paths.iter().filter(|p| p.len() == 1) {
        assert!(
            readme.contains(&format!("`labrun {}", path[0])),
            "README does not name labrun {}",
            path[0]
        );
    }
}

fn japanese(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}')
    })
}

/// Every about and help text of the tree, with where it is: (`labrun plugin lock
/// trusted_keys`, text). A missing one is an empty text.
fn help_texts(cmd: &clap::Command, at: &str, out: &mut Vec<(String, String)>) {
    out.push((
        at.to_string(),
        cmd.get_about().map(ToString::to_string).unwrap_or_default(),
    ));
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        out.push((
            format!("{at} {}", arg.get_id()),
            arg.get_help().map(ToString::to_string).unwrap_or_default(),
        ));
    }
    for sub in cmd.get_subcommands() {
        help_texts(sub, &format!("{at} {}", sub.get_name()), out);
    }
}

#[test]
fn every_help_text_is_in_japanese_and_in_english() {
    for lang in [labrun::text::Lang::Ja, labrun::text::Lang::En] {
        labrun::text::set_lang(lang);
        let mut texts = Vec::new();
        help_texts(&labrun::cli::command(), "labrun", &mut texts);
        assert!(texts.len() > 60, "{texts:?}");
        for (at, text) in texts {
            assert!(!text.is_empty(), "{at} has no help ({lang:?})");
            let ja = lang == labrun::text::Lang::Ja;
            assert_eq!(japanese(&text), ja, "{at} in {lang:?}: {text}");
        }
    }
    // clap's own words too.
    let ja = labrun(&["--help", "--lang", "ja"]);
    assert_eq!(ja.status.code(), Some(0), "{}", stderr(&ja));
    let text = String::from_utf8_lossy(&ja.stdout);
    for english in [
        "Usage:",
        "Options:",
        "Arguments:",
        "Commands:",
        "Print help",
        "[default:",
        "[possible values:",
        "[aliases:",
    ] {
        assert!(!text.contains(english), "{english:?} in {text}");
    }
    for japanese in [
        "使い方:",
        "オプション:",
        "引数:",
        "コマンド:",
        "[既定値: 8]",
        "[指定できる値: human、json、junit、jsonl、html、csv]",
        "[別名: inspect]",
    ] {
        assert!(text.contains(japanese), "{japanese:?} not in {text}");
    }
    // --lang after a subcommand works there too.
    let ja = labrun(&["describe", "--help", "--lang", "ja"]);
    assert!(
        String::from_utf8_lossy(&ja.stdout).contains("使い方: labrun describe"),
        "{}",
        stderr(&ja)
    );
}

#[test]
fn a_parse_error_names_the_help_of_its_own_command() {
    for (args, help) in [
        (&["--jobs", "x", "s.rhai"][..], "(see labrun --help)"),
        (&["describe"], "(see labrun describe --help)"),
        (&["plugin", "lock"], "(see labrun plugin lock --help)"),
        (&["new", "step"], "(see labrun new step --help)"),
        (&["test", "s.rhai", "--bogus"], "(see labrun test --help)"),
    ] {
        let out = labrun(args);
        assert_one_line_bad_input(&out, help);
        assert!(!stderr(&out).contains("Usage:"), "{}", stderr(&out));
    }
    // A second step, or a subcommand after the step: one word too many.
    let out = labrun(&["a.rhai", "b.rhai"]);
    assert_one_line_bad_input(&out, "unexpected argument 'b.rhai' found");
    // `labrun plugin` and `labrun new` alone: their help, and 64.
    for group in ["plugin", "new"] {
        let out = labrun(&[group]);
        assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("Usage: labrun {group} ")),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn no_argument_is_one_line_with_an_example() {
    let out = labrun(&[]);
    assert_one_line_bad_input(&out, "e.g. labrun scripts/step3.rhai --param user=user05");
    assert!(out.stdout.is_empty());
}

#[test]
fn negative_numbers_name_the_range() {
    for (flag, range) in [
        ("--jobs", "1..=256"),
        ("--timeout", "1..=86400"),
        ("--probe-timeout", "1..=600"),
    ] {
        let out = labrun(&[fixture("no_calls.rhai").to_str().unwrap(), flag, "0"]);
        assert_one_line_bad_input(&out, &format!("0 is not in {range}"));
        let out = labrun(&[fixture("no_calls.rhai").to_str().unwrap(), flag, "-1"]);
        assert_one_line_bad_input(&out, range);
        assert!(!stderr(&out).contains("use '--"), "{}", stderr(&out));
    }
}

#[test]
fn labruns_own_causes_read_in_japanese_and_remote_text_is_kept() {
    // A limit that stopped the run: the fixed part in Japanese, the path kept.
    let out = labrun(&[
        fixture("hostile.rhai").to_str().unwrap(),
        "--timeout",
        "1",
        "--format",
        "json",
    ]);
    let h1 = &json(&out)["trainees"][0]["results"][0]["message"];
    let ja = h1["ja"].as_str().unwrap();
    assert!(ja.contains("hostile.rhai:"), "{ja}");
    assert!(
        ja.contains("ステップが実行時間の上限 1 秒を超えました"),
        "{ja}"
    );
    assert!(!ja.contains("wall-clock"), "{ja}");
    assert!(h1["en"]
        .as_str()
        .unwrap()
        .contains("wall-clock limit of 1 s"));
    // Submissions that could not load: labrun's words translated, the OS's kept.
    let dir = scratch("ja-causes");
    let class = class_file(
        &dir,
        &[
            ("user01", dir.join("missing.rhai")),
            ("user02", fixture("syntax_error.rhai")),
        ],
    );
    let out = labrun(&[class.to_str().unwrap(), "--lang", "ja"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("を読めません: 「No such file or directory"),
        "{text}"
    );
    assert!(text.contains(": 構文エラー: "), "{text}");
    assert!(!text.contains("cannot read step"), "{text}");
    assert!(!text.contains("syntax error"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_class_run_keeps_its_whole_wall_clock_limit() {
    // describe() is limited to 5 s while a class is planned; the run is not.
    let dir = scratch("slow-run");
    let class = class_file(&dir, &[("user05", fixture("slow_run.rhai"))]);
    let policy = dir.join("p.policy.toml");
    std::fs::write(
        &policy,
        "trust = \"untrusted\"\n[limits]\nwall_clock_secs = 7\nmax_operations = 1000000000000\n",
    )
    .unwrap();
    let out = labrun(&[
        class.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report = json(&out);
    assert_eq!(status_of(&report, 0, "S1"), "error");
    let why = report["trainees"][0]["results"][0]["message"]["en"]
        .as_str()
        .unwrap();
    assert!(why.contains("wall-clock limit of 7 s"), "{why}");
    assert!(
        stderr(&out).is_empty(),
        "an untrusted policy warns nothing: {}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_class_at_instructor_trust_by_policy_file_says_so_too() {
    let dir = scratch("instructor-policy");
    let class = class_file(&dir, &[("user05", fixture("no_calls.rhai"))]);
    let policy = dir.join("p.policy.toml");
    std::fs::write(&policy, "trust = \"instructor\"\n").unwrap();
    let out = labrun(&[
        class.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--lang",
        "en",
    ]);
    assert_one_line(&out, 0, &["warning", "instructor trust", "--policy"]);
    assert!(String::from_utf8_lossy(&out.stdout)
        .starts_with("note: this class ran at instructor trust"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// What `run(params)` of `defaults.rhai` received, as P1's message shows it.
fn params_seen(args: &[&str]) -> String {
    let script = fixture("defaults.rhai");
    let mut all = vec![script.to_str().unwrap(), "--format", "json"];
    all.extend_from_slice(args);
    let out = labrun(&all);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    json(&out)["trainees"][0]["results"][0]["message"]["en"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn run_receives_every_param_with_defaults_filled_from_the_trainee_id() {
    assert_eq!(
        params_seen(&["--trainee", "user05", "--param", "note=n"]),
        "cluster=wp-user05-cluster note=n reader=wp-user05-slave user=user05"
    );
    assert_eq!(
        params_seen(&[
            "--param",
            "user=user07",
            "--param",
            "note=n",
            "--param",
            "reader=wp-user07-standby"
        ]),
        "cluster=wp-user07-cluster note=n reader=wp-user07-standby user=user07"
    );
}

#[test]
fn an_unknown_param_names_the_steps_params_with_their_defaults() {
    let out = labrun(&[
        fixture("defaults.rhai").to_str().unwrap(),
        "--trainee",
        "user05",
        "--param",
        "note=n",
        "--param",
        "raeder=x",
    ]);
    assert_one_line_bad_input(&out, "unknown param `raeder`: ");
    assert_one_line_bad_input(
        &out,
        "takes cluster (Aurora cluster; default wp-{user}-cluster), note (a plain string: \
         required, no default), reader (Aurora reader; default wp-{user}-slave), user (trainee \
         id, e.g. user05)",
    );
    // A plain-string param is required.
    let out = labrun(&[
        fixture("defaults.rhai").to_str().unwrap(),
        "--trainee",
        "user05",
    ]);
    assert_one_line_bad_input(
        &out,
        "missing param `note`: give it with --param note=VALUE",
    );
}

#[test]
fn defaults_in_a_cycle_or_naming_an_unknown_param_are_bad_input() {
    let out = labrun(&[
        fixture("default_cycle.rhai").to_str().unwrap(),
        "--trainee",
        "user05",
    ]);
    assert_one_line_bad_input(
        &out,
        "describe(): `params`: the defaults of `reader` → `writer` → `reader` refer to each other in a cycle",
    );
    let out = labrun(&[
        fixture("default_unknown.rhai").to_str().unwrap(),
        "--trainee",
        "user05",
    ]);
    assert_one_line_bad_input(
        &out,
        "the default of `reader` (`wp-{usr}-slave`) refers to `{usr}`, which the step does not declare; it declares reader, user",
    );
}

#[test]
fn describe_shows_params_with_defaults_checks_and_operations() {
    let out = labrun(&["describe", fixture("defaults.rhai").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(Rhai script)"), "{text}");
    assert!(
        text.contains("    reader         default wp-{user}-slave: Aurora reader"),
        "{text}"
    );
    assert!(
        text.contains("    user           required: trainee id, e.g. user05"),
        "{text}"
    );
    assert!(text.contains("  capabilities: none"), "{text}");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/step3.rhai");
    let out = labrun(&["describe", script.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let d = json(&out);
    assert_eq!(d["name"], "step3");
    let ops: Vec<&str> = d["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(
        ops.contains(&"aws.rds_describe_db_clusters") && ops.contains(&"dns.lookup"),
        "{ops:?}"
    );
    assert!(d["capabilities"]
        .as_array()
        .unwrap()
        .contains(&Value::from("mysql")));
    assert_eq!(d["checks"][0]["id"], "A1");
    let titled = d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("title").is_some())
        .count();
    assert_eq!(titled, 18, "every step3 check has a title");

    let out = labrun(&["describe", fixture("default_cycle.rhai").to_str().unwrap()]);
    assert_one_line_bad_input(&out, "refer to each other in a cycle");
    let out = labrun(&["describe", "--format", "xml", "x.rhai"]);
    assert_one_line_bad_input(&out, "invalid value 'xml' for '--format <FORMAT>'");
    assert_one_line_bad_input(&out, "[possible values: human, json]");
    // `inspect` is describe's old name, kept for scripts.
    let described = labrun(&["describe", fixture("defaults.rhai").to_str().unwrap()]);
    let inspected = labrun(&["inspect", fixture("defaults.rhai").to_str().unwrap()]);
    assert_eq!(inspected.status.code(), Some(0), "{}", stderr(&inspected));
    assert_eq!(inspected.stdout, described.stdout);
}

#[test]
fn bad_mysql_password_files_are_one_line_before_anything_runs() {
    let dir = std::env::temp_dir().join(format!("labrun-cli-pw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pw");
    std::fs::write(&empty, "").unwrap();
    let good = dir.join("good.pw");
    std::fs::write(&good, "s3cret-local\n").unwrap();
    let missing = dir.join("missing.pw");
    // A fifo would block a read forever: refused at once, never opened for reading.
    let fifo = dir.join("fifo.pw");
    let _ = std::fs::remove_file(&fifo);
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let tiny = fixture("tiny.rhai");
    let run = |value: String| {
        labrun(&[
            tiny.to_str().unwrap(),
            "--param",
            "user=user05",
            "--mysql-password-file",
            &value,
        ])
    };
    let cases = [
        (
            format!("={}", good.display()),
            "the credential name before `=` is empty".to_string(),
        ),
        (
            format!("Local={}", good.display()),
            "the part before `=` is not a credential name".to_string(),
        ),
        ("local=".to_string(), "no file after `local=`".to_string()),
        (
            format!("local={}", missing.display()),
            "--mysql-password-file local=…: no such file (the value is not shown".to_string(),
        ),
        // A password typed where its file was expected is never echoed.
        (
            "Tr0ub4dor&3".to_string(),
            "--mysql-password-file …: no such file (the value is not shown".to_string(),
        ),
        (
            "Pass=w0rd-typed".to_string(),
            "the part before `=` is not a credential name".to_string(),
        ),
        (
            "pass=w0rd-typed".to_string(),
            "--mysql-password-file pass=…: no such file".to_string(),
        ),
        (
            format!("local={}", fifo.display()),
            "a fifo (named pipe), not a regular file".to_string(),
        ),
        (
            format!("local={}", empty.display()),
            format!("--mysql-password-file local={} is empty", empty.display()),
        ),
    ];
    for (value, needle) in cases {
        let out = run(value);
        assert_one_line_bad_input(&out, &needle);
        for secret in ["s3cret-local", "Tr0ub4dor", "w0rd-typed"] {
            assert!(!stderr(&out).contains(secret), "{}", stderr(&out));
        }
    }
    // The same name twice is one line too.
    let out = labrun(&[
        tiny.to_str().unwrap(),
        "--param",
        "user=user05",
        "--mysql-password-file",
        &format!("local={}", good.display()),
        "--mysql-password-file",
        &format!("local={}", good.display()),
    ]);
    assert_one_line_bad_input(&out, "--mysql-password-file local=… is given twice");
    // Aurora's password from a file and from a prompt: one of them.
    let out = labrun(&[
        tiny.to_str().unwrap(),
        "--param",
        "user=user05",
        "--mysql-password-file",
        good.to_str().unwrap(),
        "--ask-mysql-password",
    ]);
    assert_one_line_bad_input(&out, "both give the Aurora password");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn grant_on_rhai_steps_is_one_warning_naming_them() {
    let step = fixture("no_calls.rhai");
    let out = labrun(&[
        step.to_str().unwrap(),
        "--param",
        "user=u1",
        "--grant",
        "dns",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "labrun: warning: --grant applies to WebAssembly steps only; it has no effect on the Rhai step {}, which the policy alone limits\n",
            step.display()
        )
    );
    // A class of two Rhai submissions: still one line, counting the other.
    let dir = scratch("grant-class");
    let other = dir.join("other.rhai");
    std::fs::copy(&step, &other).unwrap();
    let class = class_file(&dir, &[("user01", step.clone()), ("user02", other)]);
    let out = labrun(&[class.to_str().unwrap(), "--grant", "dns"]);
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("--grant")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].ends_with(" and 1 more, which the policy alone limits"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// --- issue 23: hardening II -------------------------------------------------------

/// A fifo in `dir`, made with mkfifo(1).
fn mkfifo(dir: &std::path::Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let made = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
    path
}

/// A character device node in `dir` with the given numbers (as root: `mknod`), a
/// stand-in for /dev/null (1 3) or /dev/zero (1 5) that the real ones never risk.
fn device(dir: &std::path::Path, name: &str, major: u32, minor: u32) -> PathBuf {
    let path = dir.join(name);
    let made = Command::new("mknod")
        .arg(&path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .unwrap();
    assert!(
        made.success(),
        "mknod {} (the tests run as root)",
        path.display()
    );
    path
}

/// [`labrun_env`], but the test fails instead of hanging when labrun blocks (on a
/// fifo, say): killed after `limit`.
fn labrun_within(args: &[&str], limit: std::time::Duration) -> Output {
    let home = std::env::temp_dir().join(format!("labrun-cli-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > end {
            let _ = child.kill();
            panic!("labrun {args:?} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn outputs_never_overwrite_the_step_the_replayed_cassette_or_each_other() {
    let dir = scratch("outputs-apart");
    let step = dir.join("tiny.rhai");
    std::fs::copy(fixture("tiny.rhai"), &step).unwrap();
    let cassette = dir.join("tiny.cassette.json");
    std::fs::copy(fixture("tiny.cassette.json"), &cassette).unwrap();
    let hard = dir.join("hard-link-to-step.rhai");
    std::fs::hard_link(&step, &hard).unwrap();
    let (s, c, h) = (
        step.to_str().unwrap(),
        cassette.to_str().unwrap(),
        hard.to_str().unwrap(),
    );
    let out_json = dir.join("out.json");
    let o = out_json.to_str().unwrap();
    for (args, needle) in [
        (
            vec![s, "--param", "user=user05", "--record", s],
            "it is also the step",
        ),
        (
            vec![s, "--param", "user=user05", "--record", h],
            "it is also the step",
        ),
        (
            vec![s, "--param", "user=user05", "--replay", c, "--audit", c],
            "it is also --replay",
        ),
        (
            vec![s, "--param", "user=user05", "--record", o, "--audit", o],
            "it is also the output of --record",
        ),
        (
            vec![
                s,
                "--param",
                "user=user05",
                "--ssh-key",
                h,
                "--ssh-known-hosts",
                o,
                "--audit",
                o,
            ],
            "it is also --ssh-known-hosts",
        ),
    ] {
        let out = labrun(&args);
        assert_one_line_bad_input(&out, needle);
        assert!(out.stdout.is_empty(), "nothing ran");
    }
    assert_eq!(
        std::fs::read(&step).unwrap(),
        std::fs::read(fixture("tiny.rhai")).unwrap()
    );
    assert_eq!(
        std::fs::read(&cassette).unwrap(),
        std::fs::read(fixture("tiny.cassette.json")).unwrap()
    );
    assert!(!out_json.exists(), "the audit log was not even created");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outputs_on_devices_and_fifos_are_refused_and_symlinks_followed() {
    let dir = scratch("outputs-kinds");
    let null = device(&dir, "null", 1, 3);
    let fifo = mkfifo(&dir, "fifo");
    let step = fixture("no_calls.rhai");
    for (flag, target, needle) in [
        (
            "--record",
            &null,
            "it is a character device, not a regular file",
        ),
        (
            "--audit",
            &null,
            "it is a character device, not a regular file",
        ),
        (
            "--record",
            &fifo,
            "it is a fifo (named pipe), not a regular file",
        ),
        (
            "--audit",
            &fifo,
            "it is a fifo (named pipe), not a regular file",
        ),
    ] {
        let out = labrun_within(
            &[
                step.to_str().unwrap(),
                "--param",
                "user=user05",
                flag,
                target.to_str().unwrap(),
            ],
            std::time::Duration::from_secs(30),
        );
        assert_one_line_bad_input(&out, needle);
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&null)
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    // A symlink to the real cassette: the cassette is replaced, the link stays.
    let real = dir.join("real.cassette.json");
    std::fs::write(&real, "old").unwrap();
    let link = dir.join("link.cassette.json");
    std::os::unix::fs::symlink("real.cassette.json", &link).unwrap();
    let out = labrun(&[
        step.to_str().unwrap(),
        "--param",
        "user=user05",
        "--record",
        link.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("labrun_cassette"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn input_fifos_devices_and_huge_files_are_refused_at_once() {
    let dir = scratch("inputs");
    let fifo = mkfifo(&dir, "fifo");
    let zero = device(&dir, "zero", 1, 5);
    let huge = dir.join("huge.toml");
    // Sparse: 5 MiB on paper, nothing on disk.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(5 << 20)
        .unwrap();
    let tiny = fixture("tiny.rhai");
    let tiny = tiny.to_str().unwrap();
    // A step whose sibling catalog is a fifo.
    let step = dir.join("s.rhai");
    std::fs::copy(fixture("no_calls.rhai"), &step).unwrap();
    mkfifo(&dir, "s.messages.toml");
    let fifo_step = mkfifo(&dir, "fifo.rhai");
    let zero_step = device(&dir, "zero.wasm", 1, 5);
    let (f, z, h) = (
        fifo.to_str().unwrap(),
        zero.to_str().unwrap(),
        huge.to_str().unwrap(),
    );
    let at_fifo = format!("@{f}");
    let at_zero = format!("@{z}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![tiny, "--param", "user=u", "--replay", f], "a fifo"),
        (
            vec![tiny, "--param", "user=u", "--replay", z],
            "a character device",
        ),
        (vec![tiny, "--param", "user=u", "--policy", f], "a fifo"),
        (
            vec![tiny, "--param", "user=u", "--policy", h],
            "larger than 4 MiB",
        ),
        (vec![tiny, "--trainees", &at_fifo], "a fifo"),
        (vec![tiny, "--trainees", &at_zero], "a character device"),
        (
            vec![fifo_step.to_str().unwrap(), "--param", "user=u"],
            "a fifo",
        ),
        (
            vec![zero_step.to_str().unwrap(), "--param", "user=u"],
            "a character device",
        ),
        (vec![step.to_str().unwrap(), "--param", "user=u"], "a fifo"),
        (
            vec![tiny, "--param", "user=u", "--mysql-password-file", z],
            "a character device",
        ),
    ];
    for (args, needle) in cases {
        let out = labrun_within(&args, std::time::Duration::from_secs(30));
        assert_one_line_bad_input(&out, needle);
    }
    // A `labrun test` case file that is a fifo.
    let case_fifo = mkfifo(&dir, "case.toml");
    let out = labrun_within(
        &["test", tiny, case_fifo.to_str().unwrap()],
        std::time::Duration::from_secs(30),
    );
    assert_one_line_bad_input(&out, "a fifo");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_or_broken_standard_output_is_exit_2_with_one_line() {
    use std::os::fd::FromRawFd;
    use std::os::unix::process::CommandExt;
    let args = step3_replayed(&[]);
    // `labrun … >&-`
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
    cmd.args(&args).env("NO_COLOR", "1");
    // SAFETY: close(2) is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_one_line(&out, 2, &["standard output is closed"]);

    // `labrun … | reader that is gone`: a pipe whose read end is closed already.
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the array we own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: we own both ends; the read end is closed, the write end handed over.
    let write_end = unsafe {
        libc::close(fds[0]);
        std::os::fd::OwnedFd::from_raw_fd(fds[1])
    };
    let gone = || std::process::Stdio::from(write_end.try_clone().unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(&args)
        .env("NO_COLOR", "1")
        .stdout(gone())
        .output()
        .unwrap();
    assert_one_line(&out, 2, &["broken pipe"]);
    // `labrun describe … | head -1` ends the same way, not with a panic.
    let out = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(["describe", &args[0]])
        .stdout(gone())
        .output()
        .unwrap();
    assert_one_line(&out, 2, &["standard output was closed", "Broken pipe"]);
}

#[test]
fn a_refused_fail_is_an_error_row_never_dropped() {
    let out = labrun(&[
        fixture("refused_fail.rhai").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json(&out);
    let rows = report["trainees"][0]["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0]["id"].as_str(), rows[0]["status"].as_str()),
        (Some("H1"), Some("pass"))
    );
    assert_eq!(
        (rows[1]["id"].as_str(), rows[1]["status"].as_str()),
        (Some("refused-1"), Some("error"))
    );
    let en = rows[1]["message"]["en"].as_str().unwrap();
    assert!(
        en.starts_with("the step reported a fail that labrun refused: outcome id `\\u{1b}]0;XXX"),
        "{en}"
    );
    assert!(en.len() < 300, "the id is cut: {en}");
    let human = labrun(&[
        fixture("refused_fail.rhai").to_str().unwrap(),
        "--lang",
        "en",
    ]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(raw_terminal_controls(&text), Vec::<char>::new(), "{text:?}");
    assert!(text.contains("ERROR    refused-1"), "{text}");
}

#[test]
fn unclear_or_silently_accepted_values_are_one_line_naming_the_fix() {
    let tiny = fixture("tiny.rhai");
    let t = tiny.to_str().unwrap();
    let cassette = fixture("tiny.cassette.json");
    let c = cassette.to_str().unwrap();
    // Negative numbers get the range, not clap's tip about `--`.
    for (args, needle) in [
        (vec!["--watch", "-1"], "-1 is not in 5..=86400"),
        (vec!["--aws-rps", "-1"], "-1 is not in 1..=1000"),
        (
            vec!["--watch", "5", "--for", "-1m"],
            "--for -1m: expected a duration",
        ),
        (
            vec!["--watch", "5", "--until", "-1:00"],
            "--until -1:00: expected `done`",
        ),
        (
            vec!["--watch", "5", "--for", "1h1h"],
            "at most once, largest first",
        ),
        (vec!["--grant", ""], "names no capability"),
    ] {
        let mut all = vec![t, "--param", "user=u", "--replay", c];
        all.extend(args);
        let out = labrun(&all);
        assert_one_line_bad_input(&out, needle);
        assert!(!stderr(&out).contains("-- -1"), "{}", stderr(&out));
    }
    // The AWS endpoint from the environment, checked before anything runs.
    for (value, needle) in [
        ("not a url", "AWS_ENDPOINT_URL `not a url` is not a URL"),
        ("ftp://127.0.0.1:21", "is not an http:// or https:// URL"),
        (
            "http://admin:Hunter2pw@127.0.0.1:5000",
            "AWS_ENDPOINT_URL holds a user name or password",
        ),
        ("http://x:Hunter2pw@[bad", "(not shown: it holds `@`)"),
    ] {
        let out = labrun_env(
            &[t, "--param", "user=user05"],
            &[
                ("AWS_ENDPOINT_URL", value),
                ("AWS_REGION", "ap-northeast-1"),
            ],
        );
        assert_one_line_bad_input(&out, needle);
        assert!(!stderr(&out).contains("Hunter2pw"), "{}", stderr(&out));
    }
    let out = labrun_env(
        &[t, "--param", "user=user05"],
        &[("AWS_ENDPOINT_URL_RDS", "rds")],
    );
    assert_one_line_bad_input(&out, "AWS_ENDPOINT_URL_RDS `rds` is not a URL");
}

#[test]
fn a_cassette_with_two_answers_in_one_call_or_a_key_twice_is_refused() {
    let dir = scratch("cassette-twice");
    let tiny = fixture("tiny.rhai");
    let call = |answer: &str| {
        format!(
            r#"{{"labrun_cassette":1,"calls":[{{"capability":"aws","operation":"ec2_describe_vpcs","request":{{}},{answer}}}]}}"#
        )
    };
    for (text, needle) in [
        (
            call(
                r#""response":{"Vpcs":[]},"error":{"capability":"aws","operation":"ec2_describe_vpcs","kind":"network","message":"down"}"#,
            ),
            "call 1 holds both a response and an error",
        ),
        (
            call(
                r#""response":{"Vpcs":[{"VpcId":"vpc-1","CidrBlock":"10.0.0.0/16","CidrBlock":"10.9.0.0/16"}]}"#,
            ),
            "the key `CidrBlock` appears twice in one object",
        ),
    ] {
        let path = dir.join("c.json");
        std::fs::write(&path, text).unwrap();
        let out = labrun(&[
            tiny.to_str().unwrap(),
            "--param",
            "user=user05",
            "--replay",
            path.to_str().unwrap(),
        ]);
        assert_one_line_bad_input(&out, needle);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn labrun_test_record_during_an_outage_keeps_the_good_cassette() {
    let dir = scratch("record-outage");
    let cassette = dir.join("finished.cassette.json");
    std::fs::copy(fixture("tiny.cassette.json"), &cassette).unwrap();
    let case = dir.join("finished.toml");
    std::fs::write(
        &case,
        "cassette = \"finished.cassette.json\"\n[expect]\nV1 = \"pass\"\nV2 = \"pass\"\nV3 = \"error\"\n",
    )
    .unwrap();
    // Nothing listens there: every AWS call is a network error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = labrun_env(
        &[
            "test",
            "--record",
            fixture("tiny.rhai").to_str().unwrap(),
            case.to_str().unwrap(),
        ],
        &[
            ("AWS_REGION", "ap-northeast-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret"),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("could not read the world while recording")
            && err.contains("finished.cassette.json is left as it was"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&cassette).unwrap(),
        std::fs::read(fixture("tiny.cassette.json")).unwrap(),
        "the good cassette is untouched"
    );
    let aside = dir.join("finished.cassette.json.failed");
    assert!(std::fs::read_to_string(&aside)
        .unwrap()
        .contains("\"network\""));
    let _ = std::fs::remove_dir_all(&dir);
}
