//! Bad input found while loading what the operator gave: a step, a policy, a class
//! file, a course file, a cassette. Each is one line naming the input and the fix, and exit 64.

/// An input that cannot be used. The variant says which kind of input; the text is
/// the one line shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// A step that does not load (unreadable, syntax, describe() failed, refused import).
    #[error("{0}")]
    Step(String),
    /// A policy file (or the limits it sets) that cannot be used.
    #[error("{0}")]
    Policy(String),
    /// A class file that cannot be used.
    #[error("{0}")]
    Class(String),
    /// A course file that cannot be used (malformed, a missing step, a bad id).
    #[error("{0}")]
    Course(String),
    /// A cassette that cannot be read.
    #[error("{0}")]
    Cassette(String),
    /// Params that do not fit the step.
    #[error("{0}")]
    Params(String),
    /// A `--grant` value.
    #[error("{0}")]
    Grant(String),
}

impl LoadError {
    /// The line shown to the operator.
    pub fn message(&self) -> &str {
        match self {
            LoadError::Step(m)
            | LoadError::Policy(m)
            | LoadError::Class(m)
            | LoadError::Course(m)
            | LoadError::Cassette(m)
            | LoadError::Params(m)
            | LoadError::Grant(m) => m,
        }
    }
}

/// An output that could not be written (a cassette, the audit log, the report): one
/// line naming the file, and exit 2, after the report has been printed if it can be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write {what} {path}: {why}")]
pub struct OutputError {
    /// What the file is, as the operator named it (`cassette`, `the audit log --audit`).
    pub what: &'static str,
    pub path: String,
    pub why: String,
}
