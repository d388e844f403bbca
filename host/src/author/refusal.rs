//! Why `labrun new step` wrote nothing or stopped: [`NewError`], shared by the
//! starter ([`super::new`]) and the component's crate ([`super::component`]), rendered
//! from the host catalog (`text/catalog/new_step.toml`).

use std::path::PathBuf;

use crate::text::{new_step as t, quoted, Text, ToText};

/// Why `labrun new step` wrote nothing (every input is checked first) or stopped.
#[derive(Debug)]
pub enum NewError {
    /// NAME is not a step name.
    NotAName {
        name: String,
    },
    /// NAME cannot name a Rust crate (`--component`).
    ReservedCrateName {
        name: String,
    },
    /// `--dir` is not a directory.
    NotADir {
        dir: PathBuf,
    },
    /// `--sdk` for a Rhai step.
    SdkWithoutComponent {
        sdk: PathBuf,
    },
    /// `--sdk`'s `Cargo.toml` cannot be read.
    SdkUnreadable {
        sdk: PathBuf,
        manifest: PathBuf,
        why: std::io::Error,
    },
    /// `--sdk` names another crate.
    NotTheSdk {
        sdk: PathBuf,
        manifest: PathBuf,
    },
    /// `--sdk` cannot be made absolute.
    SdkPath {
        sdk: PathBuf,
        why: std::io::Error,
    },
    /// A file or directory it would write exists.
    Exists {
        path: PathBuf,
    },
    CannotCreate {
        path: PathBuf,
        why: std::io::Error,
    },
    CannotWrite {
        path: PathBuf,
        why: std::io::Error,
    },
}

impl ToText for NewError {
    fn text(&self) -> Text {
        match self {
            NewError::NotAName { name } => t::NotAName { name }.into(),
            NewError::ReservedCrateName { name } => t::ReservedCrateName { name }.into(),
            NewError::NotADir { dir } => t::NotADir { dir }.into(),
            NewError::SdkWithoutComponent { sdk } => t::SdkWithoutComponent { sdk }.into(),
            NewError::SdkUnreadable { sdk, manifest, why } => t::SdkUnreadable {
                sdk,
                manifest,
                why: quoted(why),
            }
            .into(),
            NewError::NotTheSdk { sdk, manifest } => t::NotTheSdk { sdk, manifest }.into(),
            NewError::SdkPath { sdk, why } => t::SdkPath {
                sdk,
                why: quoted(why),
            }
            .into(),
            NewError::Exists { path } => t::Exists { path }.into(),
            NewError::CannotCreate { path, why } => t::CannotCreate {
                path,
                why: quoted(why),
            }
            .into(),
            NewError::CannotWrite { path, why } => t::CannotWrite {
                path,
                why: quoted(why),
            }
            .into(),
        }
    }
}

crate::display_as_text!(NewError);
