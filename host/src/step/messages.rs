//! A step's catalog beside it (`step3.rhai` → `step3.messages.toml`): what the step
//! declares about itself (`[step]`: name, params, checklist ids, prerequisites) and
//! every title and ja/en message it reports. The format and its one reader are the
//! `labrun-step-catalog` crate (`plugins/catalog`, its doc has the format), which the
//! step SDK reads a component's embedded copy with too, so a script and a component of
//! one step declare every fact once and say the same words. This module finds the file
//! beside a script, makes the reader's errors inert, and fills templates into the
//! host's [`Message`]s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use labrun_step_catalog as reader;
pub use labrun_step_catalog::{Manifest, STEP_SECTION};

use crate::outcome::{inert, Message};

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
pub fn load_beside(step: &Path) -> Result<Option<Catalog>, String> {
    let path = sibling_path(step);
    let text = match crate::files::read_to_string(&path, crate::files::cap::TEXT) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot read message catalog {}: {e}",
                path.display()
            ))
        }
    };
    Catalog::parse(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The reader's error, safe to show: it quotes names as the file wrote them.
fn shown(error: String) -> String {
    inert(&super::one_line_cause(&error)).into_owned()
}

fn message(m: reader::Message) -> Message {
    Message::new(m.en, m.ja)
}

impl Catalog {
    /// Parses and checks a catalog's text. The error is one line, without the path.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        reader::Catalog::parse(text).map(Catalog).map_err(shown)
    }

    /// What its `[step]` declares.
    pub fn manifest(&self) -> &Manifest {
        self.0.manifest()
    }

    /// Refuses a catalog that does not fit the step's declared checks: a title for an
    /// undeclared id (a typo), or declared checks some of which lack a title.
    pub fn check_ids(&self, checks: &[String]) -> Result<(), String> {
        self.0.check_ids(checks).map_err(shown)
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
    ) -> Result<Message, String> {
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
        self.0.msg(section, key, &vars).map(message).map_err(shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readers_errors_are_inert_and_one_line() {
        let e = Catalog::parse("[\"A1\\u001b[2J\"]\nx = \"text\"\n").unwrap_err();
        assert!(e.contains("A1\\u{1b}[2J") && !e.contains('\x1b'), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
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
