//! OCI references as labrun accepts them: `REGISTRY/REPO:TAG`, `REGISTRY/REPO@sha256:HEX`
//! or both (`REGISTRY/REPO:TAG@sha256:HEX`, the digest wins). The registry is always
//! explicit (a host with a dot or a port, or `localhost`): labrun has no default
//! registry, so `scripts/step3.rhai` can never be mistaken for a reference.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`
    pub registry: String,
    /// `path/to/repo`
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`
    pub digest: Option<String>,
}

impl Reference {
    /// Parses a reference; `None` when `text` is not one (then it is a file name).
    pub fn parse(text: &str) -> Option<Reference> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        if let Some(d) = digest {
            if !is_digest(d) {
                return None;
            }
        }
        let (registry, path) = rest.split_once('/')?;
        if !is_registry(registry) {
            return None;
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
            _ => (path, None),
        };
        if !repository.split('/').all(is_path_component) {
            return None;
        }
        if let Some(t) = tag {
            if !is_tag(t) {
                return None;
            }
        }
        if tag.is_none() && digest.is_none() {
            return None;
        }
        Some(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    pub fn target(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .expect("a reference has a tag or a digest")
    }

    /// The same repository at another tag or digest.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The host without the port, for the loopback check.
    pub fn host(&self) -> &str {
        let r = self.registry.as_str();
        if let Some(inner) = r.strip_prefix('[') {
            return inner.split(']').next().unwrap_or(inner);
        }
        r.rsplit_once(':').map(|(h, _)| h).unwrap_or(r)
    }

    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn is_registry(text: &str) -> bool {
    if text.is_empty() || text.starts_with('.') || text.starts_with('-') {
        return false;
    }
    if text.starts_with('[') {
        return text.contains(']');
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    };
    if let Some(p) = port {
        if p.parse::<u16>().is_err() {
            return false;
        }
    }
    let host_ok = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    host_ok && (host.contains('.') || port.is_some() || host == "localhost")
}

fn is_path_component(text: &str) -> bool {
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
    let b = text.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    b.iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'))
        && !text.contains("..")
}

fn is_tag(text: &str) -> bool {
    // [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    let b = text.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_and_not_file_names() {
        let r = Reference::parse("127.0.0.1:5000/labs/tiny:1.0.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "labs/tiny");
        assert_eq!(r.tag.as_deref(), Some("1.0.0"));
        assert!(r.is_loopback());
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("ghcr.io/org/step3@{d}")).unwrap();
        assert_eq!(r.target(), d);
        assert!(!r.is_loopback());
        assert_eq!(r.to_string(), format!("ghcr.io/org/step3@{d}"));
        for not in [
            "scripts/step3.rhai",
            "step3.rhai",
            "./x/y:1",
            "ghcr.io/org/step3",
            "ghcr.io/Org/step3:1",
            "localhost:5000/a:b/c",
            "ghcr.io/a@sha256:abc",
        ] {
            assert_eq!(Reference::parse(not), None, "{not}");
        }
        assert!(Reference::parse("localhost/a/b:v1").is_some());
        assert_eq!(Reference::parse("[::1]:5000/a:v1").unwrap().host(), "::1");
    }
}
