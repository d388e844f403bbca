//! Sharing steps through a real OCI registry: Debian's `docker-registry` (the CNCF
//! distribution registry 2.8) started per test on a free 127.0.0.1 port with a
//! throw-away config (`tests/env/registry.sh`), open or with htpasswd auth.
//! Every refusal is checked for its exact message fragment and exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BAD_INPUT: i32 = 64;
const UNAVAILABLE: i32 = 2;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory per test: HOME, the cache, keys, lockfiles.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "labrun-publish-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A registry on 127.0.0.1, stopped on drop.
struct Registry {
    dir: PathBuf,
    addr: String,
}

impl Registry {
    fn start(auth: Option<&str>) -> Registry {
        let script = repo_root().join("tests/env/registry.sh");
        let mut last = String::new();
        for attempt in 0..3 {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "labrun-registry-{}-{}-{attempt}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let port = free_port();
            let mut cmd = Command::new("bash");
            cmd.arg(&script)
                .arg("start")
                .arg(&dir)
                .arg(port.to_string());
            if let Some(a) = auth {
                cmd.arg(a);
            }
            let out = cmd.output().expect("bash runs tests/env/registry.sh");
            if out.status.success() {
                return Registry {
                    dir,
                    addr: format!("127.0.0.1:{port}"),
                };
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            if last.contains("not found") {
                break;
            }
        }
        panic!("could not start docker-registry (tests/run installs docker-registry and apache2-utils): {last}");
    }

    fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("tests/env/registry.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// labrun with HOME, the cache and DOCKER_CONFIG inside `scratch`, no AWS config.
fn labrun_env(scratch: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_")
            || key.starts_with("LABRUN_REGISTRY")
            || key == "DOCKER_CONFIG"
            || key == "XDG_CACHE_HOME"
            || key == "LANG"
            || key.starts_with("LC_")
        {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(&scratch.0)
        .env("HOME", scratch.path("home"))
        .env("LABRUN_CACHE_DIR", scratch.path("cache"))
        .env("DOCKER_CONFIG", scratch.path("docker"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("labrun runs")
}

fn labrun(scratch: &Scratch, args: &[&str]) -> Output {
    labrun_env(scratch, args, &[])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

#[track_caller]
fn assert_refused(out: &Output, code: i32, fragment: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(fragment), "stderr lacks `{fragment}`: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "the error is one line: {err}"
    );
}

fn publish(scratch: &Scratch, step: &Path, to: &str) -> String {
    let out = labrun(
        scratch,
        &[
            "plugin",
            "publish",
            step.to_str().unwrap(),
            "--to",
            to,
            "--insecure",
        ],
    );
    assert_ok(&out);
    let digest = stdout(&out);
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    digest
}

/// The report without timings.
fn report(out: &Output) -> Value {
    let mut v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)));
    v.as_object_mut().unwrap().remove("summary");
    for t in v["trainees"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("elapsed_ms");
    }
    v
}

fn run_tiny(scratch: &Scratch, step: &str, extra: &[&str]) -> Output {
    let cassette = fixture("tiny.cassette.json");
    let mut args = vec![
        step,
        "--param",
        "user=user05",
        "--replay",
        cassette.to_str().unwrap(),
        "--format",
        "json",
        "--insecure",
    ];
    args.extend_from_slice(extra);
    labrun(scratch, &args)
}

#[test]
fn publish_pull_run_equals_the_local_run() {
    let reg = Registry::start(None);
    let s = Scratch::new("roundtrip");
    let tiny = fixture("tiny.rhai");
    let to = reg.reference("labs/tiny:1.0.0");
    let digest = publish(&s, &tiny, &to);
    // Publishing the same step again is a no-op with the same digest.
    assert_eq!(publish(&s, &tiny, &to), digest);

    let local = labrun(
        &s,
        &[
            tiny.to_str().unwrap(),
            "--param",
            "user=user05",
            "--replay",
            fixture("tiny.cassette.json").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let by_tag = run_tiny(&s, &to, &[]);
    assert_eq!(
        by_tag.status.code(),
        local.status.code(),
        "{}",
        stderr(&by_tag)
    );
    assert_eq!(report(&by_tag), report(&local));
    let pinned = format!("{}/labs/tiny@{digest}", reg.addr);
    let by_digest = run_tiny(&s, &pinned, &[]);
    assert_eq!(report(&by_digest), report(&local));

    let pulled = labrun(&s, &["plugin", "pull", &to, "--insecure"]);
    assert_ok(&pulled);
    let line = stdout(&pulled);
    let (d, path) = line.split_once('\t').unwrap();
    assert_eq!(d, digest);
    assert_eq!(std::fs::read(path).unwrap(), std::fs::read(&tiny).unwrap());
}

#[test]
fn publish_pull_run_the_step3_component() {
    let wasm = std::env::var_os("LABRUN_STEP3_WASM").map(PathBuf::from).unwrap_or_else(|| {
        panic!("LABRUN_STEP3_WASM is not set: run the tests via tests/run, which builds plugins/ and exports it")
    });
    assert!(
        wasm.is_file(),
        "LABRUN_STEP3_WASM={} does not exist",
        wasm.display()
    );
    let reg = Registry::start(None);
    let s = Scratch::new("component");
    let to = reg.reference("labs/step3:1.0.0");
    publish(&s, &wasm, &to);
    let cassette = repo_root().join("examples/step3-user05.cassette.json");
    let args = |step: &str| {
        vec![
            step.to_string(),
            "--param".into(),
            "user=user05".into(),
            "--replay".into(),
            cassette.to_str().unwrap().to_string(),
            "--format".into(),
            "json".into(),
            "--insecure".into(),
        ]
    };
    let run = |step: &str| {
        let a = args(step);
        labrun(&s, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let local = run(wasm.to_str().unwrap());
    let remote = run(&to);
    assert_eq!(
        remote.status.code(),
        local.status.code(),
        "{}",
        stderr(&remote)
    );
    assert_eq!(report(&remote), report(&local));
}

#[test]
fn a_script_travels_with_its_message_catalog() {
    let reg = Registry::start(None);
    let s = Scratch::new("catalog");
    // A copy: the catalog beside the script is what publish packs.
    for f in ["step3.rhai", "step3.messages.toml"] {
        std::fs::copy(repo_root().join("scripts").join(f), s.path(f)).unwrap();
    }
    let step = s.path("step3.rhai");
    let to = reg.reference("labs/step3-script:1.0.0");
    let digest = publish(&s, &step, &to);
    assert_ok(&labrun(&s, &["plugin", "pull", &to, "--insecure"]));
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            s.path("cache/oci/blobs/sha256")
                .join(&digest["sha256:".len()..]),
        )
        .unwrap(),
    )
    .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{manifest}");
    assert_eq!(
        layers[1]["mediaType"],
        "application/vnd.labrun.step.messages.v1+toml"
    );
    let catalog = std::fs::read(s.path("step3.messages.toml")).unwrap();
    assert_eq!(layers[1]["size"], catalog.len() as u64);

    let cassette = repo_root().join("examples/step3-user05.cassette.json");
    let run = |step: &str| {
        labrun(
            &s,
            &[
                step,
                "--param",
                "user=user05",
                "--replay",
                cassette.to_str().unwrap(),
                "--format",
                "json",
                "--insecure",
            ],
        )
    };
    let local = run(step.to_str().unwrap());
    assert_ok(&local);
    // Without its catalog beside it the script cannot say a word: the pulled copy
    // passing like the local one shows the catalog came along.
    std::fs::remove_file(s.path("step3.messages.toml")).unwrap();
    let remote = run(&to);
    assert_ok(&remote);
    assert_eq!(report(&remote), report(&local));

    // A wording change is new content: the same tag refuses it, a new version takes it.
    std::fs::write(
        s.path("step3.messages.toml"),
        String::from_utf8(catalog)
            .unwrap()
            .replace("is a member of", "belongs to"),
    )
    .unwrap();
    let again = labrun(
        &s,
        &[
            "plugin",
            "publish",
            step.to_str().unwrap(),
            "--to",
            &to,
            "--insecure",
        ],
    );
    assert_refused(&again, BAD_INPUT, "already holds a different artifact");
    let v2 = reg.reference("labs/step3-script:1.0.1");
    let digest2 = publish(&s, &step, &v2);
    assert_ne!(digest2, digest);
    let changed = run(&v2);
    assert!(
        stdout(&changed).contains("belongs to"),
        "{}",
        stdout(&changed)
    );

    // A broken catalog is refused before anything runs, by run and publish alike.
    std::fs::write(
        s.path("step3.messages.toml"),
        "[A1]\ntitle = { en = \"t\", ja = \"t\" }\nok = { en = \"{a}\", ja = \"{b}\" }\n",
    )
    .unwrap();
    assert_refused(
        &run(step.to_str().unwrap()),
        BAD_INPUT,
        "step3.messages.toml: `A1.ok`: unknown placeholder {b} in ja",
    );
    let v3 = reg.reference("labs/step3-script:1.0.2");
    assert_refused(
        &labrun(
            &s,
            &[
                "plugin",
                "publish",
                step.to_str().unwrap(),
                "--to",
                &v3,
                "--insecure",
            ],
        ),
        BAD_INPUT,
        "unknown placeholder {b} in ja",
    );
}

#[test]
fn overwriting_a_tag_with_another_step_is_refused() {
    let reg = Registry::start(None);
    let s = Scratch::new("overwrite");
    let to = reg.reference("labs/tiny:1.0.0");
    let digest = publish(&s, &fixture("tiny.rhai"), &to);
    let out = labrun(
        &s,
        &[
            "plugin",
            "publish",
            fixture("deep.rhai").to_str().unwrap(),
            "--to",
            &to,
            "--insecure",
        ],
    );
    assert_refused(
        &out,
        BAD_INPUT,
        &format!("{to} already holds a different artifact ({digest}); refusing to overwrite it"),
    );
}

#[test]
fn a_lockfile_refuses_a_moved_tag_and_runs_offline_from_the_cache() {
    let reg = Registry::start(None);
    let s = Scratch::new("lock");
    let to = reg.reference("labs/tiny:1.0.0");
    let digest = publish(&s, &fixture("tiny.rhai"), &to);
    let other = publish(&s, &fixture("deep.rhai"), &reg.reference("labs/tiny:2.0.0"));
    let locked = labrun(&s, &["plugin", "lock", &to, "--insecure"]);
    assert_ok(&locked);
    let lock_text = std::fs::read_to_string(s.path("labrun.lock")).unwrap();
    assert!(
        lock_text.contains(&format!("reference = \"{to}\"\ndigest = \"{digest}\"")),
        "{lock_text}"
    );
    let ok = run_tiny(&s, &to, &["--lock", "labrun.lock"]);
    assert_eq!(ok.status.code(), Some(2), "{}", stderr(&ok)); // tiny reports one error row

    // Not pinned at all.
    let unpinned = run_tiny(
        &s,
        &reg.reference("labs/tiny:2.0.0"),
        &["--lock", "labrun.lock"],
    );
    assert_refused(
        &unpinned,
        BAD_INPUT,
        "labs/tiny:2.0.0 is not pinned in labrun.lock",
    );

    // Move the tag behind labrun's back.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = labrun::publish::reference::Reference::parse(&to).unwrap();
        let client = labrun::publish::client::Registry::new(&r, true, true).unwrap();
        let (bytes, media) = client.get_manifest(&other).await.unwrap().unwrap();
        client.put_manifest("1.0.0", &media, bytes).await.unwrap();
    });
    let moved = run_tiny(&s, &to, &["--lock", "labrun.lock"]);
    assert_refused(
        &moved,
        BAD_INPUT,
        &format!(
            "tag moved: {to} now points to {other}, but labrun.lock pins {digest}; refusing it"
        ),
    );

    // Offline: the pinned content runs from the cache, no registry contacted.
    drop(reg);
    let offline = run_tiny(&s, &to, &["--lock", "labrun.lock", "--offline"]);
    assert_eq!(offline.status.code(), Some(2), "{}", stderr(&offline));
    assert!(stderr(&offline).is_empty(), "{}", stderr(&offline));
    let down = run_tiny(&s, &to, &["--lock", "labrun.lock"]);
    assert_eq!(down.status.code(), Some(2), "{}", stderr(&down));
    assert!(
        stderr(&down).contains("running it from the cache")
            || stderr(&down).contains("from the cache as pinned in labrun.lock"),
        "{}",
        stderr(&down)
    );
    assert_eq!(report(&down), report(&ok));
}

#[test]
fn a_corrupted_cached_blob_is_refused() {
    let reg = Registry::start(None);
    let s = Scratch::new("corrupt");
    let to = reg.reference("labs/tiny:1.0.0");
    let digest = publish(&s, &fixture("tiny.rhai"), &to);
    assert_ok(&labrun(&s, &["plugin", "pull", &to, "--insecure"]));
    let blobs = s.path("cache/oci/blobs/sha256");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(blobs.join(&digest["sha256:".len()..])).unwrap())
            .unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let layer_file = blobs.join(&layer["sha256:".len()..]);
    std::fs::write(&layer_file, "fn describe() { evil() }").unwrap();
    let pinned = format!("{}/labs/tiny@{digest}", reg.addr);
    let out = run_tiny(&s, &pinned, &[]);
    assert_refused(
        &out,
        BAD_INPUT,
        &format!(
            "digest mismatch: cached blob {} should be {layer} but its content is sha256:",
            layer_file.display()
        ),
    );
}

#[test]
fn signatures_are_required_when_a_key_is_trusted() {
    let reg = Registry::start(None);
    let s = Scratch::new("sign");
    let to = reg.reference("labs/tiny:1.0.0");
    publish(&s, &fixture("tiny.rhai"), &to);
    for key in ["alice", "mallory"] {
        let out = labrun(&s, &["plugin", "keygen", "--out", key]);
        assert_ok(&out);
    }
    let unsigned = run_tiny(&s, &to, &["--trusted-key", "alice.pub"]);
    assert_refused(
        &unsigned,
        BAD_INPUT,
        "is not signed, and a signature by a trusted key is required (alice.pub",
    );

    assert_ok(&labrun(
        &s,
        &["plugin", "sign", &to, "--key", "mallory", "--insecure"],
    ));
    let tampered = run_tiny(&s, &to, &["--trusted-key", "alice.pub"]);
    assert_refused(
        &tampered,
        BAD_INPUT,
        "no valid signature by a trusted key (alice.pub",
    );
    assert!(stderr(&tampered).contains("1 signature(s) found, none verifies"));

    assert_ok(&labrun(
        &s,
        &["plugin", "sign", &to, "--key", "alice", "--insecure"],
    ));
    let signed = run_tiny(&s, &to, &["--trusted-key", "alice.pub"]);
    assert_eq!(signed.status.code(), Some(2), "{}", stderr(&signed)); // tiny's error row
    assert!(stderr(&signed).is_empty(), "{}", stderr(&signed));
    // Either of two trusted keys will do.
    let either = run_tiny(
        &s,
        &to,
        &["--trusted-key", "mallory.pub", "--trusted-key", "alice.pub"],
    );
    assert_eq!(either.status.code(), Some(2), "{}", stderr(&either));
}

#[test]
fn registry_credentials_basic_auth() {
    let reg = Registry::start(Some("instructor:right-password"));
    let s = Scratch::new("auth");
    let to = reg.reference("labs/tiny:1.0.0");
    let tiny = fixture("tiny.rhai");
    let args = [
        "plugin",
        "publish",
        tiny.to_str().unwrap(),
        "--to",
        &to,
        "--insecure",
    ];

    let anonymous = labrun(&s, &args);
    assert_refused(
        &anonymous,
        UNAVAILABLE,
        &format!("registry {} requires credentials", reg.addr),
    );

    let wrong = labrun_env(
        &s,
        &args,
        &[
            ("LABRUN_REGISTRY_USERNAME", "instructor"),
            ("LABRUN_REGISTRY_PASSWORD", "wrong-password"),
        ],
    );
    assert_refused(
        &wrong,
        UNAVAILABLE,
        &format!(
            "registry {} rejected the credentials of user `instructor` (HTTP 401",
            reg.addr
        ),
    );
    assert!(!stderr(&wrong).contains("wrong-password"));

    // docker-style config.json
    std::fs::create_dir_all(s.path("docker")).unwrap();
    std::fs::write(
        s.path("docker/config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"aW5zdHJ1Y3RvcjpyaWdodC1wYXNzd29yZA=="}}}}}}"#,
            reg.addr
        ),
    )
    .unwrap();
    let ok = labrun(&s, &args);
    assert_ok(&ok);
    let run = run_tiny(&s, &to, &[]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).is_empty(), "{}", stderr(&run));
}

#[test]
fn registry_down_and_insecure_elsewhere() {
    let s = Scratch::new("down");
    let port = free_port();
    let to = format!("127.0.0.1:{port}/labs/tiny:1.0.0");
    let out = run_tiny(&s, &to, &[]);
    assert_refused(
        &out,
        UNAVAILABLE,
        &format!(
            "cannot reach registry 127.0.0.1:{port} (http://127.0.0.1:{port}): connection refused"
        ),
    );
    let pull = labrun(&s, &["plugin", "pull", &to, "--insecure"]);
    assert_refused(
        &pull,
        UNAVAILABLE,
        "connection refused (is the registry running?)",
    );

    let remote = labrun(
        &s,
        &[
            "plugin",
            "pull",
            "registry.example/labs/tiny:1.0.0",
            "--insecure",
        ],
    );
    assert_refused(&remote, BAD_INPUT, "--insecure is for a registry on this machine (127.0.0.1, ::1, localhost) only, not registry.example");

    let offline = labrun(&s, &["plugin", "pull", &to, "--offline", "--insecure"]);
    assert_refused(&offline, BAD_INPUT, "--offline: 127.0.0.1");

    let not_a_ref = labrun(&s, &["plugin", "pull", "scripts/step3.rhai"]);
    assert_refused(
        &not_a_ref,
        BAD_INPUT,
        "`scripts/step3.rhai` is not a step reference",
    );
}

#[test]
fn publishing_refuses_an_incompatible_host_version() {
    let Some(v1) = std::env::var_os("LABRUN_V1_STEP_WASM").map(PathBuf::from) else {
        panic!("LABRUN_V1_STEP_WASM is not set: run the tests via tests/run, which builds tests/fixtures/wasm/v1-step")
    };
    let s = Scratch::new("compat");
    // Refused before any registry is contacted (nothing listens on port 9).
    let out = labrun(
        &s,
        &[
            "plugin",
            "publish",
            v1.to_str().unwrap(),
            "--to",
            "127.0.0.1:9/labs/v1:1.0.0",
            "--insecure",
        ],
    );
    assert_refused(
        &out,
        BAD_INPUT,
        "step built for labrun:host@1.0.0; this labrun provides labrun:host@0.2.0",
    );
}

/// `plugin lock COURSE` pins every step reference the course names; the locked
/// course then runs offline from the cache, and a step the lockfile does not pin is
/// refused naming the course step.
#[test]
fn a_course_locks_all_its_step_references() {
    let reg = Registry::start(None);
    let s = Scratch::new("course-lock");
    let tiny = reg.reference("labs/tiny:1.0.0");
    let no_calls = reg.reference("labs/no-calls:1.0.0");
    let tiny_digest = publish(&s, &fixture("tiny.rhai"), &tiny);
    let no_calls_digest = publish(&s, &fixture("no_calls.rhai"), &no_calls);
    let local = fixture("no_calls.rhai");
    let course = s.path("course.toml");
    std::fs::write(
        &course,
        format!(
            "name = \"locked\"\n\n[[step]]\nid = \"S1\"\nstep = \"{tiny}\"\n\n[[step]]\nid = \"S2\"\nstep = \"{no_calls}\"\n\n[[step]]\nid = \"S3\"\nstep = \"{}\"\n",
            local.display()
        ),
    )
    .unwrap();
    let locked = labrun(&s, &["plugin", "lock", "course.toml", "--insecure"]);
    assert_ok(&locked);
    let lock_text = std::fs::read_to_string(s.path("labrun.lock")).unwrap();
    for (reference, digest) in [(&tiny, &tiny_digest), (&no_calls, &no_calls_digest)] {
        assert!(
            lock_text.contains(&format!(
                "reference = \"{reference}\"\ndigest = \"{digest}\""
            )),
            "{lock_text}"
        );
    }
    assert_eq!(
        lock_text.matches("[[step]]").count(),
        2,
        "local files are not locked"
    );

    drop(reg);
    let cassette = fixture("tiny.cassette.json");
    let run = |lock: &str| {
        labrun(
            &s,
            &[
                "course.toml",
                "--trainee",
                "user05",
                "--replay",
                cassette.to_str().unwrap(),
                "--lock",
                lock,
                "--offline",
                "--format",
                "json",
            ],
        )
    };
    let offline = run("labrun.lock");
    assert_eq!(offline.status.code(), Some(2), "{}", stderr(&offline)); // tiny's error row
    let r = report(&offline);
    let ids: Vec<&str> = r["trainees"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["S1-V1", "S1-V2", "S1-V3", "S2-N1", "S3-N1"]);

    std::fs::write(
        s.path("partial.lock"),
        lock_text
            .split("\n[[step]]")
            .filter(|e| !e.contains(&no_calls))
            .collect::<Vec<_>>()
            .join("\n[[step]]"),
    )
    .unwrap();
    assert_refused(
        &run("partial.lock"),
        BAD_INPUT,
        &format!("step S2: {no_calls} is not pinned in partial.lock"),
    );
}
