//! The live-class flags from the command line, with no network but 127.0.0.1: the
//! roster, the watch loop, history, the dashboard's HTTP routes and the HTML and CSV
//! exports, all over the shipped Step-3 cassette replayed every cycle, and every bad
//! input refused with one line and exit 64 before anything runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn command(args: &[&str]) -> Command {
    let home = std::env::temp_dir().join(format!("labrun-live-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key == "LANG" || key.starts_with("LC_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(root())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .args(args);
    cmd
}

fn labrun(args: &[&str]) -> Output {
    command(args).output().expect("labrun runs")
}

const STEP: &str = "scripts/step3.rhai";
const CASSETTE: &str = "examples/step3-user05.cassette.json";

/// labrun over the cassette for user05 with `extra`.
fn replayed(extra: &[&str]) -> Vec<String> {
    let mut args = vec![STEP, "--replay", CASSETTE];
    args.extend_from_slice(extra);
    args.into_iter().map(str::to_string).collect()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("labrun-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Exit 64 and exactly one line on stderr containing `needle`; nothing on stdout.
fn assert_bad_input(args: &[&str], needle: &str) {
    let out = labrun(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line, got {err:?}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(
        out.stdout.is_empty(),
        "{args:?}: nothing ran, nothing printed"
    );
}

#[test]
fn bad_rosters_are_refused_before_anything_runs() {
    let dir = tmp("rosters");
    let dup = dir.join("dup.txt");
    std::fs::write(&dup, "user01\n# a comment\nuser02 # inline\nuser01\n").unwrap();
    let missing = format!("@{}", dir.join("missing.txt").display());
    let dup = format!("@{}", dup.display());
    for (args, needle) in [
        (vec!["--trainees", "user10..user01"], "comes after"),
        (vec!["--trainees", "user01.."], "both ends"),
        (vec!["--trainees", "user01..admin03"], "different prefixes"),
        (vec!["--trainees", &missing], "cannot read --trainees @"),
        (vec!["--trainees", &dup], "user01 is given twice"),
        (
            vec!["--trainee", "user02", "--trainees", "user01..user03"],
            "user02 is given twice",
        ),
        (vec!["--trainee", ""], "empty"),
    ] {
        let mut all = vec![STEP];
        all.extend(args);
        assert_bad_input(&all, needle);
    }
}

#[test]
fn bad_watch_flags_are_refused_before_anything_runs() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let dir = tmp("badwatch");
    let other = dir.join("other-step.json");
    std::fs::write(
        &other,
        r#"{"version":1,"step":"step9","cycles":1,"cells":{}}"#,
    )
    .unwrap();
    let other = other.display().to_string();
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let garbage = garbage.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--watch", "0"], "--watch"),
        (vec!["--watch", "3"], "5..=86400"),
        (vec!["--watch", "x"], "--watch"),
        (vec!["--until", "done"], "--watch"),
        (vec!["--watch", "5", "--until", "25:00"], "HH:MM"),
        (vec!["--watch", "5", "--until", "soon"], "HH:MM"),
        (vec!["--watch", "5", "--for", "10x"], "--for 10x"),
        (vec!["--watch", "5", "--for", "0"], "between 1 second"),
        (vec!["--watch", "5", "--serve", &taken], "cannot serve on"),
        (
            vec!["--watch", "5", "--serve", "0.0.0.0:0"],
            "--serve-token",
        ),
        (vec!["--watch", "5", "--serve", "nowhere"], "ADDRESS:PORT"),
        (vec!["--serve", "127.0.0.1:0"], "--watch"),
        (vec!["--watch", "5", "--state", &other], "not `step3`"),
        (
            vec!["--watch", "5", "--state", &garbage],
            "not a labrun state file",
        ),
        (
            vec!["--watch", "5", "--state", "/nonexistent/dir/state.json"],
            "does not exist",
        ),
        (vec!["--aws-rps", "0"], "--aws-rps"),
    ];
    let record = dir.join("x.cassette.json").display().to_string();
    assert_bad_input(
        &[
            STEP,
            "--param",
            "user=user05",
            "--watch",
            "5",
            "--record",
            &record,
        ],
        "cannot be combined with --watch",
    );
    for (extra, needle) in cases {
        let mut args = replayed(&["--param", "user=user05"]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(&args, needle);
    }
}

#[test]
fn csv_and_html_exports_of_a_one_shot_run() {
    let args = replayed(&["--param", "user=user05", "--format", "csv"]);
    let out = command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("trainee,A1,A2,"), "{header}");
    assert!(header.ends_with(",passed,total,grade,done"), "{header}");
    let row = lines.next().unwrap();
    assert!(row.starts_with("user05,pass,"), "{row}");
    let columns = header.split(',').count();
    assert_eq!(row.split(',').count(), columns);
    let mut tail = row.rsplit(',');
    assert_eq!(tail.next(), Some("yes"), "user05 is done: {row}");
    assert_eq!(
        tail.next(),
        Some("100"),
        "a finished trainee's grade: {row}"
    );
    let total: usize = tail.next().unwrap().parse().unwrap();
    assert_eq!(total, columns - 5, "total is the number of (decidable) ids");

    let args = replayed(&["--param", "user=user05", "--format", "html"]);
    let out = command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .output()
        .unwrap();
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("\"trainee\":\"user05\""));
    for external in ["src=\"http", "href=\"http", "src=\"//", "<link", "@import"] {
        assert!(!html.contains(external), "no external asset: {external}");
    }
}

/// A running watch: its stdout lines and stderr.
struct Watch {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Watch {
    fn start(args: &[String]) -> Watch {
        let mut child = command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (etx, stderr) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = etx.send(line);
            }
        });
        Watch {
            child,
            lines,
            stderr,
        }
    }

    fn line(&self, within: Duration) -> String {
        self.lines
            .recv_timeout(within)
            .expect("a line from the watch")
    }

    fn wait(&mut self, within: Duration) -> i32 {
        let end = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < end, "the watch did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn interrupt(&self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const LONG: Duration = Duration::from_secs(60);

#[test]
fn jsonl_streams_one_report_per_cycle_and_for_ends_the_watch() {
    let args = replayed(&[
        "--param",
        "user=user05",
        "--watch",
        "5",
        "--for",
        "7s",
        "--format",
        "jsonl",
    ]);
    let started = Instant::now();
    let mut watch = Watch::start(&args);
    let first: Value = serde_json::from_str(&watch.line(LONG)).unwrap();
    let second: Value = serde_json::from_str(&watch.line(LONG)).unwrap();
    assert_eq!(watch.wait(LONG), 0, "the cassette is a finished Step 3");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "cycles are 5 s apart"
    );
    assert_eq!(
        (
            first["watch"]["cycle"].as_u64(),
            second["watch"]["cycle"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert!(
        watch.lines.try_recv().is_err(),
        "two cycles in 7 s, and no extra final line"
    );
    let a1 = &second["trainees"][0]["results"][0];
    assert_eq!(a1["id"], "A1");
    assert_eq!(a1["status"], "pass");
    assert_eq!(
        a1["first_passed"],
        first["trainees"][0]["results"][0]["first_passed"]
    );
    assert_eq!(a1["regressions"], 0);
    assert!(
        second["summary"]["replayed_calls"].as_u64().unwrap() > 0,
        "replayed every cycle"
    );
}

#[test]
fn ctrl_c_prints_the_final_report_and_state_resumes_after_a_restart() {
    let dir = tmp("state");
    let state = dir.join("class.state.json");
    let state_s = state.display().to_string();
    let args = replayed(&[
        "--param",
        "user=user05",
        "--watch",
        "5",
        "--format",
        "json",
        "--state",
        &state_s,
    ]);
    let mut watch = Watch::start(&args);
    let end = Instant::now() + LONG;
    while !state.exists() {
        assert!(Instant::now() < end, "the first cycle writes the state");
        std::thread::sleep(Duration::from_millis(50));
    }
    watch.interrupt();
    assert_eq!(
        watch.wait(LONG),
        0,
        "the final report's code: a finished Step 3"
    );
    let mut text = String::new();
    while let Ok(line) = watch.lines.recv_timeout(Duration::from_secs(5)) {
        text.push_str(&line);
        text.push('\n');
    }
    let first: Value = serde_json::from_str(&text).expect("the final report is JSON");
    assert_eq!(first["watch"]["cycle"], 1);
    let passed = first["trainees"][0]["results"][0]["first_passed"].clone();
    assert!(passed.is_string());
    drop(watch);

    // Restarted: the history goes on from the file (cycle 2, same first pass).
    std::thread::sleep(Duration::from_millis(1100));
    let args = replayed(&[
        "--param",
        "user=user05",
        "--watch",
        "5",
        "--for",
        "2s",
        "--format",
        "json",
        "--state",
        &state_s,
    ]);
    let out = command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .output()
        .unwrap();
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["watch"]["cycle"], 2);
    assert_eq!(second["trainees"][0]["results"][0]["first_passed"], passed);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "only the state file, no temporary"
    );
}

/// GET `path` from `addr` over HTTP/1.1; the status code and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[test]
fn the_dashboard_serves_page_report_events_and_health_and_needs_its_token() {
    let args = replayed(&[
        "--param",
        "user=user05",
        "--watch",
        "5",
        "--format",
        "json",
        "--serve",
        "127.0.0.1:0",
        "--serve-token",
        "s3cret",
    ]);
    let watch = Watch::start(&args);
    let line = watch.stderr.recv_timeout(LONG).unwrap();
    let url = line
        .strip_prefix("labrun: dashboard on http://")
        .expect(&line);
    let addr = url.split('/').next().unwrap().to_string();
    assert_eq!(get(&addr, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(get(&addr, "/").0, 401, "no token, no page");
    assert_eq!(get(&addr, "/api/report?token=wrong").0, 401);
    let end = Instant::now() + LONG;
    let report = loop {
        let (code, body) = get(&addr, "/api/report?token=s3cret");
        if code == 200 {
            break body;
        }
        assert_eq!(code, 503, "before the first cycle");
        assert!(Instant::now() < end);
        std::thread::sleep(Duration::from_millis(100));
    };
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["trainees"][0]["trainee"], "user05");
    assert_eq!(report["step"], "step3");
    let (code, page) = get(&addr, "/?token=s3cret");
    assert_eq!(code, 200);
    assert!(page.contains("\"live\":true") && page.contains("EventSource"));
    // The event stream starts with the current cycle.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /api/events?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 65536];
    while !seen.contains("\ndata: {") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("text/event-stream"));
    assert!(seen.contains("event: report"));
    watch.interrupt();
}

// --- issue 23: hardening II -------------------------------------------------------

#[test]
fn a_state_file_behind_a_symlink_is_updated_and_the_link_kept() {
    let dir = tmp("state-link");
    let real = dir.join("real.state.json");
    let link = dir.join("link.state.json");
    std::os::unix::fs::symlink("real.state.json", &link).unwrap();
    let link_s = link.display().to_string();
    let run = |for_: &str| {
        let args = replayed(&[
            "--param",
            "user=user05",
            "--watch",
            "5",
            "--for",
            for_,
            "--format",
            "json",
            "--state",
            &link_s,
        ]);
        command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .output()
            .unwrap()
    };
    let out = run("1s");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    assert_eq!(saved["cycles"], 1);
    // Resumed through the link: the real file goes on.
    let out = run("1s");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["watch"]["cycle"], 2);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    assert_eq!(saved["cycles"], 2);
    // A state file that is a fifo is refused at once, never waited on.
    let fifo = dir.join("fifo.state.json");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fifo_s = fifo.display().to_string();
    assert_bad_input(
        &[
            STEP,
            "--replay",
            CASSETTE,
            "--param",
            "user=user05",
            "--watch",
            "5",
            "--state",
            &fifo_s,
        ],
        "it is a fifo (named pipe), not a regular file",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_watch_whose_reader_went_away_stops_with_exit_2() {
    let args = replayed(&[
        "--param",
        "user=user05",
        "--watch",
        "5",
        "--format",
        "jsonl",
    ]);
    let mut child = command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -c1`: one byte read, then the pipe closed.
    let mut out = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    out.read_exact(&mut byte).unwrap();
    drop(out);
    let end = Instant::now() + LONG;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the watch kept polling with nobody reading");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("broken pipe") && err.contains("the watch stops"),
        "{err}"
    );
}

/// A TCP endpoint that accepts and never answers: AWS as slow as it gets.
fn silent_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            open.push(stream);
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_signal_mid_cycle_stops_the_running_steps_without_a_panic() {
    let endpoint = silent_endpoint();
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGINT, libc::SIGTERM] {
        let mut cmd = command(&[
            STEP,
            "--trainees",
            "user01..user04",
            "--watch",
            "5",
            "--format",
            "json",
        ]);
        cmd.env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "ap-northeast-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // Every step is waiting on AWS by now.
        std::thread::sleep(Duration::from_millis(1500));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, signal) };
        let end = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > end {
                let _ = child.kill();
                panic!("the watch did not stop on signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
        assert_eq!(status.code(), Some(2), "{err}");
        assert!(
            err.contains("stopped before the first cycle finished"),
            "{err}"
        );
    }
}

#[test]
fn an_explicit_serve_token_is_never_printed_and_must_be_url_safe() {
    let args = replayed(&[
        "--param",
        "user=user05",
        "--watch",
        "5",
        "--format",
        "json",
        "--serve",
        "127.0.0.1:0",
        "--serve-token",
        "Sup3rSecretToken",
    ]);
    let watch = Watch::start(&args);
    let line = watch.stderr.recv_timeout(LONG).unwrap();
    assert!(
        line.starts_with("labrun: dashboard on http://127.0.0.1:"),
        "{line}"
    );
    assert!(!line.contains("Sup3rSecretToken"), "{line}");
    assert!(
        line.contains("?token=… (the token given with --serve-token)"),
        "{line}"
    );
    watch.interrupt();
    drop(watch);
    for token in ["tok\x1b]0;x\x07en", "tok en", "a&b"] {
        let out = labrun(&[
            STEP,
            "--replay",
            CASSETTE,
            "--param",
            "user=user05",
            "--watch",
            "5",
            "--serve",
            "127.0.0.1:0",
            "--serve-token",
            token,
        ]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(64), "{err}");
        assert!(err.contains("(the token is not shown)"), "{err}");
        assert!(!err.contains(token) && !err.contains('\x1b'), "{err}");
    }
}
