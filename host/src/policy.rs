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
            },
        }
    }

    /// Reads a policy file: `trust = "untrusted"` picks the preset, other keys change it.
    pub fn load(path: &Path) -> Result<Policy, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            LoadError::Policy(format!("cannot read policy {}: {e}", path.display()))
        })?;
        Policy::parse(&text)
            .map_err(|e| LoadError::Policy(format!("policy {}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| e.to_string().replace('\n', " "))?;
        let mut policy = Policy::preset(file.trust);
        if let Some(grants) = file.grants {
            let mut map = BTreeMap::new();
            for (cap, ops) in grants {
                let known = registry::get(&cap)
                    .ok_or_else(|| {
                        format!(
                            "unknown capability `{cap}` in [grants]; known: {}",
                            registry::names().join(", ")
                        )
                    })?
                    .operation_names();
                for op in &ops {
                    if op != "*" && !known.contains(&op.as_str()) {
                        return Err(format!(
                            "unknown operation `{op}` for `{cap}` in [grants]; known: {}",
                            known.join(", ")
                        ));
                    }
                }
                map.insert(cap, ops);
            }
            policy.grants = map;
        }
        if let Some(scoped) = file.scoped {
            policy.scoped = scoped;
        }
        if let Some(l) = file.limits {
            let lim = &mut policy.limits;
            if let Some(v) = l.wall_clock_secs {
                lim.wall_clock = Duration::from_secs(v);
            }
            macro_rules! set {
                ($($field:ident),*) => { $( if let Some(v) = l.$field { lim.$field = v; } )* };
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
                        return Err(format!("unknown capability `{cap}` in [limits.max_calls]"));
                    }
                    policy.max_calls.insert(cap, n);
                }
            }
            if let Some(v) = l.max_answer_bytes {
                policy.max_answer_bytes = v;
            }
        }
        Ok(policy)
    }

    /// None when granted, else why not (naming the setting to change).
    pub fn refusal(&self, capability: &str, operation: &str) -> Option<String> {
        match self.grants.get(capability) {
            None => Some(format!(
                "the policy does not grant the `{capability}` capability (add it under [grants])"
            )),
            Some(ops) if ops.iter().any(|o| o == "*" || o == operation) => None,
            Some(_) => Some(format!(
                "the policy does not grant {capability}.{operation} (add it to grants.{capability})"
            )),
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    wall_clock_secs: Option<u64>,
    max_operations: Option<u64>,
    max_call_levels: Option<usize>,
    max_expr_depth: Option<usize>,
    max_string_size: Option<usize>,
    max_array_size: Option<usize>,
    max_map_size: Option<usize>,
    max_outcomes: Option<usize>,
    max_message_bytes: Option<usize>,
    max_log_lines: Option<usize>,
    max_fuel: Option<u64>,
    max_memory_bytes: Option<usize>,
    max_calls: Option<BTreeMap<String, u64>>,
    max_answer_bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .contains("grants.aws"));
        assert!(p.refusal("mysql", "query").unwrap().contains("`mysql`"));
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(
            Policy::parse("trust = \"untrusted\"\n[grants]\nssh = [\"*\"]\n")
                .unwrap_err()
                .contains("unknown capability `ssh`")
        );
        assert!(Policy::parse("trust = \"root\"\n").is_err());
        assert!(Policy::parse("trust = \"untrusted\"\nfoo = 1\n").is_err());
    }
}
