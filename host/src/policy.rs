//! Policy: which capabilities and operations a step may use, to what scope, within
//! which limits. Two presets (`instructor`, `untrusted`) and TOML files that start
//! from a preset and change what they name. Rhai and WASM steps obey the same policy.
//! The policy owns the [`Limits`] of a run as well.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::caps::registry;
use crate::error::LoadError;
use crate::text::{self, inert, list, quoted, Text, ToText};

/// How far a step is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// The instructor's own steps: every capability, the whole account, generous limits.
    Instructor,
    /// Trainee-submitted steps: the trainee's own resources only, hosts derived from
    /// them only, tight limits.
    Untrusted,
}

/// Bounds on one trainee's run of a step.
#[derive(Debug, Clone)]
pub struct Limits {
    pub wall_clock: Duration,
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub max_outcomes: usize,
    pub max_message_bytes: usize,
    pub max_log_lines: usize,
    /// WebAssembly steps: fuel (≈ instructions) one run may burn.
    pub max_fuel: u64,
    /// WebAssembly steps: linear memory one instance may grow to.
    pub max_memory_bytes: usize,
}

impl Default for Limits {
    /// Generous limits for an instructor's own steps.
    fn default() -> Self {
        Limits {
            wall_clock: Duration::from_secs(300),
            max_operations: 50_000_000,
            max_call_levels: 64,
            max_expr_depth: 64,
            max_string_size: 8 << 20,
            max_array_size: 100_000,
            max_map_size: 100_000,
            max_outcomes: 1_000,
            max_message_bytes: 4_096,
            max_log_lines: 1_000,
            max_fuel: 20_000_000_000,
            max_memory_bytes: 256 << 20,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub trust: Trust,
    /// Capability → granted operations (`*` = all of them).
    pub grants: BTreeMap<String, Vec<String>>,
    /// Limit AWS answers to the trainee's resources and probes to hosts derived from them.
    pub scoped: bool,
    pub limits: Limits,
    /// Capability calls one run may make, per capability.
    pub max_calls: BTreeMap<String, u64>,
    /// Bytes of capability answers one run may receive, in all.
    pub max_answer_bytes: u64,
    /// Files `server.read_file` may read besides its default list (`[server]
    /// readable`); wp-config.php secrets are redacted wherever the file is.
    pub server_readable: Vec<String>,
}

impl Policy {
    pub fn preset(trust: Trust) -> Policy {
        let all = registry::names()
            .into_iter()
            .map(|c| (c.to_string(), vec!["*".to_string()]))
            .collect();
        match trust {
            Trust::Instructor => Policy {
                trust,
                grants: all,
                scoped: false,
                limits: Limits::default(),
                max_calls: BTreeMap::new(),
                max_answer_bytes: u64::MAX,
                server_readable: Vec::new(),
            },
            Trust::Untrusted => Policy {
                trust,
                grants: all,
                scoped: true,
                limits: Limits {
                    wall_clock: Duration::from_secs(60),
                    max_operations: 5_000_000,
                    max_call_levels: 32,
                    max_expr_depth: 32,
                    max_string_size: 1 << 20,
                    max_array_size: 10_000,
                    max_map_size: 10_000,
                    max_outcomes: 100,
                    max_message_bytes: 1_024,
                    max_log_lines: 100,
                    max_fuel: 2_000_000_000,
                    max_memory_bytes: 64 << 20,
                },
                max_calls: registry::names()
                    .into_iter()
                    .map(|c| (c.to_string(), if c == "aws" { 200 } else { 50 }))
                    .collect(),
                max_answer_bytes: 16 << 20,
                server_readable: Vec::new(),
            },
        }
    }

    /// Reads a policy file: `trust = "untrusted"` picks the preset, other keys change it.
    pub fn load(path: &Path) -> Result<Policy, LoadError> {
        let text = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
            LoadError::Policy(
                text::policy::CannotRead {
                    path,
                    why: quoted(e),
                }
                .into(),
            )
        })?;
        Policy::parse(&text)
            .map_err(|e| LoadError::Policy(text::policy::InFile { path, what: e }.into()))
    }

    /// A policy file's text; the error says what is wrong, for [`Policy::load`] to
    /// name the file.
    pub fn parse(text: &str) -> Result<Policy, Text> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            Text::from(text::policy::NotToml {
                why: quoted(e.to_string().replace('\n', " ")),
            })
        })?;
        let mut policy = Policy::preset(file.trust);
        if let Some(grants) = file.grants {
            let mut map = BTreeMap::new();
            for (cap, ops) in grants {
                let known = registry::get(&cap)
                    .ok_or_else(|| {
                        Text::from(text::policy::UnknownCapability {
                            capability: inert(&cap),
                            known: list(registry::names()),
                        })
                    })?
                    .operation_names();
                for op in &ops {
                    if op != "*" && !known.contains(&op.as_str()) {
                        return Err(text::policy::UnknownOperation {
                            operation: inert(op),
                            capability: &cap,
                            known: list(known),
                        }
                        .into());
                    }
                }
                map.insert(cap, ops);
            }
            policy.grants = map;
        }
        if let Some(server) = file.server {
            for path in server.readable {
                if let Err(why) = readable_path(&path) {
                    return Err(text::policy::Readable {
                        path: inert(&path),
                        why: why.text(),
                    }
                    .into());
                }
                if !policy.server_readable.contains(&path) {
                    policy.server_readable.push(path);
                }
            }
        }
        if let Some(scoped) = file.scoped {
            policy.scoped = scoped;
        }
        if let Some(l) = file.limits {
            let lim = &mut policy.limits;
            if let Some(v) = l.wall_clock_secs {
                lim.wall_clock = Duration::from_secs(in_range("wall_clock_secs", v)?);
            }
            macro_rules! set {
                ($($field:ident),*) => { $( if let Some(v) = l.$field {
                    lim.$field = in_range(stringify!($field), v)?.try_into().map_err(|_| {
                        Text::from(text::policy::TooBigHere { key: stringify!($field), value: v })
                    })?;
                } )* };
            }
            set!(
                max_operations,
                max_call_levels,
                max_expr_depth,
                max_string_size,
                max_array_size,
                max_map_size,
                max_outcomes,
                max_message_bytes,
                max_log_lines,
                max_fuel,
                max_memory_bytes
            );
            if let Some(calls) = l.max_calls {
                for (cap, n) in calls {
                    if registry::get(&cap).is_none() {
                        return Err(text::policy::UnknownCallsCapability {
                            capability: inert(&cap),
                        }
                        .into());
                    }
                    let n = in_range_named(&format!("max_calls.{cap}"), "max_calls", n)?;
                    policy.max_calls.insert(cap, n);
                }
            }
            if let Some(v) = l.max_answer_bytes {
                policy.max_answer_bytes = in_range("max_answer_bytes", v)?;
            }
        }
        Ok(policy)
    }

    /// None when granted, else why not (naming the setting to change).
    pub fn refusal(&self, capability: &str, operation: &str) -> Option<Text> {
        match self.grants.get(capability) {
            None => Some(text::policy::NotGrantedCapability { capability }.into()),
            Some(ops) if ops.iter().any(|o| o == "*" || o == operation) => None,
            Some(_) => Some(
                text::policy::NotGrantedOperation {
                    capability,
                    operation,
                }
                .into(),
            ),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    trust: Trust,
    scoped: Option<bool>,
    grants: Option<BTreeMap<String, Vec<String>>>,
    limits: Option<LimitsFile>,
    server: Option<ServerFile>,
}

/// `[server]`: what the `server` capability may read besides its defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    readable: Vec<String>,
}

/// Why a path cannot be one `server.read_file` may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadReadable {
    NotAbsolute,
    TooLong,
    Character,
    NotPlain,
}

impl ToText for BadReadable {
    fn text(&self) -> Text {
        match self {
            BadReadable::NotAbsolute => text::policy::ReadableNotAbsolute.into(),
            BadReadable::TooLong => text::policy::ReadableTooLong.into(),
            BadReadable::Character => text::policy::ReadableCharacter.into(),
            BadReadable::NotPlain => text::policy::ReadableNotPlain.into(),
        }
    }
}

/// A file `server.read_file` may be allowed to read: an absolute, plain path. It goes
/// into a fixed command run on the server, so it holds no shell syntax at all (letters,
/// digits and `/._-+@` only), and no `.` or `..` step, so the list says what it means.
pub fn readable_path(path: &str) -> Result<(), BadReadable> {
    if !path.starts_with('/') || path.len() < 2 {
        return Err(BadReadable::NotAbsolute);
    }
    if path.len() > 512 {
        return Err(BadReadable::TooLong);
    }
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+@".contains(c))
    {
        return Err(BadReadable::Character);
    }
    if path.ends_with('/')
        || path[1..]
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == ".." || part.starts_with('-'))
    {
        return Err(BadReadable::NotPlain);
    }
    Ok(())
}

/// What a policy file may set each limit to, inclusive: key, minimum, maximum, unit.
/// The same ranges as the flags (`--timeout` 1..=86400). Zero is never "no limit":
/// every limit is at least 1, and each maximum keeps deadlines and sizes far from
/// overflowing (`Instant + Duration`, fuel, allocations).
pub const LIMIT_RANGES: &[(&str, u64, u64, Unit)] = &[
    ("wall_clock_secs", 1, 86_400, Unit::Seconds),
    ("max_operations", 1, 1_000_000_000_000, Unit::Operations),
    // Rhai nests native stack frames for both; a step runs on a stack sized for
    // their product (step::rhai), at most 128 × 128.
    ("max_call_levels", 1, 128, Unit::NestedCalls),
    ("max_expr_depth", 1, 128, Unit::NestedExpressions),
    ("max_string_size", 1, 1 << 30, Unit::Bytes),
    ("max_array_size", 1, 100_000_000, Unit::Items),
    ("max_map_size", 1, 100_000_000, Unit::Entries),
    ("max_outcomes", 1, 100_000, Unit::Outcomes),
    ("max_message_bytes", 1, 1 << 20, Unit::Bytes),
    ("max_log_lines", 1, 1_000_000, Unit::Lines),
    ("max_fuel", 1, 100_000_000_000_000, Unit::Fuel),
    // From one wasm page to what the engine's instance pool holds per memory (the
    // instructor default): more could not be granted anyway.
    ("max_memory_bytes", 1 << 16, 256 << 20, Unit::Bytes),
    ("max_calls", 1, 10_000_000, Unit::Calls),
    ("max_answer_bytes", 1, 1 << 40, Unit::Bytes),
];

/// What a limit counts, as its range is explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Operations,
    NestedCalls,
    NestedExpressions,
    Bytes,
    Items,
    Entries,
    Outcomes,
    Lines,
    Fuel,
    Calls,
}

impl ToText for Unit {
    fn text(&self) -> Text {
        use text::policy as t;
        match self {
            Unit::Seconds => t::UnitSeconds.into(),
            Unit::Operations => t::UnitOperations.into(),
            Unit::NestedCalls => t::UnitNestedCalls.into(),
            Unit::NestedExpressions => t::UnitNestedExpressions.into(),
            Unit::Bytes => t::UnitBytes.into(),
            Unit::Items => t::UnitItems.into(),
            Unit::Entries => t::UnitEntries.into(),
            Unit::Outcomes => t::UnitOutcomes.into(),
            Unit::Lines => t::UnitLines.into(),
            Unit::Fuel => t::UnitFuel.into(),
            Unit::Calls => t::UnitCalls.into(),
        }
    }
}

/// `value` if it is within `key`'s range in [`LIMIT_RANGES`], else one line naming the
/// key, the value and the range.
fn in_range(key: &str, value: i64) -> Result<u64, Text> {
    in_range_named(key, key, value)
}

/// [`in_range`] for a key shown as `shown` (e.g. `max_calls.aws`) whose range is
/// `key`'s.
fn in_range_named(shown: &str, key: &str, value: i64) -> Result<u64, Text> {
    let &(_, min, max, unit) = LIMIT_RANGES
        .iter()
        .find(|(name, ..)| *name == key)
        .expect("every limit has a range");
    match u64::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(text::policy::OutOfRange {
            key: shown,
            value,
            min,
            max,
            unit: unit.text(),
        }
        .into()),
    }
}

/// Limits as a policy file writes them: TOML integers (i64), checked against
/// [`LIMIT_RANGES`] before they become [`Limits`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    wall_clock_secs: Option<i64>,
    max_operations: Option<i64>,
    max_call_levels: Option<i64>,
    max_expr_depth: Option<i64>,
    max_string_size: Option<i64>,
    max_array_size: Option<i64>,
    max_map_size: Option<i64>,
    max_outcomes: Option<i64>,
    max_message_bytes: Option<i64>,
    max_log_lines: Option<i64>,
    max_fuel: Option<i64>,
    max_memory_bytes: Option<i64>,
    max_calls: Option<BTreeMap<String, i64>>,
    max_answer_bytes: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    #[test]
    fn file_starts_from_its_preset() {
        let p = Policy::parse(
            "trust = \"untrusted\"\n[grants]\naws = [\"ec2_describe_vpcs\"]\n[limits]\nwall_clock_secs = 5\n",
        )
        .unwrap();
        assert!(p.scoped);
        assert_eq!(p.limits.wall_clock, Duration::from_secs(5));
        assert_eq!(p.limits.max_outcomes, 100);
        assert!(p.refusal("aws", "ec2_describe_vpcs").is_none());
        assert!(p
            .refusal("aws", "ec2_describe_instances")
            .unwrap()
            .render(Lang::En)
            .contains("grants.aws"));
        assert!(p
            .refusal("mysql", "query")
            .unwrap()
            .render(Lang::En)
            .contains("`mysql`"));
    }

    #[test]
    fn server_paths_widen_the_list_and_must_be_plain() {
        let p = Policy::parse(
            "trust = \"instructor\"\n[server]\nreadable = [\"/var/log/httpd/access_log\", \"/var/log/httpd/access_log\"]\n",
        )
        .unwrap();
        assert_eq!(p.server_readable, ["/var/log/httpd/access_log"]);
        assert!(Policy::preset(Trust::Untrusted).server_readable.is_empty());
        for bad in [
            "var/log/x",
            "/var/log/$(id)",
            "/var/log/a b",
            "/var/log/../../etc/shadow",
            "/var//log",
            "/var/log/",
            "/var/log/-n",
            "/var/log/x;id",
            "/var/log/\u{1b}[31m",
        ] {
            // A TOML basic string; the escape character as TOML's own escape.
            let quoted = bad.replace('\u{1b}', "\\u001B");
            let text = format!("trust = \"untrusted\"\n[server]\nreadable = [\"{quoted}\"]\n");
            let err = Policy::parse(&text).unwrap_err().render(Lang::En);
            assert!(err.starts_with("[server] readable: `"), "{bad}: {err}");
            assert!(!err.contains('\u{1b}'), "{err}");
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(
            Policy::parse("trust = \"untrusted\"\n[grants]\nssh = [\"*\"]\n")
                .unwrap_err()
                .render(Lang::En)
                .contains("unknown capability `ssh`")
        );
        assert!(Policy::parse("trust = \"root\"\n").is_err());
        assert!(Policy::parse("trust = \"untrusted\"\nfoo = 1\n").is_err());
    }

    fn with_limit(key: &str, value: &str) -> Result<Policy, String> {
        let (table, key) = match key.split_once('.') {
            Some((t, k)) => (format!("[limits.{t}]"), k),
            None => ("[limits]".to_string(), key),
        };
        Policy::parse(&format!(
            "trust = \"untrusted\"\n{table}\n{key} = {value}\n"
        ))
        .map_err(|e| e.render(Lang::En))
    }

    #[test]
    fn every_limit_is_checked_against_its_range() {
        for &(key, min, max, _) in LIMIT_RANGES {
            let key = if key == "max_calls" {
                "max_calls.aws"
            } else {
                key
            };
            for ok in [min, max] {
                assert!(with_limit(key, &ok.to_string()).is_ok(), "{key} = {ok}");
            }
            for bad in [min as i64 - 1, max as i64 + 1, -1, i64::MAX] {
                let err = with_limit(key, &bad.to_string()).unwrap_err();
                assert_eq!(
                    err,
                    format!(
                        "limits.{key} = {bad} is out of range: give {min}..={max} ({}; there is no \"no limit\")",
                        LIMIT_RANGES
                            .iter()
                            .find(|r| key.starts_with(r.0))
                            .unwrap()
                            .3
                            .text()
                            .render(Lang::En)
                    )
                );
            }
        }
    }

    #[test]
    fn huge_and_zero_limits_are_refused_naming_the_key() {
        let err = with_limit("wall_clock_secs", "9223372036854775807").unwrap_err();
        assert!(
            err.starts_with(
                "limits.wall_clock_secs = 9223372036854775807 is out of range: give 1..=86400"
            ),
            "{err}"
        );
        let err = with_limit("max_operations", "0").unwrap_err();
        assert!(
            err.starts_with("limits.max_operations = 0 is out of range"),
            "{err}"
        );
        let p = with_limit("wall_clock_secs", "86400").unwrap();
        assert_eq!(p.limits.wall_clock, Duration::from_secs(86_400));
        let p = with_limit("max_calls.dns", "7").unwrap();
        assert_eq!(p.max_calls["dns"], 7);
        let p = with_limit("max_message_bytes", "100").unwrap();
        assert_eq!(p.limits.max_message_bytes, 100);
        // Not an integer at all: TOML's own error, on one line.
        let err = with_limit("max_outcomes", "1.5").unwrap_err();
        assert!(!err.contains('\n'), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn parsing_any_text_never_panics(text in "(?s).{0,200}") {
            let _ = Policy::parse(&text);
        }

        #[test]
        fn any_limit_value_is_taken_or_refused_in_one_line(
            index in 0..LIMIT_RANGES.len(), value in proptest::prelude::any::<i64>()
        ) {
            let key = LIMIT_RANGES[index].0;
            let key = if key == "max_calls" { "max_calls.http" } else { key };
            if let Err(e) = with_limit(key, &value.to_string()) {
                proptest::prop_assert!(!e.contains('\n') && e.contains(key), "{}", e);
            }
        }

        #[test]
        fn policy_shaped_text_never_panics(
            trust in proptest::sample::select(vec!["instructor", "untrusted", "root", ""]),
            lines in proptest::collection::vec(
                (proptest::sample::select(vec![
                    "[limits]", "[grants]", "[limits.max_calls]", "scoped", "aws",
                    "wall_clock_secs", "max_memory_bytes", "max_fuel", "dns", "x",
                ]), proptest::sample::select(vec![
                    "0", "-1", "1", "9223372036854775807", "18446744073709551615", "\"*\"",
                    "[\"*\"]", "true", "1e9", "{}", "",
                ])),
                0..8,
            )
        ) {
            let mut text = format!("trust = \"{trust}\"\n");
            for (key, value) in lines {
                if key.starts_with('[') {
                    text += &format!("{key}\n");
                } else {
                    text += &format!("{key} = {value}\n");
                }
            }
            let _ = Policy::parse(&text);
        }
    }
}
