//! Probes `via` a server and the `server` capability's path list, against the real
//! sshd + nginx of [`labrun_tests::ssh_env`] (issue 11): `tcp`, `http` and `dns`
//! through webserver#1 (the server resolves and connects: a name only its own
//! `/etc/hosts` knows is reached, a DNS lookup asks the VPC resolver over TCP); a
//! malformed `via` is the check's `error` naming the value, never a direct pass; a
//! policy widens `server.read_file`'s paths and wp-config.php stays redacted; an
//! untrusted step goes only through its own trainee's servers, reaches only hosts
//! derived from its resources, and the audit log records every `via`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use labrun_tests::servers::{self, Rec};
use labrun_tests::ssh_env::{SshEnv, SshOptions, INTRANET_NAME, PLANTED_AWS_SECRET};
use labrun_tests::{run_labrun, LabrunRun, ProbeBroken, ProbeEnv, TestAccount, World};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);
const TRAINEE: &str = "user09";
/// The world's VPC is 10.0.0.0/16: its resolver is the base + 2.
const VPC_RESOLVER: &str = "10.0.0.2";
/// What the VPC resolver (and only it) answers for the cluster endpoint.
const PRIVATE_VIEW_IP: &str = "10.0.2.99";

struct Setup {
    acct: TestAccount,
    world: World,
    probes: ProbeEnv,
    ssh: SshEnv,
}

async fn setup() -> Setup {
    let acct = TestAccount::new().await;
    let world = World::build_finished(&acct, TRAINEE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let probes = ProbeEnv::start(&[(&world, ProbeBroken::None)])
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let ssh = SshEnv::start(&world, &probes.db_password(), SshOptions::default())
        .unwrap_or_else(|e| panic!("starting sshd and nginx: {e:#}"));
    Setup {
        acct,
        world,
        probes,
        ssh,
    }
}

impl Setup {
    /// Writes `source` as a step in the env's folder.
    fn step(&self, name: &str, source: &str) -> PathBuf {
        let path = self.ssh.dir.join(format!("{name}.rhai"));
        std::fs::write(&path, source).unwrap();
        path
    }

    /// labrun on `step` with `params`, `first` (rules that must win) before the SSH
    /// env's and the probe env's arguments.
    fn run(&self, step: &Path, params: &[(&str, String)], first: &[String]) -> LabrunRun {
        let mut cmd = self.acct.labrun();
        cmd.arg(step)
            .args(["--param", &format!("user={TRAINEE}")])
            .args(["--format", "json"]);
        for (k, v) in params {
            cmd.args(["--param", &format!("{k}={v}")]);
        }
        cmd.args(first)
            .args(self.ssh.args())
            .args(self.probes.args());
        run_labrun(cmd, TIMEOUT)
    }

    fn via(&self) -> String {
        self.ssh.web[0].public_ip.clone()
    }
}

fn row(run: &LabrunRun, id: &str) -> Value {
    run.report().result(TRAINEE, id).clone()
}

fn status(run: &LabrunRun, id: &str) -> String {
    row(run, id)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn message(run: &LabrunRun, id: &str) -> String {
    row(run, id)["message"]["en"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One check per probe: pass with the answer as evidence, or error with the error.
const PROBES_STEP: &str = r#"
fn describe() { #{ name: "via-probes", title: #{ en: "via", ja: "via" },
    params: #{ user: "trainee", via: "server", intranet: "name", intranet_port: "port",
               closed_port: "port", cluster: "endpoint", resolver: "VPC resolver" },
    checks: ["T1", "T2", "T3", "H1", "N1", "N2", "V1", "V2", "V3"] } }
fn answered(id, a) { report::pass(id, "answered", "answered", a); }
fn failed(id, e) { report::error(id, `${e.message}`, `${e.message}`, e); }
fn run(p) {
    try { answered("T1", tcp::connect(#{ host: p.intranet, port: p.intranet_port, via: p.via })); } catch (e) { failed("T1", e); }
    try { answered("T2", tcp::connect(#{ host: p.intranet, port: p.intranet_port })); } catch (e) { failed("T2", e); }
    try { answered("T3", tcp::connect(#{ host: "127.0.0.1", port: p.closed_port, via: p.via })); } catch (e) { failed("T3", e); }
    try { answered("H1", http::get(#{ url: `http://${p.intranet}:${p.intranet_port}/`, via: p.via })); } catch (e) { failed("H1", e); }
    try { answered("N1", dns::lookup(#{ name: p.cluster, via: p.via, resolver: p.resolver })); } catch (e) { failed("N1", e); }
    try { answered("N2", dns::lookup(#{ name: p.cluster })); } catch (e) { failed("N2", e); }
    try { answered("V1", tcp::connect(#{ host: p.intranet, port: p.intranet_port, via: `${p.via}:22` })); } catch (e) { failed("V1", e); }
    try { answered("V2", http::get(#{ url: `http://${p.intranet}:${p.intranet_port}/`, via: "" })); } catch (e) { failed("V2", e); }
    try { answered("V3", dns::lookup(#{ name: p.cluster, via: "ssh://web1 \u001b[31m", resolver: p.resolver })); } catch (e) { failed("V3", e); }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_http_and_dns_go_through_the_server_and_a_malformed_via_is_an_error() {
    let s = setup().await;
    // The VPC's own resolver view: only a lookup from inside the VPC sees this address.
    let vpc_dns =
        servers::dns_server_tcp(&[(s.world.cluster.endpoint.as_str(), Rec::ip(PRIVATE_VIEW_IP))]);
    let step = s.step("via-probes", PROBES_STEP);
    let web1 = &s.ssh.web[0];
    let run = s.run(
        &step,
        &[
            ("via", s.via()),
            ("intranet", INTRANET_NAME.to_string()),
            ("intranet_port", web1.http_port.to_string()),
            ("closed_port", free_port().to_string()),
            ("cluster", s.world.cluster.endpoint.clone()),
            ("resolver", VPC_RESOLVER.to_string()),
        ],
        &[
            "--connect-to".to_string(),
            format!("{VPC_RESOLVER}:53:127.0.0.1:{}", vpc_dns.port()),
            // Left as named (the probe env sends anything unnamed to a closed port):
            // webserver#1 resolves the intranet name itself; 127.0.0.1 is its own.
            "--connect-to".to_string(),
            format!("{INTRANET_NAME}:::"),
            "--connect-to".to_string(),
            "127.0.0.1:::".to_string(),
        ],
    );

    // tcp: the server resolved a name only it knows and connected from there.
    let t1 = row(&run, "T1");
    assert_eq!(t1["status"], "pass", "{t1}");
    assert_eq!(t1["evidence"]["ok"], true, "{t1}");
    assert!(
        t1["evidence"]["address"]
            .as_str()
            .unwrap()
            .ends_with(&format!("via {}", s.via())),
        "{t1}"
    );
    // Directly, labrun's side cannot even resolve it.
    let t2 = row(&run, "T2");
    assert_eq!(t2["evidence"]["ok"], false, "{t2}");
    assert_eq!(t2["evidence"]["failure"], "dns", "{t2}");
    // The server's own loopback: a closed port there is a refusal (an answer).
    let t3 = row(&run, "T3");
    assert_eq!(t3["status"], "pass", "{t3}");
    assert_eq!(t3["evidence"]["ok"], false, "{t3}");
    assert_eq!(t3["evidence"]["failure"], "refused", "{t3}");
    // http: webserver#1's own nginx answered through the channel.
    let h1 = row(&run, "H1");
    assert_eq!(h1["evidence"]["status"], 200, "{h1}");
    assert!(
        h1["evidence"]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("{TRAINEE} blog")),
        "{h1}"
    );
    assert!(
        s.ssh.access_log(0).contains("GET / "),
        "webserver#1's nginx logged the request"
    );
    // dns: the VPC resolver over TCP answers the private view; directly the zone's.
    let n1 = row(&run, "N1");
    assert_eq!(n1["status"], "pass", "{n1}");
    assert_eq!(
        n1["evidence"]["addresses"],
        serde_json::json!([PRIVATE_VIEW_IP]),
        "{n1}"
    );
    assert_eq!(
        n1["evidence"]["server"],
        format!("{VPC_RESOLVER} via {}", s.via()),
        "{n1}"
    );
    let n2 = row(&run, "N2");
    assert_eq!(n2["status"], "pass", "{n2}");
    assert!(
        !n2["evidence"]["addresses"]
            .to_string()
            .contains(PRIVATE_VIEW_IP),
        "{n2}"
    );
    // A malformed via: the check's error, naming the value, never a direct answer.
    for (id, shown) in [
        ("V1", format!("`{}:22`", s.via())),
        ("V2", "``".to_string()),
        ("V3", "`ssh://web1 \\u{1b}[31m`".to_string()),
    ] {
        let r = row(&run, id);
        assert_eq!(r["status"], "error", "{id}: {r}");
        let m = message(&run, id);
        assert!(m.contains("request field `via`"), "{id}: {m}");
        assert!(m.contains(&shown), "{id} names {shown}: {m}");
        assert!(!m.contains('\u{1b}'), "{id} is inert: {m:?}");
        assert_eq!(r["evidence"]["kind"], "invalid_request", "{id}: {r}");
    }
    run.assert_code(2);
}

const READ_STEP: &str = r#"
fn describe() { #{ name: "read-paths", title: #{ en: "read", ja: "read" },
    params: #{ user: "trainee", via: "server" }, checks: ["R1", "R2", "R3"] } }
fn read(id, via, path) {
    try {
        let f = server::read_file(#{ via: via, path: path });
        report::pass(id, "read", "read", f);
    } catch (e) {
        report::error(id, `${e.message}`, `${e.message}`, e);
    }
}
fn run(p) {
    read("R1", p.via, "/var/www/html/wp-config.php");
    read("R2", p.via, "/etc/shadow");
    read("R3", p.via, "/var/www/html/wordpress/wp-config.php");
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_widens_the_readable_paths_and_redaction_still_applies() {
    let s = setup().await;
    let step = s.step("read-paths", READ_STEP);
    let params = [("via", s.via())];

    // Default list: a wp-config.php elsewhere is refused, naming the path and the fix.
    let run = s.run(&step, &params, &[]);
    assert_eq!(status(&run, "R1"), "error", "{}", run.stdout);
    let m = message(&run, "R1");
    assert!(
        m.contains("`/var/www/html/wp-config.php` is not readable"),
        "{m}"
    );
    assert!(m.contains("[server] readable"), "{m}");
    assert_eq!(status(&run, "R2"), "error");
    assert_eq!(status(&run, "R3"), "pass");

    // Widened, by an instructor policy (a trusted run) and by an untrusted one.
    for trust in ["instructor", "untrusted"] {
        let policy = s.ssh.dir.join(format!("{trust}-policy.toml"));
        std::fs::write(
            &policy,
            format!(
                "trust = \"{trust}\"\n[server]\nreadable = [\"/var/www/html/wp-config.php\"]\n"
            ),
        )
        .unwrap();
        let run = s.run(
            &step,
            &params,
            &["--policy".into(), policy.display().to_string()],
        );
        let r1 = row(&run, "R1");
        assert_eq!(r1["status"], "pass", "{trust}: {}", run.stdout);
        let content = r1["evidence"]["content"].as_str().unwrap();
        assert!(
            content.contains("define( 'DB_NAME', 'wordpress' );"),
            "{content}"
        );
        assert!(
            content.contains("define( 'DBI_AWS_SECRET_ACCESS_KEY', '<redacted>' );"),
            "{content}"
        );
        for secret in [
            PLANTED_AWS_SECRET,
            &s.probes.db_password(),
            "plantedAuthKey",
        ] {
            assert!(!run.stdout.contains(secret), "{trust}: {secret} shows");
        }
        // Only what the policy names: the rest of the machine stays closed.
        assert_eq!(status(&run, "R2"), "error", "{trust}");
        assert!(message(&run, "R2").contains("`/etc/shadow` is not readable"));
    }

    // A policy path that is not a plain absolute path is bad input, before anything runs.
    let bad = s.ssh.dir.join("bad-policy.toml");
    std::fs::write(
        &bad,
        "trust = \"instructor\"\n[server]\nreadable = [\"/var/log/$(id)\"]\n",
    )
    .unwrap();
    let run = s.run(
        &step,
        &params,
        &["--policy".into(), bad.display().to_string()],
    );
    run.assert_code(64);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("[server] readable: `/var/log/$(id)`"),
        "{}",
        run.stderr
    );
}

const SCOPED_STEP: &str = r#"
fn describe() { #{ name: "via-scope", title: #{ en: "scope", ja: "scope" },
    params: #{ user: "trainee", via: "own server", other_via: "another trainee's server",
               cluster: "endpoint", intranet: "name", web_port: "port" },
    checks: ["U1", "U2", "U3", "U4", "U5", "U6"] } }
fn answered(id, a) { report::pass(id, "answered", "answered", a); }
fn failed(id, e) { report::error(id, `${e.message}`, `${e.message}`, e); }
fn run(p) {
    try { answered("U1", tcp::connect(#{ host: p.cluster, port: 3306, via: p.via })); } catch (e) { failed("U1", e); }
    try { answered("U2", tcp::connect(#{ host: p.cluster, port: 3306, via: p.other_via })); } catch (e) { failed("U2", e); }
    try { answered("U3", tcp::connect(#{ host: p.intranet, port: p.web_port, via: p.via })); } catch (e) { failed("U3", e); }
    try { answered("U4", tcp::connect(#{ host: "127.0.0.1", port: p.web_port, via: p.via })); } catch (e) { failed("U4", e); }
    try { answered("U5", server::read_file(#{ via: p.via, path: "/etc/resolv.conf" })); } catch (e) { failed("U5", e); }
    try { answered("U6", server::listening(#{ via: p.other_via })); } catch (e) { failed("U6", e); }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_step_goes_only_through_its_own_servers_to_its_own_hosts() {
    let s = setup().await;
    // Another trainee's world in the same account: their web server is a real EC2
    // instance, just not user09's.
    let other = World::build_finished(&s.acct, "user10")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let other_via = other.web1.public_ip.clone().expect("user10's public IP");
    let step = s.step("via-scope", SCOPED_STEP);
    let audit = s.ssh.dir.join("scope.audit.jsonl");
    let run = s.run(
        &step,
        &[
            ("via", s.via()),
            ("other_via", other_via.clone()),
            ("cluster", s.world.cluster.endpoint.clone()),
            ("intranet", INTRANET_NAME.to_string()),
            ("web_port", s.ssh.web[0].http_port.to_string()),
        ],
        &[
            "--trust".into(),
            "untrusted".into(),
            "--audit".into(),
            audit.display().to_string(),
            "--connect-to".into(),
            "127.0.0.1:::".into(),
        ],
    );
    // Own server to an own resource (the cluster endpoint): allowed, and reached.
    let u1 = row(&run, "U1");
    assert_eq!(u1["status"], "pass", "{u1}");
    assert_eq!(u1["evidence"]["ok"], true, "{u1}");
    // Another trainee's server: denied before any SSH, naming the trainee.
    let u2 = message(&run, "U2");
    assert_eq!(status(&run, "U2"), "error");
    assert!(
        u2.contains(&format!(
            "via {other_via} is not one of {TRAINEE}'s EC2 instances"
        )),
        "{u2}"
    );
    // Own server, but a host not derived from the trainee's resources: denied.
    let u3 = message(&run, "U3");
    assert_eq!(status(&run, "U3"), "error");
    assert!(
        u3.contains(&format!(
            "{INTRANET_NAME} is not one of {TRAINEE}'s resources"
        )),
        "{u3}"
    );
    // Own server's own loopback (Step 1's local MySQL): allowed.
    let u4 = row(&run, "U4");
    assert_eq!(u4["evidence"]["ok"], true, "{u4}");
    // server facts: own server yes, another's no.
    assert_eq!(status(&run, "U5"), "pass", "{}", run.stdout);
    assert!(
        message(&run, "U6").contains("is not one of"),
        "{}",
        run.stdout
    );
    for id in ["U2", "U3", "U6"] {
        assert_eq!(row(&run, id)["evidence"]["code"], "policy", "{id}");
    }

    // The audit log records the via of every call, allowed or denied.
    let records: Vec<Value> = std::fs::read_to_string(&audit)
        .expect("audit log")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["capability"] == "tcp" || r["capability"] == "server")
        .collect();
    let find = |cap: &str, via: &str, allowed: bool| {
        records
            .iter()
            .any(|r| r["capability"] == cap && r["via"] == via && r["allowed"] == allowed)
    };
    assert!(find("tcp", &s.via(), true), "{records:?}");
    assert!(find("tcp", &other_via, false), "{records:?}");
    assert!(find("server", &s.via(), true), "{records:?}");
    assert!(find("server", &other_via, false), "{records:?}");
    assert!(
        records.iter().all(|r| r["via"].is_string()),
        "every tcp/server call here went via a server: {records:?}"
    );
}
