//! Text a step produced, made safe to show on a terminal: every character that could
//! move the cursor, start an escape sequence or reorder what is shown is written as a
//! visible escape instead (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`), so a message can
//! neither forge rows nor clear the screen, set the clipboard (OSC 52) or hide a link.
//!
//! Escaped: C0 controls (U+0000–U+001F, so also ESC, CR, LF, BS and tab), DEL (U+007F),
//! C1 controls (U+0080–U+009F, so also CSI and NEL), the line and paragraph separators
//! (U+2028, U+2029) and the bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E,
//! U+2066–U+2069). Everything else, Japanese included, is kept as it is.

use std::borrow::Cow;

/// Whether `c` is one of the characters [`inert`] escapes.
pub fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// `text` with every control and bidi character escaped visibly; borrowed when there
/// is nothing to escape (the usual case).
pub fn inert(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        push_inert(&mut out, c);
    }
    Cow::Owned(out)
}

/// One character named for an error message: `'x'`, or its escape when it is not
/// printable (`U+001B`), or `a space`.
pub fn describe_char(c: char) -> super::Text {
    use super::chars as t;
    if c == ' ' {
        t::Space.into()
    } else if needs_escape(c) || c.is_whitespace() {
        t::Code {
            code: format!("U+{:04X}", c as u32),
        }
        .into()
    } else {
        t::Char { c }.into()
    }
}

/// A name from outside (a trainee id, a check id in a file) is 1 to `max` characters
/// and none of them is one [`inert`] would escape or whitespace. The error names the
/// thing (`what`), shows it inert and cut short, and says what is wrong.
pub fn check_printable(text: &str, what: super::Text, max: usize) -> Result<(), super::Text> {
    use super::chars as t;
    if text.is_empty() {
        return Err(t::Empty { what }.into());
    }
    let shown = || {
        let mut cut: String = text.chars().take(32).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        inert(&cut).into_owned()
    };
    if let Some(bad) = text.chars().find(|c| needs_escape(*c) || c.is_whitespace()) {
        return Err(t::Holds {
            what,
            text: shown(),
            bad: describe_char(bad),
        }
        .into());
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(t::TooLong {
            what,
            text: shown(),
            chars,
            max,
        }
        .into());
    }
    Ok(())
}

fn push_inert(out: &mut String, c: char) {
    use std::fmt::Write;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in [
            "",
            "PASS A1 found wp-user05-cluster",
            "vpc-user05 があります",
        ] {
            assert!(matches!(inert(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn line_breaks_and_escape_sequences_are_visible() {
        assert_eq!(inert("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(inert("\x1b[2J"), "\\u{1b}[2J");
        // OSC 52 (set the clipboard), terminated by BEL.
        assert_eq!(
            inert("\x1b]52;c;ZWNobyBwd25lZA==\x07"),
            "\\u{1b}]52;c;ZWNobyBwd25lZA==\\u{7}"
        );
        assert_eq!(inert("x\u{8}\u{7f}\u{9b}"), "x\\u{8}\\u{7f}\\u{9b}");
        assert_eq!(inert("\u{0}"), "\\u{0}");
    }

    #[test]
    fn bidi_controls_are_visible() {
        assert_eq!(inert("A\u{202e}1"), "A\\u{202e}1");
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
            '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}',
        ] {
            let shown = inert(&c.to_string()).into_owned();
            assert_eq!(shown, format!("\\u{{{:x}}}", c as u32));
        }
    }

    #[test]
    fn escaped_text_holds_no_character_that_needs_escaping() {
        let hostile: String = (0u32..0x3100).filter_map(char::from_u32).collect();
        let shown = inert(&hostile);
        assert!(!shown.chars().any(needs_escape));
        assert!(shown.contains('あ'));
    }
}
