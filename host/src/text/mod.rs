//! Every line labrun itself writes for a person, in Japanese and English, from one
//! catalog: errors and their causes, stderr lines, watch lines, summaries, help, the
//! dashboard's fixed texts, `labrun test` lines. Code builds a typed [`Text`] (a key
//! and its arguments) and renders it per [`Lang`]; it never compares or parses the
//! rendered words.
//!
//! # Adding a message
//! 1. Write it in `host/src/text/catalog/SECTION.toml` (a file per area: `cli`,
//!    `plan`, `step`, `watch`, …; a new file is a new section), both languages, with
//!    the `{name}` placeholders of step catalogs (`{{`/`}}` are literal braces):
//!    ```toml
//!    unknown_param = { en = "unknown param `{param}`: {step} takes {takes}", ja = "不明なパラメータ `{param}`: {step} が取るのは {takes} です" }
//!    ```
//!    `host/build.rs` checks the catalog when labrun builds: every key has `en` and
//!    `ja`, both have the same placeholders, `en` holds no Japanese and `ja` is not a
//!    copy of an English `en`. A mistake is a compile error naming file and key.
//! 2. Use it: each key is a generated struct, `text::SECTION::CamelCaseKey`, with one
//!    field per placeholder, so an unknown key or a missing or misspelt argument does
//!    not compile:
//!    ```ignore
//!    let t: Text = text::plan::UnknownParam { param: name, step: path, takes: list(ids) }.into();
//!    ```
//!    A field takes anything that is `Into<`[`Arg`]`>`: a string, a path, a number
//!    (shown as they are, in both languages), [`quoted`] remote text, a nested
//!    [`Text`] (rendered in the same language) or a [`list`].
//! 3. A typed error keeps the fields it needs and renders through the catalog: it
//!    implements [`ToText`], and `Display` with [`display_as_text!`](crate::display_as_text)
//!    (which renders in the process language, see below).
//!
//! # Remote text
//! What labrun did not write (an AWS error message, an OS error, a script's own
//! words, a server's answer) is passed as [`quoted`]: it stays as it came, made
//! [`inert`](fn@inert) for the terminal, and is marked in both languages, “like this” in English
//! and 「このように」 in Japanese, so a reader sees whose words they are.
//!
//! # Which language
//! Reports carry both languages and render with `--lang`. Everything else (stderr,
//! help, watch lines) renders in the process language, [`lang`]: `cli` sets it once
//! from `--lang`, else the locale ([`Lang::from_env`]), before anything is written.

pub mod inert;

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

pub use inert::inert;

// The catalog, checked and turned into `ENTRIES` and one module per section by
// host/build.rs.
include!(concat!(env!("OUT_DIR"), "/text.rs"));

/// The two languages of the workshop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    /// `ja` when the locale (LC_ALL, LC_MESSAGES, LANG, in POSIX order) is Japanese.
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(value) = std::env::var(var) {
                if !value.is_empty() {
                    return if value.starts_with("ja") {
                        Lang::Ja
                    } else {
                        Lang::En
                    };
                }
            }
        }
        Lang::En
    }

    /// `--lang ja`/`--lang=ja` (or `en`) in a command line, before its `--`, if given
    /// with a known value: the language of everything written before (and while) the
    /// flags are parsed. A bad value is the parser's to refuse.
    pub fn from_args(args: &[std::ffi::OsString]) -> Option<Lang> {
        let mut found = None;
        let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
        while let Some(arg) = it.next() {
            let value = match arg.as_ref() {
                "--" => break,
                "--lang" => it.next(),
                a => match a.strip_prefix("--lang=") {
                    Some(v) => Some(Cow::Owned(v.to_string())),
                    None => continue,
                },
            };
            found = match value.as_deref() {
                Some("ja") => Some(Lang::Ja),
                Some("en") => Some(Lang::En),
                _ => found,
            };
        }
        found
    }

    /// `en` or `ja`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }
}

static LANG: AtomicU8 = AtomicU8::new(0);

/// The process language: what stderr, help and watch lines are written in.
pub fn lang() -> Lang {
    match LANG.load(Ordering::Relaxed) {
        1 => Lang::Ja,
        _ => Lang::En,
    }
}

/// Sets the process language (the command line does, once, before writing anything).
pub fn set_lang(lang: Lang) {
    LANG.store(
        match lang {
            Lang::En => 0,
            Lang::Ja => 1,
        },
        Ordering::Relaxed,
    );
}

/// A part of a catalog template: literal text or a placeholder's name.
#[derive(Debug)]
enum Piece {
    Lit(&'static str),
    Arg(&'static str),
}

/// One catalog entry, as host/build.rs checked it.
#[derive(Debug)]
struct Entry {
    /// `section.key`, for tests and debugging only.
    key: &'static str,
    en: &'static [Piece],
    ja: &'static [Piece],
}

/// One value a message is filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A value shown as it is in both languages: a path, an id, a number, a flag.
    Plain(String),
    /// Text labrun did not write (an AWS or OS error, a script's words), marked as
    /// quoted.
    Quoted(String),
    /// Another message, rendered in the same language.
    Text(Text),
    /// Values joined with `, ` (English) or `、` (Japanese).
    List(Vec<Arg>),
    /// A message already rendered in each language (a row's message, a capability
    /// error that crossed the step boundary as text).
    Each { en: String, ja: String },
    /// Sentences joined with `; ` (English) or `。` (Japanese).
    Joined(Vec<Arg>),
}

/// Remote text, kept as it came and marked as quoted (see the module doc).
pub fn quoted(text: impl fmt::Display) -> Arg {
    Arg::Quoted(text.to_string())
}

/// Any value shown as it is (a number, an address): `plain(port)`.
pub fn plain(value: impl fmt::Display) -> Arg {
    Arg::Plain(value.to_string())
}

/// Values joined per language: `a, b` / `a、b`.
pub fn list<T: Into<Arg>>(items: impl IntoIterator<Item = T>) -> Arg {
    Arg::List(items.into_iter().map(Into::into).collect())
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Plain(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Plain(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Plain(v.clone())
    }
}
impl From<Cow<'_, str>> for Arg {
    fn from(v: Cow<'_, str>) -> Arg {
        Arg::Plain(v.into_owned())
    }
}
impl From<&Path> for Arg {
    fn from(v: &Path) -> Arg {
        Arg::Plain(v.display().to_string())
    }
}
impl From<&PathBuf> for Arg {
    fn from(v: &PathBuf) -> Arg {
        Arg::Plain(v.display().to_string())
    }
}
impl From<PathBuf> for Arg {
    fn from(v: PathBuf) -> Arg {
        Arg::Plain(v.display().to_string())
    }
}
impl From<Text> for Arg {
    fn from(v: Text) -> Arg {
        Arg::Text(v)
    }
}
impl From<&Text> for Arg {
    fn from(v: &Text) -> Arg {
        Arg::Text(v.clone())
    }
}
macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::Plain(v.to_string())
            }
        }
    )*};
}
numbers!(u8, u16, u32, u64, usize, i32, i64, char);

macro_rules! shown {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::Plain(v.to_string())
            }
        }
    )*};
}
shown!(std::net::IpAddr, std::net::SocketAddr);

impl Arg {
    fn render_into(&self, lang: Lang, out: &mut String) {
        match self {
            Arg::Plain(v) => out.push_str(&inert(v)),
            Arg::Quoted(v) => {
                let (open, close) = match lang {
                    Lang::En => ("“", "”"),
                    Lang::Ja => ("「", "」"),
                };
                out.push_str(open);
                out.push_str(&inert(v));
                out.push_str(close);
            }
            Arg::Text(t) => t.render_into(lang, out),
            Arg::Each { en, ja } => out.push_str(&inert(match lang {
                Lang::En => en,
                Lang::Ja => ja,
            })),
            Arg::List(items) | Arg::Joined(items) => {
                let sep = match (self, lang) {
                    (Arg::List(_), Lang::En) => ", ",
                    (Arg::List(_), Lang::Ja) => "、",
                    (_, Lang::En) => "; ",
                    (_, Lang::Ja) => "。",
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    item.render_into(lang, out);
                }
            }
        }
    }
}

/// A message: a catalog key and its arguments, rendered per language. Built from the
/// generated structs (`text::cli::NoStep { example }.into()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    entry: usize,
    args: Vec<(&'static str, Arg)>,
}

impl Text {
    /// The generated structs' constructor; the build checked `args` against the entry.
    fn new(entry: usize, args: Vec<(&'static str, Arg)>) -> Text {
        Text { entry, args }
    }

    /// `section.key`: what a test may compare, instead of the rendered words.
    pub fn key(&self) -> &'static str {
        ENTRIES[self.entry].key
    }

    /// The argument given for `name`, if any (for tests).
    pub fn arg(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|(n, _)| *n == name).map(|(_, a)| a)
    }

    /// Whether `other` is this text or one of its arguments, at any depth (a cause
    /// that quotes a refusal holds it).
    pub fn holds(&self, other: &Text) -> bool {
        fn arg_holds(arg: &Arg, other: &Text) -> bool {
            match arg {
                Arg::Text(t) => t.holds(other),
                Arg::List(items) | Arg::Joined(items) => items.iter().any(|a| arg_holds(a, other)),
                _ => false,
            }
        }
        self == other || self.args.iter().any(|(_, a)| arg_holds(a, other))
    }

    /// In English: what machine records (the audit log) and tests read.
    pub fn en(&self) -> String {
        self.render(Lang::En)
    }

    /// The message in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let mut out = String::new();
        self.render_into(lang, &mut out);
        out
    }

    fn render_into(&self, lang: Lang, out: &mut String) {
        let entry = &ENTRIES[self.entry];
        let pieces = match lang {
            Lang::En => entry.en,
            Lang::Ja => entry.ja,
        };
        for piece in pieces {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Arg(name) => {
                    if let Some(arg) = self.arg(name) {
                        arg.render_into(lang, out);
                    }
                }
            }
        }
    }
}

/// In the process language ([`lang`]).
impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(lang()))
    }
}

/// A text is also an error: flag parsers (clap's `value_parser`) return it.
impl std::error::Error for Text {}

/// A message in the process language, as an owned string (clap's help texts).
pub fn string(text: impl Into<Text>) -> String {
    text.into().to_string()
}

/// A typed value (an error, a cause) that says itself through the catalog.
pub trait ToText {
    fn text(&self) -> Text;
}

impl ToText for Text {
    fn text(&self) -> Text {
        self.clone()
    }
}

/// `impl Display` for types that implement [`ToText`]: the text in the process
/// language.
#[macro_export]
macro_rules! display_as_text {
    ($($t:ty),+ $(,)?) => {$(
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&$crate::text::ToText::text(self), f)
            }
        }
    )+};
}

#[cfg(test)]
mod tests;
