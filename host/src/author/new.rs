//! `labrun new step NAME`: a starter Rhai step, its catalog (`NAME.messages.toml`:
//! what the step declares in `[step]` and its words in ja and en) and two `labrun
//! test` cases beside it (a finished trainee, and one whose VPC is missing), so an
//! author starts from a step written the way the shipped ones are, that runs and has
//! regression cases that pass. Nothing is overwritten. `--component` writes a Rust
//! crate for the same step instead ([`super::component`]), embedding the same catalog.

use std::path::{Path, PathBuf};

use clap::Args;

use super::component;
pub use super::refusal::NewError;
use crate::outcome::exit;
use crate::text::{help, new_step as t, string, Text};

/// What `labrun new step` takes ([`crate::cli::new`] puts it in the command tree).
#[derive(Debug, Args)]
pub struct NewStep {
    #[arg(help = string(help::NewStepName))]
    pub name: String,

    #[arg(long, value_name = "DIR", default_value = ".", help = string(help::NewStepDir))]
    pub dir: PathBuf,

    #[arg(long, help = string(help::NewStepComponent))]
    pub component: bool,

    #[arg(long, value_name = "PATH", help = string(help::NewStepSdk))]
    pub sdk: Option<PathBuf>,
}

/// Writes the starter `flags` ask for; returns the exit code.
pub fn run(flags: &NewStep) -> u8 {
    let written = if flags.component {
        write_component(flags).map(|files| {
            let dir = flags.dir.join(&flags.name);
            let wasm = component::lib_name(&flags.name);
            let next = format!(
                "cd {} && cargo build --release && labrun test target/wasm32-wasip2/release/{wasm}.wasm cases/*.toml",
                dir.display()
            );
            (files, next)
        })
    } else {
        write_step(flags).map(|files| {
            let script = &files[0];
            let cases = files[2].parent().unwrap_or(Path::new("."));
            let next = format!(
                "labrun test {} {}/*.toml",
                script.display(),
                cases.display()
            );
            (files, next)
        })
    };
    match written {
        Ok((files, next)) => {
            for path in &files {
                println!("{}", Text::from(t::Wrote { path }));
            }
            println!("{}", Text::from(t::Next { command: next }));
            exit::PASS
        }
        Err(e) => {
            eprintln!("labrun: {e}");
            exit::BAD_INPUT
        }
    }
}

fn check_name(name: &str) -> Result<(), NewError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(NewError::NotAName {
            name: name.to_string(),
        })
    }
}

fn check_dir(dir: &Path) -> Result<(), NewError> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(NewError::NotADir {
            dir: dir.to_path_buf(),
        })
    }
}

/// Writes `files` (creating their directories), every one checked not to exist first.
fn write_all(files: &[(PathBuf, String)]) -> Result<(), NewError> {
    if let Some((path, _)) = files.iter().find(|(path, _)| path.exists()) {
        return Err(NewError::Exists { path: path.clone() });
    }
    for (path, text) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|why| NewError::CannotCreate {
                path: parent.to_path_buf(),
                why,
            })?;
        }
        std::fs::write(path, text).map_err(|why| NewError::CannotWrite {
            path: path.clone(),
            why,
        })?;
    }
    Ok(())
}

/// Writes DIR/NAME/, a crate for the component (see [`component`]); returns its files.
/// Every input is checked before anything is written.
fn write_component(flags: &NewStep) -> Result<Vec<PathBuf>, NewError> {
    check_name(&flags.name)?;
    component::check_crate_name(&flags.name)?;
    check_dir(&flags.dir)?;
    let sdk = flags.sdk.as_deref().map(component::check_sdk).transpose()?;
    let root = flags.dir.join(&flags.name);
    if root.exists() {
        return Err(NewError::Exists { path: root });
    }
    let files: Vec<(PathBuf, String)> = component::files(
        &flags.name,
        sdk.as_deref(),
        starter_catalog(&flags.name),
        starter_cases(&flags.name),
    )
    .into_iter()
    .map(|(path, text)| (root.join(path), text))
    .collect();
    write_all(&files)?;
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// Writes the files: the script, its catalog, then the cases.
fn write_step(flags: &NewStep) -> Result<Vec<PathBuf>, NewError> {
    check_name(&flags.name)?;
    if let Some(sdk) = &flags.sdk {
        return Err(NewError::SdkWithoutComponent { sdk: sdk.clone() });
    }
    check_dir(&flags.dir)?;
    let name = &flags.name;
    let script = flags.dir.join(format!("{name}.rhai"));
    let cases = flags.dir.join(format!("{name}.cases"));
    let mut files = vec![
        (script.clone(), starter_script(name)),
        (
            crate::step::messages::sibling_path(&script),
            starter_catalog(name),
        ),
    ];
    files.extend(
        starter_cases(name)
            .into_iter()
            .map(|(file, text)| (cases.join(file), text)),
    );
    write_all(&files)?;
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// The starter's cases, (file name, text): a finished trainee, and one whose VPC is
/// missing. The same for the script and the component.
fn starter_cases(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("finished.toml", FINISHED_CASE.to_string()),
        (
            "finished.cassette.json",
            cassette(name, "10.0.0.0/16", true),
        ),
        ("no-vpc.toml", NO_VPC_CASE.to_string()),
        ("no-vpc.cassette.json", cassette(name, "", false)),
    ]
}

fn starter_script(name: &str) -> String {
    STARTER.replace("{{name}}", name)
}

/// The starter's catalog, the same for the script and the component: `[step]`
/// declares it, `[A1]` and `[A2]` word it.
pub fn starter_catalog(name: &str) -> String {
    STARTER_CATALOG.replace("{{name}}", name)
}

/// A cassette with the one call the starter step makes: the account's VPCs, holding
/// `vpc-user05` when `present`.
fn cassette(name: &str, cidr: &str, present: bool) -> String {
    let vpcs = if present {
        serde_json::json!([{
            "VpcId": "vpc-0a1b2c3d4e5f60718",
            "CidrBlock": cidr,
            "State": "available",
            "Tags": [{ "Key": "Name", "Value": "vpc-user05" }],
        }])
    } else {
        serde_json::json!([{
            "VpcId": "vpc-0fedcba987654321f",
            "CidrBlock": "172.31.0.0/16",
            "State": "available",
            "IsDefault": true,
        }])
    };
    let cassette = serde_json::json!({
        "labrun_cassette": 1,
        "recorded": { "step": name, "trainees": ["user05"], "labrun": env!("CARGO_PKG_VERSION") },
        "calls": [{
            "capability": "aws",
            "operation": "ec2_describe_vpcs",
            "request": {},
            "response": { "Vpcs": vpcs },
        }],
    });
    let mut text = serde_json::to_string_pretty(&cassette).expect("a JSON value prints");
    text.push('\n');
    text
}

const FINISHED_CASE: &str = r#"# A trainee who did everything: every check passes.
about = "finished"
cassette = "finished.cassette.json"
trainee = "user05"

[expect]
A1 = "pass"
A2 = "pass"
"#;

const NO_VPC_CASE: &str = r#"# A trainee who has not created the VPC: A1 fails, A2 (which needs it) is skipped.
about = "no VPC yet"
cassette = "no-vpc.cassette.json"
trainee = "user05"

[expect]
A1 = "fail"
A2 = "skip"
"#;

const STARTER_CATALOG: &str = r#"# {{name}}: what the step declares in [step] (its name, params, checklist ids and
# prerequisites) and every word it reports, in English and Japanese. {{name}}.rhai
# reads it (msg(id, key, values)); a component of the same step embeds it. A new
# check id is its function, its entry here and a case (docs/writing-steps.md).

[step]
name = "{{name}}"
title = { en = "{{name}}: the trainee's VPC", ja = "{{name}}: 受講者の VPC" }
checks = ["A1", "A2"]                    # checklist order: the report's order
# A2 means nothing until A1 passed: labrun reports it `skip` naming A1.
needs = { A2 = ["A1"] }

# --param NAME=VALUE; a default is a template: {user} is the trainee.
[step.params]
user = { about = "trainee id as in the manual, e.g. user05", required = true }
vpc = { about = "the trainee's VPC (its Name tag)", default = "vpc-{user}" }
cidr = { about = "the VPC's CIDR block", default = "10.0.0.0/16" }

# Each check's title and messages: {name} is a param or a value the check adds.
[A1]
title = { en = "The VPC exists", ja = "VPC がある" }
missing = { en = "VPC {vpc} not found: create it in the VPC console", ja = "VPC {vpc} が見つかりません。VPC コンソールで作成してください" }
ok = { en = "VPC {vpc} exists ({vpc_id})", ja = "VPC {vpc} があります ({vpc_id})" }

[A2]
title = { en = "The VPC's CIDR block", ja = "VPC の CIDR ブロック" }
missing = { en = "VPC {vpc} not found", ja = "VPC {vpc} が見つかりません" }
ok = { en = "VPC {vpc} has CIDR {cidr}", ja = "VPC {vpc} の CIDR は {cidr} です" }
wrong = { en = "VPC {vpc} has CIDR {actual}, not {cidr}: recreate it with {cidr}", ja = "VPC {vpc} の CIDR が {actual} です ({cidr} で作り直してください)" }
"#;

const STARTER: &str = r#"// {{name}}: a lab step. Each check id is one function, in checklist order; each
// reports pass or fail with a message that says how to fix it. What the step declares
// (its params, checks and prerequisites) and its words in English and Japanese are in
// {{name}}.messages.toml beside it. guard, pass, fail, named, none, msg, … come from
// labrun's lab library (docs/writing-steps.md).
//
//     labrun {{name}}.rhai --trainee user05
//     labrun test {{name}}.rhai {{name}}.cases/*.toml

fn run(params) {
    let w = params;                      // every declared param, given or defaulted
    let st = #{};
    st.A1 = guard("A1", Fn("a1_vpc_exists"), w, st);
    st.A2 = guard("A2", Fn("a2_vpc_cidr"), w, st);
}

fn a1_vpc_exists(w, st) {
    let v = named(aws::ec2_describe_vpcs().Vpcs, w.vpc);
    if none(v) {
        return fail("A1", msg("A1", "missing", w), ());
    }
    pass("A1", msg("A1", "ok", w + #{ vpc_id: v.VpcId }), #{ vpc_id: v.VpcId })
}

fn a2_vpc_cidr(w, st) {
    let v = named(aws::ec2_describe_vpcs().Vpcs, w.vpc);
    if none(v) {
        // Reported for completeness: labrun shows A2 as `skip`, since A1 failed.
        return fail("A2", msg("A2", "missing", w), ());
    }
    if v.CidrBlock == w.cidr {
        return pass("A2", msg("A2", "ok", w), ());
    }
    fail("A2", msg("A2", "wrong", w + #{ actual: v.CidrBlock }), #{ cidr: v.CidrBlock })
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("step4").is_ok());
        assert!(check_name("my-step_2").is_ok());
        for bad in ["", "Step4", "4step", "a/b", "step 4", "..", &"x".repeat(65)] {
            let e = check_name(bad).unwrap_err();
            assert!(
                matches!(&e, NewError::NotAName { name } if name == bad),
                "{e}"
            );
        }
    }

    #[test]
    fn the_starter_catalog_declares_the_step_and_words_every_message() {
        let catalog = crate::step::messages::Catalog::parse(&starter_catalog("s")).unwrap();
        let m = catalog.manifest();
        assert_eq!(m.name.as_deref(), Some("s"));
        assert_eq!(m.checks, Some(vec!["A1".to_string(), "A2".to_string()]));
        assert!(m.params.as_ref().unwrap().contains_key("vpc"));
        // Every msg() the script names is in the catalog (labrun also checks this
        // when it loads the step; the authors' tests run it).
        for piece in STARTER.split("msg(\"").skip(1) {
            let (id, rest) = piece.split_once("\", \"").unwrap();
            let key = &rest[..rest.find('"').unwrap()];
            assert!(catalog.has(id, key), "{id}.{key}");
        }
        // The script declares nothing itself.
        assert!(!STARTER.contains("fn describe"));
    }

    #[test]
    fn errors_are_catalog_texts_in_both_languages() {
        use crate::text::{Lang, ToText};
        let e = NewError::Exists {
            path: PathBuf::from("./s.rhai"),
        };
        assert_eq!(
            e.text().render(Lang::En),
            "./s.rhai exists already: labrun new never overwrites; choose another name or --dir"
        );
        assert!(e.text().render(Lang::Ja).contains("上書きしません"));
    }

    #[test]
    fn the_starter_cassettes_parse() {
        for present in [true, false] {
            let text = cassette("s", "10.0.0.0/16", present);
            crate::caps::Cassette::parse(&text, "starter").unwrap();
        }
    }
}
