//! `server` capability: read-only facts about one of the trainee's servers, each a
//! fixed command run over the run's SSH connection (`--ssh-key`), never a command a
//! step writes: an allow-listed file (`sudo -n` where it needs root, as the manual's
//! `sudo tail` does), a unit's state, the listening TCP ports, the network setup.
//! Secrets in `wp-config.php` are replaced by `<redacted>` before the step sees them.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use super::capability::{self, Answer as Live, Capability, Operation, Scope};
use super::error::{CapError, ErrorKind};
use super::net::{via_session, Fields, NetConfig};
use super::ssh::{Output, Session};
use crate::text::{self, quoted, server as t, Text};

/// The `server` capability.
pub const SPEC: Capability = Capability {
    name: CAPABILITY,
    about: "read-only facts about a trainee's server over SSH: allow-listed files, units, ports, network",
    operations: || OPERATIONS,
    connect: |settings| {
        Arc::new(Facts {
            net: settings.net.clone(),
            readable: settings.server_readable.clone(),
        })
    },
    target: |_, request| capability::host_field(request, "via"),
    reveals: capability::reveals_nothing,
    untrusted_guard: capability::no_guard,
    one_endpoint: false,
    views: None,
};

pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "read_file",
        iam: None,
        about: "an allow-listed file (nginx logs, resolv.conf, wp-config.php with its secrets redacted), size-capped",
        scope: Scope::OwnServer,
    },
    Operation {
        name: "service",
        iam: None,
        about: "whether one systemd unit is active and enabled",
        scope: Scope::OwnServer,
    },
    Operation {
        name: "listening",
        iam: None,
        about: "the listening TCP ports",
        scope: Scope::OwnServer,
    },
    Operation {
        name: "network",
        iam: None,
        about: "addresses, routes and resolvers (`ip a`, `ip r`, /etc/resolv.conf)",
        scope: Scope::OwnServer,
    },
];

const CAPABILITY: &str = "server";

/// The files `read_file` may read.
pub const READABLE: &[&str] = &[
    "/var/log/nginx/access.log",
    "/var/log/nginx/error.log",
    "/etc/resolv.conf",
    WP_CONFIG,
];

const WP_CONFIG: &str = "/var/www/html/wordpress/wp-config.php";

/// `define()`d names in wp-config.php whose values never reach a step.
pub const WP_SECRETS: &[&str] = &[
    "DB_PASSWORD",
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
    "DBI_AWS_ACCESS_KEY_ID",
    "DBI_AWS_SECRET_ACCESS_KEY",
];

const REDACTED: &str = "<redacted>";
const DEFAULT_MAX_BYTES: u64 = 64 * 1024;
const MAX_BYTES: u64 = 1024 * 1024;
const MAX_TAIL_LINES: u64 = 10_000;
/// Output cap of the fixed fact commands.
const FACT_BYTES: usize = 64 * 1024;

struct Facts {
    net: NetConfig,
    /// Paths the policy adds to [`READABLE`].
    readable: Vec<String>,
}

impl Live for Facts {
    fn call<'a>(
        &'a self,
        operation: &'a str,
        request: &'a Value,
    ) -> BoxFuture<'a, Result<Value, CapError>> {
        call(&self.net, &self.readable, operation, request).boxed()
    }
}

fn error(operation: &str, kind: ErrorKind, message: impl Into<Text>) -> CapError {
    CapError::new(CAPABILITY, operation, kind, message)
}

/// Answers one call; `readable` are the paths the policy adds to [`READABLE`].
pub async fn call(
    net: &NetConfig,
    readable: &[String],
    operation: &str,
    request: &Value,
) -> Result<Value, CapError> {
    let work = async {
        match operation {
            "read_file" => read_file(net, readable, request).await,
            "service" => service(net, request).await,
            "listening" => listening(net, request).await,
            "network" => network(net, request).await,
            other => Err(error(
                other,
                ErrorKind::Unsupported,
                text::probe::UnknownOperation {
                    capability: CAPABILITY,
                    operation: other,
                    known: text::list(SPEC.operation_names()),
                },
            )),
        }
    };
    match tokio::time::timeout(net.timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(error(
            operation,
            ErrorKind::Timeout,
            t::NoAnswer {
                ms: net.timeout.as_millis() as u64,
            },
        )),
    }
}

async fn session(
    net: &NetConfig,
    fields: &Fields<'_>,
    operation: &str,
) -> Result<Arc<Session>, CapError> {
    let Some(via) = fields.via()? else {
        return Err(fields.invalid(t::ViaRequired));
    };
    via_session(net, via)
        .await
        .map_err(|e| e.into_cap(CAPABILITY, operation))
}

async fn exec(
    session: &Session,
    operation: &str,
    command: &str,
    max: usize,
) -> Result<Output, CapError> {
    session
        .exec(command, max)
        .await
        .map_err(|e| e.into_cap(CAPABILITY, operation))
}

fn sudo_refused(stderr: &str) -> bool {
    stderr.contains("a password is required")
        || stderr.contains("a terminal is required")
        || stderr.contains("may not run sudo")
        || stderr.contains("is not in the sudoers")
}

async fn read_file(
    net: &NetConfig,
    readable: &[String],
    request: &Value,
) -> Result<Value, CapError> {
    let op = "read_file";
    let fields = Fields::new(
        CAPABILITY,
        op,
        request,
        &["via", "path", "tail_lines", "max_bytes"],
    )?;
    let path = fields.required_string("path")?.trim();
    let mut allowed = READABLE
        .iter()
        .copied()
        .chain(readable.iter().map(String::as_str));
    // The path run on the server is the list's own text, never the step's.
    let Some(path) = allowed.find(|p| *p == path) else {
        let all: Vec<&str> = READABLE
            .iter()
            .copied()
            .chain(readable.iter().map(String::as_str))
            .collect();
        return Err(fields.invalid(t::NotReadable {
            path,
            readable: text::list(all),
        }));
    };
    let tail = fields.uint("tail_lines", 1, MAX_TAIL_LINES)?;
    let max = fields
        .uint("max_bytes", 1, MAX_BYTES)?
        .unwrap_or(DEFAULT_MAX_BYTES) as usize;
    let session = session(net, &fields, op).await?;
    // Fixed commands only: the path is one of READABLE, never the step's text. The
    // server itself stops at the cap (`head -c`); one byte more says "truncated".
    let read = |sudo: &str| match tail {
        Some(n) => format!("{sudo}tail -n {n} -- {path} | head -c {}", max + 1),
        None => format!("{sudo}head -c {} -- {path}", max + 1),
    };
    let mut out = exec(&session, op, &read(""), max).await?;
    let mut sudo = false;
    // A pipeline's status is head's: the reader's complaint is on stderr.
    if String::from_utf8_lossy(&out.stderr).contains("Permission denied") {
        sudo = true;
        out = exec(&session, op, &read("sudo -n "), max).await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if sudo_refused(&stderr) {
            return Err(error(
                op,
                ErrorKind::Denied,
                t::NeedsSudo {
                    path,
                    server: session.server(),
                    why: quoted(stderr.trim()),
                },
            )
            .with_code("sudo"));
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status != Some(0) || (out.stdout.is_empty() && !stderr.trim().is_empty()) {
        let kind = if stderr.contains("No such file") {
            ErrorKind::NotFound
        } else {
            ErrorKind::Service
        };
        return Err(error(
            op,
            kind,
            t::CannotRead {
                path,
                server: session.server(),
                why: quoted(stderr.trim()),
            },
        ));
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Every wp-config.php, wherever a policy lets it be read, loses its secrets.
    if path
        .rsplit('/')
        .next()
        .is_some_and(|name| name.starts_with("wp-config"))
    {
        text = redact_wp_config(&text);
    }
    Ok(json!({
        "path": path,
        "content": text,
        "truncated": out.truncated,
        "sudo": sudo,
    }))
}

/// A systemd unit name: letters, digits, `@._-`, at most 128 characters.
fn unit_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._-".contains(c))
}

async fn service(net: &NetConfig, request: &Value) -> Result<Value, CapError> {
    let op = "service";
    let fields = Fields::new(CAPABILITY, op, request, &["via", "unit"])?;
    let unit = fields.required_string("unit")?.trim();
    if !unit_name(unit) {
        return Err(fields.invalid(t::NotAUnit { unit }));
    }
    let session = session(net, &fields, op).await?;
    let active = exec(&session, op, &format!("systemctl is-active -- {unit}"), 256).await?;
    let enabled = exec(
        &session,
        op,
        &format!("systemctl is-enabled -- {unit}"),
        256,
    )
    .await?;
    let word = |out: &Output| {
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if text.is_empty() {
            "unknown".to_string()
        } else {
            text
        }
    };
    Ok(json!({
        "unit": unit,
        "active": word(&active),
        "enabled": word(&enabled),
    }))
}

async fn listening(net: &NetConfig, request: &Value) -> Result<Value, CapError> {
    let op = "listening";
    let fields = Fields::new(CAPABILITY, op, request, &["via"])?;
    let session = session(net, &fields, op).await?;
    let out = exec(&session, op, "ss -H -l -t -n", FACT_BYTES).await?;
    if out.status != Some(0) {
        return Err(error(
            op,
            ErrorKind::Service,
            t::SsFailed {
                server: session.server(),
                why: quoted(String::from_utf8_lossy(&out.stderr).trim()),
            },
        ));
    }
    let mut ports = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // State Recv-Q Send-Q Local:Port Peer:Port
        let Some(local) = line.split_whitespace().nth(3) else {
            continue;
        };
        let Some((address, port)) = local.rsplit_once(':') else {
            continue;
        };
        if let Ok(port) = port.parse::<u16>() {
            ports.push(
                json!({ "address": address.trim_matches(|c| c == '[' || c == ']'), "port": port }),
            );
        }
    }
    Ok(json!({ "tcp": ports, "truncated": out.truncated }))
}

async fn network(net: &NetConfig, request: &Value) -> Result<Value, CapError> {
    let op = "network";
    let fields = Fields::new(CAPABILITY, op, request, &["via"])?;
    let session = session(net, &fields, op).await?;
    let json_of = |out: &Output| -> Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| json!([]))
    };
    let addr = exec(&session, op, "ip -j addr show", FACT_BYTES).await?;
    let route = exec(&session, op, "ip -j route show", FACT_BYTES).await?;
    let resolv = exec(&session, op, "cat -- /etc/resolv.conf", FACT_BYTES).await?;
    let mut addresses = Vec::new();
    for link in json_of(&addr).as_array().into_iter().flatten() {
        for info in link["addr_info"].as_array().into_iter().flatten() {
            addresses.push(json!({
                "interface": link["ifname"],
                "family": info["family"],
                "address": info["local"],
                "prefix": info["prefixlen"],
            }));
        }
    }
    let routes: Vec<Value> = json_of(&route)
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| json!({ "destination": r["dst"], "gateway": r["gateway"], "interface": r["dev"] }))
        .collect();
    let resolvers: Vec<String> = String::from_utf8_lossy(&resolv.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|ip| ip.trim().to_string())
        .collect();
    Ok(json!({
        "addresses": addresses,
        "routes": routes,
        "resolvers": resolvers,
        "truncated": addr.truncated || route.truncated || resolv.truncated,
    }))
}

/// wp-config.php with the value of every secret `define()` replaced by `<redacted>`.
/// A line that names a secret but cannot be read as `define('NAME', 'value')` is
/// replaced as a whole: better a missing line than a leaked key.
pub fn redact_wp_config(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        match WP_SECRETS.iter().find(|name| names_secret(body, name)) {
            None => out.push_str(line),
            Some(name) => {
                out.push_str(
                    &redact_define(body, name)
                        .unwrap_or_else(|| format!("/* {REDACTED}: a line naming {name} */")),
                );
                out.push_str(ending);
            }
        }
    }
    out
}

fn names_secret(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + name.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

/// `define( 'NAME', 'value' );` → `define( 'NAME', '<redacted>' );`.
fn redact_define(line: &str, name: &str) -> Option<String> {
    let start = line
        .find(&format!("'{name}'"))
        .or_else(|| line.find(&format!("\"{name}\"")))?;
    let after_name = start + name.len() + 2;
    let rest = &line[after_name..];
    let comma = rest.find(',')?;
    let value = &rest[comma + 1..];
    let open_rel = value.find(['\'', '"'])?;
    if !value[..open_rel].trim().is_empty() {
        return None;
    }
    let quote = value[open_rel..].chars().next()?;
    let body_start = after_name + comma + 1 + open_rel + 1;
    // The closing quote: the first one not escaped by a backslash.
    let bytes = line.as_bytes();
    let mut i = body_start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote as u8 => break,
            _ => i += 1,
        }
    }
    if i >= bytes.len() {
        return None;
    }
    let tail = &line[i..];
    // Anything after the define on the same line could hold a secret too.
    if WP_SECRETS.iter().any(|n| names_secret(tail, n)) {
        return None;
    }
    Some(format!("{}{REDACTED}{tail}", &line[..body_start]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wp_config_secrets_are_redacted() {
        let config = "<?php\n\
            define( 'DB_NAME', 'wordpress' );\n\
            define( 'DB_PASSWORD', 'hunter2\\'s' );\n\
            define(\"AUTH_KEY\", \"k3y\");\r\n\
            define('DBI_AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI');\n\
            $x = DBI_AWS_SECRET_ACCESS_KEY . 'AKIAplanted';\n\
            define('NONCE_SALT_EXTRA', 'kept');\n";
        let out = redact_wp_config(config);
        for secret in ["hunter2", "k3y", "wJalrXUtnFEMI", "AKIAplanted"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("define( 'DB_NAME', 'wordpress' );"), "{out}");
        assert!(
            out.contains("define( 'DB_PASSWORD', '<redacted>' );"),
            "{out}"
        );
        assert!(
            out.contains("define(\"AUTH_KEY\", \"<redacted>\");\r\n"),
            "{out}"
        );
        assert!(out.contains("'kept'"), "{out}");
    }

    #[test]
    fn only_listed_paths_and_unit_names() {
        assert!(unit_name("nginx.service"));
        assert!(unit_name("php-fpm"));
        for bad in ["", "-x", "a b", "a;b", "$(id)", "../x"] {
            assert!(!unit_name(bad), "{bad}");
        }
        assert!(READABLE.contains(&"/var/log/nginx/access.log"));
    }
}
