//! The course lockfile, `labrun.lock` (TOML): each step reference pinned to the
//! manifest digest it had when `labrun plugin lock` ran.
//!
//! ```toml
//! # labrun.lock — written by `labrun plugin lock`; commit it with the course.
//! version = 1
//!
//! [[step]]
//! reference = "registry.example/labs/step3:1.0.0"
//! digest = "sha256:…"
//! ```

use std::path::Path;

use serde::Deserialize;

use super::reference::{is_digest, Reference};
use super::Failure;
use crate::text::{publish as t, quoted};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Lockfile {
    pub version: u32,
    #[serde(default, rename = "step")]
    pub steps: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub reference: String,
    pub digest: String,
}

impl Lockfile {
    pub fn load(path: &Path) -> Result<Lockfile, Failure> {
        let text = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
            Failure::refused(t::LockUnreadable {
                path,
                why: quoted(e),
            })
        })?;
        let lock: Lockfile = toml::from_str(&text).map_err(|e| {
            Failure::refused(t::LockInvalid {
                path,
                why: quoted(e.message()),
            })
        })?;
        if lock.version != 1 {
            return Err(Failure::refused(t::LockVersion {
                path,
                version: lock.version,
            }));
        }
        for e in &lock.steps {
            if Reference::parse(&e.reference).is_none() || !is_digest(&e.digest) {
                return Err(Failure::refused(t::LockEntry {
                    path,
                    reference: &e.reference,
                    digest: &e.digest,
                }));
            }
        }
        Ok(lock)
    }

    /// Loads `path`, or an empty lockfile when it does not exist yet.
    pub fn load_or_new(path: &Path) -> Result<Lockfile, Failure> {
        if path.exists() {
            Lockfile::load(path)
        } else {
            Ok(Lockfile {
                version: 1,
                steps: Vec::new(),
            })
        }
    }

    pub fn digest_of(&self, reference: &str) -> Option<&str> {
        self.steps
            .iter()
            .find(|e| e.reference == reference)
            .map(|e| e.digest.as_str())
    }

    pub fn pin(&mut self, reference: &str, digest: &str) {
        match self.steps.iter_mut().find(|e| e.reference == reference) {
            Some(e) => e.digest = digest.to_string(),
            None => self.steps.push(Entry {
                reference: reference.to_string(),
                digest: digest.to_string(),
            }),
        }
        self.steps.sort_by(|a, b| a.reference.cmp(&b.reference));
    }

    pub fn save(&self, path: &Path) -> Result<(), Failure> {
        let mut text = String::from(
            "# labrun.lock — written by `labrun plugin lock`; commit it with the course.\n# Each step reference is pinned to a manifest digest: `labrun --lock labrun.lock REF`\n# refuses anything else and runs offline from the cache.\nversion = 1\n",
        );
        for e in &self.steps {
            // References and digests are plain ASCII without quotes or backslashes.
            text.push_str(&format!(
                "\n[[step]]\nreference = \"{}\"\ndigest = \"{}\"\n",
                e.reference, e.digest
            ));
        }
        std::fs::write(path, text).map_err(|e| {
            Failure::refused(t::LockUnwritable {
                path,
                why: quoted(e),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = std::env::temp_dir().join(format!("labrun-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("labrun.lock");
        let mut lock = Lockfile::load_or_new(&path).unwrap();
        let d = format!("sha256:{}", "c".repeat(64));
        lock.pin("127.0.0.1:5000/labs/tiny:1.0.0", &d);
        lock.save(&path).unwrap();
        let back = Lockfile::load(&path).unwrap();
        assert_eq!(
            back.digest_of("127.0.0.1:5000/labs/tiny:1.0.0"),
            Some(d.as_str())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
