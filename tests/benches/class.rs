//! A class of forty, measured against the real parts (not a test; tables on stdout):
//!
//! 1. one watch cycle of `scripts/step3.rhai` for 40 trainees vs for 1, on moto behind
//!    a proxy that adds 30 ms to every AWS request: wall time of the cycle and its AWS
//!    calls (the summary's `aws_calls`);
//! 2. the dashboard's first paint with 40 trainees vs 1, in headless Chromium: from
//!    navigation to the first contentful paint, and to the full grid drawn;
//! 3. Check now: a trainee page's `POST /api/check` round trip (one trainee re-checked
//!    at once, folded in and answered) for one trainee of the class, and on the shipped
//!    cassette, beside the full cycle of the same watch.
//!
//! The probes (DNS, MySQL, HTTP) all go to a closed 127.0.0.1 port and fail at once:
//! this measures the AWS side and the page, not forty MariaDB servers.
//!
//!     LABRUN_MOTO_URL=http://127.0.0.1:PORT cargo bench -p labrun-tests --bench class
//!
//! (a moto 5.2.5 server as `tests/run` starts one; Debian `chromium` and
//! `chromium-driver`). `LABRUN_BENCH_TRAINEES` sets the class size (default 40);
//! `LABRUN_BENCH_PARTS` picks the parts, e.g. `check` or `cycle,paint` (default all).

use std::time::{Duration, Instant};

use labrun_tests::live::{http, trainee_links, Browser, FaultProxy, Watch};
use labrun_tests::{Broken, TestAccount, World};
use serde_json::Value;

const LATENCY: Duration = Duration::from_millis(30);
const CYCLE: Duration = Duration::from_secs(600);

/// The labrun arguments that send every probe to a closed port.
fn closed_network() -> Vec<String> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The listener is dropped: nothing listens there (TCP refused, UDP unreachable).
    vec![
        "--dns-server".into(),
        format!("127.0.0.1:{closed}"),
        "--connect-to".into(),
        format!("::127.0.0.1:{closed}"),
        "--probe-timeout".into(),
        "1".into(),
    ]
}

/// Starts a watch of `trainees`; returns it with its first cycle (jsonl) and how long
/// that cycle took by its own summary.
fn first_cycle(
    acct: &TestAccount,
    trainees: &str,
    proxy: &FaultProxy,
    serve: bool,
) -> (Watch, Value) {
    let mut cmd = acct.labrun();
    cmd.args([
        "scripts/step3.rhai",
        "--trainees",
        trainees,
        "--watch",
        "3600",
        "--format",
        "jsonl",
        "--lang",
        "en",
        // Every trainee at once: the cycle waits for AWS, not for a queue of trainees.
        "--jobs",
        "64",
    ])
    .args(closed_network())
    .env("AWS_ENDPOINT_URL", proxy.url());
    if serve {
        cmd.args(["--serve", "127.0.0.1:0"]);
    }
    let watch = Watch::start(cmd);
    let cycle = watch.cycle_where(CYCLE, |_| true);
    (watch, cycle)
}

fn dashboard_url(watch: &Watch) -> String {
    loop {
        let line = watch
            .stderr
            .recv_timeout(CYCLE)
            .expect("the dashboard URL on stderr");
        if let Some(url) = line.strip_prefix("labrun: dashboard on ") {
            return url.to_string();
        }
    }
}

/// Milliseconds from navigation to first contentful paint, and to every cell drawn.
fn first_paint(browser: &Browser, url: &str, cells: usize) -> (f64, f64) {
    browser.goto("about:blank").unwrap();
    let start = Instant::now();
    browser.goto(url).unwrap();
    let script =
        format!("return document.querySelectorAll('td.cell[data-status]').length >= {cells};");
    while browser.eval(&script).unwrap() != Value::Bool(true) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the grid never drew"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let drawn = start.elapsed().as_secs_f64() * 1000.0;
    let fcp = browser
        .eval(
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; \
             return p ? p.startTime : null;",
        )
        .unwrap()
        .as_f64()
        .unwrap_or(f64::NAN);
    (fcp, drawn)
}

/// A watch that serves trainee links: its first cycle's own time (ms), and the round
/// trip of a Check now for each of `trainees` (pressed one after the other, `gap`
/// apart: Check now is taken once per 15 s per trainee).
fn check_now(mut cmd: std::process::Command, trainees: &[&str], gap: Duration) -> (u64, Vec<f64>) {
    let dir = std::env::temp_dir().join(format!(
        "labrun-bench-checknow-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let links = dir.join("links.csv");
    cmd.args([
        "--watch",
        "3600",
        "--format",
        "jsonl",
        "--lang",
        "en",
        "--serve",
        "127.0.0.1:0",
    ])
    .arg("--trainee-links")
    .arg(&links);
    let watch = Watch::start(cmd);
    let cycle = watch.cycle_where(CYCLE, |_| true);
    let cycle_ms = cycle["summary"]["elapsed_ms"].as_u64().unwrap_or(0);
    let links = trainee_links(&links);
    let mut took = Vec::new();
    for (i, t) in trainees.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(gap);
        }
        let url = &links.iter().find(|(n, _)| n == t).expect("a link").1;
        let check = url.replacen("/me?", "/api/check?", 1);
        let started = Instant::now();
        let (code, body) = http("POST", &check, None).unwrap();
        assert_eq!(code, 200, "{body}");
        took.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    watch.interrupt();
    let _ = std::fs::remove_dir_all(&dir);
    (cycle_ms, took)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::var("LABRUN_BENCH_TRAINEES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let parts = std::env::var("LABRUN_BENCH_PARTS").unwrap_or_default();
    let part = |name: &str| parts.is_empty() || parts.split(',').any(|p| p.trim() == name);
    let acct = runtime.block_on(TestAccount::new());
    let ids: Vec<String> = (1..=n).map(|i| format!("user{i:02}")).collect();
    let built = Instant::now();
    let worlds: Vec<(&str, Broken)> = ids.iter().map(|t| (t.as_str(), Broken::None)).collect();
    let worlds = runtime.block_on(World::build_each(&acct, &worlds));
    eprintln!(
        "{} worlds built in moto in {:.1} s",
        worlds.len(),
        built.elapsed().as_secs_f64()
    );
    let moto = labrun_tests::moto_url();
    let proxy = runtime.block_on(FaultProxy::latency(
        moto.trim_start_matches("http://"),
        LATENCY,
    ));
    let class = format!("user01..user{n:02}");

    // 1. A cycle of one trainee, then of the class.
    let mut rows = Vec::new();
    for (label, trainees) in [("1 trainee", "user01"), ("class", class.as_str())] {
        if !part("cycle") {
            break;
        }
        let started = Instant::now();
        let (watch, cycle) = first_cycle(&acct, trainees, &proxy, false);
        let wall = started.elapsed();
        drop(watch);
        let calls = cycle["summary"]["aws_calls"].as_u64().unwrap_or(0);
        let elapsed = cycle["summary"]["elapsed_ms"].as_u64().unwrap_or(0);
        let passed = cycle["summary"]["pass"].as_u64().unwrap_or(0);
        rows.push((label, trainees.to_string(), elapsed, wall, calls, passed));
    }
    if !rows.is_empty() {
        println!(
            "\n### One watch cycle, moto behind {} ms per AWS request\n",
            LATENCY.as_millis()
        );
        println!("| trainees | cycle (summary) | process wall time | AWS calls | passed outcomes | vs 1 trainee (cycle time, AWS calls) |");
        println!("|---|---|---|---|---|---|");
        let (base_ms, base_calls) = (rows[0].2.max(1) as f64, rows[0].4.max(1) as f64);
        for (label, trainees, elapsed, wall, calls, passed) in &rows {
            println!(
            "| {label} ({trainees}) | {elapsed} ms | {:.2} s | {calls} | {passed} | {:.2}×, {:.2}× |",
            wall.as_secs_f64(),
            *elapsed as f64 / base_ms,
            *calls as f64 / base_calls,
        );
        }
    }

    // 2. The dashboard's first paint.
    let mut paints = Vec::new();
    let browser = part("paint").then(|| Browser::start().unwrap_or_else(|e| panic!("{e:#}")));
    for (label, trainees, count) in [("1 trainee", "user01", 1), ("class", class.as_str(), n)] {
        let Some(browser) = &browser else { break };
        let (watch, cycle) = first_cycle(&acct, trainees, &proxy, true);
        let url = dashboard_url(&watch);
        let ids = cycle["trainees"][0]["results"]
            .as_array()
            .map_or(0, Vec::len);
        // Warm-up load (Chromium's own start), then the median of 5.
        let _ = first_paint(browser, &url, count * ids);
        let mut runs: Vec<(f64, f64)> = (0..5)
            .map(|_| first_paint(browser, &url, count * ids))
            .collect();
        runs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (fcp, drawn) = runs[runs.len() / 2];
        paints.push((label, trainees.to_string(), count * ids, fcp, drawn));
        watch.interrupt();
    }
    // 3. Check now beside the full cycle.
    let mut checks = Vec::new();
    if part("check") {
        let mut cmd = acct.labrun();
        cmd.args(["scripts/step3.rhai", "--trainees", &class, "--jobs", "64"])
            .args(closed_network())
            .env("AWS_ENDPOINT_URL", proxy.url());
        let picks = ["user01", "user20", "user40"];
        let picks: Vec<&str> = picks
            .into_iter()
            .filter(|t| ids.iter().any(|i| i == t))
            .collect();
        let (cycle_ms, took) = check_now(cmd, &picks, Duration::ZERO);
        checks.push((
            format!(
                "one trainee of the class ({class}), moto +{} ms",
                LATENCY.as_millis()
            ),
            cycle_ms,
            median(took),
        ));
        let mut cmd = std::process::Command::new(labrun_tests::labrun_bin());
        cmd.current_dir(labrun_tests::workspace_root()).args([
            "scripts/step3.rhai",
            "--param",
            "user=user05",
            "--replay",
            "examples/step3-user05.cassette.json",
        ]);
        let (cycle_ms, took) = check_now(
            cmd,
            &["user05", "user05", "user05"],
            Duration::from_secs(16),
        );
        checks.push((
            "the shipped cassette (user05, replayed)".to_string(),
            cycle_ms,
            median(took),
        ));
    }

    if !paints.is_empty() {
        println!("\n### Dashboard first paint (headless Chromium, median of 5 loads)\n");
        println!(
            "| trainees | cells | first contentful paint | grid drawn | vs 1 trainee (FCP, grid) |"
        );
        println!("|---|---|---|---|---|");
        let (base_fcp, base_drawn) = (paints[0].3, paints[0].4);
        for (label, trainees, cells, fcp, drawn) in &paints {
            println!(
                "| {label} ({trainees}) | {cells} | {fcp:.0} ms | {drawn:.0} ms | {:.2}×, {:.2}× |",
                fcp / base_fcp,
                drawn / base_drawn
            );
        }
    }
    if checks.is_empty() {
        return;
    }
    println!("\n### Check now (POST /api/check round trip, median of 3) beside the full cycle\n");
    println!("| run | full cycle (summary) | Check now | vs the cycle |");
    println!("|---|---|---|---|");
    for (label, cycle_ms, took) in &checks {
        println!(
            "| {label} | {cycle_ms} ms | {took:.0} ms | {:.2}× |",
            took / (*cycle_ms).max(1) as f64
        );
    }
}
