//! The live dashboard in a real browser: headless Chromium (Debian `chromium` and
//! `chromium-driver`, over WebDriver) loads the dashboard of a watch over a
//! moto-backed class of two, sees each cell's status, sees user07's E1 turn to pass
//! after the fix lands in moto without reloading the page, and logs no console
//! error. It also writes the screenshot `docs/dashboard.png` when
//! `LABRUN_UPDATE_SCREENSHOT=1`.

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
    let line = watch
        .stderr
        .recv_timeout(CYCLE)
        .expect("the dashboard URL on stderr");
    let url = line
        .strip_prefix("labrun: dashboard on ")
        .expect(&line)
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let browser = Browser::start().unwrap_or_else(|e| panic!("{e:#}"));
    browser.goto(&url).unwrap();
    until(&browser, &cell("user07", "E1"), "fail", CYCLE);
    until(&browser, &cell("user08", "E1"), "pass", CYCLE);
    until(&browser, &cell("user07", "A1"), "pass", CYCLE);
    until(&browser, &cell("user07", "F1"), "skip", CYCLE);
    let counts = browser
        .eval("return document.querySelector('td[data-counts=\"E1\"]').textContent;")
        .unwrap();
    assert_eq!(counts, "1✓ 1✗ 0…", "per-id counts");
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
    if std::env::var_os("LABRUN_UPDATE_SCREENSHOT").is_some() {
        let png = browser.screenshot().unwrap();
        std::fs::write(workspace_root().join("docs/dashboard.png"), png).unwrap();
    }

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
