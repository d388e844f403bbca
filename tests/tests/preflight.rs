//! `labrun preflight` (issue 22) against a finished Step-3 world on moto, with real
//! sshd and MariaDB: ready when everything answers; one `PROBLEM` line naming the IAM
//! action when AWS denies one (a proxy answers AccessDenied, as IAM would), the key
//! file when one is missing, the server when it refuses the key or cannot be reached.

use std::collections::HashMap;
use std::time::Duration;

use labrun_tests::pushed_keys::KeyCapture;
use labrun_tests::ssh_env::{SshEnv, SshOptions};
use labrun_tests::{run_labrun, LabrunRun, ProbeBroken, ProbeEnv, TestAccount, World};

const TIMEOUT: Duration = Duration::from_secs(120);
const TRAINEE: &str = "user12";

struct Setup {
    acct: TestAccount,
    world: World,
    probes: ProbeEnv,
    ssh: SshEnv,
}

impl Setup {
    /// `labrun preflight` with `first` (routes that win) before the usual settings.
    fn preflight(&self, env: Option<&str>, first: &[String], ssh: &[String]) -> LabrunRun {
        let mut cmd = self.acct.labrun();
        if let Some(url) = env {
            cmd.env("AWS_ENDPOINT_URL", url);
        }
        cmd.args(["preflight", "scripts/step3.rhai", "--trainee", TRAINEE])
            .args(["--lang", "en"])
            .args(first)
            .args(ssh)
            .args(self.ssh.routes())
            .args(self.probes.args());
        run_labrun(cmd, TIMEOUT)
    }

    fn ssh_args(&self) -> Vec<String> {
        let mut args = self.ssh.args();
        args.truncate(6); // the key, the user and the known hosts; the routes come later
        args
    }
}

fn problems(run: &LabrunRun) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("PROBLEM"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_is_ready_or_names_each_problem() {
    let acct = TestAccount::new().await;
    let world = World::build_finished(&acct, TRAINEE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let probes = ProbeEnv::start(&[(&world, ProbeBroken::None)])
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let ssh = SshEnv::start(&world, &probes.db_password(), SshOptions::default())
        .unwrap_or_else(|e| panic!("starting sshd and nginx: {e:#}"));
    let s = Setup {
        acct,
        world,
        probes,
        ssh,
    };

    // Everything answers: one ok line per account, per server, and for MySQL.
    let ready = s.preflight(None, &[], &s.ssh_args());
    assert_eq!(problems(&ready), Vec::<&str>::new(), "{}", ready.stdout);
    ready.assert_code(0);
    for (area, says) in [
        ("aws", "credentials and region work"),
        ("ssh", "webserver#1-user12"),
        ("ssh", "webserver#2-user12"),
        ("mysql", "accepts the Aurora password"),
    ] {
        assert!(
            ready
                .stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(area) && l.contains(says)),
            "ok {area} … {says} in:\n{}",
            ready.stdout
        );
    }
    assert!(
        ready.stdout.ends_with("ready: no problem found\n"),
        "{}",
        ready.stdout
    );
    assert!(
        !ready.stdout.contains("not decided"),
        "with the key and the password every outcome is decided:\n{}",
        ready.stdout
    );
    // Without SSH: the outcomes these settings leave undecided, as the run says them.
    let no_ssh = s.preflight(None, &[], &[]);
    assert!(
        no_ssh.stdout.lines().any(|l| l.starts_with("note")
            && l.contains("outcomes")
            && l.ends_with("F1 needs --ssh-key: not decided in this run")),
        "{}",
        no_ssh.stdout
    );

    // AWS denies DescribeTargetHealth: the line names the IAM action to add.
    let deny = KeyCapture::start(
        &s.acct.endpoint,
        std::env::temp_dir().join(format!("labrun-preflight-{}", std::process::id())),
        HashMap::new(),
        Vec::new(),
    )
    .await;
    deny.deny("DescribeTargetHealth");
    let denied = s.preflight(Some(&deny.url()), &[], &s.ssh_args());
    denied.assert_code(1);
    let lines = problems(&denied);
    assert_eq!(lines.len(), 1, "{}", denied.stdout);
    assert!(
        lines[0].contains("elasticloadbalancing:DescribeTargetHealth is denied"),
        "{}",
        lines[0]
    );

    // A refused key: each server says so.
    let wrong = vec![
        "--ssh-key".to_string(),
        s.ssh.wrong_key.display().to_string(),
        "--ssh-user".into(),
        "ec2-user".into(),
    ];
    let refused = s.preflight(None, &[], &wrong);
    refused.assert_code(1);
    let lines = problems(&refused);
    assert_eq!(lines.len(), 2, "{}", refused.stdout);
    assert!(
        lines.iter().all(|l| l.contains("refused")),
        "{}",
        refused.stdout
    );

    // A missing key file: one line naming it, the rest still checked.
    let missing = vec![
        "--ssh-key".to_string(),
        "/nonexistent/keys/{trainee}.pem".to_string(),
    ];
    let run = s.preflight(None, &[], &missing);
    run.assert_code(1);
    assert!(
        problems(&run)
            .iter()
            .any(|l| l.contains("/nonexistent/keys/user12.pem")),
        "{}",
        run.stdout
    );

    // webserver#2 unreachable on 22 (a route to a closed port wins over the env's).
    let closed = labrun_tests::servers::closed_port().await;
    let web2 = s.world.web2.public_ip.clone().unwrap();
    let first = vec![
        "--connect-to".to_string(),
        format!("{web2}:22:127.0.0.1:{closed}"),
    ];
    let unreachable = s.preflight(None, &first, &s.ssh_args());
    unreachable.assert_code(1);
    let lines = problems(&unreachable);
    assert_eq!(lines.len(), 1, "{}", unreachable.stdout);
    assert!(
        lines[0].contains("webserver#2-user12") && lines[0].contains("cannot reach SSH"),
        "{}",
        lines[0]
    );
}
