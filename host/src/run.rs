//! One path through the program: plan → step → capabilities → outcomes → report.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use futures::future::join_all;
use serde_json::json;
use sha2::Digest;
use tokio::sync::Semaphore;

use crate::caps::net::{NetConfig, Secret};
use crate::caps::{Cassette, Hub};
use crate::cli::{Cli, ColorArg, LangArg};
use crate::gate::{Audit, Gate, StepId};
use crate::outcome::{exit, Lang, Report, Summary};
use crate::report::{self, Style};
use crate::step::wasm::Grants;
use crate::step::{check_params, Limits, RunContext, Step};

/// Bad input: printed as one line, exit 64, nothing checked.
#[derive(Debug)]
pub struct BadInput(pub String);

/// Parses the command line and runs; returns the process exit code.
pub async fn main_with_args(args: Vec<std::ffi::OsString>) -> u8 {
    // `labrun inspect STEP` is the one subcommand; anything else is `labrun STEP …`.
    if args.get(1).is_some_and(|a| a == "inspect") {
        return inspect(&args[2..]).await;
    }
    // `labrun plugin publish|pull|lock|keygen|sign`: sharing steps through registries.
    if args.get(1).is_some_and(|a| a == "plugin") {
        return crate::publish::main(args).await;
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
                let _ = e.print();
                return exit::PASS;
            }
            let text = e.render().to_string();
            let line = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!(
                "labrun: {} (see labrun --help)",
                line.trim_start_matches("error: ")
            );
            return exit::BAD_INPUT;
        }
    };
    match run(cli).await {
        Ok(code) => code,
        Err(BadInput(message)) => {
            eprintln!("labrun: {message}");
            exit::BAD_INPUT
        }
    }
}

/// `labrun inspect STEP`: prints what the step imports and declares.
async fn inspect(args: &[std::ffi::OsString]) -> u8 {
    let [path] = args else {
        eprintln!("labrun: usage: labrun inspect STEP (a .rhai script or a .wasm component)");
        return exit::BAD_INPUT;
    };
    let (text, error) = crate::step::inspect(Path::new(path)).await;
    print!("{text}");
    match error {
        None => exit::PASS,
        Some(e) => {
            eprintln!("labrun: {e}");
            exit::BAD_INPUT
        }
    }
}

pub async fn run(cli: Cli) -> Result<u8, BadInput> {
    let started = Instant::now();
    let policy = Arc::new(cli.policy().map_err(BadInput)?);
    let limits = policy.limits.clone();
    let grants = Grants::parse(&cli.grants).map_err(BadInput)?;
    // A step given by reference is pulled (verified) into the cache first.
    let step_path = match crate::publish::step_for_run(&cli.step, &cli.fetch).await {
        Ok(path) => path,
        Err(f) if f.is_refusal() => return Err(BadInput(f.message)),
        Err(f) => {
            eprintln!("labrun: {}", f.message);
            return Ok(exit::ERROR);
        }
    };
    let hub = Arc::new(match &cli.replay {
        Some(path) => Hub::replay(Cassette::load(path).map_err(|e| BadInput(format!("{e:#}")))?),
        None => Hub::live(cli.region.clone(), net_config(&cli)?),
    });
    let audit = match &cli.audit {
        Some(path) => Some(Arc::new(Audit::create(path).map_err(BadInput)?)),
        None => None,
    };
    let (step_name, planned) = if crate::class::is_class_file(&step_path) {
        crate::class::plan(&step_path, &cli, &limits, &grants).await?
    } else {
        let step = Arc::new(load_step(&step_path, &limits, &grants).await?);
        let runs = cli.runs().map_err(BadInput)?;
        for (_, params) in &runs {
            check_params(step.path(), step.info(), params).map_err(BadInput)?;
        }
        let id = step_id(&step);
        let planned = runs
            .into_iter()
            .map(|(trainee, params)| Planned {
                trainee,
                params,
                step: Ok((step.clone(), id.clone())),
            })
            .collect();
        (step.info().name.clone(), planned)
    };

    let slots = Arc::new(Semaphore::new(cli.jobs as usize));
    let trainees = join_all(planned.into_iter().map(|planned| {
        let hub = hub.clone();
        let policy = policy.clone();
        let audit = audit.clone();
        let limits = limits.clone();
        let slots = slots.clone();
        async move {
            let (step, step_id) = match planned.step {
                Ok(step) => step,
                Err(why) => return crate::class::unloadable(planned.trainee, why),
            };
            let gate = Arc::new(Gate::new(
                hub.clone(),
                policy,
                planned.trainee.clone(),
                step_id,
                audit,
            ));
            let ctx = RunContext {
                hub,
                gate: gate.clone(),
                trainee: planned.trainee,
                params: planned.params,
                limits,
            };
            let _slot = slots.acquire().await.expect("semaphore never closed");
            // A panic in one trainee's run is that trainee's error, never the class's.
            let run = tokio::spawn(async move { step.run(ctx).await });
            let mut report = match run.await {
                Ok(report) => report,
                Err(e) => crate::class::unloadable(
                    gate.trainee().to_string(),
                    format!("the step crashed inside labrun: {e}"),
                ),
            };
            // Denials belong in the report, not only in the audit log.
            report
                .log
                .extend(gate.denials().into_iter().map(|d| format!("denied: {d}")));
            report
        }
    }))
    .await;
    if let Some(audit) = &audit {
        audit.flush();
    }

    let mut summary = Summary::default();
    for t in &trainees {
        for o in &t.results {
            summary.add(o.status);
        }
    }
    summary.aws_calls = hub.live_calls();
    summary.replayed_calls = hub.replayed_calls();
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    let report = Report {
        step: step_name,
        trainees,
        summary,
    };

    if let Some(path) = &cli.record {
        let cassette = hub.cassette(json!({
            "step": report.step,
            "trainees": report.trainees.iter().map(|t| t.trainee.clone()).collect::<Vec<_>>(),
            "labrun": env!("CARGO_PKG_VERSION"),
        }));
        if let Err(e) = cassette.save(path) {
            eprintln!("labrun: {e:#}");
            return Ok(exit::ERROR);
        }
    }

    let style = Style {
        lang: match cli.lang {
            Some(LangArg::Ja) => Lang::Ja,
            Some(LangArg::En) => Lang::En,
            None => Lang::from_env(),
        },
        color: match cli.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        },
    };
    // The one line an operator needs when a whole capability was unusable.
    for err in hub.broken() {
        eprintln!(
            "labrun: could not use {}: {} ({})",
            err.capability,
            err.message,
            err.kind.as_str()
        );
    }
    let text = report::render(&report, cli.format, &style);
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`labrun … | head`) is not an error of the check.
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
    Ok(report.exit_code())
}

/// One trainee's run as planned: the step it runs (or why that step could not load).
pub struct Planned {
    pub trainee: String,
    pub params: std::collections::BTreeMap<String, String>,
    pub step: Result<(Arc<Step>, StepId), String>,
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

/// Probe settings; the MySQL password comes from the operator, never from a step.
fn net_config(cli: &Cli) -> Result<NetConfig, BadInput> {
    let mysql_password = if let Some(path) = &cli.mysql_password_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            BadInput(format!(
                "cannot read --mysql-password-file {}: {e}",
                path.display()
            ))
        })?;
        let first = text.lines().next().unwrap_or("").to_string();
        if first.is_empty() {
            return Err(BadInput(format!(
                "--mysql-password-file {} is empty",
                path.display()
            )));
        }
        Some(Secret::new(first))
    } else if cli.ask_mysql_password {
        let typed = rpassword::prompt_password("MySQL password: ").map_err(|e| {
            BadInput(format!(
                "--ask-mysql-password needs a terminal ({e}); use --mysql-password-file"
            ))
        })?;
        Some(Secret::new(typed))
    } else {
        std::env::var("LABRUN_MYSQL_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Secret::new)
    };
    Ok(NetConfig {
        connect_to: cli.connect_to.clone(),
        dns_server: cli.dns_server,
        mysql_password,
        timeout: std::time::Duration::from_secs(cli.probe_timeout),
    })
}

pub async fn load_step(path: &Path, limits: &Limits, grants: &Grants) -> Result<Step, BadInput> {
    Step::load(path, limits, grants).await.map_err(BadInput)
}
