//! Message catalogs: a step's check titles and ja/en message templates in one TOML
//! file beside it (`step3.rhai` → `step3.messages.toml`), so that a script and a
//! component of the same step (the component embeds the same file) say the same words
//! from one source.
//!
//! ```toml
//! [step]                         # optional: the step's own title
//! title = { en = "Step 3: …", ja = "Step-3: …" }
//!
//! [A1]                           # a check id: its title and its messages
//! title = { en = "the reader is a member of the cluster", ja = "…" }
//! member = { en = "reader {reader} is a member of {cluster}", ja = "…" }
//! ```
//!
//! Any other section holds templates shared by several checks. A template has exactly
//! `en` and `ja` with `{name}` placeholders (`{{`/`}}` for a literal brace): English
//! names every value, Japanese may leave out an English-only detail; a title has none.
//! The catalog is refused at load, in one line, when it is not TOML, a template lacks a
//! language, Japanese names a placeholder English lacks, or the titles do not match the
//! declared checks. The SDK (`plugins/sdk`, `Catalog`) reads the same
//! format the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::outcome::{inert, Message};
use crate::text::{catalog as t, quoted, Text};

// The template syntax is the SDK's, word for word: one reader for one catalog format.
#[path = "../../../plugins/sdk/src/template.rs"]
mod template;
use template::render;

/// The `{name}` placeholders of a template. The error is the shared template
/// reader's (the SDK's) own words, quoted.
pub fn placeholders(text: &str) -> Result<BTreeSet<String>, Text> {
    template::placeholders(text).map_err(|e| t::Syntax { why: quoted(e) }.into())
}

/// The section that titles the step itself rather than one check.
pub const STEP_SECTION: &str = "step";

/// One ja/en template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub en: String,
    pub ja: String,
    /// Placeholder names: the English template's, which the Japanese one's are among.
    pub names: BTreeSet<String>,
}

/// A parsed, checked catalog: section → key → template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    sections: BTreeMap<String, BTreeMap<String, Template>>,
}

/// A value for one placeholder: the same in both languages, or one per language
/// (a list joined with each language's separator, a nested message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    Same(String),
    Each(Message),
}

/// `step3.rhai` → `step3.messages.toml` beside it.
pub fn sibling_path(step: &Path) -> PathBuf {
    let stem = step
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    step.with_file_name(format!("{stem}.messages.toml"))
}

/// The catalog beside `step`, if there is one. Errors are one line naming the file.
pub fn load_beside(step: &Path) -> Result<Option<Catalog>, Text> {
    let path = sibling_path(step);
    let source = match crate::files::read_to_string(&path, crate::files::cap::TEXT) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(t::CannotRead {
                path: &path,
                why: quoted(e),
            }
            .into())
        }
    };
    Catalog::parse(&source)
        .map(Some)
        .map_err(|why| t::InFile { path: &path, why }.into())
}

impl Catalog {
    /// Parses and checks a catalog's text. The error is one line, without the path.
    pub fn parse(text: &str) -> Result<Catalog, Text> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| -> Text {
            let what = quoted(super::one_line_cause(e.message()));
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    t::NotTomlAt { line, why: what }.into()
                }
                None => t::NotToml { why: what }.into(),
            }
        })?;
        let mut sections = BTreeMap::new();
        for (section, value) in table {
            let shown = inert(&section);
            let toml::Value::Table(entries) = value else {
                return Err(t::NotASection { section: shown }.into());
            };
            let mut templates = BTreeMap::new();
            for (key, value) in entries {
                let at = format!("{shown}.{}", inert(&key));
                let template = template(&at, &value)?;
                if key == "title" && !template.names.is_empty() {
                    return Err(t::TitlePlaceholder {
                        at: &at,
                        name: template.names.iter().next().expect("not empty"),
                    }
                    .into());
                }
                templates.insert(key, template);
            }
            sections.insert(section, templates);
        }
        Ok(Catalog { sections })
    }

    /// Refuses a catalog that does not fit the step's declared checks: a title for an
    /// undeclared id (a typo), or declared checks some of which lack a title.
    pub fn check_ids(&self, checks: &[String]) -> Result<(), Text> {
        let declared: BTreeSet<&str> = checks.iter().map(String::as_str).collect();
        for (section, templates) in &self.sections {
            if section != STEP_SECTION
                && templates.contains_key("title")
                && !declared.contains(section.as_str())
            {
                return Err(t::TitleUndeclared { section }.into());
            }
        }
        let titled: Vec<&str> = checks
            .iter()
            .map(String::as_str)
            .filter(|id| self.title(id).is_some())
            .collect();
        if !titled.is_empty() {
            if let Some(missing) = checks.iter().find(|id| self.title(id).is_none()) {
                return Err(t::NoTitle { id: missing }.into());
            }
        }
        Ok(())
    }

    /// The title of check `id` (or of the step, [`STEP_SECTION`]).
    pub fn title(&self, id: &str) -> Option<Message> {
        self.sections
            .get(id)
            .and_then(|s| s.get("title"))
            .map(|t| Message::new(t.en.clone(), t.ja.clone()))
    }

    /// Whether the catalog has template `section.key`.
    pub fn has(&self, section: &str, key: &str) -> bool {
        self.sections
            .get(section)
            .is_some_and(|s| s.contains_key(key))
    }

    /// Every check's title, by id (the step's own excluded).
    pub fn titles(&self) -> BTreeMap<String, Message> {
        self.sections
            .keys()
            .filter(|s| s.as_str() != STEP_SECTION)
            .filter_map(|s| self.title(s).map(|t| (s.clone(), t)))
            .collect()
    }

    /// Template `section.key` filled with `vars`. Errors (no such template, a
    /// placeholder without a value) are one line; a var no placeholder uses is fine.
    pub fn format(
        &self,
        section: &str,
        key: &str,
        vars: &BTreeMap<String, Var>,
    ) -> Result<Message, Text> {
        let template = self
            .sections
            .get(section)
            .and_then(|s| s.get(key))
            .ok_or_else(|| Text::from(t::NoTemplate { section, key }))?;
        if let Some(missing) = template.names.iter().find(|n| !vars.contains_key(*n)) {
            return Err(t::NeedsValue {
                section,
                key,
                name: missing,
            }
            .into());
        }
        let fill = |text: &str, en: bool| {
            render(text, |name| match &vars[name] {
                Var::Same(s) => s.clone(),
                Var::Each(m) if en => m.en.clone(),
                Var::Each(m) => m.ja.clone(),
            })
        };
        Ok(Message::new(
            fill(&template.en, true),
            fill(&template.ja, false),
        ))
    }
}

fn template(at: &str, value: &toml::Value) -> Result<Template, Text> {
    let toml::Value::Table(table) = value else {
        return Err(t::NotATemplate {
            at,
            found: value.type_str(),
        }
        .into());
    };
    if let Some(extra) = table.keys().find(|k| *k != "en" && *k != "ja") {
        return Err(t::ExtraKey { at, key: extra }.into());
    }
    let lang_text = |lang: &'static str| -> Result<String, Text> {
        match table.get(lang) {
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(t::NotAString {
                at,
                lang,
                found: other.type_str(),
            }
            .into()),
            None => Err(t::NoLanguage { at, lang }.into()),
        }
    };
    let (en, ja) = (lang_text("en")?, lang_text("ja")?);
    let en_names = placeholders(&en).map_err(|why| {
        Text::from(t::InTemplate {
            at,
            lang: "en",
            why,
        })
    })?;
    let ja_names = placeholders(&ja).map_err(|why| {
        Text::from(t::InTemplate {
            at,
            lang: "ja",
            why,
        })
    })?;
    // English names every value; Japanese may leave one out (an English-only detail).
    if let Some(unknown) = ja_names.difference(&en_names).next() {
        return Err(t::UnknownInJa { at, name: unknown }.into());
    }
    Ok(Template {
        en,
        ja,
        names: en_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    fn refused(text: &str) -> String {
        Catalog::parse(text).expect_err("refused").render(Lang::En)
    }

    #[test]
    fn templates_fill_each_language() {
        let c = Catalog::parse(
            "[A1]\ntitle = { en = \"t\", ja = \"タ\" }\nok = { en = \"{a} and {b} {{x}}\", ja = \"{b}・{a}\" }\n",
        )
        .unwrap();
        let vars = BTreeMap::from([
            ("a".to_string(), Var::Same("1".into())),
            ("b".to_string(), Var::Each(Message::new("x, y", "x、y"))),
        ]);
        let m = c.format("A1", "ok", &vars).unwrap();
        assert_eq!(m, Message::new("1 and x, y {x}", "x、y・1"));
        assert_eq!(c.title("A1"), Some(Message::new("t", "タ")));
        assert!(c
            .format("A1", "ok", &BTreeMap::new())
            .unwrap_err()
            .render(Lang::En)
            .contains("needs a value for {a}"));
        assert!(c
            .format("A1", "nope", &vars)
            .unwrap_err()
            .render(Lang::En)
            .contains("no template A1.nope"));
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
        ] {
            let e = refused(text);
            assert!(e.contains(fragment), "{text:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn titles_must_match_the_declared_checks() {
        let c = Catalog::parse("[A1]\ntitle = { en = \"t\", ja = \"t\" }\n").unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(c.check_ids(&ids(&["A1"])).is_ok());
        assert!(c
            .check_ids(&ids(&["A1", "A2"]))
            .unwrap_err()
            .render(Lang::En)
            .contains("[A2] has no title"));
        assert!(c
            .check_ids(&ids(&["B1"]))
            .unwrap_err()
            .render(Lang::En)
            .contains("[A1] has a title but `checks` does not list `A1`"));
    }
}
