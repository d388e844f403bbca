//! The class's own question on a moto class of six under the 2019 course, watched
//! without `--ssh-key` (as README's live-class command runs): who is done (one
//! finished all three steps, its superseded outcomes skipped), who is stuck (the same
//! outcome failing since the first cycle), who has not started, whose roster id
//! matches nothing in the account, and one who finishes during the watch. The
//! outcomes these settings cannot decide are named on stderr before the first cycle
//! and never counted. `--until done` ends (exit 0) once every trainee is done, and
//! does not while one is not.

use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, IpRange};
use labrun_tests::course::{self, Broken, CourseNet, Edition, Step};
use labrun_tests::live::Watch;
use labrun_tests::TestAccount;
use serde_json::Value;

/// A debug build on 2 busy cores, six course trainees per cycle.
const CYCLE: Duration = Duration::from_secs(300);
const COURSE: &str = "courses/wordpress-2019.toml";

fn trainee<'a>(cycle: &'a Value, name: &str) -> &'a Value {
    cycle["trainees"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["trainee"] == name))
        .unwrap_or_else(|| panic!("no {name} in {cycle}"))
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|x| {
            if key.is_empty() {
                x.as_str().unwrap_or_default().to_string()
            } else {
                x[key].as_str().unwrap_or_default().to_string()
            }
        })
        .collect()
}

fn http_from_anywhere() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(80)
        .to_port(80)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

/// Every stderr line the watch printed so far.
fn stderr_lines(watch: &Watch) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(line) = watch.stderr.recv_timeout(Duration::from_millis(200)) {
        lines.push(line);
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_at_six_points_says_who_is_done_who_is_stuck_and_who_has_not_started() {
    let acct = TestAccount::new().await;
    let worlds = course::build_each(
        &acct,
        &[
            ("user91", Step::Three, Edition::E2019, Broken::None),
            ("user92", Step::Two, Edition::E2019, Broken::DbSgOpenCidr),
            ("user93", Step::One, Edition::E2019, Broken::None),
            ("user94", Step::Three, Edition::E2019, Broken::None),
        ],
    )
    .await;
    // user94 has yet to open the ALB to HTTP (S3-C2); user96 only made a key pair.
    let user94 = worlds[3].step3.as_ref().expect("a Step-3 world");
    acct.ec2
        .revoke_security_group_ingress()
        .group_id(&user94.alb_sg.id)
        .ip_permissions(http_from_anywhere())
        .send()
        .await
        .expect("close the ALB");
    acct.ec2
        .create_key_pair()
        .key_name("1day-user96")
        .send()
        .await
        .expect("user96's key pair");
    let net = CourseNet::start(&worlds)
        .await
        .unwrap_or_else(|e| panic!("starting the probe servers: {e:#}"));
    let state = std::env::temp_dir().join(format!("labrun-classview-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&state);
    let mut cmd = acct.labrun();
    cmd.arg(COURSE);
    // user9 is a typo for user09: nothing in the account is named for it.
    for t in ["user91", "user92", "user93", "user94", "user96", "user9"] {
        cmd.args(["--trainee", t]);
    }
    cmd.args([
        "--watch",
        "5",
        "--until",
        "done",
        "--stuck-after",
        "1s",
        "--format",
        "jsonl",
        "--lang",
        "en",
    ])
    .arg("--state")
    .arg(&state)
    .args(net.args());
    let mut watch = Watch::start(cmd);
    let first = watch.cycle_where(CYCLE, |_| true);
    let stderr = stderr_lines(&watch);

    // What these settings cannot decide, named once before the first cycle.
    let undecided: Vec<String> = first["undecided"]
        .as_array()
        .expect("the report lists what it leaves undecided")
        .iter()
        .flat_map(|u| names(&u["ids"], ""))
        .collect();
    let mut sorted = undecided.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["S1-C3", "S2-A5", "S2-A6", "S2-B2", "S2-B3", "S2-C3", "S3-F1"],
        "without --ssh-key (probes tunnelled with --connect-to, Aurora's password given)"
    );
    for u in first["undecided"].as_array().unwrap() {
        let line = format!("labrun: {}", u["message"]["en"].as_str().unwrap());
        assert!(line.contains("not decided in this run"), "{line}");
        assert_eq!(
            stderr.iter().filter(|l| **l == line).count(),
            1,
            "named once on stderr: {line}\n{stderr:#?}"
        );
    }
    let typo: Vec<&String> = stderr
        .iter()
        .filter(|l| l.contains("nothing in the AWS account is named for"))
        .collect();
    assert_eq!(typo.len(), 1, "{stderr:#?}");
    assert!(typo[0].contains(" user9:"), "{}", typo[0]);

    // user91 finished all three steps: done, every decidable outcome counted (the
    // outcomes Step 3 superseded skip and count), the undecided ones left out.
    let u81 = trainee(&first, "user91");
    assert_eq!(u81["done"], true);
    assert_eq!(
        (u81["passed"].as_u64(), u81["total"].as_u64()),
        (Some(35), Some(35))
    );
    assert_eq!(u81["course"]["current"], Value::Null);
    assert_eq!(u81["state"], "done");
    assert!(u81["finished_at"].is_string());
    let skipped: Vec<&str> = u81["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skip" && r["undecided"].is_null())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        ["S1-C1", "S1-C2", "S2-B4"],
        "superseded, and counted"
    );
    for r in u81["results"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap().to_string();
        assert_eq!(r["undecided"] == true, undecided.contains(&id), "{r}");
    }

    // The others, each at their point.
    let u82 = trainee(&first, "user92");
    assert_eq!(
        (u82["done"].as_bool(), u82["course"]["current"].as_str()),
        (Some(false), Some("S2"))
    );
    assert_eq!(u82["at"]["id"], "S2-A1");
    let u83 = trainee(&first, "user93");
    assert_eq!(u83["course"]["current"], "S2");
    assert_eq!(names(&u83["not_started"], ""), ["S3"], "Step 3 not reached");
    let u84 = trainee(&first, "user94");
    assert_eq!(u84["course"]["current"], "S3");
    assert_eq!(u84["at"]["id"], "S3-C2");
    assert_eq!(trainee(&first, "user96")["state"], "not_started");
    let u1 = trainee(&first, "user9");
    assert_eq!(
        (u1["unmatched"].as_bool(), u1["state"].as_str()),
        (Some(true), Some("unmatched"))
    );
    for t in ["user92", "user93", "user94", "user96"] {
        assert!(trainee(&first, t)["unmatched"].is_null(), "{t} matches");
    }
    assert_eq!(first["summary"]["done"], 1);
    assert_eq!(first["watch"]["class"]["done"], 1);
    assert_eq!(
        names(&first["watch"]["class"]["finished"], "trainee"),
        ["user91"]
    );
    assert_eq!(
        names(&first["watch"]["class"]["not_started"], ""),
        ["user96"]
    );
    assert_eq!(names(&first["watch"]["class"]["unmatched"], ""), ["user9"]);

    // user94 opens the ALB and finishes; user92 and user93 stay where they were.
    acct.ec2
        .authorize_security_group_ingress()
        .group_id(&user94.alb_sg.id)
        .ip_permissions(http_from_anywhere())
        .send()
        .await
        .expect("open the ALB");
    let later = watch.cycle_where(CYCLE, |c| trainee(c, "user94")["done"] == true);
    let class = &later["watch"]["class"];
    assert_eq!(class["done"], 2);
    assert_eq!(names(&class["finished"], "trainee"), ["user91", "user94"]);
    assert_eq!(
        names(&class["stuck"], "trainee"),
        ["user92", "user93"],
        "the same first failing outcome since the first cycle, longest first: {class}"
    );
    assert_eq!(names(&class["stuck"], "id"), ["S2-A1", "S2-A1"]);
    assert!(class["stuck"][0]["seconds"].as_u64().unwrap() >= 1);
    assert_eq!(trainee(&later, "user92")["state"], "stuck");
    assert_eq!(
        trainee(&later, "user96")["state"],
        "not_started",
        "not stuck"
    );
    assert_eq!(later["summary"]["done"], 2);

    // --until done does not end while a trainee is not done.
    assert!(watch.child.try_wait().unwrap().is_none(), "still watching");
    watch.interrupt();
    assert_ne!(watch.wait(CYCLE), 0, "not every trainee is done");

    // The two who are done: --until done ends after its first cycle, exit 0, and the
    // state file kept when each finished.
    let mut cmd = acct.labrun();
    cmd.args([COURSE, "--trainee", "user91", "--trainee", "user94"])
        .args(["--watch", "5", "--until", "done", "--format", "jsonl"])
        .arg("--state")
        .arg(&state)
        .args(net.args());
    let mut done = Watch::start(cmd);
    let last = done.cycle_where(CYCLE, |_| true);
    assert_eq!(done.wait(CYCLE), 0);
    assert_eq!(
        names(&last["watch"]["class"]["finished"], "trainee"),
        ["user91", "user94"]
    );
    assert_eq!(
        trainee(&last, "user91")["finished_at"],
        u81["finished_at"],
        "finished when it first was done, as the state file kept it"
    );
    let _ = std::fs::remove_file(&state);
}
