//! Bad input found while loading what the operator gave: a step, a policy, a class
//! file, a course file, a cassette. Each is one line naming the input and the fix, and exit 64.

use crate::text::{self, Text, ToText};

/// An input that cannot be used. The variant says which kind of input; the text is
/// the one line shown to the operator, from the host catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// A step that does not load (unreadable, syntax, describe() failed, refused import).
    #[error("{0}")]
    Step(Text),
    /// A policy file (or the limits it sets) that cannot be used.
    #[error("{0}")]
    Policy(Text),
    /// A class file that cannot be used.
    #[error("{0}")]
    Class(Text),
    /// A course file that cannot be used (malformed, a missing step, a bad id).
    #[error("{0}")]
    Course(Text),
    /// A cassette that cannot be read.
    #[error("{0}")]
    Cassette(Text),
    /// Params that do not fit the step.
    #[error("{0}")]
    Params(Text),
    /// A `--grant` value.
    #[error("{0}")]
    Grant(Text),
}

impl ToText for LoadError {
    fn text(&self) -> Text {
        match self {
            LoadError::Step(t)
            | LoadError::Policy(t)
            | LoadError::Class(t)
            | LoadError::Course(t)
            | LoadError::Cassette(t)
            | LoadError::Params(t)
            | LoadError::Grant(t) => t.clone(),
        }
    }
}

/// What an output file is, as the operator named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `--record FILE`.
    Cassette,
    /// `--audit FILE`.
    Audit,
}

impl ToText for Output {
    fn text(&self) -> Text {
        match self {
            Output::Cassette => text::error::OutputCassette.into(),
            Output::Audit => text::error::OutputAudit.into(),
        }
    }
}

/// An output that could not be written (a cassette, the audit log, the report): one
/// line naming the file, and exit 2, after the report has been printed if it can be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.text())]
pub struct OutputError {
    pub what: Output,
    pub path: String,
    /// Why: the system's own words (an OS error, quoted) or labrun's.
    pub why: text::Arg,
}

impl ToText for OutputError {
    fn text(&self) -> Text {
        text::error::CannotWrite {
            what: self.what.text(),
            path: &self.path,
            why: self.why.clone(),
        }
        .into()
    }
}
