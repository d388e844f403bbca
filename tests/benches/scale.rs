//! A class whose cost grows with the class (issue 20), measured against the real parts
//! (not a test; tables on stdout). Build labrun in release first; every number comes
//! from one run, with the peers in the same run:
//!
//! 1. Step 3 for a class of 1, 10, 40 and 200 finished trainees, each class alone in
//!    its own moto account, at 0 and 30 ms added per AWS request: labrun (one run,
//!    AWS only: the policy grants nothing else) beside `step3_boto3.py`, the
//!    sequential boto3 script that checks the same eleven AWS outcomes one call after
//!    another. labrun's wall time, CPU time per trainee, AWS calls; moto sits behind a
//!    proxy that enforces EC2's documented token bucket for every API (100 tokens, 20
//!    per second) and counts what it throttles.
//! 2. Each class again, replayed from the cassette of its live run: CPU per trainee
//!    with no network at all.
//! 3. The class of 40 at 30 ms with every third request throttled, beside the same
//!    run unthrottled: wall time, and whether every verdict is the same.
//!
//! Each class is built and measured before the next is built; each row goes to
//! stderr as soon as it is measured, and the tables to stdout at the end. Run it so
//! (the harness only forwards bytes and waits, so a dev build of it will do):
//!
//! ```sh
//! cargo build --release -p labrun
//! LABRUN_BIN=target/release/labrun LABRUN_MOTO_URL=http://127.0.0.1:PORT \
//!     cargo bench --profile dev -p labrun-tests --bench scale
//! ```
//!
//! (a moto 5.2.5 server as `tests/run` starts one, and its venv's python with boto3 at
//! `LABRUN_VENV`, default /var/cache/labrun-venv). `LABRUN_BENCH_SIZES=1,10,40`
//! measures other class sizes; `LABRUN_BENCH_PEER_UP_TO=40` runs the boto3 peer only
//! for classes up to 40 (moto filters every request over the whole account in Python,
//! so the sequential peer's 2,800 calls for 200 trainees take tens of minutes).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use labrun_tests::faults::{Fault, FaultProxy};
use labrun_tests::{Broken, TestAccount, World};
use serde_json::Value;

const LATENCY: Duration = Duration::from_millis(30);
const STEP: &str = "scripts/step3.rhai";

/// CPU time (user + system) of this process's waited-for children so far.
fn children_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One measured process: its wall time, CPU time and stdout.
struct Measured {
    wall: Duration,
    cpu: Duration,
    stdout: String,
    stderr: String,
}

fn measure(mut cmd: Command) -> Measured {
    cmd.stdin(Stdio::null());
    let cpu = children_cpu();
    let started = Instant::now();
    let out = cmd.output().expect("the command runs");
    let wall = started.elapsed();
    Measured {
        wall,
        cpu: children_cpu().saturating_sub(cpu),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Step 3 for `trainees` of `acct`, AWS only, through `endpoint`.
fn labrun(acct: &TestAccount, n: usize, endpoint: &str, extra: &[&str]) -> (Measured, Value) {
    let policy = std::env::temp_dir().join(format!("labrun-scale-{}.toml", std::process::id()));
    std::fs::write(&policy, "trust = \"instructor\"\n[grants]\naws = [\"*\"]\n").unwrap();
    let mut cmd = acct.labrun();
    cmd.args([
        STEP,
        "--trainees",
        &format!("user001..user{n:03}"),
        "--format",
        "json",
        "--lang",
        "en",
        "--jobs",
        "64",
        "--policy",
    ])
    .arg(&policy)
    .args(extra)
    .env("AWS_ENDPOINT_URL", endpoint);
    let m = measure(cmd);
    let report: Value = serde_json::from_str(&m.stdout)
        .unwrap_or_else(|e| panic!("labrun gave no report ({e}):\n{}\n{}", m.stdout, m.stderr));
    (m, report)
}

/// The boto3 peer over the same class.
fn boto3(acct: &TestAccount, n: usize, endpoint: &str) -> (Measured, Value) {
    let venv = std::env::var("LABRUN_VENV").unwrap_or_else(|_| "/var/cache/labrun-venv".into());
    let mut cmd = acct.labrun();
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_DEFAULT_REGION", "ap-northeast-1");
    let env: Vec<(String, String)> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .collect();
    let mut py = Command::new(format!("{venv}/bin/python"));
    py.env_clear()
        .envs(env)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/step3_boto3.py"
        ))
        .args((1..=n).map(|i| format!("user{i:03}")));
    let m = measure(py);
    let v: Value = serde_json::from_str(m.stdout.trim())
        .unwrap_or_else(|e| panic!("boto3 script: {e}\n{}\n{}", m.stdout, m.stderr));
    (m, v)
}

/// (trainee, id) → status.
fn verdicts(report: &Value) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for t in report["trainees"].as_array().into_iter().flatten() {
        for r in t["results"].as_array().into_iter().flatten() {
            out.insert(
                (
                    t["trainee"].as_str().unwrap_or("").into(),
                    r["id"].as_str().unwrap_or("").into(),
                ),
                r["status"].as_str().unwrap_or("").to_string(),
            );
        }
    }
    out
}

fn passed(report: &Value) -> u64 {
    report["summary"]["pass"].as_u64().unwrap_or(0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A table row, printed to stderr at once (a long run shows its progress, and a run
/// cut short keeps what it measured) and kept for the tables on stdout.
fn row(table: &mut Vec<String>, line: String) {
    eprintln!("{line}");
    table.push(line);
}

fn main() {
    let sizes: Vec<usize> = std::env::var("LABRUN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 10, 40, 200]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let peer_up_to: usize = std::env::var("LABRUN_BENCH_PEER_UP_TO")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(usize::MAX);
    let moto = labrun_tests::moto_url();
    let upstream = moto.trim_start_matches("http://").to_string();

    let (mut live, mut replayed, mut throttled_rows) = (Vec::new(), Vec::new(), Vec::new());
    let mut cpu_per_trainee = BTreeMap::new();
    for &n in &sizes {
        // Each class in its own account, holding exactly that class.
        let acct = runtime.block_on(TestAccount::new());
        let ids: Vec<String> = (1..=n).map(|i| format!("user{i:03}")).collect();
        let worlds: Vec<(&str, Broken)> = ids.iter().map(|t| (t.as_str(), Broken::None)).collect();
        let built = Instant::now();
        // A few at a time: moto is one process.
        for chunk in worlds.chunks(20) {
            runtime.block_on(World::build_each(&acct, chunk));
        }
        eprintln!(
            "{n} worlds built in moto in {:.1} s",
            built.elapsed().as_secs_f64()
        );

        let record = std::env::temp_dir().join(format!("labrun-scale-{n}.cassette.json"));
        let record = record.display().to_string();
        let mut unthrottled = None;
        for latency in [Duration::ZERO, LATENCY] {
            let proxy = runtime.block_on(FaultProxy::buckets(&upstream, 100.0, 20.0, latency));
            let extra: &[&str] = if latency.is_zero() {
                &["--record", &record]
            } else {
                &[]
            };
            let (m, report) = labrun(&acct, n, &proxy.url(), extra);
            let throttled = proxy.count(Fault::Throttle);
            let calls = report["summary"]["aws_calls"].as_u64().unwrap_or(0);
            assert_eq!(
                passed(&report),
                11 * n as u64,
                "every AWS outcome passes:\n{}",
                m.stderr
            );
            let peer = (n <= peer_up_to).then(|| {
                let proxy = runtime.block_on(FaultProxy::buckets(&upstream, 100.0, 20.0, latency));
                let (peer, out) = boto3(&acct, n, &proxy.url());
                (
                    format!(
                        "{} ({} calls, {} pass)",
                        secs(peer.wall),
                        out["calls"],
                        out["pass"]
                    ),
                    format!(
                        "{:.1}× faster",
                        peer.wall.as_secs_f64() / m.wall.as_secs_f64()
                    ),
                )
            });
            let (peer, ratio) = peer.unwrap_or_else(|| ("not run".into(), "—".into()));
            let per = m.cpu / n as u32;
            if latency.is_zero() {
                cpu_per_trainee.insert(n, per);
            } else {
                unthrottled = Some((m.wall, verdicts(&report)));
            }
            row(
                &mut live,
                format!(
                    "| {n} | {} ms | {} | {} | {calls} ({}) | {throttled} | {peer} | {ratio} |",
                    latency.as_millis(),
                    secs(m.wall),
                    ms(per),
                    11 + 2 * n,
                ),
            );
        }

        let (m, report) = labrun(&acct, n, "http://127.0.0.1:9", &["--replay", &record]);
        assert_eq!(passed(&report), 11 * n as u64, "{}", m.stderr);
        row(
            &mut replayed,
            format!("| {n} | {} | {} |", secs(m.wall), ms(m.cpu / n as u32)),
        );
        let _ = std::fs::remove_file(&record);

        if let (40, Some((clean_wall, clean))) = (n, unthrottled) {
            let proxy = runtime.block_on(FaultProxy::every(&upstream, 3, Fault::Throttle, LATENCY));
            let (m, report) = labrun(&acct, n, &proxy.url(), &[]);
            let same = verdicts(&report) == clean;
            row(
                &mut throttled_rows,
                format!("| unthrottled | {} | 0 | — |", secs(clean_wall)),
            );
            row(
                &mut throttled_rows,
                format!(
                    "| 1 in 3 throttled | {} ({:.1}×) | {} | {} |",
                    secs(m.wall),
                    m.wall.as_secs_f64() / clean_wall.as_secs_f64(),
                    report["summary"]["aws_throttled"],
                    if same { "unchanged" } else { "CHANGED" }
                ),
            );
        }
    }

    println!("\n### A class of N in one account (release build; one run each)\n");
    println!("| trainees | added latency | labrun wall | labrun CPU per trainee | AWS calls (11 + 2N) | throttled by the EC2-bucket proxy | boto3 script wall | labrun vs boto3 |");
    println!("|---|---|---|---|---|---|---|---|");
    live.iter().for_each(|l| println!("{l}"));
    if let (Some(small), Some(big)) = (cpu_per_trainee.get(&10), cpu_per_trainee.iter().next_back())
    {
        println!(
            "\nCPU per trainee at {} trainees is {:.2}× that at 10 (0 ms latency).",
            big.0,
            big.1.as_secs_f64() / small.as_secs_f64()
        );
    }
    println!("\n### Replayed from the live run's cassette (no network)\n");
    println!("| trainees | wall | CPU per trainee |");
    println!("|---|---|---|");
    replayed.iter().for_each(|l| println!("{l}"));
    if !throttled_rows.is_empty() {
        println!("\n### Every third AWS request throttled (40 trainees, 30 ms)\n");
        println!("| cycle | wall | throttling answers | verdicts |");
        println!("|---|---|---|---|");
        throttled_rows.iter().for_each(|l| println!("{l}"));
    }
}
