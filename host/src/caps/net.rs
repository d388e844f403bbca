//! What every network probe shares: where a name really connects (`--connect-to`, curl's
//! meaning), which DNS server resolves names, the operator's MySQL password and the
//! per-probe time limit — plus the helpers probes use to resolve and connect.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};

use std::sync::Arc;

use super::error::{CapError, ErrorKind};
pub(crate) use super::resolver::ResolveError;
use super::ssh::{DialError, Forward, Session, SshError, SshPool, SSH_PORT};
use crate::text::{self, inert, quoted, Lang, Text, ToText};

/// One `--connect-to HOST:PORT:HOST2:PORT2` rule: a probe for HOST:PORT connects to
/// HOST2:PORT2 instead. An empty HOST or PORT matches any; an empty HOST2 or PORT2 keeps
/// the original. IPv6 addresses go in brackets: `[::1]:80:[fd00::5]:8080`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    /// The host as the probe names it (empty = any), compared case-insensitively.
    pub host: String,
    /// The port as the probe names it (None = any).
    pub port: Option<u16>,
    /// Where to connect instead (empty = the original host).
    pub to_host: String,
    /// Which port to connect to instead (None = the original port).
    pub to_port: Option<u16>,
}

impl FromStr for ConnectTo {
    type Err = Text;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        use crate::text::flags as t;
        let bad = |why: Text| -> Text {
            t::ConnectToBad {
                why,
                form: Text::from(t::ConnectToForm),
            }
            .into()
        };
        let mut parts = Vec::with_capacity(4);
        let mut rest = input;
        loop {
            let (part, after) = if let Some(inner) = rest.strip_prefix('[') {
                let close = inner
                    .find(']')
                    .ok_or_else(|| bad(t::ConnectToUnclosed.into()))?;
                let addr = &inner[..close];
                let after = &inner[close + 1..];
                if !(after.is_empty() || after.starts_with(':')) {
                    return Err(bad(t::ConnectToAfterBracket.into()));
                }
                addr.parse::<std::net::Ipv6Addr>()
                    .map_err(|_| bad(t::ConnectToNotIpv6 { addr }.into()))?;
                (addr, after)
            } else {
                match rest.find(':') {
                    Some(i) => (&rest[..i], &rest[i..]),
                    None => (rest, ""),
                }
            };
            parts.push(part);
            match after.strip_prefix(':') {
                Some(next) => rest = next,
                None => break,
            }
            if parts.len() > 4 {
                break;
            }
        }
        if parts.len() != 4 {
            return Err(bad(t::ConnectToParts { count: parts.len() }.into()));
        }
        let port = |value: &str, which: &str| -> Result<Option<u16>, Text> {
            if value.is_empty() {
                return Ok(None);
            }
            match value.parse::<u16>() {
                Ok(p) if p > 0 => Ok(Some(p)),
                _ => Err(bad(t::ConnectToNotPort { which, value }.into())),
            }
        };
        let host = |value: &str, which: &str| -> Result<String, Text> {
            if value
                .chars()
                .any(|c| c.is_whitespace() || c == '/' || c == '[' || c == ']')
            {
                return Err(bad(t::ConnectToNotHost { which, value }.into()));
            }
            Ok(value.to_string())
        };
        Ok(ConnectTo {
            host: host(parts[0], "HOST")?,
            port: port(parts[1], "PORT")?,
            to_host: host(parts[2], "CONNECT-TO-HOST")?,
            to_port: port(parts[3], "CONNECT-TO-PORT")?,
        })
    }
}

impl fmt::Display for ConnectTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn host(h: &str) -> String {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        }
        fn port(p: Option<u16>) -> String {
            p.map(|p| p.to_string()).unwrap_or_default()
        }
        write!(
            f,
            "{}:{}:{}:{}",
            host(&self.host),
            port(self.port),
            host(&self.to_host),
            port(self.to_port)
        )
    }
}

impl ConnectTo {
    fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (self.host.is_empty() || self.host.eq_ignore_ascii_case(host))
            && self.port.is_none_or(|p| p == port)
    }
}

/// A secret string (the MySQL password): `Debug` and `Display` print `[redacted]`, so it
/// cannot leak into logs, reports or error text by formatting.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; use only to hand it to the protocol that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Network settings shared by every probe of a run.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// `--connect-to` rules, first match wins.
    pub connect_to: Vec<ConnectTo>,
    /// `--dns-server`: resolve names there (hickory) instead of with the system resolver.
    pub dns_server: Option<SocketAddr>,
    /// The operator's MySQL password (never from a script): Aurora's.
    pub mysql_password: Option<Secret>,
    /// The operator's named MySQL credentials (`--mysql-password-file NAME=FILE`), which
    /// a request picks by name (`credential`), e.g. `local` for a web server's own MySQL.
    pub mysql_credentials: std::collections::BTreeMap<String, Secret>,
    /// Default time limit of one probe.
    pub timeout: Duration,
    /// The run's SSH connections, for probes `via` a server (`--ssh-key`).
    pub ssh: Option<Arc<SshPool>>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            connect_to: Vec::new(),
            dns_server: None,
            mysql_password: None,
            mysql_credentials: std::collections::BTreeMap::new(),
            timeout: Duration::from_secs(5),
            ssh: None,
        }
    }
}

impl NetConfig {
    /// Where a probe for `host:port` really connects: the first matching connect-to rule
    /// (host compared as given, case-insensitively), else `host:port` itself.
    pub fn route(&self, host: &str, port: u16) -> (String, u16) {
        for rule in &self.connect_to {
            if rule.matches(host, port) {
                let to_host = if rule.to_host.is_empty() {
                    host.to_string()
                } else {
                    rule.to_host.clone()
                };
                return (to_host, rule.to_port.unwrap_or(port));
            }
        }
        (host.to_string(), port)
    }

    /// Who resolves names for probes: `system` or the configured server.
    pub fn resolver_name(&self) -> String {
        match self.dns_server {
            Some(addr) => addr.to_string(),
            None => "system".to_string(),
        }
    }
}

/// Resolves `host` (already routed) to socket addresses: an IP literal as is; a name
/// with the configured DNS server, else the system resolver (getaddrinfo).
pub(crate) async fn resolve(
    net: &NetConfig,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match net.dns_server {
        Some(server) => {
            let ips = super::resolver::resolve_ips(server, bare, timeout).await?;
            Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
        }
        None => {
            let lookup = tokio::net::lookup_host((bare.to_string(), port));
            match tokio::time::timeout(timeout, lookup).await {
                Err(_) => Err(ResolveError::Timeout(
                    text::dns::SystemTimeout {
                        name: bare,
                        ms: timeout.as_millis() as u64,
                    }
                    .into(),
                )),
                Ok(Err(e)) => Err(ResolveError::NotFound(
                    text::dns::SystemFailed {
                        name: bare,
                        why: quoted(e),
                    }
                    .into(),
                )),
                Ok(Ok(addrs)) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    if addrs.is_empty() {
                        Err(ResolveError::NotFound(
                            text::dns::SystemNoAddress { name: bare }.into(),
                        ))
                    } else {
                        Ok(addrs)
                    }
                }
            }
        }
    }
}

/// Why a TCP connection failed, in the words probes report.
#[derive(Debug)]
pub(crate) struct ConnectFailure {
    /// `timeout`, `refused`, `dns`, `unreachable` or `reset`.
    pub failure: &'static str,
    pub message: String,
}

/// Routes, resolves and connects `host:port` within `timeout`, trying each address in
/// turn. Returns the stream and the address it reached.
pub(crate) async fn connect(
    net: &NetConfig,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(tokio::net::TcpStream, SocketAddr), ConnectFailure> {
    let deadline = tokio::time::Instant::now() + timeout;
    let (to_host, to_port) = net.route(host, port);
    let via = if (to_host.as_str(), to_port) != (host, port) {
        format!(" (connect-to {to_host}:{to_port})")
    } else {
        String::new()
    };
    let addrs = resolve(net, &to_host, to_port, timeout)
        .await
        .map_err(|e| ConnectFailure {
            failure: match e {
                ResolveError::Timeout(_) => "timeout",
                _ => "dns",
            },
            // A probe's answer is data, in English like every answer a step reads.
            message: format!("{}{via}", e.text().render(Lang::En)),
        })?;
    let mut last: Option<ConnectFailure> = None;
    for addr in addrs {
        let attempt = tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(addr)).await;
        match attempt {
            Err(_) => {
                return Err(ConnectFailure {
                    failure: "timeout",
                    message: format!(
                        "no TCP connection to {addr}{via} within {} ms",
                        timeout.as_millis()
                    ),
                })
            }
            Ok(Ok(stream)) => return Ok((stream, addr)),
            Ok(Err(e)) => {
                last = Some(ConnectFailure {
                    failure: io_failure(&e),
                    message: format!("cannot connect to {addr}{via}: {e}"),
                });
            }
        }
    }
    Err(last.unwrap_or(ConnectFailure {
        failure: "dns",
        message: format!("{to_host} has no address{via}"),
    }))
}

/// Lowercase, no brackets, no trailing dot: how hosts are compared.
pub fn normal_host(host: &str) -> String {
    host.trim()
        .trim_matches(|c| c == '[' || c == ']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// An IP address (IPv6 with or without brackets) or a DNS name: what `via` may be.
pub fn server_address(text: &str) -> bool {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if bare.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        // All digits and dots is a garbled IPv4 address, not a name.
        && !name.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The SSH connection to the server `via` names (opened on first use; `--connect-to`
/// applies to it like to any probe).
pub(crate) async fn via_session(net: &NetConfig, via: &str) -> Result<Arc<Session>, SshError> {
    let server = normal_host(via);
    let Some(pool) = &net.ssh else {
        return Err(SshError {
            kind: ErrorKind::Unsupported,
            message: text::ssh::NeedsSettings { server: &server }.into(),
        });
    };
    let dial = server.clone();
    pool.session(&server, |timeout| async move {
        connect(net, &dial, SSH_PORT, timeout)
            .await
            .map(|(stream, _)| stream)
            .map_err(|f| DialError(f.message))
    })
    .await
}

/// [`connect`], or with `via` the same connection opened by that server (an SSH
/// `direct-tcpip` channel; `127.0.0.1` is the server's own loopback, and names are
/// resolved there). The outer error is the SSH side's: labrun could not check.
pub(crate) async fn connect_via(
    net: &NetConfig,
    via: Option<&str>,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Result<(tokio::net::TcpStream, String), ConnectFailure>, SshError> {
    let Some(via) = via else {
        return Ok(connect(net, host, port, timeout)
            .await
            .map(|(stream, addr)| (stream, addr.to_string())));
    };
    let work = async {
        let session = via_session(net, via).await?;
        let (to_host, to_port) = net.route(host, port);
        Ok(session
            .connect(&to_host, to_port)
            .await?
            .map(|stream| {
                (
                    stream,
                    format!("{to_host}:{to_port} via {}", session.server()),
                )
            })
            .map_err(|u| ConnectFailure {
                failure: u.failure,
                message: u.message,
            }))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Ok(Err(ConnectFailure {
            failure: "timeout",
            message: format!(
                "no TCP connection to {host}:{port} via {via} within {} ms",
                timeout.as_millis()
            ),
        })),
    }
}

/// A loopback port leading to `host:port` through the server `via`, for clients that
/// dial by themselves (MySQL, DNS over TCP).
pub(crate) async fn forward_via(
    net: &NetConfig,
    via: &str,
    host: &str,
    port: u16,
) -> Result<Result<Forward, ConnectFailure>, SshError> {
    let session = via_session(net, via).await?;
    let (to_host, to_port) = net.route(host, port);
    Ok(session
        .forward(&to_host, to_port)
        .await?
        .map_err(|u| ConnectFailure {
            failure: u.failure,
            message: u.message,
        }))
}

/// Classifies an I/O error of a connection attempt.
pub(crate) fn io_failure(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "refused",
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => "reset",
        K::TimedOut => "timeout",
        _ => "unreachable",
    }
}

/// Milliseconds since `start`, as a JSON number.
pub(crate) fn elapsed_ms(start: std::time::Instant) -> Value {
    Value::from(start.elapsed().as_millis() as u64)
}

/// Reads a request object, rejecting unknown fields: the fields a probe accepts.
pub(crate) struct Fields<'a> {
    pub capability: &'static str,
    pub operation: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(
        capability: &'static str,
        operation: &'a str,
        request: &'a Value,
        allowed: &[&str],
    ) -> Result<Fields<'a>, CapError> {
        let map = request.as_object().ok_or_else(|| {
            CapError::new(
                capability,
                operation,
                ErrorKind::InvalidRequest,
                text::probe::NotAnObject {
                    fields: text::list(allowed.iter().copied()),
                },
            )
        })?;
        let fields = Fields {
            capability,
            operation,
            map,
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(fields.invalid(text::probe::UnknownField {
                field: inert(unknown),
                capability,
                operation,
                fields: text::list(allowed.iter().copied()),
            }));
        }
        Ok(fields)
    }

    pub(crate) fn invalid(&self, message: impl Into<Text>) -> CapError {
        CapError::new(
            self.capability,
            self.operation,
            ErrorKind::InvalidRequest,
            message,
        )
    }

    pub(crate) fn string(&self, name: &str) -> Result<Option<&'a str>, CapError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(self.invalid(text::probe::NotAString { field: name })),
        }
    }

    pub(crate) fn required_string(&self, name: &str) -> Result<&'a str, CapError> {
        match self.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(self.invalid(text::probe::Required { field: name })),
        }
    }

    /// The server a request goes through (`via`): absent or `()` connects directly;
    /// a string must be one server address (an IP address or a DNS name, no port, no
    /// scheme). Anything else is refused naming the value, so a step that found no
    /// address (an empty string) or a garbled one never falls back to a direct
    /// connection and reports what that answered.
    pub(crate) fn via(&self) -> Result<Option<&'a str>, CapError> {
        let Some(raw) = self.string("via")? else {
            return Ok(None);
        };
        let via = raw.trim();
        if server_address(via) {
            return Ok(Some(via));
        }
        let cut: String = raw.chars().take(80).collect();
        Err(self.invalid(text::probe::BadVia { via: cut }))
    }

    /// An unsigned integer (also accepted as a string of digits, since Rhai maps may
    /// carry numbers either way) within `min..=max`.
    pub(crate) fn uint(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, CapError> {
        let value = match self.map.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(self.invalid(text::probe::NotInRange {
                field: name,
                min,
                max,
            })),
        }
    }

    pub(crate) fn object(&self, name: &str) -> Result<Option<&'a Map<String, Value>>, CapError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(self.invalid(text::probe::NotAnObjectField { field: name })),
        }
    }
}

/// rustls with the aws-lc-rs provider and the system's trusted roots, built once: the
/// http probe's and the registry client's.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, Text> {
    static CONFIG: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, Text>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let detail = match found.errors.first() {
                    Some(e) => Text::from(text::probe::RootsDetail { why: quoted(e) }).into(),
                    None => text::plain(""),
                };
                return Err(text::probe::NoRoots { detail }.into());
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| Text::from(text::probe::TlsSetup { why: quoted(e) }))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// Runs an HTTP/1 connection future (hyper's `Connection`) on its own task for as long
/// as the returned guard lives: dropping the guard (request done, or abandoned on a
/// timeout) ends the connection too.
pub(crate) fn drive_connection<F>(conn: F) -> ConnectionGuard
where
    F: std::future::Future + Send + 'static,
{
    ConnectionGuard(tokio::spawn(async move {
        let _ = conn.await;
    }))
}

pub(crate) struct ConnectionGuard(tokio::task::JoinHandle<()>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_curl_forms() {
        let r: ConnectTo = "example.com:443:127.0.0.1:8443".parse().unwrap();
        assert_eq!(r.host, "example.com");
        assert_eq!(r.port, Some(443));
        assert_eq!(r.to_host, "127.0.0.1");
        assert_eq!(r.to_port, Some(8443));
        let r: ConnectTo = "::127.0.0.1:".parse().unwrap();
        assert_eq!((r.host.as_str(), r.port), ("", None));
        assert_eq!((r.to_host.as_str(), r.to_port), ("127.0.0.1", None));
        let r: ConnectTo = "[::1]:80:[fd00::5]:8080".parse().unwrap();
        assert_eq!(r.host, "::1");
        assert_eq!(r.to_host, "fd00::5");
        assert_eq!(r.to_string(), "[::1]:80:[fd00::5]:8080");
    }

    #[test]
    fn rejects_bad_forms_saying_why() {
        for (bad, why) in [
            ("a:1:b", "it has 3 colon-separated parts, not 4"),
            ("a:1:b:2:3", "it has 5 colon-separated parts"),
            ("a:x:b:2", "PORT `x` is not a port number"),
            (
                "a:1:b:70000",
                "CONNECT-TO-PORT `70000` is not a port number",
            ),
            ("[::1:80:b:1", "`[` without `]`"),
            ("[zz]:1:b:2", "`[zz]` is not an IPv6 address"),
        ] {
            let e = bad.parse::<ConnectTo>().unwrap_err().en();
            // clap names the flag and the value before it.
            assert!(e.starts_with(why), "{bad}: {e}");
            assert!(
                e.contains("HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT"),
                "{e}"
            );
        }
    }

    #[test]
    fn route_first_match_wins_case_insensitively() {
        let net = NetConfig {
            connect_to: vec![
                "WP.example:3306:127.0.0.1:13306".parse().unwrap(),
                "wp.example::127.0.0.2:".parse().unwrap(),
                "::127.0.0.9:9".parse().unwrap(),
            ],
            ..NetConfig::default()
        };
        assert_eq!(net.route("wp.EXAMPLE", 3306), ("127.0.0.1".into(), 13306));
        assert_eq!(net.route("wp.example", 80), ("127.0.0.2".into(), 80));
        assert_eq!(net.route("other", 80), ("127.0.0.9".into(), 9));
        assert_eq!(NetConfig::default().route("x", 1), ("x".into(), 1));
    }

    #[test]
    fn via_is_one_server_address() {
        for ok in [
            "203.0.113.5",
            "ec2-203-0-113-5.compute-1.amazonaws.com",
            "ip-10-0-1-5.ec2.internal.",
            "fd00::5",
            "[fd00::5]",
            "web1",
        ] {
            assert!(server_address(ok), "{ok}");
        }
        for bad in [
            "",
            "203.0.113.5:22",
            "300.1.1.1",
            "1.2.3",
            "ssh://web1",
            "a b",
            "web1;id",
            "-x",
            "a..b",
            "[web1]",
            "\u{1b}[31m",
        ] {
            assert!(!server_address(bad), "{bad}");
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        let net = NetConfig {
            mysql_password: Some(s),
            ..NetConfig::default()
        };
        assert!(!format!("{net:?}").contains("hunter2"));
    }
}
