//! Helpers for the live-class tests: a running `labrun --watch` child whose stdout and
//! stderr arrive line by line, a TCP proxy on 127.0.0.1 that can be stopped and
//! started again (an AWS outage, mid-watch), the fault-injecting AWS proxy of
//! [`crate::faults`], and a minimal WebDriver client for headless Chromium (Debian's
//! `chromium` and `chromium-driver`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

pub use crate::faults::{Fault, FaultProxy, Seen};

/// A running watch: its stdout and stderr lines as they come.
pub struct Watch {
    pub child: Child,
    pub stdout: Receiver<String>,
    pub stderr: Receiver<String>,
}

impl Watch {
    pub fn start(mut cmd: Command) -> Watch {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("labrun starts");
        let lines = |r: Box<dyn Read + Send>| {
            let (tx, rx) = channel();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        Watch {
            child,
            stdout,
            stderr,
        }
    }

    /// The next stdout line, or a panic after `within`.
    pub fn line(&self, within: Duration) -> String {
        self.stdout
            .recv_timeout(within)
            .unwrap_or_else(|e| panic!("no line from the watch within {within:?}: {e}"))
    }

    /// The next jsonl cycle for which `pred` holds (earlier cycles are skipped).
    pub fn cycle_where(&self, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = self.line(left);
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if pred(&v) {
                return v;
            }
        }
    }

    /// Waits for the exit code.
    pub fn wait(&mut self, within: Duration) -> i32 {
        let end = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < end,
                "the watch did not end within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C.
    pub fn interrupt(&self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of `id` for `trainee` in a report JSON.
pub fn status_in(report: &Value, trainee: &str, id: &str) -> String {
    result_in(report, trainee, id)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn result_in<'a>(report: &'a Value, trainee: &str, id: &str) -> &'a Value {
    report["trainees"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["trainee"] == trainee))
        .and_then(|t| t["results"].as_array())
        .and_then(|rs| rs.iter().find(|r| r["id"] == id))
        .unwrap_or(&Value::Null)
}

/// A TCP proxy on 127.0.0.1 to `upstream`; [`Proxy::stop`] closes the port and every
/// connection (clients see refused connections), [`Proxy::start`] opens it again on
/// the same port.
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    pub async fn new(upstream: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut p = Proxy {
            addr,
            upstream: upstream.to_string(),
            task: None,
        };
        p.serve(listener);
        p
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }

    /// Closes the port and drops every open connection.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Opens the same port again.
    pub async fn start(&mut self) {
        let end = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < end => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("rebinding the proxy on {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }
}

/// chromedriver on a free 127.0.0.1 port and one headless Chromium session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: std::path::PathBuf,
}

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

impl Browser {
    pub fn start() -> Result<Browser> {
        Browser::start_window(1280, 800)
    }

    /// A browser whose viewport is exactly `width`×`height` CSS pixels at scale 1 (a
    /// projector's screen): the window is made that large, and Chromium's device
    /// metrics are set to it, since a headless window keeps room for its own frame.
    pub fn start_sized(width: u32, height: u32) -> Result<Browser> {
        let b = Browser::start_window(width, height)?;
        b.http(
            "POST",
            &b.session_path("/goog/cdp/execute"),
            Some(json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": { "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false },
            })),
        )?;
        Ok(b)
    }

    fn start_window(width: u32, height: u32) -> Result<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER} (Debian chromium-driver)"))?;
        let profile =
            std::env::temp_dir().join(format!("labrun-chromium-{}-{port}", std::process::id()));
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            profile,
        };
        let end = Instant::now() + Duration::from_secs(20);
        while b.http("GET", "/status", None).is_err() {
            if Instant::now() > end {
                bail!("chromedriver did not answer on 127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", b.profile.display()),
                ],
            },
        }}});
        let v = b.http("POST", "/session", Some(caps))?;
        b.session = v["sessionId"]
            .as_str()
            .context("no sessionId from chromedriver")?
            .to_string();
        Ok(b)
    }

    /// One WebDriver request; the `value` of the answer.
    fn http(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        // chromedriver keeps the connection open: read by Content-Length.
        let mut reader = BufReader::new(s);
        let mut length = None;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                bail!("{method} {path}: the connection closed in the headers");
            }
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            chunked |= line == "transfer-encoding: chunked";
        }
        let body = match length {
            Some(n) => {
                let mut buf = vec![0; n];
                reader.read_exact(&mut buf)?;
                String::from_utf8_lossy(&buf).into_owned()
            }
            None => {
                let mut buf = String::new();
                reader.read_to_string(&mut buf)?;
                if chunked {
                    dechunk(&buf)
                } else {
                    buf
                }
            }
        };
        let v: Value = serde_json::from_str(&body).with_context(|| format!("{path}: {body}"))?;
        if v["value"]["error"].is_string() {
            bail!("{method} {path}: {}", v["value"]);
        }
        Ok(v["value"].clone())
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn goto(&self, url: &str) -> Result<()> {
        self.http(
            "POST",
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        )?;
        Ok(())
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub fn eval(&self, script: &str) -> Result<Value> {
        self.http(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The page as PNG.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        use base64::Engine;
        let v = self.http("GET", &self.session_path("/screenshot"), None)?;
        Ok(base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or(""))?)
    }

    /// The browser console since the last call: (level, message).
    pub fn console(&self) -> Result<Vec<(String, String)>> {
        let v = self.http(
            "POST",
            &self.session_path("/se/log"),
            Some(json!({ "type": "browser" })),
        )?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or("").to_string(),
                    e["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect())
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.http("DELETE", &self.session_path(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One HTTP/1.1 request to a labrun dashboard on 127.0.0.1 (`url` is
/// `http://127.0.0.1:PORT/path?query`), with an optional bearer token: the status and
/// the body (what came within `Content-Length`, or within a second for a stream that
/// stays open, such as `/api/events`).
pub fn http(method: &str, url: &str, bearer: Option<&str>) -> Result<(u16, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url}: not http://"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(s);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("{url}: no status in {status_line:?}"))?;
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end().to_ascii_lowercase();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let body = match length {
        Some(n) => {
            let mut buf = vec![0; n];
            reader.read_exact(&mut buf)?;
            String::from_utf8_lossy(&buf).into_owned()
        }
        None => {
            reader
                .get_ref()
                .set_read_timeout(Some(Duration::from_secs(1)))?;
            let mut buf = Vec::new();
            let _ = reader.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        }
    };
    Ok((status, body))
}

/// `trainee,url` rows of a `--trainee-links` file.
pub fn trainee_links(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(t, u)| (t.to_string(), u.to_string()))
        .collect()
}
