//! What crosses from a step to the host, kept within bounds: the size of a capability
//! request and of evidence, a stop cause as one bounded line, and text cut on a
//! character boundary.

use crate::text::{quoted, Arg};
use serde_json::Value;

/// Largest capability request a step may hand the host (JSON bytes): refused before
/// it is parsed, coalesced, audited or recorded. Real requests are a few hundred bytes.
pub const MAX_REQUEST_BYTES: usize = 64 << 10;

/// The error for a request over [`MAX_REQUEST_BYTES`].
pub fn request_too_big(capability: &str, operation: &str, size: usize) -> crate::caps::CapError {
    crate::caps::CapError::new(
        capability,
        operation,
        crate::caps::ErrorKind::InvalidRequest,
        crate::text::caps::RequestTooBig {
            size,
            limit: MAX_REQUEST_BYTES >> 10,
        },
    )
    .with_code("limit")
}

/// Largest evidence value kept with an outcome (JSON bytes); larger ones are replaced
/// by a note saying how large they were.
pub const MAX_EVIDENCE_BYTES: usize = 16 << 10;

/// Evidence within [`MAX_EVIDENCE_BYTES`], else a note in its place.
pub fn bounded_evidence(value: Value, size: usize) -> Value {
    if size <= MAX_EVIDENCE_BYTES {
        value
    } else {
        Value::String(format!(
            "[evidence of {size} bytes dropped: the limit is {} KiB]",
            MAX_EVIDENCE_BYTES >> 10
        ))
    }
}

/// Evidence values are JSON; keep them small enough to print.
pub fn evidence_from(value: Value) -> Option<Value> {
    if value.is_null() {
        None
    } else {
        Some(value)
    }
}

/// Longest stop cause kept (characters): it is repeated in every unreported row.
pub const MAX_CAUSE_CHARS: usize = 500;

/// Words a step or its engine wrote about why it stopped (a script's thrown text, a
/// Rhai or guest error): on one line, cut to [`MAX_CAUSE_CHARS`], and quoted.
pub fn remote_cause(cause: &str) -> Arg {
    quoted(bounded_cause(&one_line_cause(cause)))
}

/// A stop cause cut to [`MAX_CAUSE_CHARS`] characters.
pub fn bounded_cause(cause: &str) -> String {
    match cause.char_indices().nth(MAX_CAUSE_CHARS) {
        Some((cut, _)) => format!("{}…", &cause[..cut]),
        None => cause.to_string(),
    }
}

/// The most a stop cause carries into each unreported row, in bytes.
pub const MAX_CAUSE_BYTES: usize = 1_024;

/// Why a step stopped, as one line of at most [`MAX_CAUSE_BYTES`]: line breaks and
/// the indentation after them become one space (a Rhai or guest backtrace reads on
/// one line), the rest is cut on a character boundary.
pub fn one_line_cause(cause: &str) -> String {
    let mut line = String::with_capacity(cause.len().min(MAX_CAUSE_BYTES + 4));
    for (i, part) in cause.lines().enumerate() {
        let part = if i == 0 { part.trim_end() } else { part.trim() };
        if part.is_empty() {
            continue;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(part);
        if line.len() > MAX_CAUSE_BYTES {
            break;
        }
    }
    // A lone CR (not part of a line break) would still move the cursor.
    let line = line.replace('\r', " ");
    truncate(&line, MAX_CAUSE_BYTES)
}

/// `text` cut to at most `max` bytes on a character boundary, `…` marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
