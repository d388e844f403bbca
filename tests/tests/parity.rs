//! Parity: the Step-3 script and the Step-3 plugin give the same verdicts.
//!
//! Both read their words from `scripts/step3.messages.toml` (the component embeds it).
//! Every `Broken` variant is built in moto (one account, one trainee per variant, with
//! its network served on 127.0.0.1), then `scripts/step3.rhai` and the step3 component
//! (`$LABRUN_STEP3_WASM`, built by tests/run) each check all trainees in one run;
//! ids, statuses and messages must be identical.

use std::path::PathBuf;
use std::time::Duration;

use labrun_tests::{run_labrun, Broken, ProbeBroken, ProbeEnv, TestAccount, World};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(300);

/// The step3 component built by tests/run.
fn step3_wasm() -> PathBuf {
    let path = std::env::var_os("LABRUN_STEP3_WASM").unwrap_or_else(|| {
        panic!(
            "LABRUN_STEP3_WASM is not set: run the tests via tests/run, which builds \
             plugins/ (cargo build --target wasm32-wasip2 --release) and exports it"
        )
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "LABRUN_STEP3_WASM={} does not exist: build plugins/ first (tests/run does)",
        path.display()
    );
    path
}

/// (id, status, en, ja) of every row of one trainee.
fn rows(report: &Value, trainee: &str) -> Vec<(String, String, String, String)> {
    let t = report["trainees"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["trainee"] == trainee))
        .unwrap_or_else(|| panic!("no trainee {trainee} in the report"));
    t["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                s(&r["id"]),
                s(&r["status"]),
                s(&r["message"]["en"]),
                s(&r["message"]["ja"]),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_and_plugin_agree_on_every_scenario() {
    let wasm = step3_wasm();
    let acct = TestAccount::new().await;
    let trainees: Vec<String> = (1..=Broken::ALL.len())
        .map(|i| format!("user{i:02}"))
        .collect();
    // A few worlds at a time: moto serves them all, but not all at once quickly.
    let mut worlds = Vec::new();
    for chunk in Broken::ALL
        .iter()
        .zip(&trainees)
        .collect::<Vec<_>>()
        .chunks(4)
    {
        let built = futures::future::join_all(
            chunk
                .iter()
                .map(|(broken, trainee)| World::build(&acct, trainee, **broken)),
        )
        .await;
        for w in built {
            worlds.push(w.unwrap_or_else(|e| panic!("{e:#}")));
        }
    }
    let pairs: Vec<(&World, ProbeBroken)> = worlds.iter().map(|w| (w, ProbeBroken::None)).collect();
    let env = ProbeEnv::start(&pairs)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let cache = tempdir("parity-cache");

    let run = |step: &str| {
        let mut cmd = acct.labrun();
        cmd.env("LABRUN_CACHE_DIR", &cache);
        cmd.arg(step).args(env.args());
        for t in &trainees {
            cmd.args(["--trainee", t]);
        }
        cmd.args(["--format", "json"]);
        run_labrun(cmd, TIMEOUT)
    };
    let script = run("scripts/step3.rhai");
    let plugin = run(wasm.to_str().expect("utf-8 path"));
    let (script_report, plugin_report) = (script.report().0, plugin.report().0);

    for (broken, trainee) in Broken::ALL.iter().zip(&trainees) {
        let s = rows(&script_report, trainee);
        let p = rows(&plugin_report, trainee);
        let ids = |r: &[(String, String, String, String)]| -> Vec<(String, String)> {
            r.iter().map(|x| (x.0.clone(), x.1.clone())).collect()
        };
        assert_eq!(
            ids(&p),
            ids(&s),
            "Broken::{broken:?} ({trainee}): the plugin's ids/statuses differ from the script's"
        );
        assert_eq!(
            p, s,
            "Broken::{broken:?} ({trainee}): the plugin's messages differ from the script's"
        );
    }
    assert_eq!(
        plugin.code, script.code,
        "exit codes differ\n--- plugin stderr ---\n{}\n--- script stderr ---\n{}",
        plugin.stderr, script.stderr
    );
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "labrun-{name}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
