//! Compiled-component cache. Compiling a component with Cranelift takes a fraction
//! of a second to seconds; loading a compiled artifact takes milliseconds.
//!
//! Artifacts live in `$LABRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/labrun/components`,
//! else `~/.cache/labrun/components`, named by sha256(component sha256 + wasmtime
//! version + engine compatibility hash). Deserializing is `unsafe` in wasmtime (an
//! artifact is machine code), so only artifacts this host wrote are ever loaded: each
//! carries an HMAC-SHA256 under a random key kept in `host.key` (mode 0600) in the
//! cache dir. A planted or altered file fails the check and is recompiled over.
//! Every cache failure falls back to compiling; the cache never makes a step fail.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

type HmacSha256 = hmac::Hmac<Sha256>;

const TAG_LEN: usize = 32;
const KEY_FILE: &str = "host.key";

/// The cache directory, or `None` when no home or cache dir is known.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LABRUN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("labrun").join("components"))
}

/// How a component was obtained (for the benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Compiled,
    Cached,
}

pub struct Cache {
    dir: PathBuf,
    key: Vec<u8>,
}

impl Cache {
    /// Opens (creating) the cache; `None` when it cannot be used.
    pub fn open(dir: &Path) -> Option<Cache> {
        create_private_dir(dir).ok()?;
        let key = host_key(dir).ok()?;
        Some(Cache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    fn artifact_path(&self, engine: &Engine, component_sha256: &[u8]) -> PathBuf {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let mut h = Sha256::new();
        h.update(component_sha256);
        h.update(b"\0wasmtime ");
        h.update(wasmtime_version().as_bytes());
        h.update(engine_hash.finish().to_le_bytes());
        h.update(b"\0labrun ");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        self.dir
            .join(format!("{}.cwasm", hex::encode(h.finalize())))
    }

    fn tag(&self, name: &Path, bytes: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(name.file_name().map_or(&[][..], |n| n.as_encoded_bytes()));
        mac.update(bytes);
        mac
    }

    /// A compiled artifact this host wrote for these bytes, if there is one.
    pub fn load(&self, engine: &Engine, component_sha256: &[u8]) -> Option<Component> {
        let path = self.artifact_path(engine, component_sha256);
        let data = fs::read(&path).ok()?;
        if data.len() < TAG_LEN {
            return None;
        }
        let (artifact, tag) = data.split_at(data.len() - TAG_LEN);
        self.tag(&path, artifact).verify_slice(tag).ok()?;
        // SAFETY: the HMAC proves this host serialized these bytes with
        // `Component::serialize` for an engine with the same compatibility hash.
        unsafe { Component::deserialize(engine, artifact) }.ok()
    }

    /// Stores a compiled artifact (atomically: write a temp file, then rename).
    pub fn store(&self, engine: &Engine, component_sha256: &[u8], component: &Component) {
        let Ok(artifact) = component.serialize() else {
            return;
        };
        let path = self.artifact_path(engine, component_sha256);
        let tag = self.tag(&path, &artifact).finalize().into_bytes();
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            hex::encode(random_bytes(8).unwrap_or_default())
        ));
        let written = (|| -> std::io::Result<()> {
            let mut f = private_create(&tmp)?;
            f.write_all(&artifact)?;
            f.write_all(&tag)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
}

pub fn wasmtime_version() -> &'static str {
    // Pinned in host/Cargo.toml (`=48.0.8`); part of every cache key.
    "48.0.8"
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn private_create(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// This host's cache key: created once (exclusively, 0600), then read.
fn host_key(dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = dir.join(KEY_FILE);
    match private_create(&path) {
        Ok(mut f) => {
            let key = random_bytes(32)?;
            f.write_all(&key)?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Another process may be between creating and writing it: only a full
            // key is ever used.
            for _ in 0..20 {
                let key = fs::read(&path)?;
                if key.len() == 32 {
                    return Ok(key);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::io::Error::other("the cache key file is damaged"))
        }
        Err(e) => Err(e),
    }
}

fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}

/// sha256 of the component bytes.
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}
