//! Step front-ends, timed: the step3 plugin (cold compile, cached load, instantiate +
//! run on the shipped cassette) against `scripts/step3.rhai` on the same cassette.
//! Plain `Instant` timing, a table on stdout; not a test.
//!
//!     (cd plugins && cargo build --target wasm32-wasip2 --release)
//!     LABRUN_STEP3_WASM=plugins/target/wasm32-wasip2/release/step3.wasm \
//!         cargo bench -p labrun --bench steps
//!
//! `LABRUN_BENCH_ITERS` sets the iterations (default 20; cold compiles: a quarter).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use labrun::caps::{Cassette, Hub};
use labrun::gate::{Gate, StepId};
use labrun::policy::{Policy, Trust};
use labrun::step::rhai::RhaiStep;
use labrun::step::wasm::{self, Grants, WasmStep};
use labrun::step::{Limits, RunContext};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

fn step3_wasm() -> PathBuf {
    if let Some(p) = std::env::var_os("LABRUN_STEP3_WASM") {
        return PathBuf::from(p);
    }
    let default = root().join("plugins/target/wasm32-wasip2/release/step3.wasm");
    if !default.is_file() {
        eprintln!(
            "no step3.wasm: build plugins/ (cargo build --target wasm32-wasip2 --release) \
             or set LABRUN_STEP3_WASM"
        );
        std::process::exit(2);
    }
    default
}

struct Row {
    what: &'static str,
    samples: Vec<Duration>,
}

impl Row {
    fn print(&self) {
        let mut s = self.samples.clone();
        s.sort();
        let median = s[s.len() / 2];
        let min = s[0];
        let max = s[s.len() - 1];
        println!(
            "| {:<46} | {:>5} | {:>10} | {:>10} | {:>10} |",
            self.what,
            s.len(),
            fmt(median),
            fmt(min),
            fmt(max)
        );
    }
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let iters: usize = std::env::var("LABRUN_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .max(4);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let wasm_path = step3_wasm();
    let script = root().join("scripts/step3.rhai");
    let cassette_path = root().join("examples/step3-user05.cassette.json");
    let cassette = Cassette::load(&cassette_path).expect("cassette");
    let limits = Limits::default();
    let grants = Grants::all();
    let scratch = std::env::temp_dir().join(format!("labrun-bench-{}", std::process::id()));

    let mut rows = Vec::new();

    // Cold: a fresh cache dir each time, so Cranelift compiles the whole component.
    let mut k = 0;
    rows.push(Row {
        what: "wasm: cold compile (Cranelift, cache miss)",
        samples: time((iters / 4).max(3), || {
            k += 1;
            std::env::set_var("LABRUN_CACHE_DIR", scratch.join(format!("cold-{k}")));
            let (_, _, source) = wasm::compile(&wasm_path).expect("compile");
            assert_eq!(source, wasm::Source::Compiled);
        }),
    });
    std::env::set_var("LABRUN_CACHE_DIR", scratch.join("warm"));
    wasm::compile(&wasm_path).expect("compile");
    rows.push(Row {
        what: "wasm: cached load (HMAC check + deserialize)",
        samples: time(iters, || {
            let (_, _, source) = wasm::compile(&wasm_path).expect("compile");
            assert_eq!(source, wasm::Source::Cached);
        }),
    });
    rows.push(Row {
        what: "wasm: load step (cached + link + describe)",
        samples: time(iters, || {
            rt.block_on(WasmStep::load(&wasm_path, &limits, &grants))
                .expect("load")
        }),
    });
    let wasm_step = Arc::new(
        rt.block_on(WasmStep::load(&wasm_path, &limits, &grants))
            .expect("load"),
    );
    let policy = Arc::new(Policy::preset(Trust::Instructor));
    let ctx = |hub: Arc<Hub>| RunContext {
        gate: Arc::new(Gate::new(
            hub.clone(),
            policy.clone(),
            "user05".into(),
            StepId {
                name: "step3".into(),
                sha256: String::new(),
            },
            None,
        )),
        hub,
        trainee: "user05".into(),
        params: [("user".to_string(), "user05".to_string())].into(),
        limits: limits.clone(),
    };
    let hubs = || Arc::new(Hub::replay(cassette.clone()));
    rows.push(Row {
        what: "wasm: instantiate + run step3 on the cassette",
        samples: time(iters, || {
            let report = rt.block_on(wasm_step.clone().run(ctx(hubs())));
            assert_eq!(report.results.len(), 18);
        }),
    });
    rows.push(Row {
        what: "rhai: load step (compile + describe)",
        samples: time(iters, || RhaiStep::load(&script, &limits).expect("load")),
    });
    let rhai_step = Arc::new(RhaiStep::load(&script, &limits).expect("load"));
    rows.push(Row {
        what: "rhai: run step3.rhai on the cassette",
        samples: time(iters, || {
            let report = rt.block_on(rhai_step.clone().run(ctx(hubs())));
            assert_eq!(report.results.len(), 18);
        }),
    });
    let _ = std::fs::remove_dir_all(&scratch);

    println!(
        "step3 on examples/step3-user05.cassette.json ({} bytes of component)",
        std::fs::metadata(&wasm_path).map(|m| m.len()).unwrap_or(0)
    );
    println!(
        "| {:<46} | {:>5} | {:>10} | {:>10} | {:>10} |",
        "what", "n", "median", "min", "max"
    );
    println!(
        "|{:-<48}|{:->7}|{:->12}|{:->12}|{:->12}|",
        "", "", "", "", ""
    );
    for r in &rows {
        r.print();
    }
}
