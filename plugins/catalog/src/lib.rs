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
//! English-only detail; a title has none. [`Catalog::parse`] refuses, in one line, a
//! file that is not TOML, a template that lacks a language or whose Japanese names a
//! placeholder English lacks, and a `[step]` key of the wrong shape; what the step
//! declares is checked by labrun when it loads the step, the same for both front-ends.

use std::collections::{BTreeMap, BTreeSet};

pub mod template;

use template::{placeholders, render};

/// The section that declares the step itself rather than one check.
pub const STEP_SECTION: &str = "step";

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
}

/// A parsed, checked catalog: the step's manifest and section → key → template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    manifest: Manifest,
    sections: BTreeMap<String, BTreeMap<String, Template>>,
}

/// The `[step]` keys that are declarations, not templates.
const MANIFEST_KEYS: [&str; 4] = ["name", "checks", "needs", "params"];

impl Catalog {
    /// Parses and checks a catalog's text. The error is one line, without the path; it
    /// quotes names as written (a caller that shows it on a terminal makes it inert).
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let what = one_line(e.message());
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: not valid TOML: {what}")
                }
                None => format!("not valid TOML: {what}"),
            }
        })?;
        let mut catalog = Catalog::default();
        for (section, value) in table {
            let toml::Value::Table(entries) = value else {
                return Err(format!(
                    "`{section}` must be a section ([{section}]) of templates {{ en = \"…\", ja = \"…\" }}"
                ));
            };
            let mut templates = BTreeMap::new();
            for (key, value) in entries {
                let at = format!("{section}.{key}");
                if section == STEP_SECTION && MANIFEST_KEYS.contains(&key.as_str()) {
                    catalog.manifest.declare(&key, &value)?;
                    continue;
                }
                let template = template(&at, &value)?;
                if key == "title" && !template.names.is_empty() {
                    return Err(format!(
                        "`{at}`: a title has no placeholders, found {{{}}}",
                        template.names.iter().next().expect("not empty")
                    ));
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
    pub fn check_ids(&self, checks: &[String]) -> Result<(), String> {
        let declared: BTreeSet<&str> = checks.iter().map(String::as_str).collect();
        for (section, templates) in &self.sections {
            if section != STEP_SECTION
                && templates.contains_key("title")
                && !declared.contains(section.as_str())
            {
                return Err(format!(
                    "[{section}] has a title but `checks` does not list `{section}`: title only declared checks"
                ));
            }
        }
        let titled = checks.iter().any(|id| self.title(id).is_some());
        if titled {
            if let Some(missing) = checks.iter().find(|id| self.title(id).is_none()) {
                return Err(format!(
                    "[{missing}] has no title: give every declared check one (title = {{ en = \"…\", ja = \"…\" }})"
                ));
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
    /// is missing, in one line.
    pub fn msg(&self, section: &str, key: &str, vars: &[(&str, Var)]) -> Result<Message, String> {
        let t = self
            .template(section, key)
            .ok_or_else(|| format!("the message catalog has no template {section}.{key}"))?;
        let value = |name: &str| vars.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v);
        if let Some(missing) = t.names.iter().find(|n| value(n).is_none()) {
            return Err(format!(
                "message {section}.{key} needs a value for {{{missing}}}"
            ));
        }
        Ok(t.fill(|name| value(name).expect("checked above").clone()))
    }
}

impl Manifest {
    /// Reads `[step]`'s `key` (one of [`MANIFEST_KEYS`]).
    fn declare(&mut self, key: &str, value: &toml::Value) -> Result<(), String> {
        let strings = |at: &str, v: &toml::Value| -> Result<Vec<String>, String> {
            let wrong = || format!("`{at}` must be an array of ids, e.g. [\"A1\", \"A2\"]");
            v.as_array()
                .ok_or_else(wrong)?
                .iter()
                .map(|id| id.as_str().map(String::from).ok_or_else(wrong))
                .collect()
        };
        match key {
            "name" => {
                let name = value.as_str().ok_or_else(|| {
                    format!(
                        "`step.name` must be a string, e.g. name = \"step3\", not {}",
                        a(value)
                    )
                })?;
                self.name = Some(name.to_string());
            }
            "checks" => self.checks = Some(strings("step.checks", value)?),
            "needs" => {
                let table = value.as_table().ok_or_else(|| {
                    format!("`step.needs` must map ids to the ids that must pass first, e.g. needs = {{ A2 = [\"A1\"] }}, not {}", a(value))
                })?;
                let mut needs = BTreeMap::new();
                for (id, before) in table {
                    needs.insert(id.clone(), strings(&format!("step.needs.{id}"), before)?);
                }
                self.needs = Some(needs);
            }
            "params" => {
                let table = value.as_table().ok_or_else(|| {
                    format!("`step.params` must be a section [step.params] of name = {{ about = \"…\", default = \"…\" }}, not {}", a(value))
                })?;
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

/// One `[step.params]` entry: `"about"` (required) or `{ about, default, required }`
/// (`required` defaults to having no default), as a script's `describe()` writes it.
fn param(name: &str, value: &toml::Value) -> Result<Param, String> {
    let at = format!("step.params.{name}");
    if let Some(about) = value.as_str() {
        return Ok(Param {
            about: about.to_string(),
            default: None,
            required: true,
        });
    }
    let table = value.as_table().ok_or_else(|| {
        format!(
            "`{at}` must be {{ about = \"…\", default = \"…\" }} or {{ about = \"…\", required = true }}, not {}",
            a(value)
        )
    })?;
    let mut p = Param::default();
    let mut required = None;
    for (key, v) in table {
        let wrong = |what: &str| format!("`{at}.{key}` must be {what}, not {}", a(v));
        match key.as_str() {
            "about" => p.about = v.as_str().ok_or_else(|| wrong("a string"))?.to_string(),
            "default" => p.default = Some(v.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
            "required" => required = Some(v.as_bool().ok_or_else(|| wrong("true or false"))?),
            other => {
                return Err(format!(
                    "`{at}` has an unknown key `{other}`: a param is {{ about, default, required }}"
                ))
            }
        }
    }
    p.required = required.unwrap_or(p.default.is_none());
    Ok(p)
}

/// "a string", "an array", … for an error message.
fn a(value: &toml::Value) -> String {
    let what = value.type_str();
    let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {what}")
}

/// A multi-line parser message as one line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn template(at: &str, value: &toml::Value) -> Result<Template, String> {
    let toml::Value::Table(t) = value else {
        return Err(format!(
            "`{at}` must be {{ en = \"…\", ja = \"…\" }}, not {}",
            a(value)
        ));
    };
    if let Some(extra) = t.keys().find(|k| *k != "en" && *k != "ja") {
        return Err(format!(
            "`{at}` has `{extra}`: a template has exactly en and ja"
        ));
    }
    let text = |lang: &str| -> Result<String, String> {
        match t.get(lang) {
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("`{at}.{lang}` must be a string, not {}", a(other))),
            None => Err(format!(
                "`{at}` has no {lang} template: give both en and ja"
            )),
        }
    };
    let (en, ja) = (text("en")?, text("ja")?);
    let names = placeholders(&en).map_err(|e| format!("`{at}.en`: {e}"))?;
    let ja_names = placeholders(&ja).map_err(|e| format!("`{at}.ja`: {e}"))?;
    // English names every value; Japanese may leave one out (an English-only detail).
    if let Some(unknown) = ja_names.difference(&names).next() {
        return Err(format!(
            "`{at}`: unknown placeholder {{{unknown}}} in ja: en has no {{{unknown}}} (en names every value a message takes)"
        ));
    }
    Ok(Template { en, ja, names })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        Catalog::parse(text).expect_err("refused")
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
            .contains("needs a value for {a}"));
        assert!(c
            .msg("A1", "nope", &vars)
            .unwrap_err()
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
            .contains("[A2] has no title"));
        assert!(c
            .check_ids(&ids(&["B1"]))
            .unwrap_err()
            .contains("[A1] has a title but `checks` does not list `A1`"));
    }
}
