//! The live dashboard in a real browser: headless Chromium (Debian `chromium` and
//! `chromium-driver`, over WebDriver) loads the board of a watch over a moto-backed
//! class of two, sees each cell's status, sees user07's E1 turn to pass after the fix
//! lands in moto without reloading the page, and logs no console error; renders the
//! board of a class of forty on one 1920×1080 screen; and opens a trainee's own page,
//! where Check now shows a fix without waiting for the class's cycle. With
//! `LABRUN_UPDATE_SCREENSHOT=1` it writes `docs/board.png` and `docs/trainee.png`.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{IpPermission, IpRange};
use labrun_tests::live::{Browser, Watch};
use labrun_tests::{workspace_root, Broken, ProbeBroken, ProbeEnv, TestAccount, World};

const CYCLE: Duration = Duration::from_secs(150);

/// Polls `script` in the page until it returns `want`.
fn until(browser: &Browser, script: &str, want: &str, within: Duration) {
    let end = Instant::now() + within;
    let mut last = serde_json::Value::Null;
    while Instant::now() < end {
        last = browser.eval(script).unwrap_or_default();
        if last == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{script} is {last}, never {want:?}");
}

fn cell(trainee: &str, id: &str) -> String {
    format!(
        "const c = document.querySelector('td.cell[data-trainee=\"{trainee}\"][data-id=\"{id}\"]'); \
         return c ? c.dataset.status : null;"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_class_and_a_fix_turns_its_cell_to_pass_live() {
    let acct = TestAccount::new().await;
    let worlds = World::build_each(
        &acct,
        &[("user07", Broken::WebSgOpenHttp), ("user08", Broken::None)],
    )
    .await;
    let pairs: Vec<(&World, ProbeBroken)> = worlds.iter().map(|w| (w, ProbeBroken::None)).collect();
    let env = ProbeEnv::start(&pairs)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut cmd = acct.labrun();
    cmd.args([
        "scripts/step3.rhai",
        "--trainees",
        "user07..user08",
        "--watch",
        "5",
        "--format",
        "json",
        "--serve",
        "127.0.0.1:0",
        "--lang",
        "en",
    ])
    .args(env.args());
    let mut watch = Watch::start(cmd);
    let url = dashboard_url(&watch);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let browser = Browser::start().unwrap_or_else(|e| panic!("{e:#}"));
    browser.goto(&url).unwrap();
    until(&browser, &cell("user07", "E1"), "fail", CYCLE);
    until(&browser, &cell("user08", "E1"), "pass", CYCLE);
    until(&browser, &cell("user07", "A1"), "pass", CYCLE);
    until(&browser, &cell("user07", "F1"), "skip", CYCLE);
    let counts = browser
        .eval("const c = document.querySelector('td[data-counts=\"E1\"]'); return [c.dataset.pass, c.dataset.fail];")
        .unwrap();
    assert_eq!(counts, serde_json::json!(["1", "1"]), "per-id counts");
    until(
        &browser,
        "return document.querySelector('td.cell[data-trainee=\"user07\"][data-id=\"F1\"]').dataset.shown;",
        "undecided",
        CYCLE,
    );
    // The message and evidence of a cell, on click.
    browser
        .eval("document.querySelector('td.cell[data-trainee=\"user07\"][data-id=\"E1\"]').click(); return 0;")
        .unwrap();
    let message = browser
        .eval("return document.getElementById('detail-message').textContent;")
        .unwrap();
    assert!(
        !message.as_str().unwrap_or("").is_empty(),
        "the detail shows E1's message"
    );

    // The same page, never reloaded, follows the fix.
    browser
        .eval("window.__labrunSamePage = 42; return 0;")
        .unwrap();
    acct.ec2
        .revoke_security_group_ingress()
        .group_id(&worlds[0].web_sg.id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(80)
                .to_port(80)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .expect("fix E1");
    until(&browser, &cell("user07", "E1"), "pass", CYCLE);
    assert_eq!(
        browser.eval("return window.__labrunSamePage;").unwrap(),
        42,
        "no reload"
    );
    let errors: Vec<_> = browser
        .console()
        .unwrap()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console: {errors:#?}");
    watch.interrupt();
    assert_eq!(watch.wait(CYCLE), 0);
}

/// The labrun arguments that send every probe to a closed 127.0.0.1 port.
fn closed_network() -> Vec<String> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    vec![
        "--dns-server".into(),
        format!("127.0.0.1:{closed}"),
        "--connect-to".into(),
        format!("::127.0.0.1:{closed}"),
        "--probe-timeout".into(),
        "1".into(),
    ]
}

/// The dashboard URL the watch prints on stderr.
fn dashboard_url(watch: &Watch) -> String {
    loop {
        let line = watch.stderr.recv_timeout(CYCLE).expect("the dashboard URL");
        // `labrun: dashboard on URL` (`labrun: ダッシュボード: URL` under --lang ja);
        // "… (generated token)" follows a token labrun made up.
        if line.starts_with("labrun: dashboard on ") || line.starts_with("labrun: ダッシュボード: ")
        {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                return url.to_string();
            }
        }
    }
}

/// The rectangle of the first element `selector` matches: [left, top, right, bottom].
fn rect(browser: &Browser, selector: &str) -> [f64; 4] {
    let v = browser
        .eval(&format!(
            "const r = document.querySelector('{selector}').getBoundingClientRect(); \
             return [r.left, r.top, r.right, r.bottom];"
        ))
        .unwrap();
    let n = |i: usize| v[i].as_f64().unwrap();
    [n(0), n(1), n(2), n(3)]
}

/// A class of forty on the projector: every row, every column and the class summary
/// on one 1920×1080 screen without scrolling the page, in both languages. The class
/// is checked from the AWS APIs alone (a policy granting `aws` only: the probes'
/// outcomes are undecided, as without --ssh-key), 24 trainees finished and 16 each
/// with one AWS-side break; the watch resumes a state file of a class well under way
/// (finished times, the broken ones stuck or still working).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_forty_trainees_and_the_class_summary_on_one_projector_screen() {
    let acct = TestAccount::new().await;
    let ids: Vec<String> = (1..=40).map(|i| format!("user{i:02}")).collect();
    let breaks = &Broken::ALL[1..17];
    let plan: Vec<(&str, Broken)> = ids
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let b = if i % 5 == 2 || i % 5 == 4 {
                breaks[(i / 2) % breaks.len()]
            } else {
                Broken::None
            };
            (t.as_str(), b)
        })
        .collect();
    let broken_n = plan.iter().filter(|(_, b)| *b != Broken::None).count();
    let _worlds = World::build_each(&acct, &plan).await;
    let dir = std::env::temp_dir().join(format!("labrun-board-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("aws-only.toml");
    std::fs::write(&policy, "trust = \"instructor\"\n[grants]\naws = [\"*\"]\n").unwrap();
    // A class under way: when the finished ones finished, since when the others fail.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let min = 60_000;
    let mut places = serde_json::Map::new();
    for (i, (t, b)) in plan.iter().enumerate() {
        let place = match b.expected().iter().find(|(_, s)| *s == "fail") {
            None => serde_json::json!({ "since": now, "finished_at": now - (50 - i as u64) * min }),
            Some((id, _)) => {
                let ago = if i % 2 == 0 { 12 + i as u64 } else { 3 };
                serde_json::json!({ "at": id, "status": "fail", "since": now - ago * min })
            }
        };
        places.insert(t.to_string(), place);
    }
    let state = dir.join("state.json");
    std::fs::write(
        &state,
        serde_json::json!({ "version": 1, "step": "step3", "cycles": 40, "cells": {}, "trainees": places })
            .to_string(),
    )
    .unwrap();
    let mut cmd = acct.labrun();
    cmd.args([
        "scripts/step3.rhai",
        "--trainees",
        "user01..user40",
        "--watch",
        "3600",
        "--format",
        "jsonl",
        "--serve",
        "127.0.0.1:0",
        "--lang",
        "en",
        "--jobs",
        "40",
    ])
    .arg("--policy")
    .arg(&policy)
    .arg("--state")
    .arg(&state)
    .args(closed_network());
    let mut watch = Watch::start(cmd);
    let url = dashboard_url(&watch);
    let cycle = watch.cycle_where(Duration::from_secs(600), |_| true);
    assert_eq!(cycle["summary"]["done"], 40 - broken_n);

    let browser = Browser::start_sized(1920, 1080).unwrap_or_else(|e| panic!("{e:#}"));
    browser.goto(&url).unwrap();
    until(
        &browser,
        "return String(document.querySelectorAll('#grid tbody tr').length);",
        "40",
        CYCLE,
    );
    let size = browser
        .eval("return [window.innerWidth, window.innerHeight, document.scrollingElement.scrollHeight, document.scrollingElement.scrollWidth];")
        .unwrap();
    assert_eq!(size[0], 1920, "{size}");
    assert_eq!(size[1], 1080, "{size}");
    assert!(
        size[2].as_u64() <= Some(1080),
        "the page does not scroll: {size}"
    );
    assert!(
        size[3].as_u64() <= Some(1920),
        "the page does not scroll: {size}"
    );
    // Every row and column inside the grid's own viewport, below the sticky heads and
    // above the sticky counts; the summary beside it, on screen.
    let grid = rect(&browser, "#scroll");
    let head = rect(&browser, "#grid thead");
    let foot = rect(&browser, "#grid tfoot");
    let rows = browser
        .eval("return [...document.querySelectorAll('#grid tbody tr')].map((r) => { const b = r.getBoundingClientRect(); return [b.top, b.bottom, b.right]; });")
        .unwrap();
    for (i, r) in rows.as_array().unwrap().iter().enumerate() {
        let (top, bottom, right) = (
            r[0].as_f64().unwrap(),
            r[1].as_f64().unwrap(),
            r[2].as_f64().unwrap(),
        );
        assert!(
            top >= head[3] - 0.5 && bottom <= foot[1] + 0.5,
            "row {i} hidden: {r} head {head:?} foot {foot:?}"
        );
        assert!(
            right <= grid[2] + 0.5,
            "row {i} cut on the right: {r} grid {grid:?}"
        );
    }
    assert!(
        foot[3] <= grid[3] + 0.5 && grid[3] <= 1080.0,
        "{foot:?} {grid:?}"
    );
    let summary = rect(&browser, "#summary");
    assert!(
        summary[0] >= grid[2] - 1.0 && summary[2] <= 1920.0 && summary[3] <= 1080.0,
        "{summary:?}"
    );
    let done = browser
        .eval("return document.getElementById('done-count').textContent;")
        .unwrap();
    assert_eq!(done, format!("done {} / 40", 40 - broken_n));
    let stuck = browser
        .eval("return document.querySelectorAll('#stuck li[data-trainee]').length;")
        .unwrap();
    assert!(stuck.as_u64().unwrap() >= 1, "someone is stuck");
    for selector in ["#stuck-head", "#finished li", "#legend"] {
        let r = rect(&browser, selector);
        assert!(
            r[3] <= 1080.0 && r[1] >= 0.0,
            "{selector} off screen: {r:?}"
        );
    }
    // Column heads carry the step's titles.
    let title = browser
        .eval("return document.querySelector('#grid thead th[data-id=\"A1\"] .title').textContent;")
        .unwrap();
    assert!(!title.as_str().unwrap_or("").is_empty(), "A1's title");
    if std::env::var_os("LABRUN_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(
            workspace_root().join("docs/board.png"),
            browser.screenshot().unwrap(),
        )
        .unwrap();
    }
    // In Japanese: the statuses, the heads and the times.
    browser
        .eval("document.getElementById('lang-ja').click(); return 0;")
        .unwrap();
    let ja = browser
        .eval("return [document.getElementById('done-count').textContent, document.querySelector('.state.done').textContent, document.querySelector('#legend').textContent];")
        .unwrap();
    assert!(ja[0].as_str().unwrap().starts_with("完了 "), "{ja}");
    assert!(ja[1].as_str().unwrap().starts_with("完了"), "{ja}");
    assert!(
        ja[2].as_str().unwrap().contains("不合格") && ja[2].as_str().unwrap().contains("未判定"),
        "{ja}"
    );
    // The viewer's choice outlives a reload, though the watch runs with --lang en;
    // ?lang= in the address chooses too.
    browser.goto(&url).unwrap();
    until(
        &browser,
        "return [document.documentElement.lang, document.title].join(' ');",
        "ja labrun クラス",
        CYCLE,
    );
    let sep = if url.contains('?') { '&' } else { '?' };
    browser.goto(&format!("{url}{sep}lang=en")).unwrap();
    until(
        &browser,
        "return document.getElementById('done-count').textContent.split(' ')[0];",
        "done",
        CYCLE,
    );
    let errors: Vec<_> = browser
        .console()
        .unwrap()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console: {errors:#?}");
    watch.interrupt();
    watch.wait(CYCLE);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A trainee's own page against moto: their checklist only; they fix E1, press
/// Check now (a WebDriver click) and the page shows E1 pass while the class's next
/// cycle is an hour away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_now_shows_a_fix_on_the_trainee_page_without_waiting_for_the_cycle() {
    let acct = TestAccount::new().await;
    let worlds = World::build_each(
        &acct,
        &[("user07", Broken::WebSgOpenHttp), ("user08", Broken::None)],
    )
    .await;
    let pairs: Vec<(&World, ProbeBroken)> = worlds.iter().map(|w| (w, ProbeBroken::None)).collect();
    let env = ProbeEnv::start(&pairs)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = std::env::temp_dir().join(format!("labrun-checknow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let links = dir.join("links.csv");
    let mut cmd = acct.labrun();
    cmd.args([
        "scripts/step3.rhai",
        "--trainees",
        "user07..user08",
        "--watch",
        "3600",
        "--format",
        "jsonl",
        "--serve",
        "127.0.0.1:0",
        "--lang",
        "ja",
    ])
    .arg("--trainee-links")
    .arg(&links)
    .args(env.args());
    let mut watch = Watch::start(cmd);
    let board = dashboard_url(&watch);
    watch.cycle_where(CYCLE, |_| true);
    let link = labrun_tests::live::trainee_links(&links)
        .into_iter()
        .find(|(t, _)| t == "user07")
        .expect("user07's link")
        .1;
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e:#}"));
    browser.goto(&link).unwrap();
    let e1 = "const e = document.querySelector('li[data-id=\"E1\"]'); return e ? e.dataset.status : null;";
    until(&browser, e1, "fail", CYCLE);
    let text = browser.eval("return document.body.textContent;").unwrap();
    let text = text.as_str().unwrap();
    assert!(!text.contains("user08"), "one trainee's page only");
    assert!(
        text.contains("不合格") && text.contains("今すぐ確認"),
        "Japanese page"
    );
    assert_eq!(
        browser
            .eval("return document.getElementById('check').disabled;")
            .unwrap(),
        false
    );
    if std::env::var_os("LABRUN_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(
            workspace_root().join("docs/trainee.png"),
            browser.screenshot().unwrap(),
        )
        .unwrap();
    }

    // The fix lands in the account; the trainee asks at once.
    acct.ec2
        .revoke_security_group_ingress()
        .group_id(&worlds[0].web_sg.id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(80)
                .to_port(80)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .expect("fix E1");
    let pressed = Instant::now();
    browser
        .eval("document.getElementById('check').click(); return 0;")
        .unwrap();
    until(&browser, e1, "pass", CYCLE);
    let took = pressed.elapsed();
    until(
        &browser,
        "return String(document.getElementById('summary').dataset.done);",
        "true",
        CYCLE,
    );
    assert_eq!(
        browser
            .eval("return document.getElementById('check').disabled;")
            .unwrap(),
        true,
        "not again for 15 s"
    );
    // Still the first cycle: the answer came from Check now, not from the class.
    let token = board.split("token=").nth(1).expect("the board's token");
    let (code, report) = labrun_tests::live::http(
        "GET",
        &format!("{}/api/report", board.split("/?").next().unwrap()),
        Some(token),
    )
    .unwrap();
    assert_eq!(code, 200);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["watch"]["cycle"], 1, "no second cycle ran");
    let user07 = report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trainee"] == "user07")
        .unwrap();
    assert_eq!(user07["done"], true, "the board has the fresh answer too");
    eprintln!("Check now: E1 pass on the page {took:?} after the click");
    let errors: Vec<_> = browser
        .console()
        .unwrap()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console: {errors:#?}");
    watch.interrupt();
    watch.wait(CYCLE);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A course on the board: one step at a time (a tab per step, the step most trainees
/// are at first), each trainee's current step, and the steps a trainee has not
/// reached shown "not started", never `fail`; the roster's names beside the ids.
/// Replayed from the shipped course cassette: user05 finished the course; user06 is
/// not in it (nothing answers for them), so they are at Step 1 and Steps 2 and 3 are
/// not started.
#[test]
fn a_course_shows_one_step_at_a_time_and_steps_not_reached_as_not_started() {
    let dir = std::env::temp_dir().join(format!("labrun-course-board-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let roster = dir.join("class.csv");
    std::fs::write(
        &roster,
        "trainee,name,email\nuser05,Sato Hana,hana@example.org\nuser06,伊藤 健,ken@example.org\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(labrun_tests::labrun_bin());
    cmd.current_dir(workspace_root()).args([
        "courses/wordpress-2019.toml",
        "--roster",
        roster.to_str().unwrap(),
        "--replay",
        "examples/course-user05.cassette.json",
        "--watch",
        "3600",
        "--format",
        "jsonl",
        "--serve",
        "127.0.0.1:0",
        "--lang",
        "en",
    ]);
    let mut watch = Watch::start(cmd);
    let url = dashboard_url(&watch);
    watch.cycle_where(CYCLE, |_| true);
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e:#}"));
    browser.goto(&url).unwrap();
    until(
        &browser,
        "return String(document.querySelectorAll('#tabs button').length);",
        "3",
        CYCLE,
    );
    let columns = "return [...document.querySelectorAll('#grid thead th[data-id]')].map((t) => t.dataset.id).join(' ');";
    let first = browser.eval(columns).unwrap();
    assert!(
        first.as_str().unwrap().starts_with("S1-A1 ") && !first.as_str().unwrap().contains("S2-"),
        "one step at a time: {first}"
    );
    let current = "return [...document.querySelectorAll('td.current-step')].map((t) => t.dataset.current).join(',');";
    assert_eq!(
        browser.eval(current).unwrap(),
        ",S1",
        "user05 finished, user06 at S1"
    );
    let rows = "return [...document.querySelectorAll('#grid tbody td.trainee')].map((t) => t.textContent).join(',');";
    assert_eq!(
        browser.eval(rows).unwrap(),
        "Sato Hana (user05),伊藤 健 (user06) ⚠",
        "the roster's names beside the ids; nothing is named for user06: marked"
    );
    browser
        .eval("document.querySelector('#tabs button[data-step=\"S2\"]').click(); return 0;")
        .unwrap();
    let second = browser.eval(columns).unwrap();
    assert!(second.as_str().unwrap().starts_with("S2-A1 "), "{second}");
    let shown = |trainee: &str| {
        browser
            .eval(&format!(
                "return [...new Set([...document.querySelectorAll('td.cell[data-trainee=\"{trainee}\"]')].map((c) => c.dataset.shown))].join(',');"
            ))
            .unwrap()
    };
    assert_eq!(shown("user06"), "notstarted", "Step 2 not reached");
    assert!(
        !shown("user05").as_str().unwrap().contains("fail"),
        "{}",
        shown("user05")
    );
    let errors: Vec<_> = browser
        .console()
        .unwrap()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console: {errors:#?}");
    watch.interrupt();
    watch.wait(CYCLE);
    let _ = std::fs::remove_dir_all(&dir);
}
