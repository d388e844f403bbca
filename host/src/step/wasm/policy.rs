//! Grants: a component's import list is its capability manifest. Every import is
//! checked here, before anything is instantiated, and refused with one line that
//! says what to do.

use std::collections::BTreeSet;

use crate::caps::registry;
use crate::error::LoadError;
use crate::text::{inert, list, wasm as t, Text};

/// The package and version this labrun provides (`wit/labrun-host.wit`).
pub const HOST_PACKAGE: &str = "labrun:host";
pub const HOST_VERSION: &str = "0.2.0";

/// Every labrun:host version this labrun serves, oldest first: a 0.x minor only adds,
/// so the host keeps each older minor's world (`wasm.rs` links all of them).
pub const SERVED_VERSIONS: &[&str] = &["0.1.0", HOST_VERSION];

/// Capability interfaces a grant can name (the rest of labrun:host is always granted):
/// the capability registry's names.
pub fn grantable() -> Vec<&'static str> {
    registry::names()
}

/// labrun:host interfaces every step gets.
const ALWAYS: &[&str] = &["types", "report", "log"];

/// WASI interfaces a step may import: what Rust's standard library links for
/// wasm32-wasip2. The context has no preopens, no env, no args and no network, so
/// these give a step a clock, randomness and a bounded stdout/stderr — nothing else.
const WASI_ALLOWED: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// The labrun:host capabilities granted to a step (default: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants(BTreeSet<String>);

impl Default for Grants {
    fn default() -> Self {
        Grants::all()
    }
}

impl Grants {
    pub fn all() -> Grants {
        Grants(grantable().into_iter().map(str::to_string).collect())
    }

    /// From `--grant CAP[,CAP…]` values; an unknown name is bad input.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Grants, LoadError> {
        if values.is_empty() {
            return Ok(Grants::all());
        }
        let mut set = BTreeSet::new();
        for value in values {
            if value.as_ref().split(',').all(|n| n.trim().is_empty()) {
                return Err(LoadError::Grant(
                    t::NoGrant {
                        value: value.as_ref(),
                        grantable: list(grantable()),
                    }
                    .into(),
                ));
            }
            for name in value.as_ref().split(',').map(str::trim) {
                if name.is_empty() {
                    continue;
                }
                if registry::get(name).is_none() {
                    return Err(LoadError::Grant(
                        t::UnknownGrant {
                            name: inert(name),
                            grantable: list(grantable()),
                        }
                        .into(),
                    ));
                }
                set.insert(name.to_string());
            }
        }
        Ok(Grants(set))
    }

    pub fn contains(&self, capability: &str) -> bool {
        self.0.contains(capability)
    }
}

/// An import name split: `labrun:host/aws@0.1.0` → ("labrun:host", "aws", Some("0.1.0")).
pub struct ImportName<'a> {
    pub package: &'a str,
    pub interface: &'a str,
    pub version: Option<&'a str>,
}

pub fn split_import(name: &str) -> Option<ImportName<'_>> {
    let (path, version) = match name.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (name, None),
    };
    let (package, interface) = path.split_once('/')?;
    Some(ImportName {
        package,
        interface,
        version,
    })
}

/// Is `version` one this labrun serves? One of [`SERVED_VERSIONS`] with the same
/// major (and, for 0.x, the same minor) and no newer patch or minor (a newer one may
/// call functions this labrun lacks).
pub fn compatible(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        Some((it.next()??, it.next()??, it.next()??))
    };
    let Some(want) = parse(version) else {
        return false;
    };
    SERVED_VERSIONS.iter().filter_map(|v| parse(v)).any(|have| {
        if have.0 == 0 {
            want.0 == 0 && want.1 == have.1 && want.2 <= have.2
        } else {
            want.0 == have.0 && (want.1, want.2) <= (have.1, have.2)
        }
    })
}

/// Checks every import against the grants; the error is one line, ready to print.
pub fn check_imports<'a>(
    imports: impl IntoIterator<Item = &'a str>,
    grants: &Grants,
) -> Result<(), Text> {
    let mut ungranted: Vec<(String, &str)> = Vec::new();
    let mut seen_version: Option<&str> = None;
    for name in imports {
        let Some(import) = split_import(name) else {
            return Err(t::ImportsUnknown {
                name,
                package: HOST_PACKAGE,
            }
            .into());
        };
        if import.package == HOST_PACKAGE {
            let version = import.version.unwrap_or("(no version)");
            if !compatible(version) {
                return Err(t::BuiltFor {
                    package: HOST_PACKAGE,
                    version,
                    provides: HOST_VERSION,
                    serves: list(SERVED_VERSIONS.iter().copied()),
                }
                .into());
            }
            match seen_version {
                Some(first) if first != version => {
                    return Err(t::TwoVersions {
                        package: HOST_PACKAGE,
                        first,
                        second: version,
                    }
                    .into())
                }
                _ => seen_version = Some(version),
            }
            if ALWAYS.contains(&import.interface) {
                continue;
            }
            match registry::get(import.interface) {
                Some(cap) if grants.contains(cap.name) => {}
                Some(cap) => ungranted.push((name.to_string(), cap.name)),
                None => {
                    return Err(t::NoSuchInterface {
                        name,
                        package: HOST_PACKAGE,
                        version: HOST_VERSION,
                        has: list(ALWAYS.iter().copied().chain(grantable())),
                    }
                    .into())
                }
            }
            continue;
        }
        let path = format!("{}/{}", import.package, import.interface);
        if import.package == "wasi:sockets" || import.package == "wasi:http" {
            let instead = match (import.package, import.interface) {
                ("wasi:http", _) => "http",
                ("wasi:sockets", "ip-name-lookup") => "dns",
                _ => "tcp",
            };
            return Err(t::NeverGranted {
                path: &path,
                package: HOST_PACKAGE,
                instead,
            }
            .into());
        }
        if WASI_ALLOWED.contains(&path.as_str()) {
            if import.version.is_some_and(|v| !v.starts_with("0.2.")) {
                return Err(t::WasiVersion { name }.into());
            }
            continue;
        }
        return Err(t::ImportsUnknown {
            name,
            package: HOST_PACKAGE,
        }
        .into());
    }
    match ungranted.as_slice() {
        [] => Ok(()),
        [(name, cap)] => Err(t::NotGranted {
            name,
            capability: *cap,
        }
        .into()),
        many => {
            let names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
            let caps: Vec<&str> = many.iter().map(|(_, c)| *c).collect();
            Err(t::NotGrantedMany {
                names: list(names),
                capabilities: list(caps.iter().copied()),
                flag: caps.join(","),
            }
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_and_versions() {
        let aws_only = Grants::parse(&["aws"]).unwrap();
        assert!(check_imports(
            ["labrun:host/aws@0.1.0", "labrun:host/report@0.1.0"],
            &aws_only
        )
        .is_ok());
        assert_eq!(
            check_imports(["labrun:host/mysql@0.1.0"], &aws_only).unwrap_err().to_string(),
            "step imports labrun:host/mysql@0.1.0 but mysql is not granted; grant it with --grant mysql"
        );
        assert_eq!(
            check_imports(["labrun:host/report@1.0.0"], &aws_only).unwrap_err().to_string(),
            "step built for labrun:host@1.0.0; this labrun provides labrun:host@0.2.0 (and serves 0.1.0, 0.2.0): rebuild the step against this labrun's wit/"
        );
        // An older minor is served; a newer one, or a newer patch, is not.
        assert!(check_imports(["labrun:host/report@0.2.0"], &aws_only).is_ok());
        assert!(check_imports(["labrun:host/report@0.1.0"], &aws_only).is_ok());
        assert!(check_imports(["labrun:host/report@0.3.0"], &aws_only)
            .unwrap_err()
            .to_string()
            .starts_with(
                "step built for labrun:host@0.3.0; this labrun provides labrun:host@0.2.0"
            ));
        assert!(check_imports(["labrun:host/report@0.2.1"], &aws_only).is_err());
        assert!(check_imports(["labrun:host/report@0.0.9"], &aws_only).is_err());
        assert_eq!(
            check_imports(
                ["labrun:host/report@0.1.0", "labrun:host/aws@0.2.0"],
                &aws_only
            )
            .unwrap_err().to_string(),
            "step imports both labrun:host@0.1.0 and labrun:host@0.2.0: build it against one version of this labrun's wit/"
        );
        assert_eq!(
            check_imports(["wasi:sockets/tcp@0.2.6"], &Grants::all())
                .unwrap_err()
                .to_string(),
            "step imports wasi:sockets/tcp, which labrun never grants: use labrun:host/tcp"
        );
        assert!(check_imports(
            ["wasi:io/streams@0.2.6", "wasi:cli/stdout@0.2.0"],
            &Grants::all()
        )
        .is_ok());
        assert!(Grants::parse(&["aws,nope"]).is_err());
        for nothing in ["", " ", ",", " , "] {
            let e = Grants::parse(&["aws", nothing]).unwrap_err().to_string();
            assert!(e.to_string().contains("names no capability"), "{e}");
        }
    }
}
