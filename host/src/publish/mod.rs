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
use crate::text::{help, string};
use artifact::{Descriptor, Index, Kind, Manifest};
use cache::{sha256_digest, Store};
use client::Registry;
use lock::Lockfile;
use reference::Reference;

/// Why a registry operation stopped; one line, ready to print.
#[derive(Debug, Clone)]
pub struct Failure {
    refused: bool,
    pub message: String,
}

impl Failure {
    /// labrun will not do it: bad input, or an artifact that fails a check.
    pub fn refused(message: String) -> Failure {
        Failure {
            refused: true,
            message,
        }
    }

    /// labrun could not do it: the registry is down, rejects the credentials, fails.
    pub fn unavailable(message: String) -> Failure {
        Failure {
            refused: false,
            message,
        }
    }

    pub fn is_refusal(&self) -> bool {
        self.refused
    }

    /// The line to show. (Until publish's messages move into the host catalog, its
    /// English words are carried as they are.)
    pub fn text(&self) -> crate::text::Text {
        crate::text::publish::Failed {
            why: self.message.as_str(),
        }
        .into()
    }

    pub fn exit_code(&self) -> u8 {
        if self.refused {
            exit::BAD_INPUT
        } else {
            exit::ERROR
        }
    }
}

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
    eprintln!("labrun: {} pinned in {}", references.len(), lock.display());
    Ok(())
}

fn parse_reference(text: &str) -> Result<Reference, Failure> {
    Reference::parse(text).ok_or_else(|| {
        Failure::refused(format!(
            "`{text}` is not a step reference: expected REGISTRY/REPO:VERSION or REGISTRY/REPO@sha256:<64 hex>, e.g. registry.example/labs/step3:1.0.0"
        ))
    })
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
                return Err(Failure::refused(format!(
                    "{text}: --lock and --trusted-key apply to a step given by reference (REGISTRY/REPO:VERSION), not to a local file"
                )));
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
            let pinned = lockfile.digest_of(&shown).map(str::to_string).ok_or_else(|| {
                Failure::refused(format!(
                    "{shown} is not pinned in {}: pin it with `labrun plugin lock {shown} --lock {}`",
                    path.display(),
                    path.display()
                ))
            })?;
            if let Some(d) = &reference.digest {
                if *d != pinned {
                    return Err(Failure::refused(format!(
                        "{shown}: the digest differs from {pinned} pinned in {}",
                        path.display()
                    )));
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
                            return Err(Failure::refused(format!(
                                "tag moved: {shown} now points to {now}, but {} pins {pinned}; refusing it (run `labrun plugin lock {shown} --lock {}` to accept the new content)",
                                lock_path.display(),
                                lock_path.display()
                            )));
                        }
                        fetched = Some(bytes);
                    }
                    Ok(None) => {}
                    Err(e) if !e.is_refusal() && store.read(pinned)?.is_some() => {
                        eprintln!(
                            "labrun: {}; running {shown} from the cache as pinned in {} ({pinned})",
                            e.message,
                            lock_path.display()
                        );
                        offline = true;
                    }
                    Err(e) => return Err(e),
                }
            }
            pinned.clone()
        }
        (None, None) => {
            if offline {
                return Err(Failure::refused(format!(
                    "--offline: {shown} names a tag; give a digest (REPO@sha256:…) or a lockfile (--lock)"
                )));
            }
            let tag = reference.tag.as_deref().expect("tag or digest");
            let (bytes, _) = registry.get_manifest(tag).await?.ok_or_else(|| {
                Failure::refused(format!(
                    "{shown}: no such step in the registry (no manifest at tag {tag})"
                ))
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
                    return Err(Failure::refused(format!(
                        "{shown}: {digest} is not in the cache ({}) and labrun is offline",
                        store.blob_path(&digest).display()
                    )))
                }
                None => registry
                    .get_manifest(&digest)
                    .await?
                    .map(|(b, _)| b)
                    .ok_or_else(|| {
                        Failure::refused(format!("{shown}: the registry has no manifest {digest}"))
                    })?,
            };
            store.write(&digest, &bytes, &format!("the manifest of {shown}"))?;
            bytes.to_vec()
        }
    };
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| Failure::refused(format!("{shown}: not an OCI image manifest: {e}")))?;
    let (kind, layer) = manifest
        .step_layer()
        .map_err(|e| Failure::refused(format!("{shown}: {e}")))?;
    let messages = manifest
        .messages_layer()
        .map_err(|e| Failure::refused(format!("{shown}: {e}")))?;
    let mut blobs = vec![("config", &manifest.config), ("step layer", layer)];
    blobs.extend(messages.map(|m| ("message catalog", m)));
    let mut step_bytes = Vec::new();
    let mut catalog_bytes = None;
    for (what, desc) in blobs {
        let bytes = match store.read(&desc.digest)? {
            Some(b) => b,
            None if offline => {
                return Err(Failure::refused(format!(
                    "{shown}: its {what} {} is not in the cache and labrun is offline",
                    desc.digest
                )))
            }
            None => {
                let b = registry.get_blob(&desc.digest).await?;
                store.write(&desc.digest, &b, &format!("the {what} of {shown}"))?;
                b.to_vec()
            }
        };
        if bytes.len() as u64 != desc.size {
            return Err(Failure::refused(format!(
                "{shown}: its {what} {} has {} bytes but the manifest says {}",
                desc.digest,
                bytes.len(),
                desc.size
            )));
        }
        match what {
            "step layer" => step_bytes = bytes,
            "message catalog" => catalog_bytes = Some(bytes),
            _ => {}
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
        store.write(&desc.digest, &bytes, &format!("a signature of {shown}"))?;
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
                store.write(&layer.digest, &b, &format!("a signature of {shown}"))?;
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
    let names = paths
        .iter()
        .zip(&ids)
        .map(|(p, id)| format!("{} ({id})", p.display()))
        .collect::<Vec<_>>()
        .join(", ");
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
        Err(Failure::refused(format!(
            "{shown} ({digest}) is not signed, and a signature by a trusted key is required ({names}); refusing it"
        )))
    } else {
        Err(Failure::refused(format!(
            "{shown} ({digest}): no valid signature by a trusted key ({names}); {seen} signature(s) found, none verifies; refusing it (tampered, or signed by another key)"
        )))
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
        .map_err(|e| Failure::refused(format!("cannot publish: {e}")))?;
    let info = step.info().clone();
    match &step {
        Step::Wasm(s) => {
            let m = s.manifest();
            // Loading already refused an incompatible labrun:host, naming both versions.
            policy::check_imports(m.imports.iter().map(String::as_str), &Grants::all())
                .map_err(|e| Failure::refused(format!("cannot publish {}: {e}", path.display())))?;
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
        return Err(Failure::refused(format!(
            "--to {to}: publish to a version tag (REGISTRY/REPO:VERSION), not a digest"
        )));
    };
    let created = artifact::created_now();
    let mut described = describe_for_publish(path, &created).await?;
    let bytes = crate::files::read(path, crate::files::cap::COMPONENT)
        .map_err(|e| Failure::refused(format!("cannot read step {}: {e}", path.display())))?;
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
                    Failure::refused(format!(
                        "cannot read message catalog {}: {e}",
                        catalog_path.display()
                    ))
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
            eprintln!(
                "labrun: {target} already holds this step ({existing_digest}); nothing to push"
            );
            return Ok(existing_digest);
        }
        return Err(Failure::refused(format!(
            "{target} already holds a different artifact ({existing_digest}); refusing to overwrite it: publish a new version"
        )));
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
    eprintln!(
        "labrun: published {} step `{}` as {target} ({digest})",
        described.kind.extension(),
        described.name
    );
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
        .ok_or_else(|| Failure::refused(format!("{reference}: no such step in the registry")))?;
    let digest = sha256_digest(&bytes);
    if let Some(d) = &reference.digest {
        if *d != digest {
            return Err(Failure::refused(format!(
                "digest mismatch: {reference} should be {d} but the registry sent {digest}; refusing to sign it"
            )));
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
    let how = if headers.contains_key("oci-subject") {
        "as a referrer".to_string()
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
        format!("under the tag {tag} (the registry has no referrers API)")
    };
    eprintln!("labrun: signed {reference} ({digest}) with key {key_id}; signature {sig_digest} stored {how}");
    Ok(sig_digest)
}
