//! A step's catalog beside it (`step3.rhai` → `step3.messages.toml`): what the step
//! declares about itself (`[step]`: name, params, checklist ids, prerequisites) and
//! every title and ja/en message it reports. The format and its one reader are the
//! `labrun-step-catalog` crate (`plugins/catalog`, its doc has the format), which the
//! step SDK reads a component's embedded copy with too, so a script and a component of
//! one step declare every fact once and say the same words. This module finds the file
//! beside a script, renders the reader's typed errors from the host catalog
//! (`text/catalog/catalog.toml`, names inert), and fills templates into the host's
//! [`Message`]s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use labrun_step_catalog as reader;
use labrun_step_catalog::template::SyntaxError;
pub use labrun_step_catalog::{Manifest, STEP_SECTION};

use crate::outcome::Message;
use crate::text::{catalog as t, quoted, Text};

/// A parsed, checked catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog(reader::Catalog);

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

/// The reader's refusal in the host catalog's words. Names are shown as the file
/// wrote them (made inert when rendered); the TOML reader's own words are quoted.
pub fn text(error: reader::Error) -> Text {
    use reader::Error as E;
    match error {
        E::NotToml {
            line: Some(line),
            why,
        } => t::NotTomlAt {
            line,
            why: quoted(super::one_line_cause(&why)),
        }
        .into(),
        E::NotToml { line: None, why } => t::NotToml {
            why: quoted(super::one_line_cause(&why)),
        }
        .into(),
        E::NotASection { section } => t::NotASection { section }.into(),
        E::NotATemplate { at, found } => t::NotATemplate { at, found }.into(),
        E::ExtraKey { at, key } => t::ExtraKey { at, key }.into(),
        E::NotAString { at, lang, found } => t::NotAString { at, lang, found }.into(),
        E::NoLanguage { at, lang } => t::NoLanguage { at, lang }.into(),
        E::InTemplate { at, lang, why } => t::InTemplate {
            at,
            lang,
            why: syntax(why),
        }
        .into(),
        E::UnknownInJa { at, name } => t::UnknownInJa { at, name }.into(),
        E::TitlePlaceholder { at, name } => t::TitlePlaceholder { at, name }.into(),
        E::TitleUndeclared { section } => t::TitleUndeclared { section }.into(),
        E::NoTitle { id } => t::NoTitle { id }.into(),
        E::NoTemplate { section, key } => t::NoTemplate { section, key }.into(),
        E::NeedsValue { section, key, name } => t::NeedsValue { section, key, name }.into(),
        E::NameNotString { found } => t::NameNotString { found }.into(),
        E::NotIds { at, found } => t::NotIds { at, found }.into(),
        E::NeedsNotTable { found } => t::NeedsNotTable { found }.into(),
        E::RequiresNotTable { found } => t::RequiresNotTable { found }.into(),
        E::NotRequirements { at, found } => t::NotRequirements { at, found }.into(),
        E::ParamsNotTable { found } => t::ParamsNotTable { found }.into(),
        E::NotAParam { at, found } => t::NotAParam { at, found }.into(),
        E::ParamNotString { at, found } => t::ParamNotString { at, found }.into(),
        E::ParamNotBool { at, found } => t::ParamNotBool { at, found }.into(),
        E::UnknownParamKey { at, key } => t::UnknownParamKey { at, key }.into(),
    }
}

/// The template reader's refusal in the host catalog's words.
fn syntax(error: SyntaxError) -> Text {
    match error {
        SyntaxError::LoneClose => t::LoneClose.into(),
        SyntaxError::Unclosed => t::Unclosed.into(),
        SyntaxError::NotAName { name } => t::NotAName { name }.into(),
    }
}

fn message(m: reader::Message) -> Message {
    Message::new(m.en, m.ja)
}

impl Catalog {
    /// Parses and checks a catalog's text. The error is one line, without the path.
    pub fn parse(source: &str) -> Result<Catalog, Text> {
        reader::Catalog::parse(source).map(Catalog).map_err(text)
    }

    /// What its `[step]` declares.
    pub fn manifest(&self) -> &Manifest {
        self.0.manifest()
    }

    /// Refuses a catalog that does not fit the step's declared checks: a title for an
    /// undeclared id (a typo), or declared checks some of which lack a title.
    pub fn check_ids(&self, checks: &[String]) -> Result<(), Text> {
        self.0.check_ids(checks).map_err(text)
    }

    /// The title of check `id` (or of the step, [`STEP_SECTION`]).
    pub fn title(&self, id: &str) -> Option<Message> {
        self.0.title(id).map(message)
    }

    /// Whether the catalog has template `section.key`.
    pub fn has(&self, section: &str, key: &str) -> bool {
        self.0.has(section, key)
    }

    /// Every check's title, by id (the step's own excluded).
    pub fn titles(&self) -> BTreeMap<String, Message> {
        self.0
            .titles()
            .into_iter()
            .map(|(id, t)| (id, message(t)))
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
        let vars: Vec<(&str, reader::Var)> = vars
            .iter()
            .map(|(name, v)| {
                let v = match v {
                    Var::Same(s) => reader::Var::Same(s.clone()),
                    Var::Each(m) => reader::Var::Each(reader::Message::new(&m.en, &m.ja)),
                };
                (name.as_str(), v)
            })
            .collect();
        self.0.msg(section, key, &vars).map(message).map_err(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    #[test]
    fn the_readers_errors_are_inert_and_one_line_in_each_language() {
        let e = Catalog::parse("[\"A1\\u001b[2J\"]\nx = \"text\"\n").unwrap_err();
        for lang in Lang::ALL {
            let e = e.render(lang);
            assert!(e.contains("A1\\u{1b}[2J") && !e.contains('\x1b'), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn every_refusal_is_a_catalog_text() {
        // One per variant of the reader's error and of its template syntax.
        for (source, en, ja) in [
            (
                "[A1\n",
                "line 1: not valid TOML",
                "1 行目: 正しい TOML ではありません",
            ),
            ("x = 1\n", "`x` must be a section", "`x` はテンプレート"),
            ("[A1]\nx = 1\n", "`A1.x` must be {", "`A1.x` は {"),
            (
                "[A1]\nx = { en = \"\", ja = \"\", de = \"\" }\n",
                "has `de`",
                "に `de` があります",
            ),
            (
                "[A1]\nx = { en = 1, ja = \"\" }\n",
                "`A1.x.en` must be a string",
                "`A1.x.en` は文字列",
            ),
            (
                "[A1]\nx = { en = \"e\" }\n",
                "has no ja template",
                "に ja のテンプレートがありません",
            ),
            (
                "[A1]\nx = { en = \"}\", ja = \"\" }\n",
                "a lone `}`",
                "対応する `{` のない `}`",
            ),
            (
                "[A1]\nx = { en = \"{a\", ja = \"\" }\n",
                "an unclosed `{`",
                "`{` が閉じていません",
            ),
            (
                "[A1]\nx = { en = \"{a b}\", ja = \"\" }\n",
                "`{a b}` is not a placeholder",
                "`{a b}` はプレースホルダではありません",
            ),
            (
                "[A1]\nx = { en = \"{a}\", ja = \"{b}\" }\n",
                "unknown placeholder {b} in ja",
                "不明なプレースホルダ {b}",
            ),
            (
                "[A1]\ntitle = { en = \"{a}\", ja = \"{a}\" }\n",
                "a title has no placeholders",
                "タイトルにプレースホルダは使えません",
            ),
            (
                "[step]\nname = 3\n",
                "`step.name` must be a string",
                "`step.name` は文字列",
            ),
            (
                "[step]\nchecks = \"A1\"\n",
                "`step.checks` must be an array of ids",
                "`step.checks` は id の配列",
            ),
            (
                "[step]\nneeds = 1\n",
                "`step.needs` must map ids",
                "`step.needs` は id から",
            ),
            (
                "[step]\nneeds = { A2 = \"A1\" }\n",
                "`step.needs.A2` must be an array of ids",
                "`step.needs.A2` は id の配列",
            ),
            (
                "[step]\nrequires = 1\n",
                "`step.requires` must map ids",
                "`step.requires` は id から",
            ),
            (
                "[step.requires]\nA1 = \"ssh\"\n",
                "`step.requires.A1` must be an array",
                "`step.requires.A1` は運営者",
            ),
            (
                "[step]\nparams = 1\n",
                "`step.params` must be a section",
                "`step.params` は name",
            ),
            (
                "[step.params]\nuser = 1\n",
                "`step.params.user` must be {",
                "`step.params.user` は {",
            ),
            (
                "[step.params]\nuser = { about = 1 }\n",
                "`step.params.user.about` must be a string",
                "`step.params.user.about` は文字列",
            ),
            (
                "[step.params]\nuser = { required = \"yes\" }\n",
                "`step.params.user.required` must be true or false",
                "true か false",
            ),
            (
                "[step.params]\nuser = { defualt = \"x\" }\n",
                "unknown key `defualt`",
                "不明なキー `defualt`",
            ),
        ] {
            let e = Catalog::parse(source).expect_err(source);
            let (got_en, got_ja) = (e.render(Lang::En), e.render(Lang::Ja));
            assert!(got_en.contains(en), "{source:?}: {got_en}");
            assert!(got_ja.contains(ja), "{source:?}: {got_ja}");
        }
        let c = Catalog::parse(
            "[A1]\ntitle = { en = \"t\", ja = \"t\" }\nx = { en = \"{a}\", ja = \"\" }\n",
        )
        .unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (e, en, ja) in [
            (
                c.check_ids(&ids(&["A1", "A2"])).unwrap_err(),
                "[A2] has no title",
                "[A2] にタイトルがありません",
            ),
            (
                c.check_ids(&ids(&["B1"])).unwrap_err(),
                "`checks` does not list `A1`",
                "`checks` に `A1` がありません",
            ),
            (
                c.format("A1", "nope", &BTreeMap::new()).unwrap_err(),
                "no template A1.nope",
                "テンプレート A1.nope がありません",
            ),
            (
                c.format("A1", "x", &BTreeMap::new()).unwrap_err(),
                "needs a value for {a}",
                "{a} の値が必要です",
            ),
        ] {
            assert!(e.render(Lang::En).contains(en), "{}", e.render(Lang::En));
            assert!(e.render(Lang::Ja).contains(ja), "{}", e.render(Lang::Ja));
        }
    }

    #[test]
    fn templates_fill_into_the_hosts_messages() {
        let c = Catalog::parse(
            "[A1]\ntitle = { en = \"t\", ja = \"タ\" }\nok = { en = \"{a} and {b}\", ja = \"{b}・{a}\" }\n",
        )
        .unwrap();
        let vars = BTreeMap::from([
            ("a".to_string(), Var::Same("1".into())),
            ("b".to_string(), Var::Each(Message::new("x, y", "x、y"))),
        ]);
        assert_eq!(
            c.format("A1", "ok", &vars).unwrap(),
            Message::new("1 and x, y", "x、y・1")
        );
        assert_eq!(c.titles()["A1"], Message::new("t", "タ"));
    }
}
