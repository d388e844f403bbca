//! `labrun plugin publish|pull|lock|keygen|sign`: sharing steps through OCI
//! registries ([`crate::publish`] does the work).
//!
//! Exit codes: 64 for bad input and every refusal (digest mismatch, moved tag, missing
//! or bad signature, overwrite); 2 when the registry could not be used.

use std::path::PathBuf;

use clap::{ArgMatches, Command, FromArgMatches, Subcommand};

use crate::outcome::exit;
use crate::publish::{self, Failure, FetchArgs};
use crate::text::{help, string};

pub fn cli() -> Command {
    PluginCommand::augment_subcommands(
        Command::new("plugin")
            .about(string(help::PluginAbout))
            .after_help(string(help::PluginAfter))
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
            eprintln!("labrun: {f}");
            f.exit_code()
        }
    }
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    #[command(about = string(help::PluginPublishAbout))]
    Publish {
        #[arg(help = string(help::PluginPublishStep))]
        step: PathBuf,
        #[arg(long, value_name = "REGISTRY/REPO:VERSION", help = string(help::PluginPublishTo))]
        to: String,
        #[arg(long, value_name = "URL", help = string(help::PluginPublishSource))]
        source: Option<String>,
        #[arg(long, value_name = "TEXT", help = string(help::PluginPublishDescription))]
        description: Option<String>,
        #[arg(long, help = string(help::PluginInsecure))]
        insecure: bool,
    },
    #[command(about = string(help::PluginPullAbout))]
    Pull {
        #[arg(help = string(help::PluginPullReference))]
        reference: String,
        #[command(flatten)]
        fetch: FetchArgs,
    },
    #[command(about = string(help::PluginLockAbout))]
    Lock {
        #[arg(required = true, help = string(help::PluginLockReferences))]
        references: Vec<String>,
        #[arg(long, value_name = "FILE", default_value = "labrun.lock", help = string(help::PluginLockLock))]
        lock: PathBuf,
        #[arg(long = "trusted-key", value_name = "PUBKEY", help = string(help::PluginLockTrustedKey))]
        trusted_keys: Vec<PathBuf>,
        #[arg(long, help = string(help::PluginInsecure))]
        insecure: bool,
    },
    #[command(about = string(help::PluginKeygenAbout))]
    Keygen {
        #[arg(long, value_name = "KEY", help = string(help::PluginKeygenOut))]
        out: PathBuf,
    },
    #[command(about = string(help::PluginSignAbout))]
    Sign {
        #[arg(help = string(help::PluginSignReference))]
        reference: String,
        #[arg(long, value_name = "KEY", help = string(help::PluginSignKey))]
        key: PathBuf,
        #[arg(long, help = string(help::PluginInsecure))]
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
            let references = crate::plan::course::lock_references(references)
                .map_err(|e| Failure::refused(crate::text::ToText::text(&e)))?;
            publish::lock_references(&references, &lock, &trusted_keys, insecure).await?;
        }
        PluginCommand::Keygen { out } => {
            let (public, id) = publish::sign::keygen(&out)?;
            let line = crate::text::Text::from(crate::text::publish::WroteKeys {
                private: &out,
                public: &public,
                id,
            });
            eprintln!("labrun: {line}");
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
