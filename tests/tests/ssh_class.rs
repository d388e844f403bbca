//! Step 3 for a class over SSH (issue 11): every trainee's two web servers are real
//! sshd + nginx ([`labrun_tests::ssh_env`]), one `--ssh-key 'keys/1day-{trainee}.pem'`
//! for the class. labrun opens one SSH connection per server, however many checks go
//! through it: the report's `summary.ssh_connections` says so, and the servers' own
//! sshd logs count the same logins.
//!
//! The class of forty is a benchmark, not a timed test (`#[ignore]`d); run it with
//!
//! ```text
//! bash tests/run --run-ignored ignored-only -E 'test(class_of_forty_over_ssh)' --no-capture
//! ```
//!
//! It prints wall time, peak RSS (`wait4`) and SSH connections for the class with
//! `--ssh-key` and, in the same run, without it (direct probes, F1 skipped).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use labrun_tests::ssh_env::{SshEnv, SshOptions, SSH_USER};
use labrun_tests::{Broken, ProbeBroken, ProbeEnv, Report, TestAccount, World};

struct SshClass {
    acct: TestAccount,
    trainees: Vec<String>,
    probes: ProbeEnv,
    envs: Vec<SshEnv>,
    dir: PathBuf,
}

impl SshClass {
    async fn start(n: usize) -> SshClass {
        let acct = TestAccount::new().await;
        let trainees: Vec<String> = (1..=n).map(|i| format!("user{i:02}")).collect();
        let mut worlds = Vec::new();
        for chunk in trainees.chunks(4) {
            let builds = chunk.iter().map(|t| World::build_finished(&acct, t));
            for w in futures::future::join_all(builds).await {
                worlds.push(w.unwrap_or_else(|e| panic!("{e:#}")));
            }
        }
        let pairs: Vec<(&World, ProbeBroken)> =
            worlds.iter().map(|w| (w, ProbeBroken::None)).collect();
        let probes = ProbeEnv::start(&pairs)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let dir = std::env::temp_dir().join(format!("labrun-ssh-class-{}", acct.account_id));
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        let mut envs = Vec::new();
        for w in &worlds {
            let env = SshEnv::start(w, &probes.db_password(), SshOptions::default())
                .unwrap_or_else(|e| panic!("starting {}'s servers: {e:#}", w.trainee));
            // One key folder for the class, named the manual's way.
            std::fs::copy(&env.key, dir.join(format!("keys/1day-{}.pem", w.trainee))).unwrap();
            envs.push(env);
        }
        SshClass {
            acct,
            trainees,
            probes,
            envs,
            dir,
        }
    }

    fn servers(&self) -> usize {
        self.envs.iter().map(|e| e.web.len()).sum()
    }

    fn accepted_logins(&self) -> usize {
        self.envs.iter().map(SshEnv::accepted_logins).sum()
    }

    /// Step 3 for the whole class, with `--ssh-key` when `ssh`.
    fn command(&self, ssh: bool) -> Command {
        let mut cmd = self.acct.labrun();
        cmd.arg("scripts/step3.rhai").args(["--format", "json"]);
        for t in &self.trainees {
            cmd.args(["--trainee", t]);
        }
        if ssh {
            cmd.arg("--ssh-key")
                .arg(self.dir.join("keys/1day-{trainee}.pem"))
                .args(["--ssh-user", SSH_USER])
                .arg("--ssh-known-hosts")
                .arg(self.dir.join("known_hosts"));
            for env in &self.envs {
                cmd.args(env.routes());
            }
        }
        cmd.args(self.probes.args());
        cmd
    }

    /// Every trainee's statuses: a finished world's, F1 passing through SSH (skipped
    /// without it, as without `--ssh-key` today).
    fn assert_finished(&self, report: &Report, ssh: bool) {
        let want: Vec<(&str, &str)> = ProbeBroken::None
            .expected_statuses(Broken::None)
            .into_iter()
            .map(|(id, s)| (id, if id == "F1" && ssh { "pass" } else { s }))
            .collect();
        for t in &self.trainees {
            report.assert_statuses(t, &want);
        }
    }
}

impl Drop for SshClass {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One labrun run, measured: its report, wall time and peak RSS (`wait4`, this
/// process only, not its neighbours).
struct Measured {
    report: Report,
    code: i32,
    wall: Duration,
    peak_rss_kib: i64,
}

// The child is reaped by `wait4` (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn measure(mut cmd: Command, timeout: Duration) -> Measured {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawning labrun");
    let pid = child.id() as libc::pid_t;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    // A watchdog: a hung run is killed, and the test then fails on its report.
    let watchdog = std::thread::spawn(move || {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            if unsafe { libc::kill(pid, 0) } != 0 {
                return;
            }
        }
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    let rc = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    assert_eq!(rc, pid, "wait4 on labrun");
    let wall = started.elapsed();
    let usage = unsafe { usage.assume_init() };
    let stdout = out_t.join().unwrap();
    let stderr = err_t.join().unwrap();
    let _ = watchdog.join();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); exit {code}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        )
    });
    Measured {
        report: Report(report),
        code,
        wall,
        peak_rss_kib: usage.ru_maxrss,
    }
}

fn ssh_connections(report: &Report) -> u64 {
    report.0["summary"]["ssh_connections"].as_u64().unwrap_or(0)
}

/// Three trainees, six servers: six SSH connections, counted by labrun and by the
/// servers' sshd alike, although A5, A6, D1 and F1 of each trainee share them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_opens_one_ssh_connection_per_server() {
    let class = SshClass::start(3).await;
    let run = measure(class.command(true), Duration::from_secs(300));
    class.assert_finished(&run.report, true);
    assert_eq!(run.code, 0);
    let servers = class.servers() as u64;
    assert_eq!(servers, 6);
    assert_eq!(
        ssh_connections(&run.report),
        servers,
        "{}",
        run.report.0["summary"]
    );
    assert_eq!(
        class.accepted_logins() as u64,
        servers,
        "the servers' sshd accepted as many logins as labrun reports"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: a class of forty over SSH (see the module doc for the command)"]
async fn class_of_forty_over_ssh() {
    let setup = Instant::now();
    let class = SshClass::start(40).await;
    let setup = setup.elapsed();
    let direct = measure(class.command(false), Duration::from_secs(900));
    class.assert_finished(&direct.report, false);
    let ssh = measure(class.command(true), Duration::from_secs(900));
    class.assert_finished(&ssh.report, true);
    let servers = class.servers() as u64;
    let opened = ssh_connections(&ssh.report);
    assert!(
        opened <= servers,
        "{opened} SSH connections for {servers} servers"
    );
    assert_eq!(class.accepted_logins() as u64, opened);
    let mib = |kib: i64| kib as f64 / 1024.0;
    eprintln!(
        "class of 40 (environment up in {:.0} s: {servers} sshd, 40 nginx, 80 MariaDB)",
        setup.as_secs_f64()
    );
    eprintln!(
        "  without --ssh-key: {:.1} s, peak RSS {:.1} MiB, 0 SSH connections",
        direct.wall.as_secs_f64(),
        mib(direct.peak_rss_kib)
    );
    eprintln!(
        "  with --ssh-key:    {:.1} s, peak RSS {:.1} MiB, {opened} SSH connections ({} logins in the sshd logs)",
        ssh.wall.as_secs_f64(),
        mib(ssh.peak_rss_kib),
        class.accepted_logins()
    );
    eprintln!(
        "  ratio (ssh / direct): time {:.2}x, RSS {:.2}x",
        ssh.wall.as_secs_f64() / direct.wall.as_secs_f64(),
        ssh.peak_rss_kib as f64 / direct.peak_rss_kib as f64
    );
}
