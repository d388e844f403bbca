//! Planning: the raw flags ([`Flags`]) become a checked [`RunPlan`] before anything
//! runs: the policy and limits, the step (pulled if given by reference), the class
//! file's submissions or the course's steps, one param set per trainee (and step), the
//! operator's settings, and the outputs (`--record` and `--audit` are opened or
//! checked here, so a bad path fails before any check runs). Bad input is a
//! [`PlanError`]: one line, exit 64.

pub mod class;
pub mod course;
pub mod live;
pub mod roster;
pub mod roster_csv;

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::Digest;

use crate::caps::net::{NetConfig, Secret};
use crate::caps::ssh::{SshPool, SshSettings};
use crate::caps::{registry, Cassette, Settings};
use crate::error::LoadError;
use crate::execute::{Answers, Outputs, PlannedRun, RunPlan};
use crate::flags::{ColorArg, Flags, LangArg};
use crate::gate::{Audit, StepId};
use crate::outcome::{Lang, Message};
use crate::policy::{Limits, Policy, Trust};
use crate::publish::Failure;
use crate::report::Style;
use crate::step::wasm::Grants;
use crate::step::{check_params, Step};
use crate::text::{self, plan as t, quoted, Text, ToText};

/// The param that names the trainee in every lab step.
pub const TRAINEE_PARAM: &str = "user";

/// Why a run could not be planned.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    /// Bad input (a flag, a file, a step, a policy): one line, exit 64.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// A flag that contradicts another or is malformed: one line, exit 64.
    #[error("{0}")]
    Flag(Text),
    /// An output file that cannot be written: one line, exit 64.
    #[error("{0}")]
    Output(Text),
    /// A step given by reference could not be fetched (registry down): exit 2.
    #[error("{0}")]
    Fetch(Text),
}

impl ToText for PlanError {
    fn text(&self) -> Text {
        match self {
            PlanError::Load(e) => e.text(),
            PlanError::Flag(t) | PlanError::Output(t) | PlanError::Fetch(t) => t.clone(),
        }
    }
}

impl PlanError {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            PlanError::Fetch(_) => crate::outcome::exit::ERROR,
            _ => crate::outcome::exit::BAD_INPUT,
        }
    }
}

/// Checks every flag and file and loads the step(s).
pub async fn plan(flags: &Flags) -> Result<RunPlan, PlanError> {
    // A step given by reference is pulled (verified) into the cache first; a class
    // file is known only then, and its submissions are untrusted unless told otherwise.
    // A course file is local; --lock and --trusted-key apply to the steps it names.
    let local_course = class::is_class_file(&flags.step)
        && flags.step.is_file()
        && course::is_course(&flags.step)?;
    let step_path = if local_course {
        flags.step.clone()
    } else {
        match crate::publish::step_for_run(&flags.step, &flags.fetch).await {
            Ok(path) => path,
            Err(f) => return Err(fetch_error(f)),
        }
    };
    // A course is the instructor's, like a step; a class file holds the trainees' code.
    let is_course = local_course;
    let is_class = class::is_class_file(&step_path) && !is_course;
    let policy = Arc::new(policy(flags, is_class)?);
    let grants = Grants::parse(&flags.grants)?;
    // Where each output really goes, checked before anything is read or created.
    let targets = output_targets(flags)?;
    let mut notice = None;
    let password_files = flags
        .mysql_password_file
        .iter()
        .map(|text| crate::flags::parse_password_file(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| PlanError::Flag(t::PasswordFileFlag { why }.into()))?;
    let roster_file = match &flags.live.roster_file {
        Some(path) => Some(roster_csv::load(path)?),
        None => None,
    };
    // A rehearsal (--replay) checks the operator's files and flags exactly as the live
    // run will, so what the class refuses is refused the day before.
    let live = Settings {
        server_readable: policy.server_readable.clone(),
        ..settings(flags, roster_file.as_ref(), &password_files)?
    };
    let answers = match &flags.replay {
        Some(path) => Answers::Replay(known_calls(Cassette::load(path)?, path)?),
        None => Answers::Live(live.clone()),
    };
    let mut warnings = Vec::new();
    let (mut course_steps, mut title) = (Vec::new(), None);
    let (name, runs) = if is_course {
        let planned = course::plan(
            &step_path,
            flags,
            roster_file.as_ref(),
            &policy.limits,
            &grants,
        )
        .await?;
        course_steps = planned.steps;
        title = planned.title;
        (planned.name, planned.runs)
    } else if is_class {
        let (name, runs) = class::plan(&step_path, flags, &policy.limits, &grants).await?;
        if policy.trust == Trust::Instructor {
            let how: Text = if flags.policy.is_some() {
                t::TrustFromPolicy.into()
            } else {
                t::TrustFromFlag.into()
            };
            warnings.push(
                t::ClassAtInstructorTrust {
                    path: &step_path,
                    how: &how,
                }
                .into(),
            );
            notice = Some(Message::text(t::ClassRanAtInstructorTrust { how }));
        }
        (name, runs)
    } else {
        let step = Arc::new(Step::load(&step_path, &policy.limits, &grants).await?);
        let mut runs = trainee_params(flags, roster_file.as_ref())?;
        for (_, params) in &mut runs {
            *params = check_params(step.path(), &step.info().params, params)?;
        }
        let id = step_id(&step);
        let runs = runs
            .into_iter()
            .map(|(trainee, params)| {
                PlannedRun::single(trainee, params, Ok((step.clone(), id.clone())))
            })
            .collect();
        (step.info().name.clone(), runs)
    };
    let mut runs = runs;
    if let Some(file) = &roster_file {
        for run in &mut runs {
            if let Some(entry) = file.get(&run.trainee) {
                run.person = entry.person.clone();
                run.account = entry.aws.as_ref().map(|aws| aws.label());
            }
        }
    }
    if !flags.grants.is_empty() {
        warnings.extend(grants_ignored_by(&runs));
    }
    warnings.extend(check_ssh(&live, &runs)?);
    let steps = runs
        .iter()
        .flat_map(|r| &r.parts)
        .filter_map(|p| p.step.as_ref().ok())
        .map(|(step, _)| PathBuf::from(step.path()));
    let mut inputs: Vec<(PathBuf, Text)> = Vec::new();
    let flag = |flag: &'static str| Text::from(t::InputFlag { flag });
    for step in steps.chain([step_path.clone()]) {
        let catalog = crate::step::messages::sibling_path(&step);
        inputs.push((step, t::TheStep.into()));
        inputs.push((catalog, t::TheCatalog.into()));
    }
    inputs.extend(flags.replay.iter().map(|p| (p.clone(), flag("--replay"))));
    inputs.extend(flags.policy.iter().map(|p| (p.clone(), flag("--policy"))));
    let roster = flags
        .live
        .roster_file
        .iter()
        .map(|p| (p.clone(), flag("--roster")));
    inputs.extend(roster);
    let known_hosts = flags.ssh_known_hosts.iter();
    inputs.extend(known_hosts.map(|p| (p.clone(), flag("--ssh-known-hosts"))));
    for file in &password_files {
        inputs.push((file.path.clone(), flag("--mysql-password-file")));
    }
    for spec in &flags.live.roster {
        if let Some(file) = spec.strip_prefix('@') {
            inputs.push((PathBuf::from(file), flag("--trainees @FILE")));
        }
    }
    check_apart(&targets, &inputs)?;
    let mut outputs = outputs(flags, &targets)?;
    outputs.notice = notice;
    Ok(RunPlan {
        name,
        course: course_steps,
        title,
        runs,
        policy,
        answers,
        jobs: flags.jobs as usize,
        outputs,
        warnings,
    })
}

/// `--grant` limits WebAssembly steps only: the warning when some planned step is a
/// Rhai script (of a step, a course or a class), which the policy alone limits.
fn grants_ignored_by(runs: &[PlannedRun]) -> Option<Text> {
    let rhai: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| &r.parts)
        .filter_map(|p| p.step.as_ref().ok())
        .filter(|(s, _)| matches!(**s, Step::Rhai(_)))
        .map(|(s, _)| s.path())
        .collect();
    let first = *rhai.first()?;
    Some(match rhai.len() - 1 {
        0 => t::GrantIgnored { first }.into(),
        more => t::GrantIgnoredMore { first, more }.into(),
    })
}

/// A cassette whose every call names a capability and operation of this labrun: one
/// that names others was recorded by something else, and would answer nothing.
fn known_calls(cassette: Cassette, path: &Path) -> Result<Cassette, PlanError> {
    for (n, call) in cassette.calls.iter().enumerate() {
        let bad = |what: Text| {
            Err(PlanError::Load(LoadError::Cassette(
                text::cassette::CallNames {
                    path,
                    call: n + 1,
                    what,
                }
                .into(),
            )))
        };
        let (cap, op) = (
            call.capability.escape_debug().to_string(),
            call.operation.escape_debug().to_string(),
        );
        let Some(spec) = registry::get(&call.capability) else {
            return bad(text::caps::UnknownCapability {
                capability: cap,
                known: text::list(registry::names()),
            }
            .into());
        };
        if spec.operation(&call.operation).is_none() {
            return bad(text::probe::UnknownOperation {
                capability: cap,
                operation: op,
                known: text::list(spec.operation_names()),
            }
            .into());
        }
    }
    Ok(cassette)
}

pub fn fetch_error(f: Failure) -> PlanError {
    if f.is_refusal() {
        PlanError::Load(LoadError::Step(f.text()))
    } else {
        PlanError::Fetch(f.text())
    }
}

/// The policy the flags ask for: a file, or a preset (`--trust`; without it,
/// instructor for a step and untrusted for a class file, whose submissions are the
/// trainees' own); `--timeout` overrides its clock.
pub fn policy(flags: &Flags, class: bool) -> Result<Policy, PlanError> {
    let default = if class {
        Trust::Untrusted
    } else {
        Trust::Instructor
    };
    let mut policy = match &flags.policy {
        Some(path) => Policy::load(path)?,
        None => Policy::preset(flags.trust.unwrap_or(default)),
    };
    if let Some(seconds) = flags.timeout {
        policy.limits.wall_clock = Duration::from_secs(seconds);
    }
    Ok(policy)
}

/// `--param` pairs, checked: every one must be KEY=VALUE with a unique key.
pub fn param_map(flags: &Flags) -> Result<crate::step::params::ParamValues, PlanError> {
    let mut map = BTreeMap::new();
    for raw in &flags.params {
        let (key, value) = raw
            .split_once('=')
            .ok_or_else(|| PlanError::Flag(t::ParamNotPair { raw }.into()))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(PlanError::Flag(t::ParamNoKey { raw }.into()));
        }
        if key == TRAINEE_PARAM && value.trim().is_empty() {
            return Err(PlanError::Flag(
                t::ParamNoTrainee {
                    raw,
                    param: TRAINEE_PARAM,
                }
                .into(),
            ));
        }
        if map.insert(key.to_string(), value.to_string()).is_some() {
            return Err(PlanError::Flag(t::ParamTwice { key }.into()));
        }
    }
    Ok(map)
}

/// A trainee id and the params that trainee's run gets.
pub type TraineeParams = (String, BTreeMap<String, String>);

/// One param set per trainee: the `--trainee`/`--trainees` ids (with `--roster`, the
/// roster's trainees among them), else every trainee of the `--roster`, else the
/// single `--param` set.
pub fn trainee_params(
    flags: &Flags,
    roster_file: Option<&roster_csv::Roster>,
) -> Result<Vec<TraineeParams>, PlanError> {
    let params = param_map(flags)?;
    let mut trainees = roster::ids(&flags.trainees, &flags.live.roster)?;
    if let Some(file) = roster_file {
        if trainees.is_empty() {
            trainees = file.entries.iter().map(|e| e.trainee.clone()).collect();
        } else if let Some(stranger) = trainees.iter().find(|t| file.get(t).is_none()) {
            return Err(PlanError::Flag(
                t::NotInRoster {
                    trainee: stranger,
                    roster: flags
                        .live
                        .roster_file
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                }
                .into(),
            ));
        }
    }
    if trainees.is_empty() {
        let trainee = match params.get(TRAINEE_PARAM) {
            Some(id) => {
                roster::check_id(id).map_err(|why| {
                    PlanError::Flag(
                        t::ParamTrainee {
                            param: TRAINEE_PARAM,
                            why,
                        }
                        .into(),
                    )
                })?;
                id.clone()
            }
            None => "-".to_string(),
        };
        return Ok(vec![(trainee, params)]);
    }
    if params.contains_key(TRAINEE_PARAM) {
        return Err(PlanError::Flag(
            t::TraineeTwoWays {
                param: TRAINEE_PARAM,
            }
            .into(),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut runs = Vec::new();
    for id in &trainees {
        if id.trim().is_empty() {
            return Err(PlanError::Flag(t::TraineeEmpty.into()));
        }
        if !seen.insert(id) {
            return Err(PlanError::Flag(t::TraineeTwice { id }.into()));
        }
        let mut p = params.clone();
        p.insert(TRAINEE_PARAM.to_string(), id.clone());
        runs.push((id.clone(), p));
    }
    Ok(runs)
}

/// Loads one step under the run's limits and grants.
pub async fn load_step(path: &Path, limits: &Limits, grants: &Grants) -> Result<Step, LoadError> {
    Step::load(path, limits, grants).await
}

/// The step's name and the sha256 of its file, for the audit log.
pub fn step_id(step: &Step) -> StepId {
    StepId {
        name: step.info().name.clone(),
        sha256: std::fs::read(step.path())
            .map(|bytes| hex::encode(sha2::Sha256::digest(&bytes)))
            .unwrap_or_default(),
    }
}

/// The outputs a run writes, each as the flag that names it and where it really
/// goes ([`crate::files::output_target`]): `--record`, `--audit`, `--state`,
/// `--trainee-links`.
pub struct OutputTargets(Vec<(&'static str, PathBuf)>);

impl OutputTargets {
    /// Where the output named by `flag` goes, if it was given.
    pub fn get(&self, flag: &str) -> Option<&Path> {
        self.0
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, p)| p.as_path())
    }
}

/// Every output path of the run, resolved and checked: a regular file or a new
/// path in a folder that takes a new file (a device, fifo or folder is refused).
fn output_targets(flags: &Flags) -> Result<OutputTargets, PlanError> {
    let given = [
        ("--record", &flags.record),
        ("--audit", &flags.audit),
        ("--state", &flags.live.state),
        ("--trainee-links", &flags.live.trainee_links),
    ];
    let mut targets = Vec::new();
    for (flag, path) in given {
        if let Some(path) = path {
            targets.push((flag, check_writable(path, flag)?));
        }
    }
    Ok(OutputTargets(targets))
}

/// No output is written over an input of the run (the step, the cassette being
/// replayed, …) or over another output: each would lose what the other held.
fn check_apart(targets: &OutputTargets, inputs: &[(PathBuf, Text)]) -> Result<(), PlanError> {
    let bad = |flag: &str, path: &Path, what: Text| {
        PlanError::Output(t::AlsoAnother { flag, path, what }.into())
    };
    for (n, (flag, target)) in targets.0.iter().enumerate() {
        for (input, what) in inputs {
            if crate::files::same_file(target, input) {
                return Err(bad(flag, target, t::AlsoInput { what, input }.into()));
            }
        }
        for (other, other_target) in &targets.0[..n] {
            if crate::files::same_file(target, other_target) {
                return Err(bad(flag, target, t::AlsoOutput { other: *other }.into()));
            }
        }
    }
    Ok(())
}

/// Where the results go, checked now: the audit file is created (only after every
/// other check passed, so a refused run never truncates it).
fn outputs(flags: &Flags, targets: &OutputTargets) -> Result<Outputs, PlanError> {
    let audit = match targets.get("--audit") {
        Some(path) => Some(Arc::new(Audit::create(path).map_err(|e| {
            PlanError::Output(
                t::CannotWrite {
                    flag: "--audit",
                    path,
                    why: quoted(e),
                }
                .into(),
            )
        })?)),
        None => None,
    };
    let style = Style {
        lang: match flags.lang {
            Some(LangArg::Ja) => Lang::Ja,
            Some(LangArg::En) => Lang::En,
            None => Lang::from_env(),
        },
        color: match flags.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        },
    };
    Ok(Outputs {
        record: targets.get("--record").map(Path::to_path_buf),
        audit,
        format: flags.format,
        style,
        notice: None,
        progress: None,
    })
}

/// `check_writable` for the other planning modules (`--state`).
pub fn check_writable_pub(path: &Path, flag: &str) -> Result<PathBuf, PlanError> {
    check_writable(path, flag)
}

/// Where the output `path` really goes (a symlink followed), checked: a regular file
/// or a new path, in a folder that takes a new file (tried with a probe file,
/// removed at once).
fn check_writable(path: &Path, flag: &str) -> Result<PathBuf, PlanError> {
    let bad = |why: text::Arg| PlanError::Output(t::CannotWrite { flag, path, why }.into());
    let target = crate::files::output_target(path).map_err(|why| bad(why.into()))?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    let probe = dir.join(format!(".labrun-write-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(target)
        }
        Err(e) => Err(bad(quoted(e))),
    }
}

/// The first line of a `--mysql-password-file`; unreadable or empty is a bad flag.
/// A path that names no file is not shown: it may be the password itself, typed
/// where its file was expected.
fn password_from(file: &crate::flags::PasswordFile) -> Result<Secret, PlanError> {
    let shown = match &file.name {
        Some(name) => format!("{name}={}", file.path.display()),
        None => file.path.display().to_string(),
    };
    let content =
        crate::files::read_to_string(&file.path, crate::files::cap::SECRET).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                PlanError::Flag(
                    t::NoPasswordFile {
                        flag: match &file.name {
                            Some(name) => format!("--mysql-password-file {name}=…"),
                            None => "--mysql-password-file …".to_string(),
                        },
                    }
                    .into(),
                )
            } else {
                PlanError::Flag(
                    t::CannotReadPassword {
                        file: &shown,
                        why: quoted(e),
                    }
                    .into(),
                )
            }
        })?;
    let first = content.lines().next().unwrap_or("").to_string();
    if first.is_empty() {
        return Err(PlanError::Flag(t::PasswordEmpty { file: &shown }.into()));
    }
    Ok(Secret::new(first))
}

/// Live settings; the MySQL passwords come from the operator, never from a step.
/// Built for a replay too, so its files and flags are checked as a live run's are;
/// only the password prompt waits for a live run.
fn settings(
    flags: &Flags,
    roster_file: Option<&roster_csv::Roster>,
    password_files: &[crate::flags::PasswordFile],
) -> Result<Settings, PlanError> {
    for (name, value) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if AWS_ENDPOINT_VARS.contains(&name.as_ref()) && !value.is_empty() {
            check_aws_endpoint(&name, &value.to_string_lossy()).map_err(PlanError::Flag)?;
        }
    }
    let mut unnamed = None;
    let mut named = std::collections::BTreeMap::new();
    for file in password_files {
        let secret = password_from(file)?;
        match &file.name {
            None if unnamed.is_some() => return Err(PlanError::Flag(t::PasswordFileTwice.into())),
            None => unnamed = Some(secret),
            Some(name) => {
                if named.insert(name.clone(), secret).is_some() {
                    return Err(PlanError::Flag(t::CredentialTwice { name }.into()));
                }
            }
        }
    }
    // The env forms fill what the flags leave open.
    for (key, value) in std::env::vars() {
        let Some(name) = key.strip_prefix("LABRUN_MYSQL_PASSWORD_") else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if value.is_empty() || !crate::caps::mysql::credential_name(&name) {
            continue;
        }
        named.entry(name).or_insert_with(|| Secret::new(value));
    }
    let mysql_password = if let Some(secret) = unnamed {
        if flags.ask_mysql_password {
            return Err(PlanError::Flag(t::PasswordTwoWays.into()));
        }
        Some(secret)
    } else if flags.ask_mysql_password && flags.replay.is_some() {
        // A replay connects to nothing: no password to ask for.
        None
    } else if flags.ask_mysql_password {
        let typed = rpassword::prompt_password(Text::from(t::PasswordPrompt).to_string())
            .map_err(|e| PlanError::Flag(t::NeedsTerminal { why: quoted(e) }.into()))?;
        Some(Secret::new(typed))
    } else {
        std::env::var("LABRUN_MYSQL_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Secret::new)
    };
    Ok(Settings {
        aws_rps: flags.live.aws_rps,
        region: flags.region.clone(),
        net: NetConfig {
            connect_to: flags.connect_to.clone(),
            dns_server: flags.dns_server,
            mysql_password,
            mysql_credentials: named,
            timeout: Duration::from_secs(flags.probe_timeout),
            ssh: ssh_pool(flags, roster_file)?,
        },
        server_readable: Vec::new(),
        aws_identities: roster_file
            .map(roster_csv::Roster::aws_identities)
            .unwrap_or_default(),
        aws_account: None,
    })
}

/// The environment variables that point the AWS SDK elsewhere (moto, a proxy).
const AWS_ENDPOINT_VARS: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EC2",
    "AWS_ENDPOINT_URL_RDS",
    "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
    "AWS_ENDPOINT_URL_S3",
];

/// An AWS endpoint from the environment is an http(s) URL with a host and no user
/// name or password (the SDK signs its requests; a password there would only be
/// printed in every error). Checked now, so a typo is one line naming the variable,
/// not an "invalid uri character" in every row. A value holding `@` is never shown.
fn check_aws_endpoint(var: &str, value: &str) -> Result<(), Text> {
    let shown: Text = if value.contains('@') {
        t::NotShown.into()
    } else {
        let cut: String = value.chars().take(80).collect();
        t::Shown { value: cut }.into()
    };
    let url = url::Url::parse(value).map_err(|e| {
        Text::from(t::EndpointNotUrl {
            var,
            shown: &shown,
            why: quoted(e),
        })
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(t::EndpointScheme { var, shown }.into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        let mut bare = url.clone();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        return Err(t::EndpointUser {
            var,
            bare: bare.to_string(),
        }
        .into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(t::EndpointNoHost { var, shown }.into());
    }
    Ok(())
}

/// The run's SSH pool when `--ssh-key` is given or the roster names key files
/// (checked per trainee in [`plan`]).
fn ssh_pool(
    flags: &Flags,
    roster_file: Option<&roster_csv::Roster>,
) -> Result<Option<Arc<SshPool>>, PlanError> {
    let keys = roster_file
        .map(roster_csv::Roster::ssh_keys)
        .unwrap_or_default();
    let instance_connect = flags.ssh_via == Some(crate::flags::SshVia::InstanceConnect);
    if instance_connect && flags.ssh_key.is_some() {
        return Err(PlanError::Flag(t::KeyAndInstanceConnect.into()));
    }
    if flags.ssh_via == Some(crate::flags::SshVia::Key)
        && flags.ssh_key.is_none()
        && keys.is_empty()
    {
        return Err(PlanError::Flag(t::ViaKeyNeedsKeys.into()));
    }
    if flags.ssh_key.is_none() && keys.is_empty() && !instance_connect {
        if flags.ssh_known_hosts.is_some() || flags.ssh_strict {
            return Err(PlanError::Flag(t::NeedsSshKey.into()));
        }
        return Ok(None);
    }
    let push = instance_connect.then(|| {
        crate::caps::ssh::Pusher(Arc::new(
            crate::caps::aws::instance_connect::InstanceConnect::new(
                flags.region.clone(),
                roster_file
                    .map(roster_csv::Roster::aws_identities)
                    .unwrap_or_default(),
            ),
        ))
    });
    let settings = SshSettings {
        key_template: flags.ssh_key.clone(),
        keys: if instance_connect {
            Default::default()
        } else {
            keys
        },
        user: flags.ssh_user.clone(),
        known_hosts: flags.ssh_known_hosts.clone(),
        strict: flags.ssh_strict,
        push,
    };
    Ok(Some(Arc::new(SshPool::new(
        settings,
        Duration::from_secs(flags.probe_timeout),
        flags.jobs as usize,
    ))))
}

/// The SSH settings, checked for every trainee of the run (live or replayed alike):
/// a flag that cannot work is bad input; a trainee whose key file is missing is one
/// warning, and only that trainee's in-server outcomes become `error` naming the key.
fn check_ssh(settings: &Settings, runs: &[PlannedRun]) -> Result<Vec<Text>, PlanError> {
    let Some(pool) = &settings.net.ssh else {
        return Ok(Vec::new());
    };
    let trainees: Vec<&str> = runs.iter().map(|r| r.trainee.as_str()).collect();
    pool.settings().check(&trainees).map_err(PlanError::Flag)
}
