//! Hostile steps, measured: wall time and peak RSS of the labrun process for the worst
//! case of each kind (request amplification, denial flood, outcome flood), beside the
//! honest step3 run, all on the shipped cassette with no network. Each case is its
//! own labrun process (peak RSS from `wait4`), so the numbers compare as ratios of one
//! run on one machine. A table on stdout; not a test.
//!
//!     cargo build --release -p labrun
//!     LABRUN_BIN=$CARGO_TARGET_DIR/release/labrun \
//!     LABRUN_MISBEHAVE_WASM=…/misbehave.wasm \
//!         cargo bench -p labrun --bench hostile
//!
//! Without `LABRUN_BIN` it runs the binary cargo built for this bench target's
//! profile; without `LABRUN_MISBEHAVE_WASM` the WebAssembly rows are left out.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

fn labrun_bin() -> PathBuf {
    std::env::var_os("LABRUN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_labrun")))
}

/// One labrun process: its wall time, peak RSS (KiB) and exit code.
fn measure(args: &[String]) -> (Duration, i64, i32) {
    let started = Instant::now();
    let child = Command::new(labrun_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("labrun starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; the pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    std::mem::forget(child);
    (started.elapsed(), usage.ru_maxrss, code)
}

fn main() {
    let root = root();
    let cassette = root.join("examples/step3-user05.cassette.json");
    let arg = |p: PathBuf| p.to_string_lossy().into_owned();
    let base = |step: PathBuf, trust: &str| -> Vec<String> {
        vec![
            arg(step),
            "--param".into(),
            "user=user05".into(),
            "--replay".into(),
            arg(cassette.clone()),
            "--trust".into(),
            trust.into(),
            "--format".into(),
            "json".into(),
        ]
    };
    let adversarial = |name: &str| root.join(format!("tests/adversarial/{name}.rhai"));
    let mut cases: Vec<(String, Vec<String>)> = vec![
        (
            "honest: scripts/step3.rhai (instructor)".into(),
            base(root.join("scripts/step3.rhai"), "instructor"),
        ),
        (
            "rhai request amplification: 50 × 500 KB requests + 500 KB evidence".into(),
            base(adversarial("huge_request"), "untrusted"),
        ),
        (
            "rhai denial flood: denied calls in a tight loop".into(),
            base(adversarial("denial_flood"), "untrusted"),
        ),
        (
            "rhai outcome flood: 100,000 outcomes".into(),
            base(adversarial("outcome_flood"), "untrusted"),
        ),
    ];
    if let Some(wasm) = std::env::var_os("LABRUN_MISBEHAVE_WASM").map(PathBuf::from) {
        for (mode, what) in [
            (
                "bigrequest",
                "wasm request amplification: 20 × 256 KiB requests and evidence",
            ),
            ("denials", "wasm denial flood: 1,000,000 denied calls"),
            ("outcomes", "wasm outcome flood: 100,000 outcomes"),
        ] {
            let mut args = base(wasm.clone(), "untrusted");
            for param in [
                format!("mode={mode}"),
                "neighbour_tg=-".into(),
                "neighbour_endpoint=-".into(),
            ] {
                args.extend(["--param".to_string(), param]);
            }
            cases.push((what.into(), args));
        }
    }
    // All of them at once, one trainee each, in one class (one process).
    let class = std::env::temp_dir().join(format!("labrun-hostile-{}.toml", std::process::id()));
    let mut toml = String::new();
    for (i, name) in ["huge_request", "denial_flood", "outcome_flood"]
        .iter()
        .enumerate()
    {
        toml.push_str(&format!(
            "[[submission]]\ntrainee = \"user{:02}\"\nstep = \"{}\"\n\n",
            i + 1,
            adversarial(name).display()
        ));
    }
    std::fs::write(&class, toml).expect("class file");
    cases.push((
        "class: the three Rhai cases at once, one trainee each".into(),
        vec![
            arg(class.clone()),
            "--replay".into(),
            arg(cassette.clone()),
            "--trust".into(),
            "untrusted".into(),
            "--format".into(),
            "json".into(),
        ],
    ));
    // Warm the page cache and the component cache once.
    for (_, args) in &cases {
        measure(args);
    }
    let honest = measure(&cases[0].1);
    println!("| case | wall time | peak RSS | vs honest (time, RSS) | exit |");
    println!("|---|---|---|---|---|");
    for (what, args) in &cases {
        let (elapsed, rss, code) = measure(args);
        println!(
            "| {what} | {:.0} ms | {:.1} MiB | {:.1}×, {:.1}× | {code} |",
            elapsed.as_secs_f64() * 1000.0,
            rss as f64 / 1024.0,
            elapsed.as_secs_f64() / honest.0.as_secs_f64(),
            rss as f64 / honest.1 as f64,
        );
    }
}
