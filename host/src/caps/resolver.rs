//! Name resolution with hickory, shared by the `dns` capability (what `nslookup`
//! shows) and by every probe that connects by name through `--dns-server`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::Record;
use hickory_resolver::{Resolver, TokioResolver};

use super::error::ErrorKind;
use crate::text::{dns as t, quoted, Text, ToText};

/// Why a name did not resolve to an address.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// The name does not exist or has no address.
    NotFound(Text),
    /// The resolver did not answer in time.
    Timeout(Text),
    /// The resolver failed (unreachable, SERVFAIL, …).
    Failed(Text),
}

impl ToText for ResolveError {
    fn text(&self) -> Text {
        match self {
            ResolveError::NotFound(m) | ResolveError::Timeout(m) | ResolveError::Failed(m) => {
                m.clone()
            }
        }
    }
}

/// The answer to one query type.
pub(crate) enum Answer {
    Records(Vec<Record>),
    NxDomain,
    NoData,
}

pub(crate) fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

pub(crate) type Failure = (ErrorKind, Option<String>, Text);

/// NXDOMAIN / no data → an answer; anything else → why the server gave none.
pub(crate) fn classify(e: &NetError) -> Result<Answer, Failure> {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(no)) => match no.response_code {
            ResponseCode::NXDomain => Ok(Answer::NxDomain),
            ResponseCode::NoError => Ok(Answer::NoData),
            code => Err((
                ErrorKind::Service,
                Some(code.to_string()),
                t::Answered {
                    code: code.to_string(),
                }
                .into(),
            )),
        },
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => Ok(Answer::NxDomain),
        NetError::Dns(DnsError::ResponseCode(code)) => Err((
            ErrorKind::Service,
            Some(code.to_string()),
            t::Answered {
                code: code.to_string(),
            }
            .into(),
        )),
        NetError::Timeout => Err((ErrorKind::Timeout, None, t::NoAnswerTimeout.into())),
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Err((
            ErrorKind::Timeout,
            None,
            t::NoAnswer { why: quoted(io) }.into(),
        )),
        NetError::Io(io) => Err((
            ErrorKind::Network,
            None,
            t::Unreachable { why: quoted(io) }.into(),
        )),
        NetError::NoConnections => Err((ErrorKind::Network, None, t::NoConnection.into())),
        other => Err((
            ErrorKind::Network,
            None,
            t::Other { why: quoted(other) }.into(),
        )),
    }
}

/// One resolver per call: the configured server (UDP, then TCP) or the system's.
/// hickory's retries are limited to one attempt so a dead server fails within `timeout`.
pub(crate) fn build_resolver(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<TokioResolver, NetError> {
    build(server, false, timeout)
}

/// A resolver asking `server` over TCP only (a DNS server reached through an SSH
/// channel, which carries no UDP).
pub(crate) fn build_tcp_resolver(
    server: SocketAddr,
    timeout: Duration,
) -> Result<TokioResolver, NetError> {
    build(Some(server), true, timeout)
}

fn build(
    server: Option<SocketAddr>,
    tcp_only: bool,
    timeout: Duration,
) -> Result<TokioResolver, NetError> {
    let mut builder = match server {
        Some(addr) => {
            let mut ns = if tcp_only {
                NameServerConfig::tcp(addr.ip())
            } else {
                NameServerConfig::udp_and_tcp(addr.ip())
            };
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
        ResolveError::Failed(
            crate::text::probe::ResolverSetup {
                server: server.to_string(),
                why: quoted(e),
            }
            .into(),
        )
    })?;
    let fqdn = fqdn(name);
    let lookup = resolver.lookup_ip(fqdn.as_str());
    match tokio::time::timeout(timeout, lookup).await {
        Err(_) => Err(ResolveError::Timeout(
            t::ResolveTimeout {
                server: server.to_string(),
                name,
                ms: timeout.as_millis() as u64,
            }
            .into(),
        )),
        Ok(Ok(ips)) => {
            let ips: Vec<IpAddr> = ips.iter().collect();
            if ips.is_empty() {
                Err(ResolveError::NotFound(
                    t::NoAddress {
                        name,
                        server: server.to_string(),
                    }
                    .into(),
                ))
            } else {
                Ok(ips)
            }
        }
        Ok(Err(e)) => match classify(&e) {
            Ok(Answer::NxDomain) => Err(ResolveError::NotFound(
                t::NxDomain {
                    name,
                    server: server.to_string(),
                }
                .into(),
            )),
            Ok(_) => Err(ResolveError::NotFound(
                t::NoAddress {
                    name,
                    server: server.to_string(),
                }
                .into(),
            )),
            Err((ErrorKind::Timeout, _, why)) => Err(ResolveError::Timeout(
                t::DidNotResolve {
                    server: server.to_string(),
                    name,
                    why,
                }
                .into(),
            )),
            Err((_, _, why)) => Err(ResolveError::Failed(
                t::DidNotResolve {
                    server: server.to_string(),
                    name,
                    why,
                }
                .into(),
            )),
        },
    }
}
