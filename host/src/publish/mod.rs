//! Sharing steps through OCI registries: what `labrun plugin publish|pull|lock|keygen|sign`
//! do ([`crate::cli::plugin`] is their command line) and running a step straight from a
//! reference (`labrun REGISTRY/REPO:VERSION`).
//!
//! - [`reference`](mod@reference): what counts as a reference (an explicit registry, a tag or digest).
//! - [`client`]: the registry protocol, auth (anonymous, Basic, Bearer), HTTPS.
//! - [`cache`]: the verified, content-addressed local store.
//! - [`artifact`]: media types, manifests and configs (wkg's wasm conventions).
//! - [`lock`]: `labrun.lock`, references pinned to digests.
//! - [`sign`]: ed25519 keys and signatures over manifest digests.
//!
//! Exit codes: 64 for bad input and every refusal (digest mismatch, moved tag, missing
//! or bad signature, overwrite); 2 when the registry could not be used (down,
//! credentials rejected, server error).

pub mod artifact;
pub mod auth;
pub mod cache;
pub mod client;
pub mod lock;
pub mod reference;
pub mod sign;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use clap::Args;
use serde_json::json;

use crate::outcome::exit;
use crate::step::wasm::{policy, Grants};
use crate::step::{Limits, Step};
use crate::text::{help, list, publish as t, quoted, string, Text, ToText};
use artifact::{Descriptor, Index, Kind, Manifest};
use cache::{sha256_digest, Store};
use client::Registry;
use lock::Lockfile;
use reference::Reference;

/// Why a registry operation stopped: whether labrun refused or could not, and the
/// catalog text saying why (a registry's or the OS's own words quoted in it).
#[derive(Debug, Clone)]
pub struct Failure {
    refused: bool,
    why: Text,
}

impl Failure {
    /// labrun will not do it: bad input, or an artifact that fails a check.
    pub fn refused(why: impl Into<Text>) -> Failure {
        Failure {
            refused: true,
            why: why.into(),
        }
    }

    /// labrun could not do it: the registry is down, rejects the credentials, fails.
    pub fn unavailable(why: impl Into<Text>) -> Failure {
        Failure {
            refused: false,
            why: why.into(),
        }
    }

    pub fn is_refusal(&self) -> bool {
        self.refused
    }

    pub fn exit_code(&self) -> u8 {
        if self.refused {
            exit::BAD_INPUT
        } else {
            exit::ERROR
        }
    }
}

impl ToText for Failure {
    fn text(&self) -> Text {
        self.why.clone()
    }
}

crate::display_as_text!(Failure);

/// How a step given by reference is fetched and checked (flags of runs and pulls).
#[derive(Debug, Clone, Default, Args)]
pub struct FetchArgs {
    #[arg(long, value_name = "FILE", help = string(help::FetchLock))]
    pub lock: Option<PathBuf>,

    #[arg(long = "trusted-key", value_name = "PUBKEY", help = string(help::FetchTrustedKey))]
    pub trusted_keys: Vec<PathBuf>,

    #[arg(long, help = string(help::FetchInsecure))]
    pub insecure: bool,

    #[arg(long, help = string(help::FetchOffline))]
    pub offline: bool,
}

/// `labrun plugin lock`: pins each reference to its manifest digest in the lockfile
/// `lock` (created or updated), pulling (and so verifying and caching) each first.
pub async fn lock_references(
    references: &[String],
    lock: &Path,
    trusted_keys: &[PathBuf],
    insecure: bool,
) -> Result<(), Failure> {
    let mut lockfile = Lockfile::load_or_new(lock)?;
    for text in references {
        let reference = parse_reference(text)?;
        let fetch = FetchArgs {
            lock: None,
            trusted_keys: trusted_keys.to_vec(),
            insecure,
            offline: false,
        };
        let pulled = pull(text, &fetch).await?;
        lockfile.pin(&reference.to_string(), &pulled.digest);
        println!("{reference}\t{}", pulled.digest);
    }
    lockfile.save(lock)?;
    let count = references.len();
    eprintln!("labrun: {}", Text::from(t::Pinned { count, lock }));
    Ok(())
}

fn parse_reference(text: &str) -> Result<Reference, Failure> {
    Reference::parse(text).ok_or_else(|| Failure::refused(t::NotReference { text }))
}

/// The file a run loads: `step` itself when it is a file; else, when it parses as a
/// reference, the verified step pulled into the cache.
pub async fn step_for_run(step: &Path, fetch: &FetchArgs) -> Result<PathBuf, Failure> {
    let text = step.to_string_lossy();
    let reference = if step.exists() {
        None
    } else {
        Reference::parse(&text)
    };
    match reference {
        Some(_) => Ok(pull(&text, fetch).await?.path),
        None => {
            if fetch.lock.is_some() || !fetch.trusted_keys.is_empty() {
                return Err(Failure::refused(t::LockForReference { step: text }));
            }
            Ok(step.to_path_buf())
        }
    }
}

/// A step fetched and verified.
#[derive(Debug)]
pub struct Pulled {
    pub digest: String,
    pub kind: Kind,
    pub path: PathBuf,
}

pub async fn pull(text: &str, fetch: &FetchArgs) -> Result<Pulled, Failure> {
    let reference = parse_reference(text)?;
    let store = Store::open()?;
    let trusted = fetch
        .trusted_keys
        .iter()
        .map(|p| sign::load_public_key(p))
        .collect::<Result<Vec<_>, _>>()?;
    let registry = Registry::new(&reference, false, fetch.insecure)?;
    let shown = reference.to_string();

    let pinned = match &fetch.lock {
        Some(path) => {
            let lockfile = Lockfile::load(path)?;
            let pinned = lockfile
                .digest_of(&shown)
                .map(str::to_string)
                .ok_or_else(|| {
                    Failure::refused(t::NotPinned {
                        reference: &shown,
                        lock: path,
                    })
                })?;
            if let Some(d) = &reference.digest {
                if *d != pinned {
                    return Err(Failure::refused(t::PinnedDiffers {
                        reference: &shown,
                        pinned: &pinned,
                        lock: path,
                    }));
                }
            }
            Some((pinned, path.clone()))
        }
        None => None,
    };

    // The manifest digest, and the manifest bytes when the tag lookup fetched them.
    let mut offline = fetch.offline;
    let mut fetched: Option<Bytes> = None;
    let digest = match (&reference.digest, &pinned) {
        (Some(d), _) => d.clone(),
        (None, Some((pinned, lock_path))) => {
            if !offline {
                let tag = reference.tag.as_deref().expect("tag or digest");
                match registry.get_manifest(tag).await {
                    Ok(Some((bytes, _))) => {
                        let now = sha256_digest(&bytes);
                        if now != *pinned {
                            return Err(Failure::refused(t::TagMoved {
                                reference: &shown,
                                now,
                                lock: lock_path,
                                pinned,
                            }));
                        }
                        fetched = Some(bytes);
                    }
                    Ok(None) => {}
                    Err(e) if !e.is_refusal() && store.read(pinned)?.is_some() => {
                        let line = Text::from(t::FromCache {
                            why: e.text(),
                            reference: &shown,
                            lock: lock_path,
                            pinned,
                        });
                        eprintln!("labrun: {line}");
                        offline = true;
                    }
                    Err(e) => return Err(e),
                }
            }
            pinned.clone()
        }
        (None, None) => {
            if offline {
                return Err(Failure::refused(t::OfflineTag { reference: &shown }));
            }
            let tag = reference.tag.as_deref().expect("tag or digest");
            let (bytes, _) = registry.get_manifest(tag).await?.ok_or_else(|| {
                Failure::refused(t::NoSuchTag {
                    reference: &shown,
                    tag,
                })
            })?;
            let d = sha256_digest(&bytes);
            fetched = Some(bytes);
            d
        }
    };

    let manifest_bytes = match store.read(&digest)? {
        Some(b) => b,
        None => {
            let bytes = match fetched {
                Some(b) => b,
                None if offline => {
                    return Err(Failure::refused(t::NotCachedOffline {
                        reference: &shown,
                        digest: &digest,
                        path: store.blob_path(&digest),
                    }))
                }
                None => registry
                    .get_manifest(&digest)
                    .await?
                    .map(|(b, _)| b)
                    .ok_or_else(|| {
                        Failure::refused(t::NoManifest {
                            reference: &shown,
                            digest: &digest,
                        })
                    })?,
            };
            store.write(&digest, &bytes, t::TheManifestOf { reference: &shown })?;
            bytes.to_vec()
        }
    };
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        Failure::refused(t::NotManifest {
            reference: &shown,
            why: quoted(e),
        })
    })?;
    let (kind, layer) = manifest.step_layer().map_err(|why| {
        Failure::refused(t::OfReference {
            reference: &shown,
            why,
        })
    })?;
    let messages = manifest.messages_layer().map_err(|why| {
        Failure::refused(t::OfReference {
            reference: &shown,
            why,
        })
    })?;
    let mut blobs = vec![(Part::Config, &manifest.config), (Part::StepLayer, layer)];
    blobs.extend(messages.map(|m| (Part::Catalog, m)));
    let mut step_bytes = Vec::new();
    let mut catalog_bytes = None;
    for (what, desc) in blobs {
        let bytes = match store.read(&desc.digest)? {
            Some(b) => b,
            None if offline => {
                return Err(Failure::refused(t::PartNotCached {
                    reference: &shown,
                    part: what.text(),
                    digest: &desc.digest,
                }))
            }
            None => {
                let b = registry.get_blob(&desc.digest).await?;
                let from = t::ThePartOf {
                    part: what.text(),
                    reference: &shown,
                };
                store.write(&desc.digest, &b, from)?;
                b.to_vec()
            }
        };
        if bytes.len() as u64 != desc.size {
            return Err(Failure::refused(t::PartSize {
                reference: &shown,
                part: what.text(),
                digest: &desc.digest,
                bytes: bytes.len(),
                size: desc.size,
            }));
        }
        match what {
            Part::StepLayer => step_bytes = bytes,
            Part::Catalog => catalog_bytes = Some(bytes),
            Part::Config => {}
        }
    }

    if !trusted.is_empty() {
        if !offline {
            let found = fetch_signatures(&registry, &store, &shown, &digest).await?;
            store.remember_signatures(&digest, &found)?;
        }
        verify_signatures(&store, &shown, &digest, &trusted, &fetch.trusted_keys)?;
    }

    // The catalog first: the step file beside it is what a run loads.
    if let Some(bytes) = &catalog_bytes {
        store.step_file(&digest, "messages.toml", bytes)?;
    }
    let path = store.step_file(&digest, kind.extension(), &step_bytes)?;
    Ok(Pulled { digest, kind, path })
}

/// The blobs a step's manifest names.
#[derive(Debug, Clone, Copy)]
enum Part {
    Config,
    StepLayer,
    Catalog,
}

impl ToText for Part {
    fn text(&self) -> Text {
        match self {
            Part::Config => t::PartConfig.into(),
            Part::StepLayer => t::PartStepLayer.into(),
            Part::Catalog => t::PartCatalog.into(),
        }
    }
}

fn fallback_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// Signature blobs for `digest` from the registry (referrers API, else the fallback
/// tag), each checked and cached; returns their digests.
async fn fetch_signatures(
    registry: &Registry,
    store: &Store,
    shown: &str,
    digest: &str,
) -> Result<Vec<String>, Failure> {
    let listed: Vec<Descriptor> = match registry
        .referrers(digest, artifact::SIGNATURE_ARTIFACT)
        .await?
    {
        Some(index) => serde_json::from_value::<Index>(index)
            .map(|i| i.manifests)
            .unwrap_or_default(),
        None => match registry.get_manifest(&fallback_tag(digest)).await? {
            Some((bytes, _)) => serde_json::from_slice::<Index>(&bytes)
                .map(|i| i.manifests)
                .unwrap_or_default(),
            None => Vec::new(),
        },
    };
    let mut blobs = Vec::new();
    for desc in listed.iter().filter(|d| {
        d.artifact_type
            .as_deref()
            .is_none_or(|t| t == artifact::SIGNATURE_ARTIFACT)
    }) {
        let Some((bytes, _)) = registry.get_manifest(&desc.digest).await? else {
            continue;
        };
        store.write(&desc.digest, &bytes, t::ASignatureOf { reference: shown })?;
        let Ok(sig) = serde_json::from_slice::<Manifest>(&bytes) else {
            continue;
        };
        if sig.artifact_type.as_deref() != Some(artifact::SIGNATURE_ARTIFACT)
            || sig.subject.as_ref().map(|s| s.digest.as_str()) != Some(digest)
        {
            continue;
        }
        for layer in sig
            .layers
            .iter()
            .filter(|l| l.media_type == artifact::SIGNATURE_LAYER)
        {
            if store.read(&layer.digest)?.is_none() {
                let b = registry.get_blob(&layer.digest).await?;
                store.write(&layer.digest, &b, t::ASignatureOf { reference: shown })?;
            }
            blobs.push(layer.digest.clone());
        }
    }
    Ok(blobs)
}

fn verify_signatures(
    store: &Store,
    shown: &str,
    digest: &str,
    trusted: &[ed25519_dalek::VerifyingKey],
    paths: &[PathBuf],
) -> Result<(), Failure> {
    let ids: Vec<String> = trusted.iter().map(sign::key_id).collect();
    let keys = || {
        list(
            paths
                .iter()
                .zip(&ids)
                .map(|(path, id)| Text::from(t::KeyNamed { path, id })),
        )
    };
    let signatures = store.signatures(digest);
    let mut seen = 0;
    for blob in &signatures {
        let Some(bytes) = store.read(blob)? else {
            continue;
        };
        let Ok(payload) = serde_json::from_slice::<sign::SignaturePayload>(&bytes) else {
            continue;
        };
        seen += 1;
        if trusted.iter().any(|k| sign::verifies(&payload, digest, k)) {
            return Ok(());
        }
    }
    if seen == 0 {
        Err(Failure::refused(t::NotSigned {
            reference: shown,
            digest,
            keys: keys(),
        }))
    } else {
        Err(Failure::refused(t::NoValidSignature {
            reference: shown,
            digest,
            keys: keys(),
            seen,
        }))
    }
}

/// What publish learns from loading the step.
struct Described {
    kind: Kind,
    name: String,
    title: String,
    host_version: String,
    capabilities: Vec<String>,
    config: serde_json::Value,
}

async fn describe_for_publish(path: &Path, created: &str) -> Result<Described, Failure> {
    let step = Step::load(path, &Limits::default(), &Grants::all())
        .await
        .map_err(|e| Failure::refused(t::CannotPublish { why: e.text() }))?;
    let info = step.info().clone();
    match &step {
        Step::Wasm(s) => {
            let m = s.manifest();
            // Loading already refused an incompatible labrun:host, naming both versions.
            policy::check_imports(m.imports.iter().map(String::as_str), &Grants::all())
                .map_err(|why| Failure::refused(t::CannotPublishPath { path, why }))?;
            let host_version = m
                .host_versions()
                .first()
                .cloned()
                .unwrap_or_else(|| policy::HOST_VERSION.to_string());
            Ok(Described {
                kind: Kind::Wasm,
                name: info.name.clone(),
                title: info.title.en.clone(),
                host_version,
                capabilities: m.capabilities(),
                config: json!({
                    "created": created,
                    "architecture": "wasm",
                    "os": "wasip2",
                    "layerDigests": [],
                    "component": {
                        // Every labrun step exports these (checked when it loaded).
                        "exports": ["describe", "run"],
                        "imports": m.imports,
                    },
                }),
            })
        }
        Step::Rhai(_) => {
            let source = std::fs::read_to_string(path).unwrap_or_default();
            let capabilities: Vec<String> = policy::grantable()
                .into_iter()
                .filter(|c| source.contains(&format!("{c}::")))
                .map(|c| c.to_string())
                .collect();
            Ok(Described {
                kind: Kind::Rhai,
                name: info.name.clone(),
                title: info.title.en.clone(),
                host_version: policy::HOST_VERSION.to_string(),
                capabilities: capabilities.clone(),
                config: json!({
                    "created": created,
                    "name": info.name,
                    "title": info.title,
                    "params": info.params,
                    "checks": info.checks,
                    "hostVersion": policy::HOST_VERSION,
                    "capabilities": capabilities,
                    "layerDigests": [],
                }),
            })
        }
    }
}

pub async fn publish(
    path: &Path,
    to: &str,
    source: Option<String>,
    description: Option<String>,
    insecure: bool,
) -> Result<String, Failure> {
    let target = parse_reference(to)?;
    let Some(tag) = target.tag.clone().filter(|_| target.digest.is_none()) else {
        return Err(Failure::refused(t::ToDigest { to }));
    };
    let created = artifact::created_now();
    let mut described = describe_for_publish(path, &created).await?;
    let bytes = crate::files::read(path, crate::files::cap::COMPONENT).map_err(|e| {
        Failure::refused(t::CannotReadStep {
            path,
            why: quoted(e),
        })
    })?;
    let mut layer = Descriptor::of(described.kind.layer_media_type(), &bytes);
    let file_name = format!("{}.{}", described.name, described.kind.extension());
    layer
        .annotations
        .insert(artifact::ANN_TITLE.to_string(), file_name);
    // A script's message catalog travels with it as a second layer.
    let catalog_path = crate::step::messages::sibling_path(path);
    let catalog = match described.kind {
        Kind::Rhai if catalog_path.is_file() => {
            let bytes =
                crate::files::read(&catalog_path, crate::files::cap::TEXT).map_err(|e| {
                    Failure::refused(t::CannotReadCatalog {
                        path: &catalog_path,
                        why: quoted(e),
                    })
                })?;
            let mut d = Descriptor::of(artifact::MESSAGES_LAYER, &bytes);
            d.annotations.insert(
                artifact::ANN_TITLE.to_string(),
                format!("{}.messages.toml", described.name),
            );
            Some((d, bytes))
        }
        _ => None,
    };
    let mut layers = vec![layer.clone()];
    layers.extend(catalog.iter().map(|(d, _)| d.clone()));
    described.config["layerDigests"] =
        json!(layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>());
    let config_bytes = serde_json::to_vec(&described.config).expect("config serializes");
    let config = Descriptor::of(described.kind.config_media_type(), &config_bytes);

    let mut annotations = BTreeMap::new();
    annotations.insert(artifact::ANN_TITLE.to_string(), described.name.clone());
    annotations.insert(artifact::ANN_VERSION.to_string(), tag.clone());
    annotations.insert(
        artifact::ANN_DESCRIPTION.to_string(),
        description.unwrap_or(described.title.clone()),
    );
    if let Some(s) = source {
        annotations.insert(artifact::ANN_SOURCE.to_string(), s);
    }
    annotations.insert(artifact::ANN_CREATED.to_string(), created);
    annotations.insert(
        artifact::ANN_HOST_VERSION.to_string(),
        described.host_version.clone(),
    );
    annotations.insert(
        artifact::ANN_CAPABILITIES.to_string(),
        described.capabilities.join(","),
    );
    let manifest = Manifest::new(config.clone(), layers.clone(), annotations);
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
    let digest = sha256_digest(&manifest_bytes);

    let registry = Registry::new(&target, true, insecure)?;
    if let Some((existing, _)) = registry.get_manifest(&tag).await? {
        let existing_digest = sha256_digest(&existing);
        let same = existing_digest == digest
            || serde_json::from_slice::<Manifest>(&existing)
                .ok()
                .and_then(|m| {
                    let (k, _) = m.step_layer().ok()?;
                    Some((
                        k,
                        m.layers
                            .iter()
                            .map(|l| l.digest.clone())
                            .collect::<Vec<_>>(),
                    ))
                })
                == Some((
                    described.kind,
                    layers.iter().map(|l| l.digest.clone()).collect(),
                ));
        if same {
            let line = Text::from(t::AlreadySame {
                target: target.to_string(),
                digest: &existing_digest,
            });
            eprintln!("labrun: {line}");
            return Ok(existing_digest);
        }
        return Err(Failure::refused(t::Overwrite {
            target: target.to_string(),
            digest: existing_digest,
        }));
    }
    registry
        .put_blob(&config.digest, Bytes::from(config_bytes))
        .await?;
    registry.put_blob(&layer.digest, Bytes::from(bytes)).await?;
    if let Some((d, b)) = catalog {
        registry.put_blob(&d.digest, Bytes::from(b)).await?;
    }
    registry
        .put_manifest(
            &tag,
            artifact::MANIFEST_MEDIA_TYPE,
            Bytes::from(manifest_bytes),
        )
        .await?;
    let line = Text::from(t::Published {
        kind: described.kind.extension(),
        name: &described.name,
        target: target.to_string(),
        digest: &digest,
    });
    eprintln!("labrun: {line}");
    Ok(digest)
}

pub async fn sign_reference(
    text: &str,
    key_path: &Path,
    insecure: bool,
) -> Result<String, Failure> {
    let reference = parse_reference(text)?;
    let key = sign::load_signing_key(key_path)?;
    let registry = Registry::new(&reference, true, insecure)?;
    let (bytes, media_type) = registry
        .get_manifest(reference.target())
        .await?
        .ok_or_else(|| {
            Failure::refused(t::NoSuchStep {
                reference: reference.to_string(),
            })
        })?;
    let digest = sha256_digest(&bytes);
    if let Some(d) = &reference.digest {
        if *d != digest {
            return Err(Failure::refused(t::SignMismatch {
                reference: reference.to_string(),
                expected: d,
                actual: &digest,
            }));
        }
    }
    let payload = sign::sign(&key, &digest);
    let payload_bytes = serde_json::to_vec(&payload).expect("payload serializes");
    let layer = Descriptor::of(artifact::SIGNATURE_LAYER, &payload_bytes);
    let config = Descriptor::of(artifact::EMPTY_CONFIG, artifact::EMPTY_JSON);
    registry
        .put_blob(&config.digest, Bytes::from_static(artifact::EMPTY_JSON))
        .await?;
    registry
        .put_blob(&layer.digest, Bytes::from(payload_bytes))
        .await?;
    let key_id = sign::key_id(&key.verifying_key());
    let mut annotations = BTreeMap::new();
    annotations.insert(artifact::ANN_SIGNATURE_KEY.to_string(), key_id.clone());
    annotations.insert(artifact::ANN_CREATED.to_string(), artifact::created_now());
    let mut manifest = Manifest::new(config, vec![layer], annotations);
    manifest.artifact_type = Some(artifact::SIGNATURE_ARTIFACT.to_string());
    manifest.subject = Some(Descriptor {
        media_type: media_type
            .split(';')
            .next()
            .unwrap_or(&media_type)
            .trim()
            .to_string(),
        digest: digest.clone(),
        size: bytes.len() as u64,
        artifact_type: None,
        annotations: BTreeMap::new(),
    });
    let sig_bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
    let sig_digest = sha256_digest(&sig_bytes);
    let headers = registry
        .put_manifest(
            &sig_digest,
            artifact::MANIFEST_MEDIA_TYPE,
            Bytes::from(sig_bytes.clone()),
        )
        .await?;
    let (reference, key) = (reference.to_string(), key_id.as_str());
    let line: Text = if headers.contains_key("oci-subject") {
        t::SignedReferrer {
            reference,
            digest: &digest,
            key,
            signature: &sig_digest,
        }
        .into()
    } else {
        // No referrers API: list the signature in an index under a tag of its own.
        let tag = fallback_tag(&digest);
        let mut index = match registry.get_manifest(&tag).await? {
            Some((b, _)) => {
                serde_json::from_slice::<Index>(&b).unwrap_or_else(|_| Index::new(Vec::new()))
            }
            None => Index::new(Vec::new()),
        };
        if !index.manifests.iter().any(|m| m.digest == sig_digest) {
            let mut desc = Descriptor::of(artifact::MANIFEST_MEDIA_TYPE, &sig_bytes);
            desc.artifact_type = Some(artifact::SIGNATURE_ARTIFACT.to_string());
            index.manifests.push(desc);
        }
        let index_bytes = serde_json::to_vec(&index).expect("index serializes");
        registry
            .put_manifest(&tag, artifact::INDEX_MEDIA_TYPE, Bytes::from(index_bytes))
            .await?;
        t::SignedTag {
            reference,
            digest: &digest,
            key,
            signature: &sig_digest,
            tag,
        }
        .into()
    };
    eprintln!("labrun: {line}");
    Ok(sig_digest)
}
