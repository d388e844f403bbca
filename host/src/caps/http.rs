//! `http` capability: one GET (optionally following redirects) with a time limit and a
//! size-capped body. Any HTTP answer, 5xx included, is `ok: true`; no answer at all
//! (timeout, refusal, DNS, TLS, reset) is `ok: false` with the reason — for the lab that
//! is an answer too (E2 expects direct access to fail). Only a malformed request throws.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant as Deadline;
use url::Url;

use super::net::{connect_via, elapsed_ms, io_failure, via_session, Fields, NetConfig};

use futures::future::BoxFuture;
use futures::FutureExt;

use super::capability::{self, Capability, NetAnswer, Operation, Scope};
use super::error::{CapError, ErrorKind};
use crate::text::{self, quoted, Lang, Text};

/// The `http` capability.
pub const SPEC: Capability = Capability {
    name: CAPABILITY,
    about: "one HTTP GET; no answer at all (timeout, refused) is an answer too",
    operations: || OPERATIONS,
    connect: |settings| NetAnswer::connect(settings, boxed),
    target: url_host,
    reveals: capability::reveals_nothing,
    untrusted_guard: no_redirects,
    one_endpoint: false,
    views: None,
};

/// [`call`] as the capability's live answer.
fn boxed<'a>(
    net: &'a NetConfig,
    operation: &'a str,
    request: &'a Value,
) -> BoxFuture<'a, Result<Value, CapError>> {
    call(net, operation, request).boxed()
}

pub const OPERATIONS: &[Operation] = &[Operation {
    name: "get",
    iam: None,
    about: "fetches a URL, following redirects only when asked",
    scope: Scope::DerivedHost,
}];

/// The host of the request's `url`.
fn url_host(_operation: &str, request: &Value) -> capability::Target {
    match request["url"].as_str().and_then(|u| Url::parse(u).ok()) {
        Some(url) => match url.host_str() {
            Some(host) => capability::Target::Host(capability::normal_host(host)),
            None => capability::Target::Nothing,
        },
        None => capability::Target::Nothing,
    }
}

/// Redirects could lead anywhere: an untrusted step gets the first answer only.
fn no_redirects(_operation: &str, request: &Value) -> Result<(), Text> {
    if request
        .get("max_redirects")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        > 0
    {
        return Err(text::probe::NoRedirects.into());
    }
    Ok(())
}

const CAPABILITY: &str = "http";

const DEFAULT_BODY_BYTES: u64 = 256 * 1024;
const MAX_BODY_BYTES: u64 = 1024 * 1024;
const MAX_REDIRECTS: u64 = 10;
const MAX_TIMEOUT_MS: u64 = 120_000;

pub async fn call(net: &NetConfig, operation: &str, request: &Value) -> Result<Value, CapError> {
    match operation {
        "get" => get(net, request).await,
        other => Err(CapError::new(
            CAPABILITY,
            other,
            ErrorKind::Unsupported,
            text::probe::UnknownOperation {
                capability: CAPABILITY,
                operation: other,
                known: text::list(SPEC.operation_names()),
            },
        )),
    }
}

struct Options {
    max_body: usize,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// A GET that produced no HTTP answer.
struct Failure {
    failure: &'static str,
    message: String,
}

fn fail(failure: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        failure,
        message: message.into(),
    }
}

struct Answer {
    status: u16,
    headers: Map<String, Value>,
    body: Vec<u8>,
    truncated: bool,
    location: Option<String>,
}

async fn get(net: &NetConfig, request: &Value) -> Result<Value, CapError> {
    let fields = Fields::new(
        CAPABILITY,
        "get",
        request,
        &[
            "url",
            "timeout_ms",
            "max_redirects",
            "max_body_bytes",
            "headers",
            "via",
        ],
    )?;
    let via = fields.via()?;
    let mut url = parse_url(&fields, fields.required_string("url")?.trim())?;
    let timeout = fields
        .uint("timeout_ms", 1, MAX_TIMEOUT_MS)?
        .map(Duration::from_millis)
        .unwrap_or(net.timeout);
    let max_redirects = fields.uint("max_redirects", 0, MAX_REDIRECTS)?.unwrap_or(0);
    let max_body = fields
        .uint("max_body_bytes", 0, MAX_BODY_BYTES)?
        .unwrap_or(DEFAULT_BODY_BYTES) as usize;
    let mut headers = Vec::new();
    if let Some(map) = fields.object("headers")? {
        for (name, value) in map {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                fields.invalid(text::probe::HeaderName {
                    name: name.as_str(),
                })
            })?;
            let value = value.as_str().ok_or_else(|| {
                fields.invalid(text::probe::HeaderNotString {
                    name: name.as_str(),
                })
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                fields.invalid(text::probe::HeaderValue {
                    name: name.as_str(),
                })
            })?;
            headers.push((header, value));
        }
    }
    let options = Options { max_body, headers };
    // The SSH side failing is labrun's error, not the site's answer.
    if let Some(via) = via {
        via_session(net, via)
            .await
            .map_err(|e| e.into_cap(CAPABILITY, "get"))?;
    }

    let start = Instant::now();
    let deadline = Deadline::now() + timeout;
    let mut redirects: Vec<String> = Vec::new();
    loop {
        let answer = match tokio::time::timeout_at(
            deadline,
            fetch(net, via, &url, &options, deadline),
        )
        .await
        {
            Err(_) => Err(fail(
                "timeout",
                format!(
                    "no HTTP answer from {url} within {} ms",
                    timeout.as_millis()
                ),
            )),
            Ok(result) => result,
        };
        let answer = match answer {
            Ok(a) => a,
            Err(f) => {
                return Ok(json!({
                    "ok": false,
                    "failure": f.failure,
                    "message": f.message,
                    "elapsed_ms": elapsed_ms(start),
                    "url": url.as_str(),
                    "redirects": redirects,
                }))
            }
        };
        let next = match (&answer.location, answer.status) {
            (Some(location), 301 | 302 | 303 | 307 | 308)
                if (redirects.len() as u64) < max_redirects =>
            {
                url.join(location)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            }
            _ => None,
        };
        if let Some(next) = next {
            redirects.push(next.to_string());
            url = next;
            continue;
        }
        return Ok(json!({
            "ok": true,
            "status": answer.status,
            "headers": answer.headers,
            "body": String::from_utf8_lossy(&answer.body),
            "truncated": answer.truncated,
            "elapsed_ms": elapsed_ms(start),
            "url": url.as_str(),
            "redirects": redirects,
        }));
    }
}

fn parse_url(fields: &Fields<'_>, text: &str) -> Result<Url, CapError> {
    let url = Url::parse(text).map_err(|e| {
        fields.invalid(text::probe::BadUrl {
            url: text,
            why: quoted(e),
        })
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(fields.invalid(text::probe::UrlScheme {
            scheme: url.scheme(),
        }));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(fields.invalid(text::probe::UrlNoHost { url: text }));
    }
    Ok(url)
}

/// One GET of `url`: connect (connect-to applied), TLS if https, HTTP/1.1.
async fn fetch(
    net: &NetConfig,
    via: Option<&str>,
    url: &Url,
    options: &Options,
    deadline: Deadline,
) -> Result<Answer, Failure> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let remaining = deadline.saturating_duration_since(Deadline::now());
    let (stream, _addr) = connect_via(net, via, host, port, remaining)
        .await
        .map_err(|e| fail("unreachable", e.message.render(Lang::En)))?
        .map_err(|f| fail(f.failure, f.message))?;
    if url.scheme() == "https" {
        // The probe's answer is data, in English like every answer a step reads.
        let config = super::net::tls_config().map_err(|e| fail("tls", e.render(Lang::En)))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let server_name = rustls::pki_types::ServerName::try_from(bare.to_string())
            .map_err(|e| fail("tls", format!("`{host}` cannot be a TLS server name: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(server_name, stream)
            .await
            .map_err(|e| {
                fail(
                    "tls",
                    format!("TLS handshake with {host}:{port} failed: {e}"),
                )
            })?;
        exchange(tls, url, options).await
    } else {
        exchange(stream, url, options).await
    }
}

async fn exchange<S>(stream: S, url: &Url, options: &Options) -> Result<Answer, Failure>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let host_header = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    };
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| hyper_failure(&e, url))?;
    let _connection = super::net::drive_connection(conn);

    let mut builder = hyper::Request::get(target)
        .header(hyper::header::HOST, host_header)
        .header(
            hyper::header::USER_AGENT,
            concat!("labrun/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::ACCEPT, "*/*")
        .header(hyper::header::CONNECTION, "close");
    if let Some(h) = builder.headers_mut() {
        for (name, value) in &options.headers {
            h.insert(name.clone(), value.clone());
        }
    }
    let request = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| fail("reset", format!("cannot build the request for {url}: {e}")))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| hyper_failure(&e, url))?;

    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let location = response
        .headers()
        .get(hyper::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());

    let mut body = response.into_body();
    let mut bytes = Vec::new();
    let mut truncated = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    let room = options.max_body - bytes.len();
                    if data.len() > room {
                        bytes.extend_from_slice(&data[..room]);
                        truncated = true;
                        break;
                    }
                    bytes.extend_from_slice(data);
                }
            }
            // The status and headers are a real answer even if the body broke off.
            Err(_) => {
                truncated = true;
                break;
            }
        }
    }
    Ok(Answer {
        status,
        headers,
        body: bytes,
        truncated,
        location,
    })
}

fn hyper_failure(e: &hyper::Error, url: &Url) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return fail(io_failure(io), format!("GET {url}: {e}: {io}"));
        }
        source = s.source();
    }
    if e.is_parse() {
        return fail(
            "reset",
            format!("GET {url}: the server's answer is not HTTP/1.x: {e}"),
        );
    }
    fail(
        "reset",
        format!("GET {url}: connection closed without an answer: {e}"),
    )
}
