//! The `{name}` template syntax of catalogs: a step's (this crate's [`crate::Catalog`],
//! for the host and the SDK alike) and labrun's own host catalog (host/build.rs reads
//! it with these functions). `{{` and `}}` are literal braces; a name is letters,
//! digits and `_`.

use std::collections::BTreeSet;

/// The `{name}` placeholders of a template. The error is one line; it quotes the
/// offending name as written (a caller that shows it on a terminal makes it inert).
pub fn placeholders(text: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("a lone `}` (write `}}` for a literal brace)".to_string());
        }
        let end = tail
            .find('}')
            .ok_or("an unclosed `{` (write `{{` for a literal brace)")?;
        let name = &tail[1..end];
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(format!(
                "`{{{name}}}` is not a placeholder: a name is letters, digits and _"
            ));
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
