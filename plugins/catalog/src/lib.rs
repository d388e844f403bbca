//! A labrun step's catalog: the TOML file beside a step (`step3.rhai` →
//! `step3.messages.toml`) that declares what the step is (its name, params, checklist
//! ids and their prerequisites, in `[step]`) and says everything it reports (titles and
//! ja/en message templates, a section per check). labrun reads it beside a Rhai script;
//! a component embeds the same file and reads it through the step SDK. Both read it
//! with this crate, so a script and a component of one step declare every fact once
//! and say the same words.
//!
//! ```toml
//! [step]
//! name = "step3"
//! title = { en = "Step 3: …", ja = "Step-3: …" }
//! checks = ["A1", "A2"]                  # checklist ids, in report order
//! needs = { A2 = ["A1"] }                # A2 means nothing until A1 passed
//!
//! [step.params]                          # --param NAME=VALUE; {user} is the trainee
//! user = { about = "trainee id, e.g. user05", required = true }
//! reader = { about = "Aurora reader instance", default = "wp-{user}-slave" }
//!
//! [A1]                                   # a check id: its title and its messages
//! title = { en = "the reader is a member of the cluster", ja = "…" }
//! member = { en = "reader {reader} is a member of {cluster}", ja = "…" }
//! ```
//!
//! Every `[step]` key is optional (a Rhai script may declare the same in `describe()`,
//! but never both). Any section other than `[step]` and the check ids holds templates
//! several checks share. A template has exactly `en` and `ja` with `{name}`
//! placeholders ([`template`]): English names every value, Japanese may leave out an
//! English-only detail; a title has none. [`Catalog::parse`] refuses a file that is
//! not TOML, a template that lacks a language or whose Japanese names a placeholder
//! English lacks, and a `[step]` key of the wrong shape; what the step declares is
//! checked by labrun when it loads the step, the same for both front-ends.
//!
//! Refusals are an [`Error`]: a variant per reason with the names it needs, which
//! labrun renders from its own catalog in Japanese and English. Its `Display` is the
//! English a component's author sees (a component has no host catalog).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub mod template;

use template::{placeholders, render, SyntaxError};

/// The section that declares the step itself rather than one check.
pub const STEP_SECTION: &str = "step";

/// Why a catalog cannot be used. Names are as the file wrote them (a caller that
/// shows them on a terminal makes them inert); `at` is a key's path (`A1.ok`,
/// `step.params.user`); `found` is the TOML type found (`string`, `array`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not TOML: the TOML reader's own words, in one line, and the line when known.
    NotToml { line: Option<usize>, why: String },
    /// A top-level key that is not a section.
    NotASection { section: String },
    /// A template that is not `{ en = "…", ja = "…" }`.
    NotATemplate { at: String, found: &'static str },
    /// A template with a key besides `en` and `ja`.
    ExtraKey { at: String, key: String },
    /// A template's language that is not a string.
    NotAString {
        at: String,
        lang: &'static str,
        found: &'static str,
    },
    /// A template without one of its languages.
    NoLanguage { at: String, lang: &'static str },
    /// A template whose text is not the `{name}` syntax.
    InTemplate {
        at: String,
        lang: &'static str,
        why: SyntaxError,
    },
    /// A Japanese placeholder the English template lacks.
    UnknownInJa { at: String, name: String },
    /// A title with a placeholder.
    TitlePlaceholder { at: String, name: String },
    /// A title for an id the step does not declare.
    TitleUndeclared { section: String },
    /// A declared check without a title, when others have one.
    NoTitle { id: String },
    /// `msg(section, key)` for a template the catalog lacks.
    NoTemplate { section: String, key: String },
    /// `msg(section, key)` without a value for one of its placeholders.
    NeedsValue {
        section: String,
        key: String,
        name: String,
    },
    /// `[step]`'s `name` is not a string.
    NameNotString { found: &'static str },
    /// `checks` or a `needs` entry (`at`) is not an array of ids.
    NotIds { at: String, found: &'static str },
    /// `needs` is not a table of id → ids.
    NeedsNotTable { found: &'static str },
    /// `requires` is not a table of id → what the operator gives.
    RequiresNotTable { found: &'static str },
    /// A `requires` entry (`at`) is not an array of strings.
    NotRequirements { at: String, found: &'static str },
    /// `params` is not a table of param declarations.
    ParamsNotTable { found: &'static str },
    /// A param (`at`) that is neither a string nor a table.
    NotAParam { at: String, found: &'static str },
    /// A param's `about` or `default` (`at`) that is not a string.
    ParamNotString { at: String, found: &'static str },
    /// A param's `required` (`at`) that is not a boolean.
    ParamNotBool { at: String, found: &'static str },
    /// A param (`at`) with a key besides `about`, `default` and `required`.
    UnknownParamKey { at: String, key: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotToml { line: Some(line), why } => {
                write!(f, "line {line}: not valid TOML: {why}")
            }
            Error::NotToml { line: None, why } => write!(f, "not valid TOML: {why}"),
            Error::NotASection { section } => write!(
                f,
                "`{section}` must be a section ([{section}]) of templates {{ en = \"…\", ja = \"…\" }}"
            ),
            Error::NotATemplate { at, found } => write!(
                f,
                "`{at}` must be {{ en = \"…\", ja = \"…\" }}, not {}",
                a(found)
            ),
            Error::ExtraKey { at, key } => {
                write!(f, "`{at}` has `{key}`: a template has exactly en and ja")
            }
            Error::NotAString { at, lang, found } => {
                write!(f, "`{at}.{lang}` must be a string, not {}", a(found))
            }
            Error::NoLanguage { at, lang } => {
                write!(f, "`{at}` has no {lang} template: give both en and ja")
            }
            Error::InTemplate { at, lang, why } => write!(f, "`{at}.{lang}`: {why}"),
            Error::UnknownInJa { at, name } => write!(
                f,
                "`{at}`: unknown placeholder {{{name}}} in ja: en has no {{{name}}} (en names every value a message takes)"
            ),
            Error::TitlePlaceholder { at, name } => {
                write!(f, "`{at}`: a title has no placeholders, found {{{name}}}")
            }
            Error::TitleUndeclared { section } => write!(
                f,
                "[{section}] has a title but `checks` does not list `{section}`: title only declared checks"
            ),
            Error::NoTitle { id } => write!(
                f,
                "[{id}] has no title: give every declared check one (title = {{ en = \"…\", ja = \"…\" }})"
            ),
            Error::NoTemplate { section, key } => {
                write!(f, "the message catalog has no template {section}.{key}")
            }
            Error::NeedsValue { section, key, name } => {
                write!(f, "message {section}.{key} needs a value for {{{name}}}")
            }
            Error::NameNotString { found } => write!(
                f,
                "`step.name` must be a string, e.g. name = \"step3\", not {}",
                a(found)
            ),
            Error::NotIds { at, found } => write!(
                f,
                "`{at}` must be an array of ids, e.g. [\"A1\", \"A2\"], not {}",
                a(found)
            ),
            Error::NeedsNotTable { found } => write!(
                f,
                "`step.needs` must map ids to the ids that must pass first, e.g. needs = {{ A2 = [\"A1\"] }}, not {}",
                a(found)
            ),
            Error::RequiresNotTable { found } => write!(
                f,
                "`step.requires` must map ids to what the operator must give, e.g. requires = {{ A5 = [\"ssh\", \"mysql\"] }}, not {}",
                a(found)
            ),
            Error::NotRequirements { at, found } => write!(
                f,
                "`{at}` must be an array of what the operator must give, e.g. [\"ssh\", \"mysql\"], not {}",
                a(found)
            ),
            Error::ParamsNotTable { found } => write!(
                f,
                "`step.params` must be a section [step.params] of name = {{ about = \"…\", default = \"…\" }}, not {}",
                a(found)
            ),
            Error::NotAParam { at, found } => write!(
                f,
                "`{at}` must be {{ about = \"…\", default = \"…\" }} or {{ about = \"…\", required = true }}, not {}",
                a(found)
            ),
            Error::ParamNotString { at, found } => {
                write!(f, "`{at}` must be a string, not {}", a(found))
            }
            Error::ParamNotBool { at, found } => {
                write!(f, "`{at}` must be true or false, not {}", a(found))
            }
            Error::UnknownParamKey { at, key } => write!(
                f,
                "`{at}` has an unknown key `{key}`: a param is {{ about, default, required }}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// "a string", "an array", … for an English message.
fn a(what: &str) -> String {
    let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {what}")
}

/// A ja/en pair: a message, a title, or a value that differs by language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub en: String,
    pub ja: String,
}

impl Message {
    pub fn new(en: impl Into<String>, ja: impl Into<String>) -> Message {
        Message {
            en: en.into(),
            ja: ja.into(),
        }
    }

    /// A list joined with each language's separator, e.g. `(", ", "、")`.
    pub fn joined<S: AsRef<str>>(list: &[S], en_sep: &str, ja_sep: &str) -> Message {
        let items: Vec<&str> = list.iter().map(AsRef::as_ref).collect();
        Message::new(items.join(en_sep), items.join(ja_sep))
    }
}

/// A placeholder's value: the same text in both languages, or one per language.
/// Conversions show values as a Rhai script's `${…}` does (`None` → empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    Same(String),
    Each(Message),
}

impl From<&str> for Var {
    fn from(s: &str) -> Var {
        Var::Same(s.to_string())
    }
}
impl From<String> for Var {
    fn from(s: String) -> Var {
        Var::Same(s)
    }
}
impl From<&String> for Var {
    fn from(s: &String) -> Var {
        Var::Same(s.clone())
    }
}
impl From<Message> for Var {
    fn from(m: Message) -> Var {
        Var::Each(m)
    }
}
impl From<i64> for Var {
    fn from(n: i64) -> Var {
        Var::Same(n.to_string())
    }
}
impl From<usize> for Var {
    fn from(n: usize) -> Var {
        Var::Same(n.to_string())
    }
}
impl<T: Into<Var>> From<Option<T>> for Var {
    fn from(v: Option<T>) -> Var {
        v.map_or(Var::Same(String::new()), Into::into)
    }
}

/// One ja/en template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub en: String,
    pub ja: String,
    /// Placeholder names: the English template's, which the Japanese one's are among.
    pub names: BTreeSet<String>,
}

impl Template {
    /// The template filled with `value(name)` for each placeholder, in both languages;
    /// `value` is given every name in [`Template::names`].
    pub fn fill(&self, value: impl Fn(&str) -> Var) -> Message {
        let text = |text: &str, en: bool| {
            render(text, |name| match value(name) {
                Var::Same(s) => s,
                Var::Each(m) if en => m.en,
                Var::Each(m) => m.ja,
            })
        };
        Message::new(text(&self.en, true), text(&self.ja, false))
    }
}

/// One param a step declares (`[step.params]`): given with `--param NAME=VALUE` (the
/// trainee id fills `user`), else its default; a required param has no default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Param {
    /// What the param means, for `labrun describe` and the errors that name it.
    pub about: String,
    /// A template: `{name}` is param `name`'s final value, `{{`/`}}` literal braces.
    pub default: Option<String>,
    pub required: bool,
}

/// What `[step]` declares; `None` for a key it leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub name: Option<String>,
    /// Checklist ids in report order.
    pub checks: Option<Vec<String>>,
    /// Prerequisites: id → the ids that must pass first.
    pub needs: Option<BTreeMap<String, Vec<String>>>,
    /// Param name → its declaration.
    pub params: Option<BTreeMap<String, Param>>,
    /// What the operator must give for a check to be decided at all: id → needs
    /// (`ssh`, `vpc`, `mysql`, `mysql:NAME`, a capability), which labrun checks.
    pub requires: Option<BTreeMap<String, Vec<String>>>,
}

/// A parsed, checked catalog: the step's manifest and section → key → template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    manifest: Manifest,
    sections: BTreeMap<String, BTreeMap<String, Template>>,
}

/// The `[step]` keys that are declarations, not templates.
const MANIFEST_KEYS: [&str; 5] = ["name", "checks", "needs", "requires", "params"];

impl Catalog {
    /// Parses and checks a catalog's text.
    pub fn parse(text: &str) -> Result<Catalog, Error> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::NotToml {
            line: e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1),
            why: one_line(e.message()),
        })?;
        let mut catalog = Catalog::default();
        for (section, value) in table {
            let toml::Value::Table(entries) = value else {
                return Err(Error::NotASection { section });
            };
            let mut templates = BTreeMap::new();
            for (key, value) in entries {
                let at = format!("{section}.{key}");
                if section == STEP_SECTION && MANIFEST_KEYS.contains(&key.as_str()) {
                    catalog.manifest.declare(&key, &value)?;
                    continue;
                }
                let template = template(&at, &value)?;
                if let Some(name) = template.names.iter().next().filter(|_| key == "title") {
                    return Err(Error::TitlePlaceholder {
                        at,
                        name: name.clone(),
                    });
                }
                templates.insert(key, template);
            }
            catalog.sections.insert(section, templates);
        }
        Ok(catalog)
    }

    /// What `[step]` declares.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Refuses a catalog that does not fit the step's checks: a title for an
    /// undeclared id (a typo), or declared checks some of which lack a title.
    pub fn check_ids(&self, checks: &[String]) -> Result<(), Error> {
        let declared: BTreeSet<&str> = checks.iter().map(String::as_str).collect();
        for (section, templates) in &self.sections {
            if section != STEP_SECTION
                && templates.contains_key("title")
                && !declared.contains(section.as_str())
            {
                return Err(Error::TitleUndeclared {
                    section: section.clone(),
                });
            }
        }
        let titled = checks.iter().any(|id| self.title(id).is_some());
        if titled {
            if let Some(missing) = checks.iter().find(|id| self.title(id).is_none()) {
                return Err(Error::NoTitle {
                    id: missing.clone(),
                });
            }
        }
        Ok(())
    }

    /// The title of check `id` (or of the step, [`STEP_SECTION`]).
    pub fn title(&self, id: &str) -> Option<Message> {
        let t = self.template(id, "title")?;
        Some(Message::new(t.en.clone(), t.ja.clone()))
    }

    /// Every check's title, by id (the step's own excluded).
    pub fn titles(&self) -> BTreeMap<String, Message> {
        self.sections
            .keys()
            .filter(|s| s.as_str() != STEP_SECTION)
            .filter_map(|s| self.title(s).map(|t| (s.clone(), t)))
            .collect()
    }

    /// Template `section.key`, if the catalog has it.
    pub fn template(&self, section: &str, key: &str) -> Option<&Template> {
        self.sections.get(section)?.get(key)
    }

    /// Whether the catalog has template `section.key`.
    pub fn has(&self, section: &str, key: &str) -> bool {
        self.template(section, key).is_some()
    }

    /// Template `section.key` filled with `vars` (a later value replaces an earlier
    /// one of the same name; a value no placeholder uses is fine). The error names what
    /// is missing.
    pub fn msg(&self, section: &str, key: &str, vars: &[(&str, Var)]) -> Result<Message, Error> {
        let t = self
            .template(section, key)
            .ok_or_else(|| Error::NoTemplate {
                section: section.to_string(),
                key: key.to_string(),
            })?;
        let value = |name: &str| vars.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v);
        if let Some(missing) = t.names.iter().find(|n| value(n).is_none()) {
            return Err(Error::NeedsValue {
                section: section.to_string(),
                key: key.to_string(),
                name: missing.clone(),
            });
        }
        Ok(t.fill(|name| value(name).expect("checked above").clone()))
    }
}

impl Manifest {
    /// Reads `[step]`'s `key` (one of [`MANIFEST_KEYS`]).
    fn declare(&mut self, key: &str, value: &toml::Value) -> Result<(), Error> {
        let found = value.type_str();
        match key {
            "name" => {
                let name = value.as_str().ok_or(Error::NameNotString { found })?;
                self.name = Some(name.to_string());
            }
            "checks" => {
                self.checks = Some(strings(value).map_err(|found| Error::NotIds {
                    at: "step.checks".into(),
                    found,
                })?)
            }
            "needs" => {
                let table = value.as_table().ok_or(Error::NeedsNotTable { found })?;
                let mut needs = BTreeMap::new();
                for (id, before) in table {
                    let before = strings(before).map_err(|found| Error::NotIds {
                        at: format!("step.needs.{id}"),
                        found,
                    })?;
                    needs.insert(id.clone(), before);
                }
                self.needs = Some(needs);
            }
            "requires" => {
                let table = value.as_table().ok_or(Error::RequiresNotTable { found })?;
                let mut requires = BTreeMap::new();
                for (id, list) in table {
                    let list = strings(list).map_err(|found| Error::NotRequirements {
                        at: format!("step.requires.{id}"),
                        found,
                    })?;
                    requires.insert(id.clone(), list);
                }
                self.requires = Some(requires);
            }
            "params" => {
                let table = value.as_table().ok_or(Error::ParamsNotTable { found })?;
                let mut params = BTreeMap::new();
                for (name, decl) in table {
                    params.insert(name.clone(), param(name, decl)?);
                }
                self.params = Some(params);
            }
            _ => unreachable!("only MANIFEST_KEYS are declarations"),
        }
        Ok(())
    }
}

/// An array of strings; else the TOML type found (of the value or of an item).
fn strings(value: &toml::Value) -> Result<Vec<String>, &'static str> {
    value
        .as_array()
        .ok_or(value.type_str())?
        .iter()
        .map(|item| item.as_str().map(String::from).ok_or(item.type_str()))
        .collect()
}

/// One `[step.params]` entry: `"about"` (required) or `{ about, default, required }`
/// (`required` defaults to having no default), as a script's `describe()` writes it.
fn param(name: &str, value: &toml::Value) -> Result<Param, Error> {
    let at = format!("step.params.{name}");
    if let Some(about) = value.as_str() {
        return Ok(Param {
            about: about.to_string(),
            default: None,
            required: true,
        });
    }
    let table = value.as_table().ok_or_else(|| Error::NotAParam {
        at: at.clone(),
        found: value.type_str(),
    })?;
    let mut p = Param::default();
    let mut required = None;
    for (key, v) in table {
        let at_key = || format!("{at}.{key}");
        let text = || {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| Error::ParamNotString {
                    at: at_key(),
                    found: v.type_str(),
                })
        };
        match key.as_str() {
            "about" => p.about = text()?,
            "default" => p.default = Some(text()?),
            "required" => {
                required = Some(v.as_bool().ok_or_else(|| Error::ParamNotBool {
                    at: at_key(),
                    found: v.type_str(),
                })?)
            }
            _ => {
                return Err(Error::UnknownParamKey {
                    at: at.clone(),
                    key: key.clone(),
                })
            }
        }
    }
    p.required = required.unwrap_or(p.default.is_none());
    Ok(p)
}

/// A multi-line parser message as one line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn template(at: &str, value: &toml::Value) -> Result<Template, Error> {
    let toml::Value::Table(t) = value else {
        return Err(Error::NotATemplate {
            at: at.to_string(),
            found: value.type_str(),
        });
    };
    if let Some(extra) = t.keys().find(|k| *k != "en" && *k != "ja") {
        return Err(Error::ExtraKey {
            at: at.to_string(),
            key: extra.clone(),
        });
    }
    let text = |lang: &'static str| -> Result<String, Error> {
        match t.get(lang) {
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(Error::NotAString {
                at: at.to_string(),
                lang,
                found: other.type_str(),
            }),
            None => Err(Error::NoLanguage {
                at: at.to_string(),
                lang,
            }),
        }
    };
    let (en, ja) = (text("en")?, text("ja")?);
    let syntax = |lang: &'static str, text: &str| {
        placeholders(text).map_err(|why| Error::InTemplate {
            at: at.to_string(),
            lang,
            why,
        })
    };
    let names = syntax("en", &en)?;
    let ja_names = syntax("ja", &ja)?;
    // English names every value; Japanese may leave one out (an English-only detail).
    if let Some(unknown) = ja_names.difference(&names).next() {
        return Err(Error::UnknownInJa {
            at: at.to_string(),
            name: unknown.clone(),
        });
    }
    Ok(Template { en, ja, names })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        Catalog::parse(text).expect_err("refused").to_string()
    }

    #[test]
    fn templates_fill_each_language() {
        let c = Catalog::parse(
            "[A1]\ntitle = { en = \"t\", ja = \"タ\" }\nok = { en = \"{a} and {b} {{x}}\", ja = \"{b}・{a}\" }\n",
        )
        .unwrap();
        let vars = [
            ("a", Var::from("1")),
            ("b", Message::joined(&["x", "y"], ", ", "、").into()),
        ];
        assert_eq!(
            c.msg("A1", "ok", &vars).unwrap(),
            Message::new("1 and x, y {x}", "x、y・1")
        );
        assert_eq!(c.title("A1"), Some(Message::new("t", "タ")));
        assert!(c
            .msg("A1", "ok", &[])
            .unwrap_err()
            .to_string()
            .contains("needs a value for {a}"));
        assert!(c
            .msg("A1", "nope", &vars)
            .unwrap_err()
            .to_string()
            .contains("no template A1.nope"));
        assert_eq!(c.manifest(), &Manifest::default());
    }

    #[test]
    fn bad_catalogs_are_refused_in_one_line() {
        for (text, fragment) in [
            ("[A1\n", "line 1: not valid TOML"),
            ("[A1]\nx = { en = \"e\" }\n", "`A1.x` has no ja template"),
            (
                "[A1]\nx = { en = \"{a}\", ja = \"{b}\" }\n",
                "unknown placeholder {b} in ja",
            ),
            ("[A1]\nx = { en = \"{a\", ja = \"\" }\n", "unclosed `{`"),
            ("[A1]\nx = \"text\"\n", "`A1.x` must be { en"),
            (
                "[A1]\ntitle = { en = \"{a}\", ja = \"{a}\" }\n",
                "a title has no placeholders",
            ),
            (
                "[A1]\nx = { en = \"\", ja = \"\", de = \"\" }\n",
                "exactly en and ja",
            ),
            ("[step]\nname = 3\n", "`step.name` must be a string"),
            (
                "[step]\nchecks = \"A1\"\n",
                "`step.checks` must be an array of ids",
            ),
            (
                "[step]\nchecks = [\"A1\", 2]\n",
                "`step.checks` must be an array of ids",
            ),
            (
                "[step]\nneeds = { A2 = \"A1\" }\n",
                "`step.needs.A2` must be an array",
            ),
            ("[step]\nparams = 1\n", "`step.params` must be a section"),
            (
                "[step.params]\nuser = { about = \"u\", defualt = \"x\" }\n",
                "`step.params.user` has an unknown key `defualt`",
            ),
            (
                "[step.params]\nuser = { required = \"yes\" }\n",
                "`step.params.user.required` must be true or false, not a string",
            ),
            (
                "[step.requires]\nA1 = \"ssh\"\n",
                "`step.requires.A1` must be an array",
            ),
            ("[step]\nrequires = 1\n", "`step.requires` must map ids"),
        ] {
            let e = refused(text);
            assert!(e.contains(fragment), "{text:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn the_step_section_declares_the_step() {
        let c = Catalog::parse(
            r#"
            [step]
            name = "s"
            title = { en = "S", ja = "エス" }
            checks = ["A2", "A1"]
            needs = { A2 = ["A1"] }
            [step.requires]
            A1 = ["ssh", "mysql:local"]
            [step.params]
            user = "trainee id"
            vpc = { about = "the VPC", default = "vpc-{user}" }
            opt = { about = "optional, no default", required = false }
            [A1]
            title = { en = "one", ja = "一" }
            [A2]
            title = { en = "two", ja = "二" }
            "#,
        )
        .unwrap();
        let m = c.manifest();
        assert_eq!(m.name.as_deref(), Some("s"));
        assert_eq!(m.checks, Some(vec!["A2".to_string(), "A1".to_string()]));
        assert_eq!(
            m.needs,
            Some(BTreeMap::from([("A2".to_string(), vec!["A1".to_string()])]))
        );
        assert_eq!(
            m.requires,
            Some(BTreeMap::from([(
                "A1".to_string(),
                vec!["ssh".to_string(), "mysql:local".to_string()]
            )]))
        );
        let params = m.params.as_ref().unwrap();
        assert_eq!(
            params["user"],
            Param {
                about: "trainee id".into(),
                default: None,
                required: true
            }
        );
        assert_eq!(params["vpc"].default.as_deref(), Some("vpc-{user}"));
        assert!(!params["vpc"].required);
        assert!(!params["opt"].required && params["opt"].default.is_none());
        // The declarations are not templates; the step's title is.
        assert!(!c.has("step", "checks"));
        assert_eq!(c.title(STEP_SECTION), Some(Message::new("S", "エス")));
        assert_eq!(c.titles().len(), 2);
    }

    #[test]
    fn titles_must_match_the_declared_checks() {
        let c = Catalog::parse("[A1]\ntitle = { en = \"t\", ja = \"t\" }\n").unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(c.check_ids(&ids(&["A1"])).is_ok());
        assert!(c
            .check_ids(&ids(&["A1", "A2"]))
            .unwrap_err()
            .to_string()
            .contains("[A2] has no title"));
        assert!(c
            .check_ids(&ids(&["B1"]))
            .unwrap_err()
            .to_string()
            .contains("[A1] has a title but `checks` does not list `A1`"));
    }
}
