//! A long watch does not grow: the watch loop's own cycle (plan once, then
//! [`Class::cycle`] and [`watch::fold`] into one history, each snapshot published to a
//! running dashboard) over the shipped cassette, 500 times in one process. Resident
//! memory (`VmRSS` from `/proc/self/status`) after 5 cycles vs after 500. Not a test:
//! a table on stdout.
//!
//!     cargo bench -p labrun --bench watch
//!
//! `LABRUN_BENCH_CYCLES` sets the long run (default 500).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use labrun::flags::Flags;
use labrun::history::now_ms;
use labrun::serve::Dashboard;
use labrun::watch::{self, Class};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Resident memory of this process, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let long: u64 = std::env::var("LABRUN_BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        std::env::set_current_dir(root()).unwrap();
        let flags = Flags::try_parse_from([
            "labrun",
            "scripts/step3.rhai",
            "--param",
            "user=user05",
            "--replay",
            "examples/step3-user05.cassette.json",
            "--watch",
            "5",
            "--format",
            "jsonl",
            "--serve",
            "127.0.0.1:0",
        ])
        .expect("flags");
        let plan = labrun::plan::plan(&flags).await.expect("plan");
        let mut wplan = labrun::plan::live::watch(&flags, &plan)
            .expect("watch flags")
            .expect("a watch");
        let lang = plan.outputs.style.lang;
        let dashboard = Dashboard::start(
            wplan.serve.take().expect("--serve"),
            lang,
            Default::default(),
            None,
        )
        .expect("dashboard");
        let class = Class::new(plan);
        let mut history = std::mem::take(&mut wplan.history);
        let mut broken = Default::default();
        let mut rows = Vec::new();
        let started = Instant::now();
        for n in 1..=long {
            let executed = class.cycle().await;
            let cycle = watch::fold(&executed, &mut history, &mut broken, &wplan, now_ms());
            dashboard.publish(cycle.snapshot);
            if n == 5 || n == long {
                rows.push((n, rss_kib(), started.elapsed()));
            }
        }
        println!("| cycles | RSS | vs 5 cycles | wall time |");
        println!("|---|---|---|---|");
        let base = rows[0].1.max(1) as f64;
        for (n, rss, took) in rows {
            println!(
                "| {n} | {:.1} MiB | {:.2}× | {:.2} s |",
                rss as f64 / 1024.0,
                rss as f64 / base,
                took.as_secs_f64()
            );
        }
    });
}
