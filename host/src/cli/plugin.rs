//! `labrun plugin publish|pull|lock|keygen|sign`: sharing steps through OCI
//! registries ([`crate::publish`] does the work).
//!
//! Exit codes: 64 for bad input and every refusal (digest mismatch, moved tag, missing
//! or bad signature, overwrite); 2 when the registry could not be used.

use std::path::PathBuf;

use clap::{ArgMatches, Command, FromArgMatches, Subcommand};

use crate::outcome::exit;
use crate::publish::{self, Failure, FetchArgs};

pub fn cli() -> Command {
    PluginCommand::augment_subcommands(
        Command::new("plugin")
            .about("Share steps through OCI registries: publish, pull, lock, sign")
            .after_help("Exit codes: 0 done · 2 the registry could not be used (down, credentials, server error) · 64 bad input or refused (digest mismatch, moved tag, missing or bad signature, overwrite)")
            .subcommand_required(true)
            .arg_required_else_help(true),
    )
}

pub async fn exec(matches: &ArgMatches) -> u8 {
    let command = match PluginCommand::from_arg_matches(matches) {
        Ok(command) => command,
        Err(e) => return super::clap_error(&e, "labrun plugin --help"),
    };
    match plugin(command).await {
        Ok(()) => exit::PASS,
        Err(f) => {
            eprintln!("labrun: {}", f.message);
            f.exit_code()
        }
    }
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Push a step (.rhai or .wasm) as an OCI artifact; prints the manifest digest.
    Publish {
        /// The step file.
        step: PathBuf,
        /// Where: REGISTRY/REPO:VERSION, e.g. registry.example/labs/step3:1.0.0.
        #[arg(long, value_name = "REGISTRY/REPO:VERSION")]
        to: String,
        /// org.opencontainers.image.source annotation (e.g. the course repository URL).
        #[arg(long, value_name = "URL")]
        source: Option<String>,
        /// org.opencontainers.image.description (default: the step's English title).
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// Plain HTTP to a registry on this machine only.
        #[arg(long)]
        insecure: bool,
    },
    /// Fetch a step into the local cache, verified; prints DIGEST and the cached file.
    Pull {
        /// REGISTRY/REPO:VERSION or REGISTRY/REPO@sha256:…
        reference: String,
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// Pin step references to their current manifest digests in a lockfile (and cache
    /// them, so locked runs work offline).
    Lock {
        /// REGISTRY/REPO:VERSION references, one or more; a course file (a .toml
        /// listing `[[step]]`) stands for every step reference it names.
        #[arg(required = true)]
        references: Vec<String>,
        /// The lockfile to create or update.
        #[arg(long, value_name = "FILE", default_value = "labrun.lock")]
        lock: PathBuf,
        /// Require a valid signature by this public key before pinning (repeatable).
        #[arg(long = "trusted-key", value_name = "PUBKEY")]
        trusted_keys: Vec<PathBuf>,
        /// Plain HTTP to a registry on this machine only.
        #[arg(long)]
        insecure: bool,
    },
    /// Create an ed25519 key pair: KEY (private, mode 600) and KEY.pub.
    Keygen {
        #[arg(long, value_name = "KEY")]
        out: PathBuf,
    },
    /// Sign the manifest a reference points to; the signature is stored in the
    /// registry as an OCI referrer of it (or under the tag `sha256-<hex>.sig`).
    Sign {
        reference: String,
        /// The private key file from `labrun plugin keygen`.
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Plain HTTP to a registry on this machine only.
        #[arg(long)]
        insecure: bool,
    },
}

async fn plugin(command: PluginCommand) -> Result<(), Failure> {
    match command {
        PluginCommand::Publish {
            step,
            to,
            source,
            description,
            insecure,
        } => {
            let digest = publish::publish(&step, &to, source, description, insecure).await?;
            println!("{digest}");
        }
        PluginCommand::Pull { reference, fetch } => {
            let pulled = publish::pull(&reference, &fetch).await?;
            println!("{}\t{}", pulled.digest, pulled.path.display());
        }
        PluginCommand::Lock {
            references,
            lock,
            trusted_keys,
            insecure,
        } => {
            // A course file stands for the step references it names.
            let references = crate::plan::course::lock_references(references).map_err(|e| {
                Failure::refused(crate::outcome::inert(&e.to_string()).into_owned())
            })?;
            publish::lock_references(&references, &lock, &trusted_keys, insecure).await?;
        }
        PluginCommand::Keygen { out } => {
            let (public, id) = publish::sign::keygen(&out)?;
            eprintln!(
                "labrun: wrote private key {} and public key {} (key id {id})",
                out.display(),
                public.display()
            );
        }
        PluginCommand::Sign {
            reference,
            key,
            insecure,
        } => {
            let digest = publish::sign_reference(&reference, &key, insecure).await?;
            println!("{digest}");
        }
    }
    Ok(())
}
