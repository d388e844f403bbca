//! Step 3 through the trainee's web servers over SSH (issue 11): real `sshd` per web
//! server (own mount namespace: its own nginx logs, wp-config.php, ec2-user, sudoers),
//! real `nginx` as both web servers and as the ALB, on 127.0.0.1 only. With
//! `--ssh-key`, A5, A6 and D1 go via webserver#1 and F1 reads both access logs.

use std::time::Duration;

use labrun_tests::ssh_env::{self, SshEnv, SshOptions, PLANTED_AWS_SECRET};
use labrun_tests::{run_labrun, Broken, LabrunRun, ProbeBroken, ProbeEnv, TestAccount, World};

const TIMEOUT: Duration = Duration::from_secs(120);
const SCRIPT: &str = "scripts/step3.rhai";
const TRAINEE: &str = "user09";

struct Setup {
    acct: TestAccount,
    world: World,
    probes: ProbeEnv,
    ssh: SshEnv,
}

async fn setup(options: SshOptions) -> Setup {
    let acct = TestAccount::new().await;
    let world = World::build_finished(&acct, TRAINEE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let probes = ProbeEnv::start(&[(&world, ProbeBroken::None)])
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let ssh = SshEnv::start(&world, &probes.db_password(), options)
        .unwrap_or_else(|e| panic!("starting sshd and nginx: {e:#}"));
    Setup {
        acct,
        world,
        probes,
        ssh,
    }
}

impl Setup {
    /// labrun with `ssh_args` (the SSH settings and routes) before the probe env's.
    fn labrun(&self, ssh_args: &[String], extra: &[&str]) -> LabrunRun {
        let mut cmd = self.acct.labrun();
        cmd.arg(SCRIPT)
            .args(["--param", &format!("user={TRAINEE}"), "--format", "json"])
            .args(extra)
            .args(ssh_args)
            .args(self.probes.args());
        run_labrun(cmd, TIMEOUT)
    }

    fn run(&self) -> LabrunRun {
        self.labrun(&self.ssh.args(), &[])
    }
}

/// A finished world's statuses with `changes` applied (F1 passes when checked).
fn expected(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    ProbeBroken::None
        .expected_statuses(Broken::None)
        .into_iter()
        .map(|(id, status)| {
            let status = changes
                .iter()
                .find(|(i, _)| *i == id)
                .map_or(if id == "F1" { "pass" } else { status }, |(_, s)| *s);
            (id, status)
        })
        .collect()
}

fn message(run: &LabrunRun, id: &str) -> String {
    run.report().result(TRAINEE, id)["message"]["en"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_world_f1_passes_and_mysql_goes_via_webserver1() {
    let s = setup(SshOptions::default()).await;
    let run = s.run();
    let want = expected(&[]);
    run.report().assert_statuses(TRAINEE, &want);
    run.assert_code(labrun_tests::world::exit_code_for(&want));
    // Both servers' own nginx logged the run's marked requests.
    for i in 0..2 {
        assert!(
            s.ssh.access_log(i).contains("labrun-f1="),
            "{} logged no marked request",
            s.ssh.web[i].name
        );
    }
    let f1 = run.report().result(TRAINEE, "F1").clone();
    assert_eq!(f1["evidence"]["sent"], 6, "{f1}");
    // Trust on first use recorded both host keys.
    let known = std::fs::read_to_string(&s.ssh.known_hosts).expect("known_hosts written");
    for w in &s.ssh.web {
        assert!(
            known.contains(&format!("{} ", w.public_ip)),
            "{} not in {known}",
            w.public_ip
        );
    }
    // The reader check says only what it tested.
    let a6 = message(&run, "A6");
    assert!(!a6.contains("1290"), "A6 claims a refused write: {a6}");
    // A second run trusts the recorded keys.
    s.run().report().assert_statuses(TRAINEE, &want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_fails_naming_the_deregistered_target() {
    let s = setup(SshOptions {
        web2_deregistered: true,
        ..SshOptions::default()
    })
    .await;
    let run = s.run();
    let want = expected(&[("F1", "fail")]);
    run.report().assert_statuses(TRAINEE, &want);
    run.assert_code(1);
    let f1 = message(&run, "F1");
    assert!(
        f1.contains(&s.world.web2.name),
        "F1 names webserver#2: {f1}"
    );
    assert!(
        !f1.contains(&s.world.web1.name),
        "F1 blames only webserver#2: {f1}"
    );
    assert!(f1.contains("healthy"), "F1 gives the manual's hint: {f1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sshd_down_is_an_error_for_the_in_server_checks_only() {
    let s = setup(SshOptions {
        sshd_down: true,
        ..SshOptions::default()
    })
    .await;
    let run = s.run();
    let want = expected(&[
        ("A5", "error"),
        ("A6", "error"),
        ("D1", "skip"),
        ("F1", "error"),
    ]);
    run.report().assert_statuses(TRAINEE, &want);
    run.assert_code(2);
    let a5 = message(&run, "A5");
    assert!(a5.contains("SSH"), "A5 says SSH failed: {a5}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_an_authentication_error() {
    let s = setup(SshOptions::default()).await;
    let mut args = vec![
        "--ssh-key".to_string(),
        s.ssh.wrong_key.display().to_string(),
        "--ssh-user".to_string(),
        ssh_env::SSH_USER.to_string(),
    ];
    args.extend(s.ssh.routes());
    let run = s.labrun(&args, &[]);
    let want = expected(&[
        ("A5", "error"),
        ("A6", "error"),
        ("D1", "skip"),
        ("F1", "error"),
    ]);
    run.report().assert_statuses(TRAINEE, &want);
    for id in ["A5", "F1"] {
        let m = message(&run, id);
        assert!(
            m.contains("authentication"),
            "{id} names authentication: {m}"
        );
        assert!(
            !m.contains(&s.ssh.wrong_key.display().to_string()),
            "{id} shows the key path: {m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_host_key_is_an_error_naming_both_fingerprints() {
    let s = setup(SshOptions::default()).await;
    // known_hosts remembers another key for webserver#1.
    let old = s.ssh.dir.join("old_host_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(status.success());
    let old_pub = std::fs::read_to_string(old.with_extension("pub")).unwrap();
    let old_fp = ssh_env::fingerprint(&old.with_extension("pub")).unwrap();
    let web1 = &s.ssh.web[0];
    std::fs::write(
        &s.ssh.known_hosts,
        format!("{} {}", web1.public_ip, old_pub),
    )
    .unwrap();
    let run = s.run();
    let want = expected(&[
        ("A5", "error"),
        ("A6", "error"),
        ("D1", "skip"),
        ("F1", "error"),
    ]);
    run.report().assert_statuses(TRAINEE, &want);
    let a5 = message(&run, "A5");
    assert!(a5.contains(&web1.public_ip), "A5 names the host: {a5}");
    assert!(
        a5.contains(&old_fp),
        "A5 names the recorded key {old_fp}: {a5}"
    );
    assert!(
        a5.contains(&web1.host_key_fingerprint),
        "A5 names the server's key {}: {a5}",
        web1.host_key_fingerprint
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_asking_for_a_password_is_an_error_naming_sudo() {
    let s = setup(SshOptions {
        sudo_needs_password: true,
        ..SshOptions::default()
    })
    .await;
    let run = s.run();
    // MySQL through the server needs no root; reading nginx's log does.
    let want = expected(&[("F1", "error")]);
    run.report().assert_statuses(TRAINEE, &want);
    let f1 = message(&run, "F1");
    assert!(f1.contains("sudo"), "F1 names sudo: {f1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ssh_input_is_one_line_and_exit_64() {
    let s = setup(SshOptions::default()).await;
    let key = s.ssh.wrong_key.display().to_string();
    let dir = s.ssh.dir.display().to_string();
    let cases: Vec<(Vec<String>, Vec<&str>, &str)> = vec![
        (
            vec!["--ssh-key".into(), key.clone()],
            vec!["--trainee", "user01", "--trainee", "user02"],
            "{trainee}",
        ),
        (
            vec![
                "--ssh-key".into(),
                key.clone(),
                "--ssh-known-hosts".into(),
                dir.clone(),
            ],
            vec![],
            "cannot read --ssh-known-hosts",
        ),
    ];
    for (ssh_args, extra, says) in cases {
        let mut cmd = s.acct.labrun();
        cmd.arg(SCRIPT).args(&extra);
        if extra.is_empty() {
            cmd.args(["--param", &format!("user={TRAINEE}")]);
        }
        cmd.args(&ssh_args);
        let run = run_labrun(cmd, TIMEOUT);
        run.assert_code(64);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {}", run.stderr);
        assert!(lines[0].contains(says), "{says} in {}", run.stderr);
    }
}

/// A trainee whose key file is missing does not stop the class (it did: exit 64):
/// one warning names the file, and only that trainee's in-server outcomes are
/// `error` naming the key; everything checked from outside is judged as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_file_is_that_trainees_error_and_the_run_goes_on() {
    let s = setup(SshOptions::default()).await;
    let missing = format!("{}/keys/none-{{trainee}}.pem", s.ssh.dir.display());
    let run = s.labrun(&["--ssh-key".into(), missing.clone()], &[]);
    let warning = format!(
        "cannot read the SSH key of {TRAINEE}, {}",
        missing.replace("{trainee}", TRAINEE)
    );
    assert!(run.stderr.contains(&warning), "{}", run.stderr);
    run.assert_code(2);
    for id in ["A5", "F1"] {
        let row = run.report().result(TRAINEE, id).clone();
        assert_eq!(row["status"], "error", "{id}: {row}");
        let m = row["message"]["en"].as_str().unwrap_or_default();
        assert!(
            m.contains(&format!("{TRAINEE}'s SSH key (none-{TRAINEE}.pem)")),
            "{id} names the key: {m}"
        );
    }
    // What needs A5 waits for it: undecided, never a verdict on the trainee.
    for id in ["A6", "D1"] {
        let status = run.report().result(TRAINEE, id)["status"].clone();
        assert!(status == "error" || status == "skip", "{id}: {status}");
    }
    for id in ["A1", "B1", "C1", "E1"] {
        assert_eq!(run.report().result(TRAINEE, id)["status"], "pass", "{id}");
    }
}

/// wp-config.php read by a step: every secret is `<redacted>`, and neither the planted
/// AWS secret, the MySQL password nor the key appears in any output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_show_in_any_output() {
    let s = setup(SshOptions::default()).await;
    let step = s.ssh.dir.join("wp-config-step.rhai");
    std::fs::write(
        &step,
        r#"
fn describe() { #{ name: "wpconfig", title: #{ en: "wp-config", ja: "wp-config" },
                   params: #{ user: "trainee", via: "server" }, checks: ["W1"] } }
fn run(params) {
    let f = server::read_file(#{ via: params.via, path: "/var/www/html/wordpress/wp-config.php" });
    log::info(f.content);
    report::pass("W1", "read", "read", f);
}
"#,
    )
    .unwrap();
    let cassette = s.ssh.dir.join("wp.cassette.json");
    let audit = s.ssh.dir.join("wp.audit.jsonl");
    let mut outputs = Vec::new();
    for format in ["json", "human"] {
        let mut cmd = s.acct.labrun();
        cmd.arg(&step)
            .args(["--param", &format!("user={TRAINEE}")])
            .args(["--param", &format!("via={}", s.ssh.web[0].public_ip)])
            .args(["--format", format, "--color", "never"])
            .args(s.ssh.args())
            .args(s.probes.args());
        if format == "json" {
            cmd.arg("--record")
                .arg(&cassette)
                .arg("--audit")
                .arg(&audit);
        }
        let run = run_labrun(cmd, TIMEOUT);
        run.assert_code(0);
        outputs.push(run.stdout.clone());
        outputs.push(run.stderr.clone());
    }
    outputs.push(std::fs::read_to_string(&cassette).expect("cassette"));
    let audit_text = std::fs::read_to_string(&audit).expect("audit");
    assert!(
        audit_text.contains(&format!("\"via\":\"{}\"", s.ssh.web[0].public_ip)),
        "the audit records via: {audit_text}"
    );
    outputs.push(audit_text);
    let all = outputs.join("\n");
    assert!(
        all.contains("define( 'DB_NAME', 'wordpress' );"),
        "the file was read: {all}"
    );
    assert!(all.contains("<redacted>"), "secrets were redacted: {all}");
    let key = std::fs::read_to_string(&s.ssh.key).unwrap();
    let key_line = key.lines().nth(3).unwrap();
    for secret in [
        PLANTED_AWS_SECRET,
        &s.probes.db_password(),
        "plantedAuthKey",
        "plantedSecureAuthKey",
        "plantedSalt",
        "AKIAPLANTEDKEYID0000",
        key_line,
        &s.ssh.key.display().to_string(),
    ] {
        assert!(!all.contains(secret), "{secret} shows in an output");
    }
}
