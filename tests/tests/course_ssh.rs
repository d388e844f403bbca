//! The in-server outcomes of Steps 1 and 2 (issue 13), seen the way the trainee sees
//! them: over SSH to webserver#1 with the trainee's own key. Each trainee's server is a
//! real `sshd` in its own namespaces ([`SshEnv`]), its systemd state the real
//! `systemctl is-enabled` reading its unit files, its own MySQL (Step 1) a real
//! MariaDB behind the server's 127.0.0.1:3306, Aurora a real MariaDB, the VPC's
//! resolver a real DNS server over TCP; everything on 127.0.0.1 or in namespaces the
//! test makes. One trainee finished, each other one broken in exactly one in-server
//! outcome: in one run, each fails only its own id, with its hint. Without --ssh-key
//! these ids are `error` naming it (tests/tests/step1.rs and step2.rs).

use std::time::Duration;

use labrun_tests::course::{self, Broken, CourseNet, CourseWorld, Edition, Step};
use labrun_tests::servers::{self, Rec};
use labrun_tests::ssh_env::{Fleet, SshEnv, SshOptions, LOCAL_MYSQL_UNIT, PLANTED_AWS_SECRET};
use labrun_tests::{mariadb, run_labrun, LabrunRun, MariaDb, MariaDbSpec, TestAccount};

const TIMEOUT: Duration = Duration::from_secs(240);
const VPC_RESOLVER: &str = "10.0.0.2";

fn message(run: &LabrunRun, t: &str, id: &str) -> String {
    run.report().result(t, id)["message"]["en"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Every id of `step` `pass`, but `changes`.
fn expected(
    step: Step,
    changes: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    step.ids()
        .iter()
        .map(|&id| {
            let status = changes
                .iter()
                .find(|(i, _)| *i == id)
                .map_or("pass", |(_, s)| *s);
            (id, status)
        })
        .collect()
}

/// The writer instance endpoint of `world`'s cluster, as RDS reports it.
async fn writer_endpoint(acct: &TestAccount, world: &CourseWorld) -> String {
    let out = acct
        .rds
        .describe_db_instances()
        .db_instance_identifier(world.edition.writer(&world.trainee))
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeDBInstances: {e:?}"));
    out.db_instances()
        .first()
        .and_then(|i| i.endpoint())
        .and_then(|e| e.address())
        .expect("the writer has an endpoint")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_in_server_outcomes_pass_finished_and_each_break_fails_only_its_trainee() {
    let acct = TestAccount::new().await;
    // user21 finished; each other trainee broken in one in-server outcome.
    let plan = [
        ("user21", ""),
        ("user22", "A5"),
        ("user23", "A6"),
        ("user24", "B2"),
        ("user25", "B3"),
        ("user26", "C3"),
    ];
    let specs: Vec<(&str, Step, Edition, Broken)> = plan
        .iter()
        .map(|(t, _)| (*t, Step::Two, Edition::E2019, Broken::None))
        .collect();
    let worlds = course::build_each(&acct, &specs).await;
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let db_password = mariadb::password().expect("the MariaDB password");

    // The VPC's resolver, as webserver#1 asks it: cluster endpoint → writer → an
    // address in 10.0.2.0/24; user22's endpoint lands in the public subnet.
    let mut zone = Vec::new();
    for (i, w) in worlds.iter().enumerate() {
        let endpoint = w
            .cluster_endpoint
            .clone()
            .expect("a Step-2 world's endpoint");
        let writer = writer_endpoint(&acct, w).await;
        let address = if w.trainee == "user22" {
            "10.0.0.77".to_string()
        } else {
            format!("10.0.2.{}", 10 + i)
        };
        zone.push((endpoint, Rec::cname(writer.clone())));
        zone.push((writer, Rec::ip(&address)));
    }
    let resolver = servers::dns_server_tcp(&zone);

    // user23's cluster endpoint reaches an Aurora without the `wordpress` database.
    let empty = tokio::task::spawn_blocking(|| MariaDb::start(&MariaDbSpec::without_wordpress()))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("starting MariaDB: {e:#}"));
    let user23 = worlds.iter().find(|w| w.trainee == "user23").unwrap();

    let pairs: Vec<(&CourseWorld, Option<u16>)> = worlds.iter().map(|w| (w, None)).collect();
    let mut fleet = Fleet::course(&pairs, &db_password);
    // user24 never switched WordPress to Aurora; user25 left mysqld starting at boot;
    // user26 never gave the plugin its AWS keys.
    let endpoint24 = worlds
        .iter()
        .find(|w| w.trainee == "user24")
        .and_then(|w| w.cluster_endpoint.clone())
        .unwrap();
    let b2 = fleet.server_mut("webserver#1-user24");
    b2.wp_config = b2
        .wp_config
        .as_ref()
        .map(|c| c.replace(&endpoint24, "localhost"));
    fleet.server_mut("webserver#1-user25").units = vec![(LOCAL_MYSQL_UNIT.to_string(), true)];
    let c3 = fleet.server_mut("webserver#1-user26");
    c3.wp_config = c3.wp_config.as_ref().map(|c| {
        c.lines()
            .filter(|l| !l.contains("DBI_AWS_"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    let ssh = SshEnv::launch(&fleet, SshOptions::default())
        .unwrap_or_else(|e| panic!("starting the servers: {e:#}"));

    let mut cmd = acct.labrun();
    cmd.arg(Step::Two.script());
    for w in &worlds {
        cmd.args(["--trainee", &w.trainee]);
    }
    cmd.args(ssh.args())
        .args([
            "--connect-to".to_string(),
            format!("{VPC_RESOLVER}:53:127.0.0.1:{}", resolver.port()),
            "--connect-to".to_string(),
            format!(
                "{}:3306:127.0.0.1:{}",
                user23.cluster_endpoint.as_deref().unwrap(),
                empty.port()
            ),
        ])
        .args(net.args())
        .args(["--format", "json"]);
    let run = run_labrun(cmd, TIMEOUT);

    let report = run.report();
    report.assert_statuses("user21", &expected(Step::Two, &[]));
    report.assert_statuses("user22", &expected(Step::Two, &[("A5", "fail")]));
    // Without the database there is nothing migrated either: B1 and C2 read it.
    report.assert_statuses(
        "user23",
        &expected(Step::Two, &[("A6", "fail"), ("B1", "fail"), ("C2", "fail")]),
    );
    report.assert_statuses("user24", &expected(Step::Two, &[("B2", "fail")]));
    report.assert_statuses("user25", &expected(Step::Two, &[("B3", "fail")]));
    report.assert_statuses("user26", &expected(Step::Two, &[("C3", "fail")]));
    run.assert_code(1);
    for (t, id, needle) in [
        ("user22", "A5", "outside the private subnet 10.0.2.0/24"),
        ("user23", "A6", "CREATE DATABASE wordpress"),
        ("user24", "B2", "DB_HOST in wp-config.php is localhost"),
        ("user25", "B3", "sudo systemctl disable mysqld"),
        (
            "user26",
            "C3",
            "DBI_AWS_ACCESS_KEY_ID and DBI_AWS_SECRET_ACCESS_KEY",
        ),
    ] {
        let m = message(&run, t, id);
        assert!(
            m.contains(needle),
            "{t} {id} gives its hint ({needle}): {m}"
        );
    }
    // A6 and B1 went through webserver#1, as the manual's `mysql -h` there does.
    let a6 = report.result("user21", "A6");
    assert!(
        a6["message"]["en"]
            .as_str()
            .unwrap_or_default()
            .contains("webserver#1-user21"),
        "{a6}"
    );
    assert!(ssh.logins(0) > 0, "labrun logged in to user21's server");
    // wp-config.php's secrets never show.
    for secret in [PLANTED_AWS_SECRET, db_password.as_str()] {
        assert!(!run.stdout.contains(secret), "a secret in the report");
        assert!(!run.stderr.contains(secret), "a secret in the log");
    }
}

/// labrun's Step-1 run for `worlds` through `ssh`, with `extra` before the routes.
fn step1_run(
    acct: &TestAccount,
    ssh: &SshEnv,
    net: &CourseNet,
    worlds: &[CourseWorld],
    extra: &[String],
    env: &[(&str, &str)],
) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.arg(Step::One.script());
    for w in worlds {
        cmd.args(["--trainee", &w.trainee]);
    }
    cmd.args(extra)
        .args(ssh.args())
        .args(net.args())
        .envs(env.iter().copied());
    run_labrun(cmd, TIMEOUT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_c3_reads_each_servers_own_mysql_with_the_local_credential_only() {
    let acct = TestAccount::new().await;
    let worlds = course::build_each(
        &acct,
        &[
            ("user31", Step::One, Edition::E2019, Broken::None),
            ("user32", Step::One, Edition::E2019, Broken::None),
        ],
    )
    .await;
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let aurora_password = mariadb::password().expect("the MariaDB password");

    // Each server's own MySQL, root's password not Aurora's. user31 finished the
    // install; user32's database lacks WordPress's tables.
    let local_password = format!("local-{:016x}", fastrand::u64(..));
    let root = format!(
        "CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '{local_password}';\n\
         GRANT SELECT, SHOW VIEW ON *.* TO 'root'@'127.0.0.1';\n"
    );
    let tables = "CREATE TABLE wordpress.wp_posts (ID BIGINT PRIMARY KEY);\n\
                  CREATE TABLE wordpress.wp_users (ID BIGINT PRIMARY KEY);\n";
    let finished =
        MariaDbSpec::wordpress("http://ec2-site.example").with_sql(format!("{root}{tables}"));
    let broken = MariaDbSpec::wordpress("http://ec2-site.example").with_sql(root);
    let (db31, db32) = tokio::task::spawn_blocking(move || {
        Ok::<_, anyhow::Error>((MariaDb::start(&finished)?, MariaDb::start(&broken)?))
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("starting MariaDB: {e:#}"));
    let fleet = Fleet::course(
        &[
            (&worlds[0], Some(db31.port())),
            (&worlds[1], Some(db32.port())),
        ],
        &aurora_password,
    );
    let ssh = SshEnv::launch(&fleet, SshOptions::default())
        .unwrap_or_else(|e| panic!("starting the servers: {e:#}"));
    let local_file = ssh.dir.join("local-mysql.pw");
    std::fs::write(&local_file, format!("{local_password}\n")).unwrap();
    let cassette = ssh.dir.join("step1.cassette.json");
    let audit = ssh.dir.join("step1.audit.jsonl");

    // With the local credential: each trainee's own server answers for itself.
    let with_local = step1_run(
        &acct,
        &ssh,
        &net,
        &worlds,
        &[
            "--mysql-password-file".into(),
            format!("local={}", local_file.display()),
            "--format".into(),
            "json".into(),
            "--record".into(),
            cassette.display().to_string(),
            "--audit".into(),
            audit.display().to_string(),
        ],
        &[],
    );
    let report = with_local.report();
    report.assert_statuses("user31", &expected(Step::One, &[]));
    report.assert_statuses("user32", &expected(Step::One, &[("C3", "fail")]));
    with_local.assert_code(1);
    let c3 = message(&with_local, "user32", "C3");
    assert!(
        c3.contains("lacks WordPress's tables wp_posts, wp_users: finish the install"),
        "user32 C3 gives its hint: {c3}"
    );
    assert!(
        message(&with_local, "user31", "C3").contains("3 tables"),
        "user31's C3 read its own server's three tables: {}",
        message(&with_local, "user31", "C3")
    );
    assert!(
        ssh.logins(0) > 0 && ssh.logins(1) > 0,
        "both servers were logged in to"
    );

    // The same from the env form.
    let from_env = step1_run(
        &acct,
        &ssh,
        &net,
        &worlds[..1],
        &[
            "--format".into(),
            "human".into(),
            "--color".into(),
            "never".into(),
        ],
        &[("LABRUN_MYSQL_PASSWORD_LOCAL", local_password.as_str())],
    );
    from_env.assert_code(0);

    // Without it, C3 is `error` naming the flag: Aurora's password (given by the
    // course net) is never tried in its place.
    let without = step1_run(
        &acct,
        &ssh,
        &net,
        &worlds,
        &["--format".into(), "json".into()],
        &[],
    );
    let report = without.report();
    for w in &worlds {
        assert_eq!(report.status(&w.trainee, "C3"), "error", "{}", w.trainee);
        let m = message(&without, &w.trainee, "C3");
        assert!(m.contains("--mysql-password-file local=FILE"), "{m}");
        assert!(m.contains("LABRUN_MYSQL_PASSWORD_LOCAL"), "{m}");
    }
    let logins = ssh.logins(0);
    let again = step1_run(
        &acct,
        &ssh,
        &net,
        &worlds[..1],
        &["--format".into(), "json".into()],
        &[],
    );
    assert_eq!(again.report().status("user31", "C3"), "error");
    assert_eq!(
        ssh.logins(0),
        logins,
        "no login to try a password it does not have"
    );

    // The local password shows nowhere: reports, logs, cassette, audit.
    let mut outputs = Vec::new();
    for run in [&with_local, &from_env, &without] {
        outputs.push(run.stdout.clone());
        outputs.push(run.stderr.clone());
    }
    outputs.push(std::fs::read_to_string(&cassette).expect("cassette"));
    outputs.push(std::fs::read_to_string(&audit).expect("audit"));
    for text in &outputs {
        assert!(!text.contains(&local_password), "the local password leaked");
        assert!(
            !text.contains(&aurora_password),
            "the Aurora password leaked"
        );
    }
    drop((db31, db32));
}
