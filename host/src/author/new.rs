//! `labrun new step NAME`: a starter Rhai step and two `labrun test` cases beside it
//! (a finished trainee, and one whose VPC is missing), so an author starts from a step
//! that runs, reports in ja and en, and has regression cases that pass. Nothing is
//! overwritten. `--component` writes a Rust crate for the same step instead
//! ([`super::component`]).

use std::path::{Path, PathBuf};

use clap::Args;

use super::component;
use crate::outcome::exit;
use crate::text::{help, string};

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
    if flags.component {
        return match write_component(flags) {
            Ok(files) => {
                for f in &files {
                    println!("wrote {}", f.display());
                }
                let dir = flags.dir.join(&flags.name);
                let wasm = component::lib_name(&flags.name);
                println!(
                    "next: cd {} && cargo build --release && labrun test target/wasm32-wasip2/release/{wasm}.wasm cases/*.toml",
                    dir.display()
                );
                exit::PASS
            }
            Err(e) => {
                eprintln!("labrun: {e}");
                exit::BAD_INPUT
            }
        };
    }
    match write_step(flags) {
        Ok(files) => {
            for f in &files {
                println!("wrote {}", f.display());
            }
            let script = &files[0];
            let cases = files[1].parent().unwrap_or(Path::new("."));
            println!(
                "next: labrun test {} {}/*.toml",
                script.display(),
                cases.display()
            );
            exit::PASS
        }
        Err(e) => {
            eprintln!("labrun: {e}");
            exit::BAD_INPUT
        }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a step name: start with a lowercase letter, then lowercase letters, digits, - or _ (at most 64), e.g. step4",
            name.escape_debug()
        ))
    }
}

fn check_dir(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "--dir {} is not a directory: create it first",
            dir.display()
        ))
    }
}

/// Writes DIR/NAME/, a crate for the component (see [`component`]); returns its files.
/// Every input is checked before anything is written.
fn write_component(flags: &NewStep) -> Result<Vec<PathBuf>, String> {
    check_name(&flags.name)?;
    component::check_crate_name(&flags.name)?;
    check_dir(&flags.dir)?;
    let sdk = flags.sdk.as_deref().map(component::check_sdk).transpose()?;
    let root = flags.dir.join(&flags.name);
    if root.exists() {
        return Err(format!(
            "{} exists already: labrun new never overwrites; choose another name or --dir",
            root.display()
        ));
    }
    let files = component::files(&flags.name, sdk.as_deref(), starter_cases(&flags.name));
    for (path, text) in &files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(files.into_iter().map(|(p, _)| root.join(p)).collect())
}

/// Writes the files; the first is the script, the rest the cases.
fn write_step(flags: &NewStep) -> Result<Vec<PathBuf>, String> {
    check_name(&flags.name)?;
    if let Some(sdk) = &flags.sdk {
        return Err(format!(
            "--sdk {} is for a component's crate: add --component, or leave --sdk out for a Rhai step",
            sdk.display()
        ));
    }
    check_dir(&flags.dir)?;
    let name = &flags.name;
    let script = flags.dir.join(format!("{name}.rhai"));
    let cases = flags.dir.join(format!("{name}.cases"));
    let mut files = vec![(script.clone(), starter_script(name))];
    files.extend(
        starter_cases(name)
            .into_iter()
            .map(|(file, text)| (cases.join(file), text)),
    );
    for (path, _) in &files {
        if path.exists() {
            return Err(format!(
                "{} exists already: labrun new never overwrites; choose another name or --dir",
                path.display()
            ));
        }
    }
    std::fs::create_dir_all(&cases)
        .map_err(|e| format!("cannot create {}: {e}", cases.display()))?;
    for (path, text) in &files {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
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

const STARTER: &str = r#"// {{name}}: a lab step. Each check id is one function, in checklist order; each
// reports pass or fail with a message in English and Japanese that says how to fix it.
// guard, pass, fail, named, none, … come from labrun's lab library (docs/writing-steps.md).
//
//     labrun {{name}}.rhai --trainee user05
//     labrun test {{name}}.rhai {{name}}.cases/*.toml

fn describe() {
    #{
        name: "{{name}}",
        title: #{ en: "{{name}}: the trainee's VPC", ja: "{{name}}: 受講者の VPC" },
        params: #{ user: "trainee id as in the manual, e.g. user05" },
        checks: ["A1", "A2"],
        // A2 means nothing until A1 passed: labrun reports it `skip` naming A1.
        needs: #{ A2: ["A1"] },
    }
}

fn run(params) {
    let w = #{ vpc: `vpc-${params.user}`, cidr: "10.0.0.0/16" };
    let st = #{};
    st.A1 = guard("A1", Fn("a1_vpc_exists"), w, st);
    st.A2 = guard("A2", Fn("a2_vpc_cidr"), w, st);
}

fn a1_vpc_exists(w, st) {
    let v = named(aws::ec2_describe_vpcs().Vpcs, w.vpc);
    if none(v) {
        return fail("A1", `VPC ${w.vpc} not found: create it in the VPC console`,
            `VPC ${w.vpc} が見つかりません。VPC コンソールで作成してください`, ());
    }
    pass("A1", `VPC ${w.vpc} exists (${v.VpcId})`, `VPC ${w.vpc} があります (${v.VpcId})`,
        #{ vpc_id: v.VpcId })
}

fn a2_vpc_cidr(w, st) {
    let v = named(aws::ec2_describe_vpcs().Vpcs, w.vpc);
    if v.CidrBlock == w.cidr {
        return pass("A2", `VPC ${w.vpc} has CIDR ${w.cidr}`, `VPC ${w.vpc} の CIDR は ${w.cidr} です`, ());
    }
    fail("A2", `VPC ${w.vpc} has CIDR ${v.CidrBlock}, not ${w.cidr}: recreate it with ${w.cidr}`,
        `VPC ${w.vpc} の CIDR が ${v.CidrBlock} です (${w.cidr} で作り直してください)`, #{ cidr: v.CidrBlock })
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
            assert!(e.contains("is not a step name"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_starter_cassettes_parse() {
        for present in [true, false] {
            let text = cassette("s", "10.0.0.0/16", present);
            crate::caps::Cassette::parse(&text, "starter").unwrap();
        }
    }
}
