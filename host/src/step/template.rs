//! The syntax of a param's default: literal text and `{name}` references to other
//! params, `{{` and `}}` for literal braces. Which names a reference may hold is the
//! params' rule ([`super::params`]).

use crate::text::{step as t, Text};

/// A piece of a default template: literal text or a reference to another param.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(String),
    Ref(&'a str),
}

/// Splits a default template into text and `{name}` references; `{{` and `}}` are
/// literal braces. The error says what is wrong with the braces.
pub fn parse(text: &str) -> Result<Vec<Piece<'_>>, Text> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") || rest.starts_with("}}") {
            literal.push(c);
            rest = &rest[2..];
        } else if c == '{' {
            let Some(end) = rest.find('}') else {
                return Err(t::OpenBrace.into());
            };
            let name = &rest[1..end];
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Ref(name));
            rest = &rest[end + 1..];
        } else if c == '}' {
            return Err(t::CloseBrace.into());
        } else {
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}
