//! A step's params: what one is ([`Param`]: what it means, its default or that it is
//! required), the rules a step's declarations follow ([`check_param_decls`]), and the
//! given values checked and completed from the defaults ([`check_params`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::template::{self, Piece};
use crate::error::LoadError;
use crate::text::inert::describe_char;
use crate::text::{self, list, step as t, Arg, Text};

/// One param a step declares: given with `--param NAME=VALUE` (the trainee id fills
/// `user`), else its default; a required param has no default and must be given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    /// What the param means, for `labrun describe` and the errors that name it.
    pub about: String,
    /// A template: `{name}` is replaced by param `name`'s final value (given or
    /// defaulted), `{{` and `}}` are literal braces. `None` for a required param.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub required: bool,
}

impl Param {
    /// A param that must be given: today's `user: "description"` form.
    pub fn required(about: impl Into<String>) -> Param {
        Param {
            about: about.into(),
            default: None,
            required: true,
        }
    }

    /// A param with a default (a template, see [`Param::default`]).
    pub fn with_default(about: impl Into<String>, default: impl Into<String>) -> Param {
        Param {
            about: about.into(),
            default: Some(default.into()),
            required: false,
        }
    }
}

/// The longest param name, in characters.
pub const MAX_PARAM_NAME_CHARS: usize = 64;

/// The param name rule: 1 to [`MAX_PARAM_NAME_CHARS`] ASCII letters, digits, `_`
/// or `-` (it is typed on the command line and in course files).
fn param_name(name: &str) -> Result<(), Text> {
    if name.is_empty() {
        return Err(t::ParamNameEmpty.into());
    }
    if name.chars().count() > MAX_PARAM_NAME_CHARS {
        return Err(t::ParamNameLong {
            max: MAX_PARAM_NAME_CHARS,
        }
        .into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(t::ParamNameChar {
            bad: describe_char(bad),
        }
        .into());
    }
    Ok(())
}

/// The params a step declares, as one list for an error: `user (trainee id),
/// reader (Aurora reader; default wp-{user}-slave)`.
fn declared(params: &BTreeMap<String, Param>) -> Arg {
    if params.is_empty() {
        return Text::from(t::NoParams).into();
    }
    list(params.iter().map(|(k, p)| -> Text {
        match &p.default {
            Some(d) => t::ParamWithDefault {
                name: k,
                about: &p.about,
                default: d,
            }
            .into(),
            None => t::ParamRequired {
                name: k,
                about: &p.about,
            }
            .into(),
        }
    }))
}

/// The declared params' rules: valid names, a required param has no default and
/// one that is not required has one, every `{name}` in a default names a declared
/// param and no defaults refer to each other in a cycle. One line saying what to
/// change in `describe()`.
pub fn check_param_decls(params: &BTreeMap<String, Param>) -> Result<(), Text> {
    let mut refs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, p) in params {
        param_name(name).map_err(|why| Text::from(t::BadParamName { name, why }))?;
        match (&p.default, p.required) {
            (Some(_), true) => return Err(t::RequiredWithDefault { name }.into()),
            (None, false) => return Err(t::NeitherRequiredNorDefault { name }.into()),
            _ => {}
        }
        let Some(default) = &p.default else { continue };
        let pieces = template::parse(default)
            .map_err(|why| Text::from(t::BadDefault { name, default, why }))?;
        let mut to = Vec::new();
        for piece in pieces {
            if let Piece::Ref(r) = piece {
                param_name(r).map_err(|e| {
                    Text::from(t::BadDefault {
                        name,
                        default,
                        why: Text::from(t::RefersTo { name: r, why: e }),
                    })
                })?;
                if !params.contains_key(r) {
                    return Err(t::DefaultUndeclared {
                        name,
                        default,
                        refers: r,
                        declared: list(params.keys()),
                    }
                    .into());
                }
                to.push(r);
            }
        }
        refs.insert(name.as_str(), to);
    }
    // A cycle: depth-first from each param, the path so far on a stack.
    fn visit<'a>(
        at: &'a str,
        refs: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::HashSet<&'a str>,
    ) -> Result<(), Text> {
        if let Some(start) = path.iter().position(|p| *p == at) {
            let mut cycle: Vec<String> = path[start..].iter().map(|p| format!("`{p}`")).collect();
            cycle.push(format!("`{at}`"));
            return Err(t::DefaultsCycle {
                cycle: cycle.join(" → "),
            }
            .into());
        }
        if !done.insert(at) {
            return Ok(());
        }
        path.push(at);
        for next in refs.get(at).into_iter().flatten() {
            visit(next, refs, path, done)?;
        }
        path.pop();
        Ok(())
    }
    let mut done = std::collections::HashSet::new();
    for name in refs.keys() {
        visit(name, &refs, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

/// Param values by name: what `--param` gives, and what a step runs with.
pub type ParamValues = BTreeMap<String, String>;

/// Checks the given params against what the step declares and fills the rest from
/// their defaults: every declared param comes back with its final value. Refused
/// (one line naming the step's params): a param the step does not declare, a
/// required one not given, and declarations [`check_param_decls`] refuses (a default
/// naming an undeclared param, defaults in a cycle).
pub fn check_params(
    step_path: &str,
    params: &BTreeMap<String, Param>,
    given: &ParamValues,
) -> Result<ParamValues, LoadError> {
    check_param_decls(params).map_err(|why| {
        LoadError::Params(
            text::load::Describe {
                path: step_path,
                why,
            }
            .into(),
        )
    })?;
    for name in given.keys() {
        if !params.contains_key(name) {
            return Err(LoadError::Params(
                text::load::UnknownParam {
                    param: name,
                    path: step_path,
                    takes: declared(params),
                }
                .into(),
            ));
        }
    }
    for (name, p) in params {
        if p.required && !given.contains_key(name) {
            return Err(LoadError::Params(
                text::load::MissingParam {
                    param: name,
                    path: step_path,
                    takes: declared(params),
                }
                .into(),
            ));
        }
    }
    let mut filled = given.clone();
    // Declarations are acyclic (checked above), so this ends: each pass fills every
    // default whose references are all filled, and at least one per pass.
    while filled.len() < params.len() {
        let before = filled.len();
        for (name, p) in params {
            if filled.contains_key(name) {
                continue;
            }
            let Some(default) = &p.default else { continue };
            let pieces = template::parse(default).expect("checked by check_param_decls");
            let mut value = String::new();
            let mut ready = true;
            for piece in &pieces {
                match piece {
                    Piece::Text(t) => value.push_str(t),
                    Piece::Ref(r) => match filled.get(*r) {
                        Some(v) => value.push_str(v),
                        None => {
                            ready = false;
                            break;
                        }
                    },
                }
            }
            if ready {
                filled.insert(name.clone(), value);
            }
        }
        if filled.len() == before {
            // Unreachable after check_param_decls; refuse rather than loop.
            return Err(LoadError::Params(
                text::load::DefaultsUnfilled { path: step_path }.into(),
            ));
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_errors_show_what_the_step_declared_inert() {
        let step = step_with(&[("user", Param::required("trainee\r\n  PASS  A1"))]);
        let err = check_params("s.rhai", &step, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing param `user`: give it with --param user=VALUE \
             (s.rhai takes user (trainee\\r\\n  PASS  A1))"
        );
        let given = BTreeMap::from([("usr\x1b[2J".to_string(), "x".to_string())]);
        let err = check_params("s.rhai", &step, &given).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown param `usr\\u{1b}[2J`: s.rhai takes user"),
            "{}",
            err.to_string()
        );
    }

    fn step_with(params: &[(&str, Param)]) -> BTreeMap<String, Param> {
        params
            .iter()
            .map(|(k, p)| (k.to_string(), p.clone()))
            .collect()
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_fill_every_param_and_refer_to_final_values() {
        let step = step_with(&[
            ("user", Param::required("trainee id")),
            (
                "cluster",
                Param::with_default("cluster", "wp-{user}-cluster"),
            ),
            ("reader", Param::with_default("reader", "wp-{user}-slave")),
            // A default may refer to a defaulted param, and to a given one.
            (
                "endpoint",
                Param::with_default("endpoint", "{cluster}.{{x}}"),
            ),
        ]);
        let filled = check_params("s.rhai", &step, &given(&[("user", "user05")])).unwrap();
        assert_eq!(
            filled,
            given(&[
                ("user", "user05"),
                ("cluster", "wp-user05-cluster"),
                ("reader", "wp-user05-slave"),
                ("endpoint", "wp-user05-cluster.{x}"),
            ])
        );
        let filled = check_params(
            "s.rhai",
            &step,
            &given(&[
                ("user", "user05"),
                ("reader", "wp-{user}-standby"),
                ("cluster", "c"),
            ]),
        )
        .unwrap();
        // A given value is taken as it is, never as a template.
        assert_eq!(filled["reader"], "wp-{user}-standby");
        assert_eq!(filled["endpoint"], "c.{x}");
    }

    #[test]
    fn an_unknown_param_is_refused_naming_the_steps_params_and_defaults() {
        let step = step_with(&[
            ("user", Param::required("trainee id")),
            (
                "reader",
                Param::with_default("Aurora reader", "wp-{user}-slave"),
            ),
        ]);
        let err =
            check_params("s.rhai", &step, &given(&[("user", "u"), ("raeder", "x")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown param `raeder`: s.rhai takes reader (Aurora reader; default wp-{user}-slave), user (trainee id)"
        );
        assert!(matches!(err, LoadError::Params(_)));
        let err = check_params("s.rhai", &step, &given(&[("reader", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err
            .to_string()
            .starts_with("missing param `user`: give it with --param user=VALUE"));
    }

    #[test]
    fn a_default_naming_an_undeclared_param_is_refused() {
        let step = step_with(&[
            ("user", Param::required("trainee id")),
            ("reader", Param::with_default("reader", "wp-{usr}-slave")),
        ]);
        let expected = "`params`: the default of `reader` (`wp-{usr}-slave`) refers to `{usr}`, which the step does not declare; it declares reader, user";
        assert_eq!(check_param_decls(&step).unwrap_err().to_string(), expected);
        let err = check_params("s.rhai", &step, &given(&[("user", "u")])).unwrap_err();
        assert_eq!(err.to_string(), format!("s.rhai: describe(): {expected}"));
        for (bad, says) in [
            ("wp-{user", "has a `{` without its `}`"),
            ("wp-}", "has a `}` without its `{`"),
            ("wp-{}", "a param name is not empty"),
            ("wp-{a b}", "not a space"),
        ] {
            let step = step_with(&[
                ("user", Param::required("trainee id")),
                ("reader", Param::with_default("reader", bad)),
            ]);
            let err = check_param_decls(&step).unwrap_err().to_string();
            assert!(err.contains(says) && !err.contains('\n'), "{bad}: {err}");
        }
    }

    #[test]
    fn defaults_in_a_cycle_are_refused_naming_the_cycle() {
        let step = step_with(&[
            ("user", Param::required("trainee id")),
            ("a", Param::with_default("a", "{b}-x")),
            ("b", Param::with_default("b", "{c}")),
            ("c", Param::with_default("c", "{user}{a}")),
        ]);
        let err = check_param_decls(&step).unwrap_err().to_string();
        assert_eq!(
            err,
            "`params`: the defaults of `a` → `b` → `c` → `a` refer to each other in a cycle; give one of them a default that does not refer back"
        );
        // Even when the cycle's params are all given: the declaration is wrong.
        let all = given(&[("user", "u"), ("a", "1"), ("b", "2"), ("c", "3")]);
        assert!(check_params("s.rhai", &step, &all)
            .unwrap_err()
            .to_string()
            .contains("cycle"));
        let selfish = step_with(&[("a", Param::with_default("a", "{a}"))]);
        assert!(check_param_decls(&selfish)
            .unwrap_err()
            .to_string()
            .contains("`a` → `a`"));
    }

    #[test]
    fn a_param_is_required_or_has_a_default_and_has_a_plain_name() {
        let both = Param {
            about: "x".into(),
            default: Some("d".into()),
            required: true,
        };
        assert!(check_param_decls(&step_with(&[("a", both)]))
            .unwrap_err()
            .to_string()
            .to_string()
            .contains("is required and has a default"));
        let neither = Param {
            about: "x".into(),
            default: None,
            required: false,
        };
        assert!(check_param_decls(&step_with(&[("a", neither)]))
            .unwrap_err()
            .to_string()
            .contains("neither required nor has a default"));
        let err = check_param_decls(&step_with(&[("us\x1ber", Param::required("x"))]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("us\\u{1b}er") && err.contains("U+001B"),
            "{err}"
        );
    }
}
