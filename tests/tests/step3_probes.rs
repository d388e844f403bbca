//! End-to-end tests of Step 3's network probes (A4 A5 A6 C5 D1 E2): a finished world in
//! moto, its network served on 127.0.0.1 by a [`ProbeEnv`] broken in exactly one way,
//! and `labrun scripts/step3.rhai` must give exactly the statuses
//! `ProbeBroken::expected_statuses` documents for all 18 ids.

use std::time::Duration;

use labrun_tests::world::ALL_IDS;
use labrun_tests::{run_labrun, Broken, LabrunRun, ProbeBroken, ProbeEnv, TestAccount, World};

/// Generous: a debug build against a loaded moto, many tests at once on 2 cores.
const TIMEOUT: Duration = Duration::from_secs(120);
const SCRIPT: &str = "scripts/step3.rhai";
const TRAINEE: &str = "user08";

fn labrun(acct: &TestAccount, env: &ProbeEnv, args: &[&str]) -> LabrunRun {
    let mut cmd = acct.labrun();
    cmd.args(args).args(env.args());
    run_labrun(cmd, TIMEOUT)
}

async fn finished_world(acct: &TestAccount) -> World {
    World::build_finished(acct, TRAINEE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

async fn probe_env(world: &World, broken: ProbeBroken) -> ProbeEnv {
    ProbeEnv::start(&[(world, broken)])
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers for {broken:?}: {e:#}"))
}

async fn check_variant(broken: ProbeBroken) -> LabrunRun {
    let acct = TestAccount::new().await;
    let world = finished_world(&acct).await;
    let env = probe_env(&world, broken).await;
    let run = labrun(
        &acct,
        &env,
        &[
            SCRIPT,
            "--param",
            &format!("user={TRAINEE}"),
            "--format",
            "json",
        ],
    );
    let report = run.report();
    assert_eq!(report.trainees(), [TRAINEE]);
    let expected = broken.expected_statuses(Broken::None);
    assert_eq!(expected.len(), ALL_IDS.len());
    report.assert_statuses(TRAINEE, &expected);
    run.assert_code(broken.expected_exit_code(Broken::None));
    run
}

macro_rules! variant_tests {
    ($($name:ident => $variant:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                check_variant(ProbeBroken::$variant).await;
            }
        )*
        const COVERED: &[ProbeBroken] = &[$(ProbeBroken::$variant),*];
    };
}

variant_tests! {
    finished_network_passes => None,
    a4_cluster_endpoint_in_old_writer_subnet => DnsWrongSubnet,
    a4_dns_server_down_is_an_error => DnsDown,
    a6_reader_endpoint_writable => ReaderNotReadOnly,
    a5_no_wordpress_database => NoWordpressDb,
    d1_siteurl_still_ec2_name => OldSiteUrl,
    c5_alb_not_wordpress => AlbNotWordpress,
    c5_alb_server_error => AlbServerError,
    e2_web_server_answers_directly => WebServerAnswersDirectly,
}

#[test]
fn every_probe_broken_variant_has_an_e2e_test() {
    for b in ProbeBroken::ALL {
        assert!(
            COVERED.contains(&b) || b == ProbeBroken::WrongDbPassword,
            "no e2e test for ProbeBroken::{b:?}"
        );
    }
}

/// A wrong password is labrun's problem, not the trainee's: `error`, with MySQL's code
/// (D1, which needs A5, is skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a5_a6_d1_wrong_db_password_is_an_error_with_code_1045() {
    let run = check_variant(ProbeBroken::WrongDbPassword).await;
    let report = run.report();
    for id in ["A5", "A6"] {
        let shown = report.result(TRAINEE, id).to_string();
        assert!(
            shown.contains("1045"),
            "{id}: MySQL error code 1045 is neither in the message nor in the evidence: {shown}"
        );
    }
}

/// The DB password (right or wrong) never shows in a report (json, human), on stderr
/// or in a cassette.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_password_never_shows() {
    let acct = TestAccount::new().await;
    let world = finished_world(&acct).await;
    let dir = std::env::temp_dir().join(format!(
        "labrun-secrets-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let user = format!("user={TRAINEE}");
    for broken in [ProbeBroken::None, ProbeBroken::WrongDbPassword] {
        let env = probe_env(&world, broken).await;
        let secrets = [env.db_password(), env.given_password()];
        assert!(
            secrets.iter().all(|s| s.len() >= 16),
            "test passwords are long"
        );
        for format in ["json", "human"] {
            let cassette = dir.join(format!("{broken:?}-{format}.cassette.json"));
            let run = labrun(
                &acct,
                &env,
                &[
                    SCRIPT,
                    "--param",
                    &user,
                    "--format",
                    format,
                    "--color",
                    "never",
                    "--lang",
                    "en",
                    "--record",
                    cassette.to_str().unwrap(),
                ],
            );
            run.assert_code(broken.expected_exit_code(Broken::None));
            let recorded = std::fs::read_to_string(&cassette)
                .unwrap_or_else(|e| panic!("{broken:?}/{format}: no cassette: {e}"));
            assert!(
                recorded.contains("\"mysql\""),
                "{broken:?}/{format}: the cassette holds no mysql call"
            );
            for (what, text) in [
                ("stdout", &run.stdout),
                ("stderr", &run.stderr),
                ("cassette", &recorded),
            ] {
                for (i, secret) in secrets.iter().enumerate() {
                    let which = ["the real DB password", "the password given"][i];
                    assert!(
                        !text.contains(secret.as_str()),
                        "{broken:?}/{format}: {which} shows in {what}"
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The per-world MariaDB: seeded as its spec says, `--read-only` binds `admin`, quick to
/// start, and gone (process and files) when dropped.
#[test]
fn mariadb_per_world_is_seeded_read_only_and_removed() {
    use labrun_tests::{mariadb, MariaDb, MariaDbSpec};
    use std::process::Command;

    let url = "http://elb-user09-1.ap-northeast-1.elb.amazonaws.com";
    let start = std::time::Instant::now();
    let db = MariaDb::start(&MariaDbSpec::wordpress(url).read_only())
        .unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!("MariaDb::start took {:?}", start.elapsed());
    let sql = |sql: &str| {
        let out = Command::new("mariadb")
            .args(["--no-defaults", "--batch", "--skip-column-names"])
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                &db.port().to_string(),
                "-u",
                "admin",
            ])
            .args(["-e", sql])
            .env("MYSQL_PWD", mariadb::password().unwrap())
            .output()
            .expect("running the mariadb client");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )
    };
    let (ok, rows, err) = sql(
        "SELECT @@read_only, option_value FROM wordpress.wp_options \
         WHERE option_name IN ('home', 'siteurl')",
    );
    assert!(ok, "{err}");
    assert_eq!(rows, format!("1\t{url}\n1\t{url}"));
    let (ok, _, err) = sql("DELETE FROM wordpress.wp_options");
    assert!(!ok && err.contains("1290"), "a write on the reader: {err}");
    let port = db.port();
    drop(db);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens after drop"
    );

    let db = MariaDb::start(&MariaDbSpec::without_wordpress()).unwrap_or_else(|e| panic!("{e:#}"));
    let out = Command::new("mariadb")
        .args(["--no-defaults", "--batch", "--skip-column-names"])
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &db.port().to_string(),
            "-u",
            "admin",
        ])
        .args(["-e", "SHOW DATABASES"])
        .env("MYSQL_PWD", mariadb::password().unwrap())
        .output()
        .unwrap();
    let dbs = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !dbs.lines().any(|d| d == "wordpress"),
        "{dbs}"
    );
}
