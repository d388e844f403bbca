//! WebAssembly steps: what labrun refuses before anything runs (each with one line and
//! exit 64), what the compile cache trusts, and that the step3 plugin replays the
//! shipped cassette into the same report as the script. No moto needed.
//!
//! Needs `LABRUN_STEP3_WASM`, `LABRUN_V1_STEP_WASM` and `LABRUN_V0_3_STEP_WASM` (built and
//! exported by tests/run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use labrun_tests::{labrun_bin, run_labrun, workspace_root, LabrunRun};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);
const BAD_INPUT: i32 = 64;
const CASSETTE: &str = "examples/step3-user05.cassette.json";

fn built(var: &str, what: &str) -> PathBuf {
    let path = std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: run the tests via tests/run, which builds {what} for wasm32-wasip2 and exports it")
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{var}={} does not exist: build {what} first (tests/run does)",
        path.display()
    );
    path
}

fn step3_wasm() -> PathBuf {
    built("LABRUN_STEP3_WASM", "plugins/")
}

/// A scratch directory: the step files are put here so messages name them shortly.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "labrun-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.0.join(name), bytes).expect("write step file");
    }

    fn cache(&self) -> PathBuf {
        self.0.join("cache")
    }

    /// labrun run in the scratch dir, offline, with its own cache.
    fn labrun(&self, args: &[&str]) -> LabrunRun {
        let mut cmd = Command::new(labrun_bin());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.0)
            .env("LABRUN_CACHE_DIR", self.cache())
            .env("LANG", "C")
            .current_dir(&self.0)
            .args(args);
        run_labrun(cmd, TIMEOUT)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_refused(run: &LabrunRun, line: &str) {
    assert_eq!(
        run.stderr,
        format!("labrun: {line}\n"),
        "stderr (stdout: {})",
        run.stdout
    );
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    run.assert_code(BAD_INPUT);
}

#[test]
fn ungranted_capability_is_refused_naming_the_grant() {
    let s = Scratch::new("grant");
    s.write("step3.wasm", &std::fs::read(step3_wasm()).unwrap());
    let run = s.labrun(&[
        "step3.wasm",
        "--grant",
        "dns,mysql",
        "--grant",
        "http,tcp,server",
        "--param",
        "user=user05",
    ]);
    assert_refused(
        &run,
        "step3.wasm: step imports labrun:host/aws@0.2.0 but aws is not granted; grant it with --grant aws",
    );
}

#[test]
fn unknown_grant_is_bad_input() {
    let s = Scratch::new("grant-name");
    s.write("step3.wasm", &std::fs::read(step3_wasm()).unwrap());
    let run = s.labrun(&["step3.wasm", "--grant", "aws,s3", "--param", "user=user05"]);
    assert_refused(
        &run,
        "--grant s3: unknown capability; labrun grants aws, dns, mysql, http, tcp, server",
    );
}

#[test]
fn other_host_major_version_is_refused_naming_both() {
    let s = Scratch::new("v1");
    let v1 = built("LABRUN_V1_STEP_WASM", "tests/fixtures/wasm/v1-step");
    s.write("v1.wasm", &std::fs::read(v1).unwrap());
    let run = s.labrun(&["v1.wasm"]);
    assert_refused(
        &run,
        "v1.wasm: step built for labrun:host@1.0.0; this labrun provides labrun:host@0.2.0 (and serves 0.1.0, 0.2.0): rebuild the step against this labrun's wit/",
    );
}

#[test]
fn newer_host_minor_version_is_refused_naming_both() {
    let s = Scratch::new("v0_3");
    let v0_3 = built("LABRUN_V0_3_STEP_WASM", "tests/fixtures/wasm/v0_3-step");
    s.write("v0_3.wasm", &std::fs::read(v0_3).unwrap());
    let run = s.labrun(&["v0_3.wasm"]);
    assert_refused(
        &run,
        "v0_3.wasm: step built for labrun:host@0.3.0; this labrun provides labrun:host@0.2.0 (and serves 0.1.0, 0.2.0): rebuild the step against this labrun's wit/",
    );
}

#[test]
fn core_module_is_refused() {
    let s = Scratch::new("core");
    s.write("core.wasm", b"\0asm\x01\0\0\0");
    let run = s.labrun(&["core.wasm"]);
    assert_refused(
        &run,
        "core.wasm: a core WebAssembly module, not a component: build the step with `cargo build --target wasm32-wasip2`",
    );
}

#[test]
fn truncated_component_is_refused() {
    let s = Scratch::new("truncated");
    let bytes = std::fs::read(step3_wasm()).unwrap();
    s.write("cut.wasm", &bytes[..1000]);
    let run = s.labrun(&["cut.wasm"]);
    assert_refused(
        &run,
        "cut.wasm: truncated WebAssembly component: the file ends inside a section after 1000 bytes",
    );
}

#[test]
fn non_wasm_file_is_refused() {
    let s = Scratch::new("text");
    s.write("notes.wasm", b"fn run(params) {}\n");
    let run = s.labrun(&["notes.wasm"]);
    assert_refused(
        &run,
        "notes.wasm: not a WebAssembly file (it does not start with the \\0asm header)",
    );
    s.write("step.txt", b"hello");
    let run = s.labrun(&["step.txt"]);
    assert_refused(
        &run,
        "step.txt: unknown step type; a step is a Rhai script (.rhai) or a WebAssembly component (.wasm)",
    );
}

/// A report without its timings.
fn untimed(mut report: Value) -> Value {
    report["summary"]
        .as_object_mut()
        .expect("summary")
        .remove("elapsed_ms");
    for t in report["trainees"].as_array_mut().expect("trainees") {
        t.as_object_mut().expect("trainee").remove("elapsed_ms");
    }
    report
}

/// The human report without the run time on its summary line.
fn untimed_text(text: &str) -> String {
    text.lines()
        .map(|l| match (l.find(" trainee(s), "), l.rfind(" s, ")) {
            (Some(a), Some(b)) if b > a => format!("{}…{}", &l[..a], &l[b..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn replay(s: &Scratch, step: &Path, format: &str) -> LabrunRun {
    let cassette = workspace_root().join(CASSETTE);
    let mut cmd = Command::new(labrun_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &s.0)
        .env("LABRUN_CACHE_DIR", s.cache())
        .env("LANG", "C")
        .current_dir(workspace_root())
        .arg(step)
        .args(["--param", "user=user05", "--replay"])
        .arg(cassette)
        .args(["--format", format, "--color", "never"]);
    run_labrun(cmd, TIMEOUT)
}

#[test]
fn plugin_replays_the_cassette_into_the_scripts_report() {
    let s = Scratch::new("replay");
    let script = workspace_root().join("scripts/step3.rhai");
    let wasm = step3_wasm();
    for format in ["json", "human"] {
        let a = replay(&s, &script, format);
        let b = replay(&s, &wasm, format);
        assert_eq!(b.code, a.code, "exit codes\n{}\n{}", a.stderr, b.stderr);
        assert_eq!(b.stderr, a.stderr);
        if format == "json" {
            assert_eq!(untimed(b.report().0), untimed(a.report().0));
        } else {
            assert_eq!(untimed_text(&b.stdout), untimed_text(&a.stdout));
        }
    }
}

#[test]
fn compile_cache_is_used_and_a_tampered_artifact_is_never_loaded() {
    let s = Scratch::new("cache");
    let wasm = step3_wasm();
    let first = replay(&s, &wasm, "json");
    let artifacts = || -> Vec<PathBuf> {
        std::fs::read_dir(s.cache())
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let written = artifacts();
    assert_eq!(written.len(), 1, "one compiled artifact in the cache");
    assert!(s.cache().join("host.key").is_file(), "the host key exists");
    let again = replay(&s, &wasm, "json");
    assert_eq!(untimed(again.report().0), untimed(first.report().0));

    // Flip a byte of the artifact: the HMAC fails, labrun recompiles and still runs.
    let mut bytes = std::fs::read(&written[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&written[0], &bytes).unwrap();
    let tampered = replay(&s, &wasm, "json");
    assert_eq!(untimed(tampered.report().0), untimed(first.report().0));
    assert_ne!(
        std::fs::read(&written[0]).unwrap(),
        bytes,
        "the tampered artifact was replaced by a fresh one"
    );
}

#[test]
fn inspect_shows_the_manifest() {
    let s = Scratch::new("inspect");
    s.write("step3.wasm", &std::fs::read(step3_wasm()).unwrap());
    let run = s.labrun(&["inspect", "step3.wasm"]);
    run.assert_code(0);
    let out = &run.stdout;
    assert!(out.contains("built for: labrun:host@0.2.0"), "{out}");
    assert!(
        out.contains("capabilities: aws, dns, mysql, http, tcp"),
        "{out}"
    );
    assert!(out.contains("sha256: "), "{out}");
    let checks: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "  checks:")
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        checks[..7],
        ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
        "{out}"
    );

    let script = workspace_root().join("scripts/step3.rhai");
    let run = s.labrun(&["inspect", script.to_str().unwrap()]);
    run.assert_code(0);
    assert!(run.stdout.contains("name: step3"), "{}", run.stdout);
    assert!(run.stdout.contains("user"), "{}", run.stdout);
}

/// A step that spins, allocates without end, floods stdout or panics is stopped (or
/// truncated) and the report names why, with the limit.
#[test]
fn runaway_steps_are_stopped_and_named() {
    let s = Scratch::new("misbehave");
    let wasm = built("LABRUN_MISBEHAVE_WASM", "tests/fixtures/wasm/misbehave");
    s.write("misbehave.wasm", &std::fs::read(wasm).unwrap());
    let row = |mode: &str| -> (Value, Value, Option<i32>) {
        let run = s.labrun(&[
            "misbehave.wasm",
            "--param",
            &format!("mode={mode}"),
            // Used only by the untrusted_wasm modes, but declared, so always given.
            "--param",
            "user=user05",
            "--param",
            "neighbour_tg=-",
            "--param",
            "neighbour_endpoint=-",
            "--timeout",
            "2",
            "--format",
            "json",
        ]);
        let report = run.report().0;
        let t = report["trainees"][0].clone();
        (t["results"][0].clone(), t["log"].clone(), run.code)
    };
    let stopped = |why: &str| {
        format!("not checked: the step stopped before this check: misbehave.wasm: {why}")
    };

    let (r, _, code) = row("ok");
    assert_eq!((r["status"].as_str(), code), (Some("pass"), Some(0)));

    let (r, _, code) = row("spin");
    assert_eq!(r["status"], "error");
    assert_eq!(
        r["message"]["en"],
        stopped("the step ran past its wall-clock limit of 2 s")
    );
    assert_eq!(code, Some(2));

    let (r, _, _) = row("alloc");
    assert_eq!(
        r["message"]["en"],
        stopped("the step needed more than 256 MiB of memory (the memory limit)")
    );

    let (r, log, code) = row("panic");
    assert_eq!(
        r["message"]["en"],
        stopped("the step crashed (wasm trap: wasm `unreachable` instruction executed): “misbehave was told to panic”")
    );
    assert_eq!(code, Some(2));
    assert!(
        log.to_string().contains("misbehave was told to panic"),
        "{log}"
    );

    // 1 MiB on stdout: kept up to the cap, the rest counted, and the step goes on.
    let (r, log, code) = row("chatty");
    assert_eq!((r["status"].as_str(), code), (Some("pass"), Some(0)));
    let last = log
        .as_array()
        .and_then(|l| l.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        last,
        "output: … 983040 more bytes dropped (the output limit is 64 KiB)"
    );
}

/// The step contract holds for components as for scripts: an id the step did not
/// declare is an `error` row (never its pass), a declared id it never reported is an
/// `error` row saying so, and an outcome labrun refused is an `error` row too.
#[test]
fn a_component_cannot_add_or_drop_checklist_ids() {
    let s = Scratch::new("contract");
    let wasm = built("LABRUN_MISBEHAVE_WASM", "tests/fixtures/wasm/misbehave");
    s.write("misbehave.wasm", &std::fs::read(wasm).unwrap());
    let rows = |mode: &str| -> Vec<Value> {
        let run = s.labrun(&[
            "misbehave.wasm",
            "--param",
            &format!("mode={mode}"),
            "--param",
            "user=user05",
            "--param",
            "neighbour_tg=-",
            "--param",
            "neighbour_endpoint=-",
            "--format",
            "json",
        ]);
        run.assert_code(2);
        run.report().0["trainees"][0]["results"]
            .as_array()
            .unwrap()
            .clone()
    };
    let undeclared = rows("undeclared");
    assert_eq!(undeclared.len(), 2, "{undeclared:?}");
    assert_eq!(
        (
            undeclared[0]["id"].as_str(),
            undeclared[0]["status"].as_str()
        ),
        (Some("H1"), Some("pass"))
    );
    assert_eq!(
        (
            undeclared[1]["id"].as_str(),
            undeclared[1]["status"].as_str()
        ),
        (Some("X9"), Some("error"))
    );
    assert!(
        undeclared[1]["message"]["en"]
            .as_str()
            .unwrap()
            .starts_with("not a declared check: the step reported `X9` (pass) but describe() does not list it in `checks`"),
        "{}",
        undeclared[1]["message"]
    );
    // A fail the host refused (a 60,000-byte id) is an error row, its id cut.
    let longid = rows("longid");
    assert_eq!(longid.len(), 2, "{longid:?}");
    assert_eq!(
        (longid[1]["id"].as_str(), longid[1]["status"].as_str()),
        (Some("refused-1"), Some("error"))
    );
    let en = longid[1]["message"]["en"].as_str().unwrap();
    assert!(
        en.starts_with("the step reported a fail that labrun refused: outcome id `XXXX")
            && en.contains("is 60000 characters long")
            && en.len() < 300,
        "{en}"
    );
    let silent = rows("silent");
    assert_eq!(silent.len(), 1);
    assert_eq!(
        (silent[0]["id"].as_str(), silent[0]["status"].as_str()),
        (Some("H1"), Some("error"))
    );
    assert_eq!(
        silent[0]["message"]["en"],
        "not checked: the step ended without reporting this check"
    );
}

/// A component that declares an id twice is bad input at load, as a script is.
#[test]
fn a_component_declaring_an_id_twice_is_refused() {
    let s = Scratch::new("dupes");
    let wasm = built(
        "LABRUN_DUPES_WASM",
        "tests/fixtures/wasm/misbehave (examples)",
    );
    s.write("dupes.wasm", &std::fs::read(wasm).unwrap());
    let run = s.labrun(&["dupes.wasm"]);
    assert_refused(
        &run,
        "dupes.wasm: describe() failed: `checks` lists `H1` twice: declare each checklist id once",
    );
}

/// `labrun describe` on a component: params with defaults, checks, and the operations
/// its WIT imports name; on the component built for 0.1.0, its one required param.
#[test]
fn describe_a_component_from_its_imports() {
    let s = Scratch::new("describe");
    s.write("step3.wasm", &std::fs::read(step3_wasm()).unwrap());
    let run = s.labrun(&["describe", "step3.wasm", "--format", "json"]);
    run.assert_code(0);
    let d: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(d["kind"], "wasm");
    assert_eq!(d["host_version"], "0.2.0");
    let reader = d["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "reader")
        .expect("param reader");
    assert_eq!(reader["default"], "wp-{user}-slave");
    assert_eq!(reader["required"], false);
    let ops: Vec<&str> = d["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(ops.contains(&"aws.rds_describe_db_clusters"), "{ops:?}");
    assert!(ops.contains(&"mysql.query"), "{ops:?}");
    // The interfaces' exported types are not operations.
    assert!(ops.iter().all(|o| !o.ends_with("cap-error")), "{ops:?}");
    assert_eq!(d["checks"].as_array().unwrap().len(), 18);

    let old =
        std::env::var("LABRUN_STEP3_WIT_0_1_WASM").expect("LABRUN_STEP3_WIT_0_1_WASM (tests/run)");
    s.write("old.wasm", &std::fs::read(old).unwrap());
    let run = s.labrun(&["describe", "old.wasm"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("built for: labrun:host@0.1.0"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("user           required: trainee id as in the manual"),
        "{}",
        run.stdout
    );
}

/// Under `ulimit -v` the instance pool cannot reserve its address space: the step
/// runs all the same, with on-demand allocation, and a note names the limit.
#[test]
fn a_component_runs_under_an_address_space_limit_and_says_which() {
    let s = Scratch::new("ulimit");
    let cassette = workspace_root().join(CASSETTE);
    let mut cmd = Command::new("sh");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &s.0)
        .env("LABRUN_CACHE_DIR", s.cache())
        .env("LANG", "C")
        .current_dir(workspace_root())
        // 8 GiB, far below what the pool reserves.
        .args(["-c", "ulimit -v 8388608 && exec \"$@\"", "sh"])
        .arg(labrun_bin())
        .arg(step3_wasm())
        .args(["--param", "user=user05", "--replay"])
        .arg(cassette)
        .args(["--format", "json"]);
    let run = run_labrun(cmd, TIMEOUT);
    run.assert_code(0);
    assert_eq!(
        run.stderr.trim_end().lines().count(),
        1,
        "one note: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .starts_with("labrun: note: WebAssembly steps run without the instance pool")
            && run
                .stderr
                .contains("the address-space limit (ulimit -v) is 8192 MiB"),
        "{}",
        run.stderr
    );
    assert_eq!(run.report().0["summary"]["pass"], 18);
}
