//! `labrun describe STEP` (also spelled `labrun inspect`): what a step is, declares and
//! may call, without running it, as one [`Description`] printed for people
//! ([`Description::human`]) or as JSON.

use std::path::Path;

use serde::Serialize;

use super::{wasm, Limits, Param, Step};
use crate::error::LoadError;
use crate::outcome::{inert, Message};
use crate::text::{describe as t, Arg, Lang, Text};

/// What a step is, declares and may call.
#[derive(Debug, Clone, Serialize)]
pub struct Description {
    pub step: String,
    /// `rhai` or `wasm`.
    pub kind: &'static str,
    pub name: String,
    pub title: Message,
    pub params: Vec<DescribedParam>,
    pub checks: Vec<DescribedCheck>,
    /// For a component, the labrun:host version it was built for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_version: Option<String>,
    /// For a component, its size in bytes and its sha256 (what a lockfile pins is the
    /// manifest's digest, not this).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The capabilities of `operations`, in the registry's order.
    pub capabilities: Vec<String>,
    /// `capability.operation` for each operation the step may call.
    pub operations: Vec<String>,
    /// Where `capabilities` and `operations` come from, and how far they can be known.
    pub source_of_operations: &'static str,
}

/// A param as `describe` lists it: `{name, about, default?, required}`.
#[derive(Debug, Clone, Serialize)]
pub struct DescribedParam {
    pub name: String,
    #[serde(flatten)]
    pub param: Param,
}

#[derive(Debug, Clone, Serialize)]
pub struct DescribedCheck {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Message>,
}

/// Loads a step (describe() runs; nothing else) and says what it declares and may
/// call: for a component, the operations its WIT imports name (exactly what it can
/// call); for a script, the `capability::operation` calls its text names.
pub async fn describe(path: &Path) -> Result<Description, LoadError> {
    let limits = Limits::default();
    let step = Step::load(path, &limits, &wasm::Grants::all()).await?;
    let info = step.info().clone();
    let mut described = Description {
        step: path.display().to_string(),
        kind: "rhai",
        name: info.name,
        title: info.title,
        params: info
            .params
            .into_iter()
            .map(|(name, param)| DescribedParam { name, param })
            .collect(),
        checks: info
            .checks
            .iter()
            .map(|id| DescribedCheck {
                id: id.clone(),
                title: info.titles.get(id).cloned(),
            })
            .collect(),
        host_version: None,
        size: None,
        sha256: None,
        capabilities: Vec::new(),
        operations: Vec::new(),
        source_of_operations: "",
    };
    described.operations = step.operations()?;
    match &step {
        Step::Wasm(s) => {
            let manifest = s.manifest();
            described.kind = "wasm";
            described.host_version = manifest.host_versions().first().cloned();
            described.size = Some(manifest.size);
            described.sha256 = Some(manifest.sha256.clone());
            described.source_of_operations =
                "the component's WIT imports: exactly the operations it can call";
        }
        Step::Rhai(_) => {
            described.source_of_operations = "the capability::operation calls `run` can reach, in the script and the lab library's functions it calls (a script is granted every capability its policy allows)";
        }
    }
    described.capabilities = crate::caps::registry::ALL
        .iter()
        .filter(|cap| {
            described
                .operations
                .iter()
                .any(|o| o.split_once('.').is_some_and(|(c, _)| c == cap.name))
        })
        .map(|cap| cap.name.to_string())
        .collect();
    Ok(described)
}

impl Description {
    /// The human form in `lang`: one fact a line, step text shown inert (a param's
    /// `about`, the step's own words in one language, is quoted in Japanese).
    pub fn human(&self, lang: Lang) -> String {
        let mut out = String::new();
        let kind: Text = if self.kind == "wasm" {
            t::KindWasm.into()
        } else {
            t::KindRhai.into()
        };
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        let say = |text: Text| text.render(lang);
        line(format!("{} ({})", inert(&self.step), say(kind)));
        line(say(t::Name { name: &self.name }.into()));
        line(say(t::Title {
            title: self.title.get(lang),
        }
        .into()));
        if let Some(v) = &self.host_version {
            line(say(t::BuiltFor {
                host: format!("{}@{v}", wasm::policy::HOST_PACKAGE),
            }
            .into()));
        }
        if let (Some(size), Some(sha256)) = (self.size, &self.sha256) {
            line(say(t::Size { size }.into()));
            line(format!("  sha256: {sha256}"));
        }
        line(say(t::Params.into()));
        if self.params.is_empty() {
            line(say(t::NoParams.into()));
        }
        for p in &self.params {
            let name = format!("{:<14}", inert(&p.name));
            line(say(match &p.param.default {
                Some(default) => t::ParamDefault {
                    name,
                    default,
                    about: &p.param.about,
                }
                .into(),
                None => t::ParamRequired {
                    name,
                    about: &p.param.about,
                }
                .into(),
            }));
        }
        line(say(t::Checks.into()));
        for c in &self.checks {
            line(match &c.title {
                Some(title) => format!("    {:<6} {}", c.id, inert(title.get(lang))),
                None => format!("    {}", c.id),
            });
        }
        let capabilities = if self.capabilities.is_empty() {
            Arg::Text(t::NoCapabilities.into())
        } else {
            Arg::Plain(self.capabilities.join(", "))
        };
        line(say(t::Capabilities { capabilities }.into()));
        let source: Text = if self.kind == "wasm" {
            t::SourceWasm.into()
        } else {
            t::SourceRhai.into()
        };
        line(say(t::Operations { source }.into()));
        for o in &self.operations {
            line(format!("    {o}"));
        }
        out
    }
}
