//! Registry credentials, the usual way: `LABRUN_REGISTRY_USERNAME` and
//! `LABRUN_REGISTRY_PASSWORD`, else a docker-style `config.json`
//! (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, `auths.<host>.auth` =
//! base64 `user:password`). Credentials never appear in a message: [`Credentials`]
//! prints only the user name.

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;

use crate::text::{publish as t, quoted, Text};

#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, <password hidden>)", self.username)
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The `Authorization: Basic …` value.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// Where these came from, for messages (never the secret).
    pub fn describe(&self) -> Text {
        t::CredentialsOf {
            user: &self.username,
        }
        .into()
    }
}

/// Credentials for `registry` (`host[:port]`), if any are configured.
pub fn lookup(registry: &str) -> Result<Option<Credentials>, Text> {
    let user = std::env::var("LABRUN_REGISTRY_USERNAME")
        .ok()
        .filter(|u| !u.is_empty());
    let pass = std::env::var("LABRUN_REGISTRY_PASSWORD").ok();
    match (user, pass) {
        (Some(u), Some(p)) => return Ok(Some(Credentials::new(u, p))),
        (Some(_), None) => return Err(t::PasswordMissing.into()),
        _ => {}
    }
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match crate::files::read_to_string(&path, crate::files::cap::TEXT) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(t::ConfigUnreadable {
                path: &path,
                why: quoted(e),
            }
            .into())
        }
    };
    from_docker_config(&text, registry).map_err(|why| t::InConfig { path: &path, why }.into())
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// The `auths` entry for `registry`; keys may carry a scheme and a path
/// (`https://host:port/v1/`), as `docker login` writes them.
pub fn from_docker_config(text: &str, registry: &str) -> Result<Option<Credentials>, Text> {
    let config: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Text::from(t::ConfigNotJson { why: quoted(e) }))?;
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    for (key, entry) in auths {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        if host != registry {
            continue;
        }
        if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| Text::from(t::AuthNotBase64 { key }))?;
            let raw = String::from_utf8(raw).map_err(|_| Text::from(t::AuthNotUtf8 { key }))?;
            let (u, p) = raw
                .split_once(':')
                .ok_or_else(|| Text::from(t::AuthNotPair { key }))?;
            return Ok(Some(Credentials::new(u, p)));
        }
        if let (Some(u), Some(p)) = (
            entry.get("username").and_then(|v| v.as_str()),
            entry.get("password").and_then(|v| v.as_str()),
        ) {
            return Ok(Some(Credentials::new(u, p)));
        }
    }
    Ok(None)
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut scope = None;
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().trim_start_matches(',').trim();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            "scope" => scope = Some(value.to_string()),
            _ => {}
        }
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auths() {
        let text = r#"{"auths":{"https://reg.example:5000/v1/":{"auth":"dXNlcjA1OnMzY3JldA=="},"other.io":{"username":"a","password":"b"}}}"#;
        let c = from_docker_config(text, "reg.example:5000")
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "user05");
        assert_eq!(c.basic_header(), "Basic dXNlcjA1OnMzY3JldA==");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(
            from_docker_config(text, "other.io")
                .unwrap()
                .unwrap()
                .username,
            "a"
        );
        assert!(from_docker_config(text, "nope.io").unwrap().is_none());
    }

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:labs/tiny:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:labs/tiny:pull,push".into()),
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }
}
