//! Trainee links (`--serve … --trainee-links FILE`): each trainee's token opens that
//! trainee's page and API only; never another trainee's data, never the board, its
//! report or its event stream; no token opens nothing; the instructor's token opens
//! everything. Check now answers at once and is taken once per 15 s per trainee. The
//! links survive a restart through `--state`. Replayed from the shipped cassette: no
//! AWS account, no network beyond 127.0.0.1.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use labrun_tests::live::{http, trainee_links, Watch};
use labrun_tests::{labrun_bin, workspace_root};
use serde_json::Value;

const CYCLE: Duration = Duration::from_secs(120);
const BOSS: &str = "instructor-token-0123";

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "labrun-links-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A replayed watch of user05 (recorded) and user06 (not in the cassette).
fn start(dir: &Path) -> (Watch, String) {
    let mut cmd = Command::new(labrun_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .current_dir(workspace_root())
        .args([
            "scripts/step3.rhai",
            "--trainee",
            "user05",
            "--trainee",
            "user06",
            "--replay",
            "examples/step3-user05.cassette.json",
            "--watch",
            "5",
            "--format",
            "jsonl",
            "--lang",
            "en",
            "--serve",
            "127.0.0.1:0",
            "--serve-token",
            BOSS,
        ])
        .arg("--trainee-links")
        .arg(dir.join("links.csv"))
        .arg("--state")
        .arg(dir.join("state.json"));
    let watch = Watch::start(cmd);
    let url = loop {
        let line = watch.stderr.recv_timeout(CYCLE).expect("the dashboard URL");
        if let Some(url) = line.strip_prefix("labrun: dashboard on ") {
            break url.to_string();
        }
    };
    watch.cycle_where(CYCLE, |_| true);
    let base = url.split("/?").next().unwrap().to_string();
    (watch, base)
}

fn token(url: &str) -> String {
    url.split("token=")
        .nth(1)
        .expect("a token in the link")
        .to_string()
}

fn status(method: &str, url: &str) -> u16 {
    http(method, url, None)
        .unwrap_or_else(|e| panic!("{method} {url}: {e:#}"))
        .0
}

#[test]
fn a_trainee_link_opens_that_trainee_only_and_the_instructor_token_everything() {
    let dir = scratch();
    let (mut watch, base) = start(&dir);
    let links = trainee_links(&dir.join("links.csv"));
    assert_eq!(
        links.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        ["user05", "user06"]
    );
    for (_, url) in &links {
        assert!(url.starts_with(&format!("{base}/me?token=")), "{url}");
    }
    let (a, b) = (token(&links[0].1), token(&links[1].1));
    assert_ne!(a, b);
    for file in ["links.csv", "state.json"] {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} holds secrets: owner only");
    }

    // A's token: A's page and checklist.
    let (code, page) = http("GET", &links[0].1, None).unwrap();
    assert_eq!(code, 200);
    assert!(
        page.contains("\"trainee\":\"user05\""),
        "the page embeds user05's view"
    );
    let (code, own) = http("GET", &format!("{base}/api/trainee?token={a}"), None).unwrap();
    assert_eq!(code, 200, "{own}");
    let own: Value = serde_json::from_str(&own).unwrap();
    assert_eq!(own["trainee"]["trainee"], "user05");
    assert_eq!(own["trainee"]["done"], true);
    assert!(
        own["titles"]["A1"]["en"].is_string(),
        "titles from the step"
    );
    assert!(
        !own.to_string().contains("user06"),
        "nothing of another trainee's"
    );
    let (code, by_header) = http("GET", &format!("{base}/api/trainee"), Some(&a)).unwrap();
    assert_eq!(code, 200, "a bearer token works as well: {by_header}");

    // A's token on B's data, on the board, its report and its event stream: refused.
    for url in [
        format!("{base}/api/trainee?token={a}&trainee=user06"),
        format!("{base}/me?token={a}&trainee=user06"),
        format!("{base}/?token={a}"),
        format!("{base}/api/report?token={a}"),
        format!("{base}/api/events?token={a}"),
    ] {
        assert_eq!(status("GET", &url), 403, "{url}");
    }
    assert_eq!(
        status(
            "POST",
            &format!("{base}/api/check?token={a}&trainee=user06")
        ),
        403
    );
    // No token, or a wrong one: nothing.
    for url in [
        format!("{base}/"),
        format!("{base}/api/report"),
        format!("{base}/api/events"),
        format!("{base}/api/trainee"),
        format!("{base}/me"),
        format!("{base}/api/trainee?token=not-a-token&trainee=user05"),
    ] {
        assert_eq!(status("GET", &url), 401, "{url}");
    }
    assert_eq!(status("POST", &format!("{base}/api/check")), 401);
    // The instructor's token: everything.
    for url in [
        format!("{base}/?token={BOSS}"),
        format!("{base}/api/report?token={BOSS}"),
        format!("{base}/api/events?token={BOSS}"),
        format!("{base}/me?token={BOSS}&trainee=user06"),
    ] {
        assert_eq!(status("GET", &url), 200, "{url}");
    }
    let (code, other) = http(
        "GET",
        &format!("{base}/api/trainee?trainee=user06"),
        Some(BOSS),
    )
    .unwrap();
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&other).unwrap()["trainee"]["trainee"],
        "user06"
    );
    let (_, b_view) = http("GET", &format!("{base}/api/trainee?token={b}"), None).unwrap();
    let b_view: Value = serde_json::from_str(&b_view).unwrap();
    assert_eq!(b_view["trainee"]["trainee"], "user06");

    // Check now: answered with the fresh checklist, then not again for 15 s.
    let before = own["trainee"]["checked_at"].as_str().unwrap().to_string();
    let (code, checked) = http("POST", &format!("{base}/api/check?token={a}"), None).unwrap();
    assert_eq!(code, 200, "{checked}");
    let checked: Value = serde_json::from_str(&checked).unwrap();
    assert_eq!(checked["trainee"]["trainee"], "user05");
    assert!(checked["trainee"]["checked_at"].as_str().unwrap() >= before.as_str());
    assert!(checked["check"]["wait_s"].as_u64().unwrap() > 10);
    let (code, again) = http("POST", &format!("{base}/api/check?token={a}"), None).unwrap();
    assert_eq!(code, 429, "{again}");
    let again: Value = serde_json::from_str(&again).unwrap();
    assert!(again["retry_after_s"].as_u64().unwrap() <= 15);
    assert!(again["error"]["ja"].is_string(), "both languages");
    assert_eq!(
        status("POST", &format!("{base}/api/check?token={b}")),
        200,
        "per trainee"
    );

    // A restarted watch on the same --state hands out the same links.
    let first = std::fs::read_to_string(dir.join("links.csv")).unwrap();
    watch.interrupt();
    watch.wait(CYCLE);
    let (mut again, base2) = start(&dir);
    let second = std::fs::read_to_string(dir.join("links.csv")).unwrap();
    let tokens = |text: &str| -> Vec<String> { text.lines().skip(1).map(token).collect() };
    assert_eq!(tokens(&first), tokens(&second), "the same tokens");
    assert_eq!(
        status("GET", &format!("{base2}/api/trainee?token={a}")),
        200,
        "an old link still opens"
    );
    again.interrupt();
    again.wait(CYCLE);
    let _ = std::fs::remove_dir_all(&dir);
}
