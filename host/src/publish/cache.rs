//! The local content-addressed store of pulled artifacts:
//! `<cache>/oci/blobs/sha256/<hex>` holds manifests and blobs alike, each verified
//! against its digest when written and again every time it is read;
//! `<cache>/oci/steps/<hex>.<rhai|wasm>` is the step file a run loads, rewritten from
//! the verified layer each time; `<cache>/oci/signatures/<hex>` lists the signature
//! blobs seen for a manifest, so verification works offline too.
//!
//! `<cache>` is `LABRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/labrun`, else
//! `~/.cache/labrun`.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::Failure;
use crate::text::{publish as t, quoted, Text};

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn root_dir() -> Result<PathBuf, Failure> {
    if let Some(dir) = std::env::var_os("LABRUN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("oci"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .ok_or_else(|| Failure::refused(t::NoCacheDir))?;
    Ok(base.join("labrun").join("oci"))
}

pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open() -> Result<Store, Failure> {
        Ok(Store { root: root_dir()? })
    }

    fn hex(digest: &str) -> &str {
        digest.strip_prefix("sha256:").unwrap_or(digest)
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root
            .join("blobs")
            .join("sha256")
            .join(Self::hex(digest))
    }

    /// The verified bytes of `digest`, `None` when not cached; a file whose bytes do
    /// not hash to its name is refused (never silently replaced).
    pub fn read(&self, digest: &str) -> Result<Option<Vec<u8>>, Failure> {
        let path = self.blob_path(digest);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Failure::refused(t::CacheUnreadable {
                    path: &path,
                    why: quoted(e),
                }))
            }
        };
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(Failure::refused(t::CacheMismatch {
                path: &path,
                digest,
                actual,
            }));
        }
        Ok(Some(bytes))
    }

    /// Stores bytes fetched for `digest` after checking them; `from` says what they
    /// are (`the manifest of REF`).
    pub fn write(&self, digest: &str, bytes: &[u8], from: impl Into<Text>) -> Result<(), Failure> {
        let actual = sha256_digest(bytes);
        if actual != digest {
            return Err(Failure::refused(t::SentMismatch {
                from: from.into(),
                digest,
                actual,
            }));
        }
        write_atomic(&self.blob_path(digest), bytes)
    }

    /// Writes the step file a run loads, from bytes already verified.
    pub fn step_file(
        &self,
        manifest_digest: &str,
        extension: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, Failure> {
        let path = self
            .root
            .join("steps")
            .join(format!("{}.{extension}", Self::hex(manifest_digest)));
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    fn signatures_path(&self, manifest_digest: &str) -> PathBuf {
        self.root
            .join("signatures")
            .join(Self::hex(manifest_digest))
    }

    /// Digests of the signature blobs remembered for a manifest.
    pub fn signatures(&self, manifest_digest: &str) -> Vec<String> {
        std::fs::read_to_string(self.signatures_path(manifest_digest))
            .map(|t| {
                t.lines()
                    .filter(|l| super::reference::is_digest(l))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn remember_signatures(
        &self,
        manifest_digest: &str,
        blobs: &[String],
    ) -> Result<(), Failure> {
        let mut all = self.signatures(manifest_digest);
        for b in blobs {
            if !all.contains(b) {
                all.push(b.clone());
            }
        }
        let mut text = all.join("\n");
        text.push('\n');
        write_atomic(&self.signatures_path(manifest_digest), text.as_bytes())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| {
        Failure::refused(t::Unwritable {
            path,
            why: quoted(e),
        })
    };
    let dir = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("blob"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
