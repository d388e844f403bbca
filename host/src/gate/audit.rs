//! The audit log: one JSON line per capability call (allowed or denied), shared by
//! every run of a class. A write that fails is remembered and reported at the end
//! (exit 2), never lost silently.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::error::OutputError;

/// JSONL audit sink shared by every run of a class.
pub struct Audit {
    path: PathBuf,
    out: Mutex<Sink>,
}

struct Sink {
    file: std::io::BufWriter<std::fs::File>,
    /// The first write error, if any.
    failed: Option<std::io::Error>,
}

impl Audit {
    /// Creates (truncates) the audit file.
    pub fn create(path: &Path) -> std::io::Result<Audit> {
        let file = std::fs::File::create(path)?;
        Ok(Audit {
            path: path.to_path_buf(),
            out: Mutex::new(Sink {
                file: std::io::BufWriter::new(file),
                failed: None,
            }),
        })
    }

    pub(crate) fn write(&self, record: &Value) {
        let mut out = self.out.lock().expect("audit lock poisoned");
        if out.failed.is_none() {
            if let Err(e) = writeln!(out.file, "{record}") {
                out.failed = Some(e);
            }
        }
    }

    /// Flushes the file; the error says which file could not be written and why.
    pub fn finish(&self) -> Result<(), OutputError> {
        let mut out = self.out.lock().expect("audit lock poisoned");
        let flushed = out.file.flush();
        match out.failed.take().map_or(flushed, Err) {
            Ok(()) => Ok(()),
            Err(e) => Err(OutputError {
                what: crate::error::Output::Audit,
                path: self.path.display().to_string(),
                why: crate::text::quoted(e),
            }),
        }
    }
}
