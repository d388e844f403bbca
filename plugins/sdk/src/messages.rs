//! Message catalogs: a step's check titles and ja/en templates in TOML, the format
//! labrun reads beside a Rhai script (`step3.messages.toml`; host/src/step/messages.rs
//! is the reference). A component embeds its catalog at build time, so the script and
//! the component of one step say the same words from one file:
//!
//! ```ignore
//! static CATALOG: &str = include_str!("../../../scripts/step3.messages.toml");
//! let c = Catalog::parse(CATALOG)?;
//! let m = c.msg("A1", "member", &[("reader", w.reader.as_str().into())])?;
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::template::{placeholders, render};

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

#[derive(Debug, Clone)]
struct Template {
    en: String,
    ja: String,
    names: BTreeSet<String>,
}

/// A parsed, checked catalog: section → key → template.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    sections: BTreeMap<String, BTreeMap<String, Template>>,
}

impl Catalog {
    /// Parses and checks a catalog as labrun does (one-line errors).
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message()))?;
        let mut sections = BTreeMap::new();
        for (section, value) in table {
            let toml::Value::Table(entries) = value else {
                return Err(format!("`{section}` must be a section of templates"));
            };
            let mut templates = BTreeMap::new();
            for (key, value) in entries {
                let at = format!("{section}.{key}");
                let t = template(&at, &value)?;
                if key == "title" && !t.names.is_empty() {
                    return Err(format!("`{at}`: a title has no placeholders"));
                }
                templates.insert(key, t);
            }
            sections.insert(section, templates);
        }
        Ok(Catalog { sections })
    }

    /// The title of check `id` (section `step`: the step's own).
    pub fn title(&self, id: &str) -> Option<Message> {
        let t = self.sections.get(id)?.get("title")?;
        Some(Message::new(t.en.clone(), t.ja.clone()))
    }

    /// Template `section.key` filled with `vars`; an error names what is missing.
    pub fn msg(&self, section: &str, key: &str, vars: &[(&str, Var)]) -> Result<Message, String> {
        let t = self
            .sections
            .get(section)
            .and_then(|s| s.get(key))
            .ok_or_else(|| format!("the message catalog has no template {section}.{key}"))?;
        let value = |name: &str| vars.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v);
        if let Some(missing) = t.names.iter().find(|n| value(n).is_none()) {
            return Err(format!(
                "message {section}.{key} needs a value for {{{missing}}}"
            ));
        }
        let fill = |text: &str, en: bool| {
            render(text, |name| match value(name).expect("checked above") {
                Var::Same(s) => s.clone(),
                Var::Each(m) if en => m.en.clone(),
                Var::Each(m) => m.ja.clone(),
            })
        };
        Ok(Message::new(fill(&t.en, true), fill(&t.ja, false)))
    }
}

fn template(at: &str, value: &toml::Value) -> Result<Template, String> {
    let toml::Value::Table(t) = value else {
        return Err(format!("`{at}` must be {{ en = \"…\", ja = \"…\" }}"));
    };
    if let Some(extra) = t.keys().find(|k| *k != "en" && *k != "ja") {
        return Err(format!(
            "`{at}` has `{extra}`: a template has exactly en and ja"
        ));
    }
    let text = |lang: &str| match t.get(lang) {
        Some(toml::Value::String(s)) => Ok(s.clone()),
        _ => Err(format!(
            "`{at}` has no {lang} template: give both en and ja"
        )),
    };
    let (en, ja) = (text("en")?, text("ja")?);
    let names = placeholders(&en).map_err(|e| format!("`{at}.en`: {e}"))?;
    let ja_names = placeholders(&ja).map_err(|e| format!("`{at}.ja`: {e}"))?;
    if let Some(unknown) = ja_names.difference(&names).next() {
        return Err(format!(
            "`{at}`: unknown placeholder {{{unknown}}} in ja: en has no {{{unknown}}}"
        ));
    }
    Ok(Template { en, ja, names })
}
