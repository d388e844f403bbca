//! How a step looks as an OCI artifact.
//!
//! - Components follow the wasm OCI conventions of wkg / wasm-pkg-tools: config
//!   `application/vnd.wasm.config.v0+json` (`architecture: wasm`, `os: wasip2`,
//!   `layerDigests`, `component.{imports,exports}`), one `application/wasm` layer.
//! - Rhai scripts: config `application/vnd.labrun.step.config.v1+json`, one
//!   `application/vnd.labrun.step.rhai.v1` layer, and the script's message catalog
//!   (`<stem>.messages.toml`) when it has one as an
//!   `application/vnd.labrun.step.messages.v1+toml` layer: the manifest digest, and so
//!   the lockfile and signatures, cover it like the script.
//! - Signatures: artifactType `application/vnd.dev.labrun.signature.v1`, an empty
//!   config, one JSON layer, `subject` = the signed manifest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::text::{publish as t, Text};

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_LAYER: &str = "application/wasm";
pub const RHAI_CONFIG: &str = "application/vnd.labrun.step.config.v1+json";
pub const RHAI_LAYER: &str = "application/vnd.labrun.step.rhai.v1";
pub const MESSAGES_LAYER: &str = "application/vnd.labrun.step.messages.v1+toml";
pub const SIGNATURE_ARTIFACT: &str = "application/vnd.dev.labrun.signature.v1";
pub const SIGNATURE_LAYER: &str = "application/vnd.dev.labrun.signature.v1+json";
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_JSON: &[u8] = b"{}";

pub const ANN_TITLE: &str = "org.opencontainers.image.title";
pub const ANN_VERSION: &str = "org.opencontainers.image.version";
pub const ANN_DESCRIPTION: &str = "org.opencontainers.image.description";
pub const ANN_SOURCE: &str = "org.opencontainers.image.source";
pub const ANN_CREATED: &str = "org.opencontainers.image.created";
pub const ANN_HOST_VERSION: &str = "dev.labrun.host-version";
pub const ANN_CAPABILITIES: &str = "dev.labrun.capabilities";
pub const ANN_SIGNATURE_KEY: &str = "dev.labrun.signature.key";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: super::cache::sha256_digest(bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl Index {
    pub fn new(manifests: Vec<Descriptor>) -> Index {
        Index {
            schema_version: 2,
            media_type: Some(INDEX_MEDIA_TYPE.to_string()),
            manifests,
        }
    }
}

/// The step kind a manifest carries, by its layer media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rhai,
    Wasm,
}

impl Kind {
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Rhai => "rhai",
            Kind::Wasm => "wasm",
        }
    }

    pub fn layer_media_type(self) -> &'static str {
        match self {
            Kind::Rhai => RHAI_LAYER,
            Kind::Wasm => WASM_LAYER,
        }
    }

    pub fn config_media_type(self) -> &'static str {
        match self {
            Kind::Rhai => RHAI_CONFIG,
            Kind::Wasm => WASM_CONFIG,
        }
    }
}

impl Manifest {
    pub fn new(
        config: Descriptor,
        layers: Vec<Descriptor>,
        annotations: BTreeMap<String, String>,
    ) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_string()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations,
        }
    }

    /// The one step layer, or why this is not a labrun step.
    pub fn step_layer(&self) -> Result<(Kind, &Descriptor), Text> {
        let kind = match self.config.media_type.as_str() {
            WASM_CONFIG => Kind::Wasm,
            RHAI_CONFIG => Kind::Rhai,
            media => {
                return Err(t::NotStepConfig {
                    media,
                    wasm: WASM_CONFIG,
                    rhai: RHAI_CONFIG,
                }
                .into())
            }
        };
        let layers: Vec<&Descriptor> = self
            .layers
            .iter()
            .filter(|l| l.media_type == kind.layer_media_type())
            .collect();
        match layers.as_slice() {
            [one] => Ok((kind, one)),
            _ => Err(t::NotOneLayer {
                media: kind.layer_media_type(),
                count: layers.len(),
            }
            .into()),
        }
    }
}

impl Manifest {
    /// The message catalog layer of a Rhai step, if it has one; more than one is not a
    /// labrun step.
    pub fn messages_layer(&self) -> Result<Option<&Descriptor>, Text> {
        let layers: Vec<&Descriptor> = self
            .layers
            .iter()
            .filter(|l| l.media_type == MESSAGES_LAYER)
            .collect();
        match layers.as_slice() {
            [] => Ok(None),
            [one] if self.config.media_type == RHAI_CONFIG => Ok(Some(one)),
            [_] => Err(t::CatalogNotRhai {
                media: MESSAGES_LAYER,
            }
            .into()),
            _ => Err(t::CatalogsMany {
                media: MESSAGES_LAYER,
                count: layers.len(),
            }
            .into()),
        }
    }
}

/// RFC 3339 UTC time for `created`, from `SOURCE_DATE_EPOCH` when set (reproducible
/// builds), else now.
pub fn created_now() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    rfc3339(secs)
}

fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }
}
