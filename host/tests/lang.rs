//! Issue 19's language acceptance: a corpus of commands (bad flags, missing files, no
//! credentials, a replayed run and a watch of it, `describe`, `test`, `help`) run
//! under `--lang ja` writes no English sentence, and under `--lang en` no Japanese,
//! outside what labrun did not write (quoted remote text) and what is the same in
//! both (paths, flags, ids, code, numbers).
//!
//! The detectors are held to lines they must flag and lines they must let pass
//! (`the_detectors_can_fail`), so a detector that sees nothing cannot make the corpus
//! pass.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// labrun from the repository root with no AWS configuration reachable (as in
/// host/tests/cli.rs): no AWS variables, an empty HOME, no instance metadata, and an
/// endpoint on loopback that refuses, so nothing leaves the machine.
fn labrun(args: &[&str]) -> Output {
    let home = std::env::temp_dir().join(format!("labrun-lang-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key == "LANG" || key.starts_with("LC_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(root())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("labrun runs")
}

/// The corpus, each without its `--lang`.
const CORPUS: &[&[&str]] = &[
    &[],
    &["--bogus"],
    &["scripts/step3.rhai", "--probe-timeout", "0"],
    &["scripts/step3.rhai", "--format", "yaml"],
    &["scripts/step3.rhai"],
    &[
        "scripts/step3.rhai",
        "--param",
        "user=user05",
        "--param",
        "nope=1",
    ],
    &["no-such-step.rhai", "--param", "user=user05"],
    &[
        "scripts/step3.rhai",
        "--param",
        "user=user05",
        "--replay",
        "no-such.json",
    ],
    &["scripts/step3.rhai", "extra.rhai"],
    // A replayed run: the report and its summary.
    &[
        "scripts/step3.rhai",
        "--param",
        "user=user05",
        "--replay",
        "examples/step3-user05.cassette.json",
    ],
    // A watch of a replayed run: the first cycle's line per trainee, then the report.
    &[
        "scripts/step3.rhai",
        "--param",
        "user=user05",
        "--replay",
        "examples/step3-user05.cassette.json",
        "--watch",
        "5",
        "--for",
        "6",
    ],
    // No credentials: every AWS check is an error row saying so.
    &[
        "scripts/step1.rhai",
        "--param",
        "user=user05",
        "--probe-timeout",
        "1",
    ],
    &["describe", "scripts/step3.rhai"],
    &["describe", "no-such-step.rhai"],
    &["describe", "--bogus"],
    &[
        "test",
        "scripts/step3.rhai",
        "tests/cases/step3/finished.toml",
    ],
    &["test", "scripts/step3.rhai", "no-such-case.toml"],
    &["help"],
    &["--help"],
    &["help", "test"],
    &["plugin"],
    &["nope-subcommand-or-step"],
    // A cassette that says two things (a key twice in one object, two answers).
    &[
        "scripts/step3.rhai",
        "--param",
        "user=user05",
        "--replay",
        "host/tests/fixtures/key_twice.cassette.json",
    ],
    &[
        "scripts/step3.rhai",
        "--param",
        "user=user05",
        "--replay",
        "host/tests/fixtures/conflicting.cassette.json",
    ],
    // A bad --connect-to: labrun's own words about it, not quoted.
    &["scripts/step3.rhai", "--connect-to", "a:b"],
    &["scripts/step3.rhai", "--connect-to", "h:80:[::1:81"],
    // Publish failures: a registry that is not there (plain HTTP and TLS), a bad
    // reference, a missing step file, a lockfile that is not one.
    &[
        "plugin",
        "publish",
        "scripts/step3.rhai",
        "--to",
        "127.0.0.1:9/labs/step3:1.0.0",
        "--insecure",
    ],
    &["plugin", "pull", "127.0.0.1:9/labs/step3:1.0.0"],
    &["plugin", "pull", "not a reference"],
    &[
        "plugin",
        "publish",
        "no-such-step.rhai",
        "--to",
        "127.0.0.1:9/labs/step3:1.0.0",
    ],
    &["plugin", "lock", "README.md"],
    // Preflight with no credentials: a problem line, a note, the count.
    &[
        "preflight",
        "scripts/step3.rhai",
        "--trainee",
        "user05",
        "--probe-timeout",
        "1",
    ],
];

/// What is the same in both languages or not labrun's words, taken out of a line:
/// quoted remote text, `code`, and words that are paths, flags, ids, numbers,
/// placeholders or names (`user05`, `--param`, `KEY=VALUE`, `ec2:DescribeVpcs`, `AWS`).
fn prose(line: &str) -> String {
    let mut out = String::new();
    let mut skip_until: Option<char> = None;
    let mut prev: Option<char> = None;
    for c in line.chars() {
        let after_space = prev.is_none_or(|p| p.is_whitespace() || p == '(');
        prev = Some(c);
        if let Some(end) = skip_until {
            if c == end {
                skip_until = None;
            }
            continue;
        }
        match c {
            '“' => skip_until = Some('”'),
            '「' => skip_until = Some('」'),
            '`' => skip_until = Some('`'),
            '"' => skip_until = Some('"'),
            // A quote, not an apostrophe (`step's`).
            '\'' if after_space => skip_until = Some('\''),
            _ => out.push(c),
        }
    }
    out
}

/// A word of an English sentence: lower-case letters only, 2 or more, not a name
/// or code (those hold digits, dots, dashes, slashes, colons, capitals or `_`).
fn english_word(word: &str) -> bool {
    let word = word.trim_matches(|c: char| ",;:()[]!?.…".contains(c));
    word.len() >= 2 && word.chars().all(|c| c.is_ascii_lowercase()) && !CODE_WORDS.contains(&word)
}

/// Names that are code in any language: labrun's commands (`labrun plugin lock`) and
/// its capabilities (`aws, dns, mysql`). Common words (`test`, `step`, `help`) are
/// not here, so a sentence holding them is still found.
const CODE_WORDS: &[&str] = &[
    "labrun",
    "plugin",
    "lock",
    "publish",
    "pull",
    "keygen",
    "sign",
    "describe",
    "inspect",
    "preflight",
    "iam-policy",
    "aws",
    "dns",
    "mysql",
    "http",
    "tcp",
    "server",
];

/// The first run of three English words in a row outside what [`prose`] drops.
fn english_sentence(line: &str) -> Option<String> {
    let text = prose(line);
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(3)
        .find(|w| w.iter().all(|word| english_word(word)))
        .map(|w| w.join(" "))
}

fn japanese(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}' // hiragana, katakana
        | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' // kanji
        | '\u{3000}'..='\u{303f}' // 、。「」
        | '\u{ff00}'..='\u{ffef}') // full-width forms
}

/// A Japanese character outside what [`prose`] drops.
fn japanese_char(line: &str) -> Option<char> {
    prose(line).chars().find(|c| japanese(*c))
}

#[test]
fn the_detectors_can_fail() {
    // English where Japanese is due is found…
    for line in [
        "labrun: give the step to run, e.g. labrun scripts/step3.rhai --param user=user05 (see labrun --help)",
        "labrun: watch ended (Signal) after 3 cycles",
        "17:43:10 user01 0/18 passed",
        "  name: step3",
        // The watch grid's header, a regressed row and a regression's change line.
        "changing — 閉じるポート · 01:43:45 · cycle 1 · 0 AWS calls · 39 ms · next in 5 s",
        "user05  ✗  ✓   1/2  REGRESSION",
        "01:43:50 REGRESSION user05 P1 合格 → 不合格  ポートが閉じています",
        "labrun: cycle 3: AWS throttled 4×; labrun backed off and retried at the pace AWS refills",
    ] {
        let found = english_in(line);
        assert!(found.is_some(), "not flagged: {line}");
    }
    assert!(english_sentence("labrun: give the step to run").is_some());
    // …but not paths, flags, ids, code or quoted remote words.
    for line in [
        "labrun: 実行するステップを指定してください (例: labrun scripts/step3.rhai --param user=user05)。labrun --help も参照",
        "labrun: AWS の呼び出しが失敗しました: 「could not connect to the endpoint at all」",
        "  B2  エラー  `user05` の VPC (ec2:DescribeVpcs)",
    ] {
        assert_eq!(english_sentence(line), None, "{line}");
    }
    // Japanese where English is due is found, but not inside quotes.
    assert_eq!(japanese_char("labrun: 実行するステップ"), Some('実'));
    assert_eq!(japanese_char("labrun: the step's title “ステップ 3”"), None);
}

/// Words that alone give away an English line, for lines too short to hold three
/// English words in a row (report headers, summaries, watch lines).
const ENGLISH_MARKERS: &[&str] = &[
    "passed",
    "failed",
    "ended",
    "cycles",
    "error(s)",
    "summary:",
    "usage:",
    "Usage:",
    "name:",
    "cycle",
    "calls",
    "throttled",
    "REGRESSION",
];

fn english_in(line: &str) -> Option<String> {
    english_sentence(line).or_else(|| {
        let text = prose(line);
        text.split_whitespace()
            .find(|w| ENGLISH_MARKERS.contains(w))
            .map(str::to_string)
    })
}

/// Each line of `said` in the wrong language for `lang`, named with its command.
fn wrong_lines(command: &str, lang: &str, said: &str, wrong: &mut Vec<String>) {
    for line in said.lines() {
        let bad = match lang {
            "ja" => english_in(line),
            _ => japanese_char(line).map(String::from),
        };
        if let Some(bad) = bad {
            wrong.push(format!(
                "labrun {command} --lang {lang}: {line}\n    ({bad})"
            ));
        }
    }
}

#[test]
fn the_corpus_speaks_one_language() {
    let mut wrong = Vec::new();
    for args in CORPUS {
        for lang in ["ja", "en"] {
            let mut with_lang: Vec<&str> = args.to_vec();
            with_lang.extend(["--lang", lang]);
            if args.is_empty() {
                // `labrun` alone takes its language from the locale.
                with_lang.clear();
            }
            let out = if args.is_empty() {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
                cmd.env_remove("LC_ALL")
                    .env_remove("LC_MESSAGES")
                    .env("LANG", if lang == "ja" { "ja_JP.UTF-8" } else { "C" });
                cmd.output().expect("labrun runs")
            } else {
                labrun(&with_lang)
            };
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            wrong_lines(&args.join(" "), lang, &said, &mut wrong);
        }
    }
    assert!(
        wrong.is_empty(),
        "{} line(s) in the wrong language:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// A step whose P1 passes while a port on this machine answers and fails once it
/// closes: a watch of it changes between cycles without any AWS.
const CHANGING_STEP: &str = r#"
fn describe() {
    #{ name: "changing", title: #{ en: "A port that closes", ja: "閉じるポート" },
       params: #{ user: "trainee id", port: "the port that closes" }, checks: ["P1", "P2"] }
}
fn run(p) {
    let r = tcp::connect(#{ host: "127.0.0.1", port: parse_int(p.port), timeout_ms: 3000 });
    if r.ok {
        report::pass("P1", "the port answers", "ポートが応答します");
    } else {
        report::fail("P1", "the port is closed", "ポートが閉じています");
    }
    report::pass("P2", "always", "常に");
}
"#;

/// What a terminal shows, without its escape sequences and carriage returns.
fn screen(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                // CSI: ESC [ params… final byte (a letter).
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A watch on a terminal (a pty) serving its board: the dashboard's line, its grid
/// and header each cycle, a change line and a regression when P1 breaks, the "watch
/// ended" line and the final report, in one language.
#[test]
fn a_changing_watch_speaks_one_language() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let dir = std::env::temp_dir().join(format!("labrun-lang-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let step = dir.join("changing.rhai");
    std::fs::write(&step, CHANGING_STEP).unwrap();
    let mut wrong = Vec::new();
    for lang in ["ja", "en"] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty(3) fills two fds we then own.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: both fds were just opened and are owned here only.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let args = [
            step.to_str().unwrap(),
            "--param",
            "user=user05",
            "--param",
            &format!("port={port}"),
            "--watch",
            "5",
            "--serve",
            "127.0.0.1:0",
            "--lang",
            lang,
        ];
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key == "LANG" || key.starts_with("LC_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .current_dir(root())
            .env("NO_COLOR", "1")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(slave))
            .stderr(Stdio::piped())
            .spawn()
            .expect("labrun runs");
        drop(cmd);
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let mut reader = std::fs::File::from(master);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the child and every copy of the slave are gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        let mut shown = String::new();
        let until = |shown: &mut String, what: &dyn Fn(&str) -> bool| {
            let end = Instant::now() + Duration::from_secs(120);
            while !what(&screen(shown)) {
                let left = end.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(chunk) => shown.push_str(&chunk),
                    Err(_) => panic!(
                        "--lang {lang}: the watch showed no change:\n{}",
                        screen(shown)
                    ),
                }
            }
        };
        // The first grid: P1 passes.
        until(&mut shown, &|s| s.contains(" P1 P2"));
        drop(listener);
        // A later cycle: P1 failed, a change line with its arrow.
        until(&mut shown, &|s| s.contains(" → "));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let end = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < end, "the watch did not end");
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(2)) {
            shown.push_str(&chunk);
        }
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(
            status.code(),
            Some(1),
            "P1 fails at the end:\n{shown}\n{stderr}"
        );
        let said = format!("{}{stderr}", screen(&shown));
        let regression = if lang == "ja" { "後退" } else { "REGRESSION" };
        assert!(
            said.lines().filter(|l| l.contains(regression)).count() >= 2,
            "a regression in the grid or change line and in the final report:\n{said}"
        );
        assert!(
            said.lines()
                .any(|l| l.starts_with("labrun: ") && l.contains("http://127.0.0.1:")),
            "the dashboard's line:\n{said}"
        );
        wrong_lines("(a changing watch on a terminal)", lang, &said, &mut wrong);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        wrong.is_empty(),
        "{} line(s) in the wrong language:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
