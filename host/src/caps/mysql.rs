//! `mysql` capability: one read-only query. Read-only by construction: only a single
//! SELECT or SHOW statement is accepted (checked before connecting), the session is set
//! `TRANSACTION READ ONLY`, a statement time limit and a row/byte cap apply. The
//! password comes from the operator, never from a request, and never appears in error
//! text: Aurora's ([`NetConfig::mysql_password`], `--mysql-password-file FILE`), or a
//! named credential the request picks by name (`credential: "local"` →
//! [`NetConfig::mysql_credentials`], `--mysql-password-file local=FILE` or
//! `LABRUN_MYSQL_PASSWORD_LOCAL`), e.g. for a web server's own MySQL, whose password
//! is not Aurora's. A named credential the operator did not give is the check's
//! `error` naming the flag, never a fall-back to Aurora's password.

use std::time::Duration;

use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Value as SqlValue};
use serde_json::{json, Value};

use super::net::{forward_via, resolve, Fields, NetConfig, ResolveError, Secret};

use futures::future::BoxFuture;
use futures::FutureExt;

use super::capability::{self, Capability, NetAnswer, Operation, Scope};
use super::error::{CapError, ErrorKind};
use crate::text::{self, inert, mysql as t, quoted, Text, ToText};

/// The `mysql` capability.
pub const SPEC: Capability = Capability {
    name: CAPABILITY,
    about: "one read-only SELECT or SHOW in a READ ONLY session",
    operations: || OPERATIONS,
    connect: |settings| NetAnswer::connect(settings, boxed),
    target: |_, request| capability::host_field(request, "host"),
    reveals: capability::reveals_nothing,
    untrusted_guard: capability::no_guard,
    one_endpoint: false,
    views: None,
};

/// [`live`] as the capability's live answer.
fn boxed<'a>(
    net: &'a NetConfig,
    operation: &'a str,
    request: &'a Value,
) -> BoxFuture<'a, Result<Value, CapError>> {
    live(net, operation, request).boxed()
}

pub const OPERATIONS: &[Operation] = &[Operation {
    name: "query",
    iam: None,
    about: "runs one SELECT/SHOW statement",
    scope: Scope::DerivedHost,
}];

/// Without the operator's password there is nothing to try: say where it comes from.
async fn live(net: &NetConfig, operation: &str, request: &Value) -> Result<Value, CapError> {
    if let Err(missing) = password(net, operation, request) {
        // A malformed `credential` is the request's fault: `call` says so.
        if missing.kind == ErrorKind::Credentials {
            // Name everything the operator has to add, not just the first thing.
            if let (Some(via), None) = (request.get("via").and_then(Value::as_str), &net.ssh) {
                let code = missing.code.clone();
                let mut also = CapError::new(
                    CAPABILITY,
                    operation,
                    missing.kind,
                    t::AlsoSsh {
                        missing: missing.message_arg(),
                        via,
                    },
                );
                also.code = code;
                return Err(also);
            }
            return Err(missing);
        }
    }
    call(net, operation, request).await
}

/// The password `request` asks for: Aurora's, or the named `credential`'s. Missing is
/// a `credentials` error naming the flag that gives it.
fn password<'a>(
    net: &'a NetConfig,
    operation: &str,
    request: &Value,
) -> Result<&'a Secret, CapError> {
    let missing = |message: Text| {
        CapError::new(CAPABILITY, operation, ErrorKind::Credentials, message)
            .with_code("no-password")
    };
    match request.get("credential") {
        None | Some(Value::Null) => net
            .mysql_password
            .as_ref()
            .ok_or_else(|| missing(t::NoPassword.into())),
        Some(Value::String(name)) if credential_name(name) => {
            net.mysql_credentials.get(name).ok_or_else(|| {
                missing(
                    t::NoCredential {
                        name,
                        env: name.to_ascii_uppercase(),
                    }
                    .into(),
                )
            })
        }
        Some(other) => Err(CapError::new(
            CAPABILITY,
            operation,
            ErrorKind::InvalidRequest,
            t::BadCredential {
                got: other.to_string(),
            },
        )),
    }
}

/// Whether `name` may name a MySQL credential: lower-case letters, digits and `_`,
/// starting with a letter, so that `LABRUN_MYSQL_PASSWORD_<NAME>` is its env form.
pub fn credential_name(name: &str) -> bool {
    name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

const CAPABILITY: &str = "mysql";

/// At most this many rows are returned (`truncated` tells when more existed).
pub const MAX_ROWS: usize = 1000;
/// At most this many bytes of values are returned.
pub const MAX_BYTES: usize = 1024 * 1024;

pub async fn call(net: &NetConfig, operation: &str, request: &Value) -> Result<Value, CapError> {
    match operation {
        "query" => query(net, request).await,
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

fn error(kind: ErrorKind, message: impl Into<Text>) -> CapError {
    CapError::new(CAPABILITY, "query", kind, message)
}

async fn query(net: &NetConfig, request: &Value) -> Result<Value, CapError> {
    if request.get("password").is_some() {
        return Err(error(ErrorKind::InvalidRequest, t::PasswordHint));
    }
    let fields = Fields::new(
        CAPABILITY,
        "query",
        request,
        &[
            "host",
            "port",
            "user",
            "database",
            "sql",
            "via",
            "credential",
        ],
    )?;
    let via = fields.via()?;
    let host = fields.required_string("host")?.trim();
    let port = fields.uint("port", 1, 65535)?.unwrap_or(3306) as u16;
    let user = fields.required_string("user")?;
    let database = fields.string("database")?.filter(|d| !d.is_empty());
    let sql = fields.required_string("sql")?;
    check_read_only(sql).map_err(|why| fields.invalid(t::NotReadOnly { why: why.text() }))?;

    let timeout = net.timeout;
    let password = match password(net, "query", request) {
        Ok(secret) => Some(secret.expose().to_string()),
        // A missing named credential is never replaced by Aurora's password.
        Err(e) if request.get("credential").is_some_and(|c| !c.is_null()) => return Err(e),
        Err(_) => None,
    };
    let work = run(
        net,
        via,
        host,
        port,
        user,
        database,
        sql,
        password.as_deref(),
    );
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(error(
            ErrorKind::Timeout,
            t::NoResult {
                host,
                port,
                ms: timeout.as_millis() as u64,
            },
        )),
    };
    // Belt and braces: whatever a server or driver says, the password is never echoed.
    result.map_err(|mut e| {
        if let Some(p) = password.as_deref().filter(|p| !p.is_empty()) {
            e.message = e.message.replace(p, "[redacted]");
            e.message_ja = e.message_ja.map(|m| m.replace(p, "[redacted]").into());
        }
        e
    })
}

#[allow(clippy::too_many_arguments)]
async fn run(
    net: &NetConfig,
    through: Option<&str>,
    host: &str,
    port: u16,
    user: &str,
    database: Option<&str>,
    sql: &str,
    password: Option<&str>,
) -> Result<Value, CapError> {
    // Through a server, that server resolves and connects (an SSH channel behind a
    // loopback port); the forward lives as long as the session.
    let (_forward, to_host, to_port, ips, via) = match through {
        Some(server) => {
            let forward = forward_via(net, server, host, port)
                .await
                .map_err(|e| e.into_cap(CAPABILITY, "query"))?
                .map_err(|f| {
                    error(
                        ErrorKind::Network,
                        t::Forward {
                            why: quoted(f.message),
                        },
                    )
                    .with_code("2003")
                })?;
            let addr = forward.addr;
            (
                Some(forward),
                addr.ip().to_string(),
                addr.port(),
                vec![addr.ip()],
                Some(Text::from(t::Via { server })),
            )
        }
        None => {
            let (to_host, to_port) = net.route(host, port);
            let via = if (to_host.as_str(), to_port) != (host, port) {
                Some(Text::from(t::ConnectTo {
                    host: &to_host,
                    port: to_port,
                }))
            } else {
                None
            };
            let addrs =
                resolve(net, &to_host, to_port, net.timeout)
                    .await
                    .map_err(|e| match e {
                        ResolveError::Timeout(m) => error(ErrorKind::Timeout, with_via(m, &via)),
                        other => error(
                            ErrorKind::Network,
                            with_via(t::CannotResolve { why: other.text() }.into(), &via),
                        )
                        .with_code("2005"),
                    })?;
            let ips: Vec<_> = addrs.iter().map(|a| a.ip()).collect();
            (None, to_host, to_port, ips, via)
        }
    };
    let opts = OptsBuilder::default()
        .ip_or_hostname(to_host.clone())
        .resolved_ips(Some(ips))
        .tcp_port(to_port)
        .user(Some(user))
        .pass(password)
        .db_name(database)
        .prefer_socket(false)
        .stmt_cache_size(0)
        .wait_timeout(None);
    let mut conn = Conn::new(opts).await.map_err(|e| {
        sql_error(
            &e,
            with_via(t::Connecting { host, port, user }.into(), &via),
        )
    })?;
    let result = session(&mut conn, sql, net.timeout).await;
    // Close politely unless rows were left unread (dropping then discards them).
    if result.as_ref().is_ok_and(|(_, truncated)| !truncated) {
        let _ = conn.disconnect().await;
    }
    result.map(|(v, _)| v)
}

async fn session(conn: &mut Conn, sql: &str, timeout: Duration) -> Result<(Value, bool), CapError> {
    conn.query_drop("SET SESSION TRANSACTION READ ONLY")
        .await
        .map_err(|e| sql_error(&e, t::SetReadOnly.into()))?;
    // MariaDB's limit is in seconds, MySQL's in milliseconds; each server rejects the
    // other's variable, which is fine: the whole call is bounded by the timeout anyway.
    let secs = timeout.as_secs_f64().max(0.001);
    let _ = conn
        .query_drop(format!("SET SESSION max_statement_time={secs:.3}"))
        .await;
    let _ = conn
        .query_drop(format!(
            "SET SESSION max_execution_time={}",
            timeout.as_millis().max(1)
        ))
        .await;

    let mut result = conn
        .query_iter(sql)
        .await
        .map_err(|e| sql_error(&e, t::Query.into()))?;
    let columns = result.columns().unwrap_or_else(|| Vec::new().into());
    let names: Vec<String> = columns.iter().map(|c| c.name_str().into_owned()).collect();
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    while let Some(row) = result
        .next()
        .await
        .map_err(|e| sql_error(&e, t::Query.into()))?
    {
        if rows.len() >= MAX_ROWS {
            truncated = true;
            break;
        }
        let mut out = Vec::with_capacity(names.len());
        for (i, column) in columns.iter().enumerate() {
            let value = row.as_ref(i).cloned().unwrap_or(SqlValue::NULL);
            let (json, size) = to_json(value, column.column_type());
            bytes += size;
            out.push(json);
        }
        if bytes > MAX_BYTES {
            truncated = true;
            break;
        }
        rows.push(Value::Array(out));
    }
    if !truncated {
        // Drain any further result sets (there should be none).
        result
            .drop_result()
            .await
            .map_err(|e| sql_error(&e, t::Query.into()))?;
    } else {
        drop(result);
    }
    Ok((
        json!({"columns": names, "rows": rows, "truncated": truncated}),
        truncated,
    ))
}

/// A MySQL value as JSON: integers as numbers, NULL as null, everything else as text.
fn to_json(value: SqlValue, column_type: ColumnType) -> (Value, usize) {
    use ColumnType::*;
    match value {
        SqlValue::NULL => (Value::Null, 4),
        SqlValue::Int(i) => (Value::from(i), 8),
        SqlValue::UInt(u) => (Value::from(u), 8),
        SqlValue::Float(f) => (json!(f), 8),
        SqlValue::Double(f) => (json!(f), 8),
        SqlValue::Bytes(b) => {
            let size = b.len();
            let text = String::from_utf8_lossy(&b).into_owned();
            let integer = matches!(
                column_type,
                MYSQL_TYPE_TINY
                    | MYSQL_TYPE_SHORT
                    | MYSQL_TYPE_LONG
                    | MYSQL_TYPE_INT24
                    | MYSQL_TYPE_LONGLONG
                    | MYSQL_TYPE_YEAR
            );
            if integer {
                if let Ok(i) = text.parse::<i64>() {
                    return (Value::from(i), size);
                }
                if let Ok(u) = text.parse::<u64>() {
                    return (Value::from(u), size);
                }
            }
            if matches!(column_type, MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE) {
                if let Some(n) = text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    return (Value::Number(n), size);
                }
            }
            (Value::String(text), size)
        }
        other => {
            let text = other.as_sql(true);
            let text = text.trim_matches('\'').to_string();
            let size = text.len();
            (Value::String(text), size)
        }
    }
}

/// `what`, and the server it went through or the `--connect-to` route, if any.
fn with_via(what: Text, via: &Option<Text>) -> Text {
    match via {
        Some(via) => t::WithVia { what, via }.into(),
        None => what,
    }
}

/// Maps a driver error to a CapError that keeps the MySQL error number as `code`.
fn sql_error(e: &mysql_async::Error, doing: Text) -> CapError {
    match e {
        mysql_async::Error::Server(s) => {
            let kind = match s.code {
                1045 | 1698 => ErrorKind::Credentials,
                1044 | 1142 | 1143 | 1227 => ErrorKind::Denied,
                1049 | 1146 => ErrorKind::NotFound,
                3024 | 1969 => ErrorKind::Timeout,
                _ => ErrorKind::Service,
            };
            error(
                kind,
                t::ServerError {
                    doing,
                    code: s.code,
                    state: &s.state,
                    message: quoted(&s.message),
                },
            )
            .with_code(s.code.to_string())
        }
        mysql_async::Error::Io(io) => {
            let text = io.to_string();
            match io {
                mysql_async::IoError::Io(ioe) if ioe.kind() == std::io::ErrorKind::TimedOut => {
                    error(
                        ErrorKind::Timeout,
                        t::Failed {
                            doing,
                            why: quoted(text),
                        },
                    )
                }
                _ => error(
                    ErrorKind::Network,
                    t::CannotConnect {
                        doing,
                        why: quoted(text),
                    },
                )
                .with_code("2003"),
            }
        }
        mysql_async::Error::Driver(d) => error(
            ErrorKind::Network,
            t::Failed {
                doing,
                why: quoted(d),
            },
        )
        .with_code("2013"),
        other => error(
            ErrorKind::Service,
            t::Failed {
                doing,
                why: quoted(other),
            },
        ),
    }
}

/// Why a statement is not one read-only SELECT or SHOW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReadOnly {
    Semicolon,
    Empty,
    /// The first word, as it was written (upper-cased).
    First(String),
    /// A clause that writes or locks.
    Clause(&'static str),
    Executable,
    Comment,
    Quote,
}

impl ToText for NotReadOnly {
    fn text(&self) -> Text {
        match self {
            NotReadOnly::Semicolon => t::Semicolon.into(),
            NotReadOnly::Empty => t::EmptyStatement.into(),
            NotReadOnly::First(word) => t::NotSelect { word: inert(word) }.into(),
            NotReadOnly::Clause(what) => t::NotAllowedClause { what: *what }.into(),
            NotReadOnly::Executable => t::ExecutableComment.into(),
            NotReadOnly::Comment => t::OpenComment.into(),
            NotReadOnly::Quote => t::OpenQuote.into(),
        }
    }
}

/// Accepts a single SELECT or SHOW statement (an optional trailing `;`); rejects
/// anything that could write. Conservative: the text is checked both as if backslashes
/// escape inside strings and as if they do not (NO_BACKSLASH_ESCAPES), and must pass both.
pub fn check_read_only(sql: &str) -> Result<(), NotReadOnly> {
    let trimmed = sql.trim_end();
    let body = trimmed.strip_suffix(';').unwrap_or(trimmed);
    if body.contains(';') {
        return Err(NotReadOnly::Semicolon);
    }
    for backslash_escapes in [true, false] {
        let words = words(body, backslash_escapes)?;
        check_words(&words)?;
    }
    Ok(())
}

fn check_words(words: &[String]) -> Result<(), NotReadOnly> {
    let first = words.first().map(String::as_str).unwrap_or("");
    if !matches!(first, "SELECT" | "SHOW") {
        return Err(if first.is_empty() {
            NotReadOnly::Empty
        } else {
            NotReadOnly::First(first.to_string())
        });
    }
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str).unwrap_or("");
        let bad = match w.as_str() {
            "INTO" => Some("SELECT … INTO"),
            "OUTFILE" | "DUMPFILE" => Some("INTO OUTFILE/DUMPFILE"),
            "FOR" if next == "UPDATE" || next == "SHARE" => Some("FOR UPDATE/SHARE (locking read)"),
            "LOCK" if next == "IN" => Some("LOCK IN SHARE MODE (locking read)"),
            _ => None,
        };
        if let Some(what) = bad {
            return Err(NotReadOnly::Clause(what));
        }
    }
    Ok(())
}

/// Upper-cased words and symbols outside comments and quoted literals.
fn words(sql: &str, backslash_escapes: bool) -> Result<Vec<String>, NotReadOnly> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut i = 0;
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(word.to_ascii_uppercase());
            word.clear();
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '/' if next == Some('*') => {
                flush(&mut word, &mut out);
                if matches!(chars.get(i + 2), Some('!') | Some('M')) {
                    return Err(NotReadOnly::Executable);
                }
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                    .ok_or(NotReadOnly::Comment)?;
                i = end + 2;
                continue;
            }
            '#' => {
                flush(&mut word, &mut out);
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '-' if next == Some('-') && chars.get(i + 2).is_none_or(|c| c.is_whitespace()) => {
                flush(&mut word, &mut out);
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' | '"' | '`' => {
                flush(&mut word, &mut out);
                let quote = c;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(NotReadOnly::Quote),
                        Some('\\') if backslash_escapes && quote != '`' => i += 2,
                        Some(&q) if q == quote => {
                            if chars.get(i + 1) == Some(&quote) {
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(_) => i += 1,
                    }
                }
                out.push(if quote == '`' {
                    "`ID`".into()
                } else {
                    "'STR'".into()
                });
                continue;
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' || c == '@' => word.push(c),
            c if c.is_whitespace() => flush(&mut word, &mut out),
            other => {
                flush(&mut word, &mut out);
                out.push(other.to_string());
            }
        }
        i += 1;
    }
    flush(&mut word, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::check_read_only;
    use super::{credential_name, live};
    use crate::caps::error::ErrorKind;
    use crate::caps::net::{NetConfig, Secret};
    use serde_json::json;

    fn request(credential: serde_json::Value) -> serde_json::Value {
        json!({ "host": "127.0.0.1", "port": 1, "user": "root", "sql": "SHOW TABLES",
                "credential": credential, "via": "203.0.113.9" })
    }

    #[tokio::test]
    async fn a_missing_named_credential_is_an_error_naming_the_flag_never_aurora_s_password() {
        let net = NetConfig {
            mysql_password: Some(Secret::new("aurora-pw")),
            ..NetConfig::default()
        };
        let e = live(&net, "query", &request(json!("local")))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Credentials, "{e}");
        assert_eq!(e.code.as_deref(), Some("no-password"));
        for needle in [
            "--mysql-password-file local=FILE",
            "LABRUN_MYSQL_PASSWORD_LOCAL",
            "--ssh-key",
        ] {
            assert!(e.message.contains(needle), "{needle}: {}", e.message);
        }
        assert!(!e.message.contains("aurora-pw"));
    }

    #[tokio::test]
    async fn a_malformed_credential_is_an_invalid_request() {
        let net = NetConfig::default();
        for bad in [json!(""), json!("Local"), json!(7), json!("a b\u{1b}[31m")] {
            let e = live(&net, "query", &request(bad.clone()))
                .await
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest, "{bad}: {e}");
            assert!(!e.message.contains('\u{1b}'), "{}", e.message);
        }
    }

    #[test]
    fn credential_names_map_to_env_names() {
        for ok in ["local", "db2", "web_1"] {
            assert!(credential_name(ok), "{ok}");
        }
        for bad in ["", "Local", "1db", "a-b", "a=b", "a/b", &"x".repeat(33)] {
            assert!(!credential_name(bad), "{bad}");
        }
    }

    #[test]
    fn accepts_reads() {
        for ok in [
            "SELECT 1",
            "select @@read_only, @@innodb_read_only;",
            "  SHOW DATABASES ;  ",
            "/* who */ SELECT option_value FROM wp_options WHERE option_name = 'siteurl'",
            "-- a comment\nSELECT 'for update into outfile' AS x",
            "SELECT `into` FROM t # trailing comment",
        ] {
            assert_eq!(check_read_only(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_writes() {
        for bad in [
            "INSERT INTO t VALUES (1)",
            "CREATE TABLE x (a int)",
            "DELETE FROM wp_options",
            "SELECT 1; DROP TABLE x",
            "SELECT * FROM t INTO OUTFILE '/tmp/x'",
            "SELECT * FROM t INTO DUMPFILE '/tmp/x'",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t LOCK IN SHARE MODE",
            "SELECT 1 /*!50000 ; DROP TABLE x */",
            "/*! INSERT INTO t VALUES (1) */ SELECT 1",
            "SELECT 'a\\' INTO OUTFILE '/tmp/x' -- '",
            "",
            "-- only a comment",
            "WITH x AS (SELECT 1) DELETE FROM t",
        ] {
            assert!(check_read_only(bad).is_err(), "{bad}");
        }
    }
}
