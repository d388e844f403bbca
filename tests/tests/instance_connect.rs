//! `--ssh-via instance-connect` (issue 22) through real sshd: labrun makes a one-run
//! key per server, pushes its public half through the moto endpoint with
//! SendSSHPublicKey, and logs in with it. moto keeps nothing, so a proxy in front of
//! it ([`KeyCapture`]) serves each pushed key to that server's sshd, as the
//! instance's metadata service does for Amazon Linux 2's `AuthorizedKeysCommand`;
//! the sshds accept no other key.

use std::collections::HashMap;
use std::time::Duration;

use labrun_tests::pushed_keys::KeyCapture;
use labrun_tests::ssh_env::{SshEnv, SshOptions, SSH_USER};
use labrun_tests::{run_labrun, Broken, LabrunRun, ProbeBroken, ProbeEnv, TestAccount, World};

const TIMEOUT: Duration = Duration::from_secs(120);
const SCRIPT: &str = "scripts/step3.rhai";
const TRAINEE: &str = "user11";

fn run(acct: &TestAccount, capture: &KeyCapture, ssh: &SshEnv, probes: &ProbeEnv) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.env("AWS_ENDPOINT_URL", capture.url())
        .arg(SCRIPT)
        .args(["--param", &format!("user={TRAINEE}"), "--format", "json"])
        .args(["--ssh-via", "instance-connect", "--ssh-user", SSH_USER])
        .arg("--ssh-known-hosts")
        .arg(&ssh.known_hosts)
        .args(ssh.routes())
        .args(probes.args_with_probe_timeout(15));
    run_labrun(cmd, TIMEOUT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_one_run_key_logs_in_and_a_server_that_refuses_it_is_an_error() {
    let acct = TestAccount::new().await;
    let world = World::build_finished(&acct, TRAINEE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let probes = ProbeEnv::start(&[(&world, ProbeBroken::None)])
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let options = SshOptions {
        pushed_keys: true,
        ..SshOptions::default()
    };
    let ssh = SshEnv::start(&world, &probes.db_password(), options)
        .unwrap_or_else(|e| panic!("starting sshd and nginx: {e:#}"));
    let addresses: HashMap<String, String> = [&world.web1, &world.web2]
        .iter()
        .map(|i| (i.id.clone(), i.public_ip.clone().expect("a public IP")))
        .collect();

    // Both servers serve what was pushed for them: every outcome as for a finished
    // trainee, F1 (both servers' logs) included.
    let capture = KeyCapture::start(
        &acct.endpoint,
        ssh.dir.join("pushed"),
        addresses.clone(),
        Vec::new(),
    )
    .await;
    let finished = run(&acct, &capture, &ssh, &probes);
    let want: Vec<(&str, &str)> = ProbeBroken::None
        .expected_statuses(Broken::None)
        .into_iter()
        .map(|(id, status)| (id, if id == "F1" { "pass" } else { status }))
        .collect();
    finished.report().assert_statuses(TRAINEE, &want);
    let pushes = capture.pushes();
    assert_eq!(pushes.len(), 2, "one push per server: {pushes:?}");
    let mut instances: Vec<&str> = pushes.iter().map(|p| p.instance_id.as_str()).collect();
    instances.sort();
    let mut servers = vec![world.web1.id.as_str(), world.web2.id.as_str()];
    servers.sort();
    assert_eq!(instances, servers);
    for p in &pushes {
        assert_eq!(p.os_user, SSH_USER);
        assert!(p.public_key.starts_with("ssh-ed25519 "), "{}", p.public_key);
    }
    assert_ne!(
        pushes[0].public_key, pushes[1].public_key,
        "a key per server"
    );
    assert_eq!(ssh.accepted_logins(), 2, "one login per server");
    // The one-run key never leaves memory: neither half is in any output.
    let half = pushes[0].public_key.split(' ').nth(1).unwrap();
    assert!(!finished.stdout.contains(half) && !finished.stderr.contains(half));

    // webserver#2 does not serve its push: only what goes through it is an error,
    // naming the server; everything through webserver#1 still passes.
    let refusing = KeyCapture::start(
        &acct.endpoint,
        ssh.dir.join("pushed"),
        addresses,
        vec![world.web2.id.clone()],
    )
    .await;
    let refused = run(&acct, &refusing, &ssh, &probes);
    let f1 = refused.report().result(TRAINEE, "F1").clone();
    assert_eq!(f1["status"], "error", "{f1}");
    let web2_ip = world.web2.public_ip.clone().unwrap();
    let message = f1["message"]["en"].as_str().unwrap_or_default();
    assert!(
        message.contains(&web2_ip) && message.contains("EC2 Instance Connect"),
        "F1 names the server and the pushed key: {message}"
    );
    for id in ["A5", "A6", "D1"] {
        assert_eq!(
            refused.report().result(TRAINEE, id)["status"],
            "pass",
            "{id}"
        );
    }
}

/// Instance Connect replaces the key files: both at once is bad input.
#[test]
fn instance_connect_and_a_key_file_at_once_is_one_line_and_exit_64() {
    let mut cmd = std::process::Command::new(labrun_tests::labrun_bin());
    cmd.current_dir(env!("CARGO_MANIFEST_DIR").to_string() + "/..")
        .args([SCRIPT, "--param", "user=user05", "--replay"])
        .arg("examples/step3-user05.cassette.json")
        .args(["--ssh-via", "instance-connect", "--ssh-key", "k.pem"]);
    let run = run_labrun(cmd, TIMEOUT);
    run.assert_code(64);
    assert!(run.stderr.contains("keep one"), "{}", run.stderr);
}
