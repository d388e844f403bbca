//! The `{name}` template syntax of catalogs: a step's (this crate's [`crate::Catalog`],
//! for the host and the SDK alike) and labrun's own host catalog (host/build.rs reads
//! it with these functions). `{{` and `}}` are literal braces; a name is letters,
//! digits and `_`.

use std::collections::BTreeSet;

/// Why a template's text is not one: [`placeholders`]' refusal. labrun renders it
/// from its own catalog in both languages; `Display` is the English a component's
/// author (and the host's build script) sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    /// A `}` that closes nothing.
    LoneClose,
    /// A `{` that is never closed.
    Unclosed,
    /// `{name}` whose name is not letters, digits and `_` (as written).
    NotAName { name: String },
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyntaxError::LoneClose => f.write_str("a lone `}` (write `}}` for a literal brace)"),
            SyntaxError::Unclosed => {
                f.write_str("an unclosed `{` (write `{{` for a literal brace)")
            }
            SyntaxError::NotAName { name } => write!(
                f,
                "`{{{name}}}` is not a placeholder: a name is letters, digits and _"
            ),
        }
    }
}

impl std::error::Error for SyntaxError {}

/// The `{name}` placeholders of a template.
pub fn placeholders(text: &str) -> Result<BTreeSet<String>, SyntaxError> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(SyntaxError::LoneClose);
        }
        let end = tail.find('}').ok_or(SyntaxError::Unclosed)?;
        let name = &tail[1..end];
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(SyntaxError::NotAName {
                name: name.to_string(),
            });
        }
        names.insert(name.to_string());
        rest = &tail[end + 1..];
    }
    Ok(names)
}

/// Fills a template that [`placeholders`] accepted with `value(name)`.
pub fn render(text: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let end = tail.find('}').expect("checked by placeholders");
        out.push_str(&value(&tail[1..end]));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}
