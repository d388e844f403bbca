//! `dns` capability: what `nslookup` shows — a name's CNAME chain and addresses — with
//! the system resolver or `--dns-server`. NXDOMAIN and "no data" are answers.

use std::net::IpAddr;

use futures::future::BoxFuture;
use futures::FutureExt;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use serde_json::{json, Value};

use super::capability::{self, Capability, NetAnswer, Operation, Scope};
use super::error::{CapError, ErrorKind};
use super::net::{forward_via, Fields, NetConfig};
use super::resolver::{build_resolver, build_tcp_resolver, classify, fqdn, Answer};
use crate::text::{self, quoted, Text};

/// The `dns` capability.
pub const SPEC: Capability = Capability {
    name: CAPABILITY,
    about: "DNS lookups, as nslookup shows them (CNAME chain and addresses)",
    operations: || OPERATIONS,
    connect: |settings| NetAnswer::connect(settings, boxed),
    target: |_, request| capability::host_field(request, "name"),
    // The addresses of a name the step may look up are its to probe too.
    reveals: |_, answer| {
        answer["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    },
    untrusted_guard: capability::no_guard,
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
    name: "lookup",
    iam: None,
    about: "a name's CNAME chain and addresses; NXDOMAIN and no data are answers",
    scope: Scope::DerivedHost,
}];

const CAPABILITY: &str = "dns";

pub async fn call(net: &NetConfig, operation: &str, request: &Value) -> Result<Value, CapError> {
    match operation {
        "lookup" => lookup(net, request).await,
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

async fn lookup(net: &NetConfig, request: &Value) -> Result<Value, CapError> {
    let fields = Fields::new(
        CAPABILITY,
        "lookup",
        request,
        &["name", "type", "via", "resolver"],
    )?;
    let via = fields.via()?;
    let in_vpc = match via {
        None => None,
        Some(via) => {
            let resolver = fields
                .required_string("resolver")
                .map_err(|_| fields.invalid(text::probe::NeedsResolver))?;
            let ip: IpAddr = resolver
                .trim()
                .parse()
                .map_err(|_| fields.invalid(text::probe::ResolverNotIp { resolver }))?;
            Some((via, ip))
        }
    };
    if in_vpc.is_none() && fields.string("resolver")?.is_some() {
        return Err(fields.invalid(text::probe::ResolverOnlyVia));
    }
    let name = fields.required_string("name")?.trim();
    let types: Vec<RecordType> = match fields.string("type")? {
        None => vec![RecordType::A, RecordType::AAAA],
        Some(t) => match t.to_ascii_uppercase().as_str() {
            "A" => vec![RecordType::A],
            "AAAA" => vec![RecordType::AAAA],
            "CNAME" => vec![RecordType::CNAME],
            "ANY" => vec![RecordType::ANY],
            _ => return Err(fields.invalid(text::probe::BadType { value: t })),
        },
    };
    let fqdn = fqdn(name);
    let error = |kind: ErrorKind, message: Text| CapError::new(CAPABILITY, "lookup", kind, message);
    // Through a server: its VPC resolver over TCP, through an SSH channel kept open
    // for the lookup (`_forward`).
    let (server, resolver, _forward) = match in_vpc {
        None => {
            let server = net.resolver_name();
            let resolver = build_resolver(net.dns_server, net.timeout);
            (server, resolver, None)
        }
        Some((via, ip)) => {
            let forward = forward_via(net, via, &ip.to_string(), 53)
                .await
                .map_err(|e| e.into_cap(CAPABILITY, "lookup"))?
                .map_err(|f| {
                    error(
                        ErrorKind::Network,
                        text::probe::DnsVia {
                            ip,
                            via,
                            why: quoted(f.message),
                        }
                        .into(),
                    )
                })?;
            let resolver = build_tcp_resolver(forward.addr, net.timeout);
            (format!("{ip} via {via}"), resolver, Some(forward))
        }
    };
    let resolver = resolver.map_err(|e| {
        error(
            ErrorKind::Network,
            text::probe::ResolverSetup {
                server: &server,
                why: quoted(e),
            }
            .into(),
        )
    })?;
    let queries = types.iter().map(|t| resolver.lookup(fqdn.as_str(), *t));
    // hickory may try UDP and then TCP, each with its own timeout: bound the whole call.
    let all = futures::future::join_all(queries);
    let results = tokio::time::timeout(net.timeout, all).await.map_err(|_| {
        error(
            ErrorKind::Timeout,
            text::probe::DnsTimeout {
                server: &server,
                name,
                ms: net.timeout.as_millis() as u64,
            }
            .into(),
        )
    })?;

    let mut answers = Vec::new();
    for result in results {
        answers.push(match result {
            Ok(lookup) => Answer::Records(lookup.answers().to_vec()),
            Err(e) => classify(&e).map_err(|(kind, code, why)| {
                let e = error(
                    kind,
                    text::probe::DnsFailed {
                        name,
                        server: &server,
                        why: quoted(why),
                    }
                    .into(),
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
