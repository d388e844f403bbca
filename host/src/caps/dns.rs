//! `dns` capability: what `nslookup` shows — a name's CNAME chain and addresses — with
//! the system resolver or `--dns-server`. NXDOMAIN and "no data" are answers.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use serde_json::{json, Value};

use super::net::{Fields, NetConfig, ResolveError};
use super::{CapError, ErrorKind};

pub const OPERATIONS: &[&str] = &["lookup"];

const CAPABILITY: &str = "dns";

pub async fn call(net: &NetConfig, operation: &str, request: &Value) -> Result<Value, CapError> {
    match operation {
        "lookup" => lookup(net, request).await,
        other => Err(CapError::new(
            CAPABILITY,
            other,
            ErrorKind::Unsupported,
            format!(
                "unknown operation `dns.{other}`; dns has: {}",
                OPERATIONS.join(", ")
            ),
        )),
    }
}

/// The answer to one query type.
enum Answer {
    Records(Vec<Record>),
    NxDomain,
    NoData,
}

async fn lookup(net: &NetConfig, request: &Value) -> Result<Value, CapError> {
    let fields = Fields::new(CAPABILITY, "lookup", request, &["name", "type"])?;
    let name = fields.required_string("name")?.trim();
    let types: Vec<RecordType> = match fields.string("type")? {
        None => vec![RecordType::A, RecordType::AAAA],
        Some(t) => match t.to_ascii_uppercase().as_str() {
            "A" => vec![RecordType::A],
            "AAAA" => vec![RecordType::AAAA],
            "CNAME" => vec![RecordType::CNAME],
            "ANY" => vec![RecordType::ANY],
            _ => {
                return Err(fields.invalid(format!(
                    "request field `type` must be A, AAAA, CNAME or ANY (default: A and AAAA), not `{t}`"
                )))
            }
        },
    };
    let fqdn = fqdn(name);
    let server = net.resolver_name();
    let error =
        |kind: ErrorKind, message: String| CapError::new(CAPABILITY, "lookup", kind, message);

    let resolver = build_resolver(net.dns_server, net.timeout).map_err(|e| {
        error(
            ErrorKind::Network,
            format!("cannot set up the DNS resolver ({server}): {e}"),
        )
    })?;
    let queries = types.iter().map(|t| resolver.lookup(fqdn.as_str(), *t));
    // hickory may try UDP and then TCP, each with its own timeout: bound the whole call.
    let all = futures::future::join_all(queries);
    let results = tokio::time::timeout(net.timeout, all).await.map_err(|_| {
        error(
            ErrorKind::Timeout,
            format!(
                "DNS server {server} did not answer for {name} within {} ms",
                net.timeout.as_millis()
            ),
        )
    })?;

    let mut answers = Vec::new();
    for result in results {
        answers.push(match result {
            Ok(lookup) => Answer::Records(lookup.answers().to_vec()),
            Err(e) => classify(&e).map_err(|(kind, code, why)| {
                let e = error(
                    kind,
                    format!("DNS lookup of {name} via {server} failed: {why}"),
                );
                match code {
                    Some(code) => e.with_code(code),
                    None => e,
                }
            })?,
        });
    }

    let mut records = Vec::new();
    let mut any_records = false;
    let mut all_nx = true;
    for a in answers {
        match a {
            Answer::Records(r) => {
                any_records = true;
                all_nx = false;
                records.extend(r);
            }
            Answer::NoData => all_nx = false,
            Answer::NxDomain => {}
        }
    }
    let chain = cname_chain(&fqdn, &records);
    let mut addresses: Vec<String> = Vec::new();
    for r in &records {
        let ip = match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            _ => continue,
        };
        let ip = ip.to_string();
        if !addresses.contains(&ip) {
            addresses.push(ip);
        }
    }
    let status = if !addresses.is_empty() || (any_records && !chain.is_empty()) {
        "ok"
    } else if all_nx {
        "nxdomain"
    } else {
        "nodata"
    };
    Ok(json!({
        "name": name,
        "status": status,
        "cname_chain": chain,
        "addresses": addresses,
        "server": server,
    }))
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// CNAME targets in order, following the chain from `start` through the records.
fn cname_chain(start: &str, records: &[Record]) -> Vec<String> {
    let mut chain = Vec::new();
    let mut current = start.to_ascii_lowercase();
    while chain.len() < 16 {
        let next = records.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if r.name.to_string().eq_ignore_ascii_case(&current) => {
                Some(target.0.to_string())
            }
            _ => None,
        });
        match next {
            Some(target) if !chain.contains(&target) => {
                current = target.to_ascii_lowercase();
                chain.push(target);
            }
            _ => break,
        }
    }
    chain
}

type Failure = (ErrorKind, Option<String>, String);

/// NXDOMAIN / no data → an answer; anything else → why the server gave none.
fn classify(e: &NetError) -> Result<Answer, Failure> {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(no)) => match no.response_code {
            ResponseCode::NXDomain => Ok(Answer::NxDomain),
            ResponseCode::NoError => Ok(Answer::NoData),
            code => Err((
                ErrorKind::Service,
                Some(code.to_string()),
                format!("server answered {code}"),
            )),
        },
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => Ok(Answer::NxDomain),
        NetError::Dns(DnsError::ResponseCode(code)) => Err((
            ErrorKind::Service,
            Some(code.to_string()),
            format!("server answered {code}"),
        )),
        NetError::Timeout => Err((ErrorKind::Timeout, None, "no answer (timeout)".into())),
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            Err((ErrorKind::Timeout, None, format!("no answer: {io}")))
        }
        NetError::Io(io) => Err((
            ErrorKind::Network,
            None,
            format!("server unreachable: {io}"),
        )),
        NetError::NoConnections => Err((
            ErrorKind::Network,
            None,
            "server unreachable (no connection could be made)".into(),
        )),
        other => Err((ErrorKind::Network, None, other.to_string())),
    }
}

/// One resolver per call: the configured server (UDP, then TCP) or the system's.
/// hickory's retries are limited to one attempt so a dead server fails within `timeout`.
fn build_resolver(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<TokioResolver, NetError> {
    let mut builder = match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio()?,
    };
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.preserve_intermediates = true;
    opts.try_tcp_on_error = false;
    opts.cache_size = 16;
    if server.is_some() {
        opts.use_hosts_file = ResolveHosts::Never;
    }
    builder.build()
}

/// A and AAAA addresses of `name` from `server`, for probes that connect by name.
pub(crate) async fn resolve_ips(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, ResolveError> {
    let resolver = build_resolver(Some(server), timeout).map_err(|e| {
        ResolveError::Failed(format!("cannot set up the DNS resolver ({server}): {e}"))
    })?;
    let fqdn = fqdn(name);
    let lookup = resolver.lookup_ip(fqdn.as_str());
    match tokio::time::timeout(timeout, lookup).await {
        Err(_) => Err(ResolveError::Timeout(format!(
            "DNS server {server} did not resolve {name} within {} ms",
            timeout.as_millis()
        ))),
        Ok(Ok(ips)) => {
            let ips: Vec<IpAddr> = ips.iter().collect();
            if ips.is_empty() {
                Err(ResolveError::NotFound(format!(
                    "{name} has no address (DNS server {server})"
                )))
            } else {
                Ok(ips)
            }
        }
        Ok(Err(e)) => match classify(&e) {
            Ok(Answer::NxDomain) => Err(ResolveError::NotFound(format!(
                "{name} does not exist (NXDOMAIN from DNS server {server})"
            ))),
            Ok(_) => Err(ResolveError::NotFound(format!(
                "{name} has no address (DNS server {server})"
            ))),
            Err((ErrorKind::Timeout, _, why)) => Err(ResolveError::Timeout(format!(
                "DNS server {server} did not resolve {name}: {why}"
            ))),
            Err((_, _, why)) => Err(ResolveError::Failed(format!(
                "DNS server {server} did not resolve {name}: {why}"
            ))),
        },
    }
}
