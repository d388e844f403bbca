//! ed25519 signatures over a manifest digest. Keys are files:
//! - private key `KEY`: `labrun-ed25519-secret <base64 32-byte seed>` (mode 600)
//! - public key `KEY.pub`: `labrun-ed25519 <base64 32-byte key>`
//!
//! What is signed is the text `labrun-signature-v1 <manifest digest>`; the signature
//! travels as a small JSON blob in its own OCI artifact (see [`super::artifact`]).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::Failure;
use crate::text::{publish as t, quoted, Text};

const SECRET_PREFIX: &str = "labrun-ed25519-secret";
const PUBLIC_PREFIX: &str = "labrun-ed25519";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The signature blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignaturePayload {
    /// The signed manifest digest.
    pub signed: String,
    pub algorithm: String,
    /// base64 public key
    pub public_key: String,
    /// base64 signature over `labrun-signature-v1 <signed>`
    pub signature: String,
}

fn message(digest: &str) -> Vec<u8> {
    format!("labrun-signature-v1 {digest}").into_bytes()
}

/// A short, stable name for a public key: the first 16 hex of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..16].to_string()
}

pub fn public_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes `out` (private, mode 600) and `out.pub`; refuses to overwrite.
pub fn keygen(out: &Path) -> Result<(PathBuf, String), Failure> {
    let public = public_path(out);
    for p in [out, public.as_path()] {
        if p.exists() {
            return Err(Failure::refused(t::KeyExists { path: p }));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Failure::refused(t::NoRandomness { why: quoted(e) }))?;
    let key = SigningKey::from_bytes(&seed);
    let fail = |path: &Path, e: std::io::Error| {
        Failure::refused(t::Unwritable {
            path,
            why: quoted(e),
        })
    };
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(out).map_err(|e| fail(out, e))?;
        writeln!(f, "{SECRET_PREFIX} {}", b64().encode(seed)).map_err(|e| fail(out, e))?;
    }
    let verifying = key.verifying_key();
    std::fs::write(
        &public,
        format!("{PUBLIC_PREFIX} {}\n", b64().encode(verifying.as_bytes())),
    )
    .map_err(|e| fail(&public, e))?;
    Ok((public, key_id(&verifying)))
}

fn read_key_line(path: &Path, prefix: &str, what: Text) -> Result<[u8; 32], Failure> {
    let text = crate::files::read_to_string(path, crate::files::cap::SECRET).map_err(|e| {
        Failure::refused(t::KeyUnreadable {
            what: &what,
            path,
            why: quoted(e),
        })
    })?;
    let bad = || {
        Failure::refused(t::NotAKey {
            path,
            what: &what,
            prefix,
        })
    };
    let line = text.lines().next().unwrap_or("");
    let (p, data) = line.split_once(' ').ok_or_else(bad)?;
    if p != prefix {
        return Err(bad());
    }
    let bytes = b64().decode(data.trim()).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

pub fn load_signing_key(path: &Path) -> Result<SigningKey, Failure> {
    Ok(SigningKey::from_bytes(&read_key_line(
        path,
        SECRET_PREFIX,
        t::PrivateKey.into(),
    )?))
}

pub fn load_public_key(path: &Path) -> Result<VerifyingKey, Failure> {
    let bytes = read_key_line(path, PUBLIC_PREFIX, t::PublicKey.into())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| Failure::refused(t::BadPublicKey { path }))
}

pub fn sign(key: &SigningKey, digest: &str) -> SignaturePayload {
    let signature = key.sign(&message(digest));
    SignaturePayload {
        signed: digest.to_string(),
        algorithm: "ed25519".to_string(),
        public_key: b64().encode(key.verifying_key().as_bytes()),
        signature: b64().encode(signature.to_bytes()),
    }
}

/// Does `payload` carry a valid signature of `digest` by `key`?
pub fn verifies(payload: &SignaturePayload, digest: &str, key: &VerifyingKey) -> bool {
    if payload.algorithm != "ed25519" || payload.signed != digest {
        return false;
    }
    if b64().decode(&payload.public_key).ok().as_deref() != Some(key.as_bytes().as_slice()) {
        return false;
    }
    let Some(sig) = b64()
        .decode(&payload.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    key.verify(&message(digest), &Signature::from_bytes(&sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let d = format!("sha256:{}", "a".repeat(64));
        let p = sign(&key, &d);
        assert!(verifies(&p, &d, &key.verifying_key()));
        assert!(!verifies(&p, &d, &other.verifying_key()));
        assert!(!verifies(
            &p,
            &format!("sha256:{}", "b".repeat(64)),
            &key.verifying_key()
        ));
        let mut forged = sign(&other, &d);
        forged.public_key = p.public_key.clone();
        assert!(!verifies(&forged, &d, &key.verifying_key()));
    }
}
