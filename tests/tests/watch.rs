//! The watch loop against moto worlds, end to end: `--until done` ends when the last
//! fix lands; a trainee who breaks a passing check is reported as a regression; an
//! AWS outage mid-watch turns that cycle's AWS outcomes to `error` (and the cycle's
//! `watch.broken` says since when), and the loop recovers by itself.

use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, IpRange};
use labrun_tests::live::{result_in, status_in, FaultProxy, Proxy, Watch};
use labrun_tests::ssh_env::{SshEnv, SshOptions};
use labrun_tests::world::AWS_IDS;
use labrun_tests::{Broken, ProbeBroken, ProbeEnv, TestAccount, World};
use serde_json::Value;

const SCRIPT: &str = "scripts/step3.rhai";
/// A debug build on 2 busy cores; an outage cycle waits out the SDK's retries.
const CYCLE: Duration = Duration::from_secs(150);

fn http_from_anywhere() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(80)
        .to_port(80)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

/// E1's fix: web-XX no longer allows 80 from anywhere.
async fn close_http(acct: &TestAccount, world: &World) {
    acct.ec2
        .revoke_security_group_ingress()
        .group_id(&world.web_sg.id)
        .ip_permissions(http_from_anywhere())
        .send()
        .await
        .expect("revoke 80 from anywhere");
}

/// E1 broken again: 80 from anywhere.
async fn open_http(acct: &TestAccount, world: &World) {
    acct.ec2
        .authorize_security_group_ingress()
        .group_id(&world.web_sg.id)
        .ip_permissions(http_from_anywhere())
        .send()
        .await
        .expect("authorize 80 from anywhere");
}

async fn network(worlds: &[&World]) -> ProbeEnv {
    let pairs: Vec<(&World, ProbeBroken)> =
        worlds.iter().map(|w| (*w, ProbeBroken::None)).collect();
    ProbeEnv::start(&pairs)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_done_ends_when_the_last_fix_lands() {
    let acct = TestAccount::new().await;
    let worlds = World::build_each(
        &acct,
        &[("user07", Broken::WebSgOpenHttp), ("user08", Broken::None)],
    )
    .await;
    let env = network(&worlds.iter().collect::<Vec<_>>()).await;
    let mut cmd = acct.labrun();
    cmd.args([
        SCRIPT,
        "--trainees",
        "user07..user08",
        "--watch",
        "5",
        "--until",
        "done",
        "--format",
        "jsonl",
    ])
    .args(env.args());
    let mut watch = Watch::start(cmd);
    let first = watch.cycle_where(CYCLE, |_| true);
    assert_eq!(status_in(&first, "user07", "E1"), "fail");
    assert_eq!(status_in(&first, "user08", "E1"), "pass");
    assert!(result_in(&first, "user07", "E1")["first_passed"].is_null());
    assert!(
        watch.child.try_wait().unwrap().is_none(),
        "not done: user07 fails E1"
    );

    close_http(&acct, &worlds[0]).await;
    let last = watch.cycle_where(CYCLE, |c| status_in(c, "user07", "E1") == "pass");
    assert_eq!(
        watch.wait(CYCLE),
        0,
        "the watch ends by itself, every trainee done"
    );
    assert!(
        watch.stdout.recv_timeout(Duration::from_secs(2)).is_err(),
        "the last cycle was the end"
    );
    // README's command without --ssh-key still ends: F1 is undecided, said up front.
    let stderr: Vec<String> = watch.stderr.try_iter().collect();
    assert!(
        stderr.contains(&"labrun: F1 needs --ssh-key: not decided in this run".to_string()),
        "{stderr:#?}"
    );
    assert_eq!(result_in(&last, "user07", "F1")["undecided"], true);
    let e1 = result_in(&last, "user07", "E1");
    assert!(e1["first_passed"].is_string() && e1["first_passed"] == e1["last_changed"]);
    assert!(last["watch"]["cycle"].as_u64().unwrap() >= 2);
    // Each cycle coalesces its calls: see the_aws_calls_of_a_cycle_stay_within_11_plus_2n.
    assert!(
        last["summary"]["aws_calls"].as_u64().unwrap() <= 11 + 2 * 2,
        "{}",
        last["summary"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaking_a_passing_check_is_reported_as_a_regression() {
    let acct = TestAccount::new().await;
    let world = World::build(&acct, "user07", Broken::None)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env = network(&[&world]).await;
    let mut cmd = acct.labrun();
    cmd.args([
        SCRIPT,
        "--trainee",
        "user07",
        "--watch",
        "5",
        "--lang",
        "en",
    ])
    .args(env.args());
    let mut watch = Watch::start(cmd);
    // Not a terminal: the first cycle is one line per trainee, then only changes.
    let first = watch.line(CYCLE);
    // F1 is undecided without --ssh-key: not counted, and user07 is done.
    assert!(first.ends_with(" user07 17/17 passed, done"), "{first}");

    open_http(&acct, &world).await;
    let change = watch.line(CYCLE);
    assert!(
        change.contains(" REGRESSION user07 E1 PASS → FAIL  "),
        "{change}"
    );
    watch.interrupt();
    assert_eq!(watch.wait(CYCLE), 1);
    let mut rest = Vec::new();
    while let Ok(line) = watch.stdout.recv_timeout(Duration::from_secs(2)) {
        rest.push(line);
    }
    assert!(
        rest.iter()
            .any(|l| l == "REGRESSION user07 E1: it passed before and fails now"),
        "the final report names the regression: {rest:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_outage_mid_watch_is_error_since_then_and_the_loop_recovers() {
    let acct = TestAccount::new().await;
    let world = World::build(&acct, "user07", Broken::None)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env = network(&[&world]).await;
    let moto = labrun_tests::moto_url();
    let mut proxy = Proxy::new(moto.trim_start_matches("http://")).await;
    let mut cmd = acct.labrun();
    cmd.args([
        SCRIPT,
        "--trainee",
        "user07",
        "--watch",
        "5",
        "--format",
        "jsonl",
    ])
    .args(env.args())
    .env("AWS_ENDPOINT_URL", proxy.url());
    let mut watch = Watch::start(cmd);
    let first = watch.cycle_where(CYCLE, |_| true);
    for &id in AWS_IDS.iter() {
        assert_eq!(status_in(&first, "user07", id), "pass", "{id}");
    }

    proxy.stop().await;
    let down = watch.cycle_where(CYCLE, |c| status_in(c, "user07", "A1") == "error");
    for &id in AWS_IDS.iter() {
        // An id whose prerequisite could not be checked may be skipped instead.
        let status = status_in(&down, "user07", id);
        assert!(
            matches!(status.as_str(), "error" | "skip"),
            "{id} is {status} while AWS is down"
        );
    }
    let broken = &down["watch"]["broken"][0];
    assert_eq!(broken["capability"], "aws");
    assert!(broken["since"].is_string(), "{broken}");
    assert_eq!(
        result_in(&down, "user07", "A1")["regressions"],
        0,
        "an outage is no regression"
    );

    proxy.start().await;
    let back = watch.cycle_where(CYCLE, |c| status_in(c, "user07", "A1") == "pass");
    for &id in AWS_IDS.iter() {
        assert_eq!(
            status_in(&back, "user07", id),
            "pass",
            "{id} after AWS is back"
        );
    }
    assert_eq!(back["watch"]["broken"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        result_in(&back, "user07", "A1")["first_passed"],
        result_in(&first, "user07", "A1")["first_passed"]
    );
    watch.interrupt();
    assert_eq!(watch.wait(CYCLE), 0);
}

/// The AWS calls of one watch cycle of `trainees` (its `summary.aws_calls`).
fn aws_calls_of_a_cycle(acct: &TestAccount, env: &ProbeEnv, trainees: &str) -> u64 {
    let mut cmd = acct.labrun();
    cmd.args([
        SCRIPT,
        "--trainees",
        trainees,
        "--watch",
        "5",
        "--format",
        "jsonl",
    ])
    .args(env.args());
    let watch = Watch::start(cmd);
    let cycle = watch.cycle_where(CYCLE, |_| true);
    assert_eq!(status_in(&cycle, "user07", "A1"), "pass", "{cycle}");
    cycle["watch"]["aws_calls"]
        .as_u64()
        .expect("watch.aws_calls")
}

/// Polite to the account: a cycle of N trainees costs at most 11 + 2N AWS calls. Only
/// DescribeListeners and DescribeTargetHealth name a trainee's own resource; every
/// other describe (DescribeEvents included) is one account-wide call the class shares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_calls_of_a_cycle_stay_within_11_plus_2n() {
    let acct = TestAccount::new().await;
    let worlds = World::build_each(
        &acct,
        &[
            ("user07", Broken::None),
            ("user08", Broken::None),
            ("user09", Broken::None),
            ("user10", Broken::None),
        ],
    )
    .await;
    let env = network(&worlds.iter().collect::<Vec<_>>()).await;
    let one = aws_calls_of_a_cycle(&acct, &env, "user07");
    let four = aws_calls_of_a_cycle(&acct, &env, "user07..user10");
    assert!(one <= 11 + 2, "1 trainee: {one} AWS calls in a cycle");
    assert!(
        four <= 11 + 2 * 4,
        "4 trainees: {four} AWS calls in a cycle"
    );
    assert!(
        four - one <= 2 * 3,
        "each more trainee costs at most 2 calls: {one} for 1, {four} for 4"
    );
}

/// A watch keeps one SSH connection per server for all its cycles: after 3 cycles
/// each sshd has accepted one login, not three (and the watch says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_keeps_its_ssh_connections_across_cycles() {
    let acct = TestAccount::new().await;
    let world = World::build_finished(&acct, "user09")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let probes = network(&[&world]).await;
    let ssh = SshEnv::start(&world, &probes.db_password(), SshOptions::default())
        .unwrap_or_else(|e| panic!("starting sshd and nginx: {e:#}"));
    let mut cmd = acct.labrun();
    cmd.args([
        SCRIPT,
        "--trainee",
        "user09",
        "--watch",
        "5",
        "--format",
        "jsonl",
    ])
    // The SSH routes before the probe env's (the first matching --connect-to wins).
    .args(ssh.args())
    .args(probes.args());
    let mut watch = Watch::start(cmd);
    let mut last = Value::Null;
    for n in 1..=3 {
        last = watch.cycle_where(CYCLE, |_| true);
        assert_eq!(last["watch"]["cycle"], n);
        assert_eq!(
            status_in(&last, "user09", "F1"),
            "pass",
            "cycle {n}: {last}"
        );
    }
    let servers = ssh.web.len();
    let logins: usize = (0..servers).map(|i| ssh.logins(i)).sum();
    assert_eq!(logins, servers, "one login per server over 3 cycles");
    assert_eq!(last["watch"]["ssh_connections"], servers as u64);
    watch.interrupt();
    assert_eq!(watch.wait(CYCLE), 0);
}

/// Throttling is retried, not suffered by the rest of the cycle: AWS (moto, behind a
/// proxy that injects two `Throttling` answers to DescribeDBClusters) throttles one
/// API; labrun backs off and retries that call (AWS keeps a bucket per API, so the
/// other APIs' calls go on at speed), every check gets its answer, and the cycle's
/// summary and a line on stderr say so. The next cycle is not throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_call_is_retried_without_slowing_the_rest_of_the_cycle() {
    let acct = TestAccount::new().await;
    let worlds =
        World::build_each(&acct, &[("user07", Broken::None), ("user08", Broken::None)]).await;
    let env = network(&worlds.iter().collect::<Vec<_>>()).await;
    let moto = labrun_tests::moto_url();
    let proxy =
        FaultProxy::throttling(moto.trim_start_matches("http://"), "DescribeDBClusters", 2).await;
    let mut cmd = acct.labrun();
    cmd.args([
        SCRIPT,
        "--trainees",
        "user07..user08",
        "--watch",
        "5",
        "--format",
        "jsonl",
    ])
    .args(env.args())
    .env("AWS_ENDPOINT_URL", proxy.url());
    let mut watch = Watch::start(cmd);
    let first = watch.cycle_where(CYCLE, |_| true);
    let first_at = std::time::Instant::now();
    // labrun retried the throttled call; every check still got its answer.
    for trainee in ["user07", "user08"] {
        for &id in AWS_IDS.iter() {
            assert_eq!(status_in(&first, trainee, id), "pass", "{trainee} {id}");
        }
    }
    assert_eq!(first["summary"]["aws_throttled"], 2, "{}", first["summary"]);
    assert_eq!(first["watch"]["aws_throttled"], 2);
    let said: Vec<String> =
        std::iter::from_fn(|| watch.stderr.recv_timeout(Duration::from_secs(2)).ok()).collect();
    assert!(
        said.iter().any(|l| l.contains(
            "cycle 1: AWS throttled 2×; labrun backed off and retried at the pace AWS refills"
        )),
        "{said:#?}"
    );
    let second = watch.cycle_where(CYCLE, |_| true);
    let second_at = std::time::Instant::now();
    assert!(
        second["summary"]["aws_throttled"].is_null(),
        "not throttled again"
    );
    watch.interrupt();
    watch.wait(CYCLE);

    let seen = proxy.seen();
    let in_first: Vec<_> = seen.iter().filter(|s| s.at < first_at).collect();
    let clusters: Vec<_> = in_first
        .iter()
        .filter(|s| s.action == "DescribeDBClusters")
        .collect();
    assert_eq!(
        clusters.iter().map(|s| s.throttled).collect::<Vec<_>>(),
        [true, true, false],
        "one call, throttled twice and answered at the third attempt: {clusters:?}"
    );
    // Each retry waited a jittered back-off: at most one RDS refill interval (83 ms)
    // doubled per attempt (166 ms, then 333 ms), plus the way through the proxy.
    for (n, pair) in clusters.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        let cap = Duration::from_millis(166 << n) + Duration::from_millis(400);
        assert!(gap <= cap, "retry {} waited {gap:?}", n + 1);
    }
    // Nothing else is spaced out once the call got through (the old whole-cycle
    // back-off spaced every later call by 400 ms).
    let later: Vec<_> = in_first
        .iter()
        .filter(|s| s.action != "DescribeDBClusters" && s.at > clusters[2].at)
        .collect();
    assert!(
        later
            .windows(2)
            .any(|w| w[1].at - w[0].at < Duration::from_millis(150)),
        "the rest of the cycle goes at speed: {later:?}"
    );
    let second_calls = seen
        .iter()
        .filter(|s| s.at > first_at && s.at < second_at)
        .count();
    assert!(second_calls > 0 && seen.iter().filter(|s| s.throttled).count() == 2);
}
