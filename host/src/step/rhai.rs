//! Rhai front-end: a step is a script with `fn run(params)`, declared by its catalog's
//! `[step]` or `fn describe()` (see [`super::messages`]).
//!
//! The engine is sandboxed: no `import` or file access, no `eval`, bounded
//! operations, call depth, sizes and wall clock. Capability modules (`aws::…`)
//! mirror the WIT interfaces name for name and are bridged to the async host. The lab
//! library ([`LAB_LIBRARY`]) is merged into every script.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{
    CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext, Position, Scope,
    AST,
};
use serde_json::Value;
use tokio::runtime::Handle;

use super::messages::{self, Catalog};
use super::{
    bounded_evidence, request_too_big, Collector, Limits, RunContext, StepInfo, MAX_REQUEST_BYTES,
};
use crate::caps::{self, registry, CapError, Capability, ErrorKind};
use crate::outcome::{Message, Outcome, Status, TraineeReport};
use crate::text::{self, quoted, rhai as t, Text};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// The lab library (`lab.rhai`): plumbing every step would otherwise copy (running a
/// check, pass/fail helpers, lookups by tag, CIDR and security-group queries), merged
/// into every script before its own functions.
pub const LAB_LIBRARY: &str = include_str!("lab.rhai");

pub struct RhaiStep {
    path: String,
    ast: AST,
    info: StepInfo,
    /// The step's message catalog (`<stem>.messages.toml` beside it), for `msg(…)`.
    catalog: Arc<Catalog>,
    /// `capability.operation` for each operation `run` can reach, sorted.
    operations: Vec<String>,
}

impl RhaiStep {
    /// Compiles the script and asks it to describe itself. Errors are one line,
    /// `path:line:column: what`, ready to print. Runs on a thread with the stack a
    /// step's nesting limits need (see `rhai_stack_bytes`).
    pub fn load(path: &Path, limits: &Limits) -> Result<RhaiStep, Text> {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("labrun-rhai-load".into())
                .stack_size(rhai_stack_bytes(limits))
                .spawn_scoped(scope, || RhaiStep::load_here(path, limits))
                .map_err(|e| {
                    Text::from(t::NoThread {
                        path,
                        why: quoted(e),
                    })
                })?
                .join()
                .unwrap_or_else(|panic| {
                    Err(t::LoadCrashed {
                        path,
                        why: quoted(panic_text(&panic)),
                    }
                    .into())
                })
        })
    }

    fn load_here(path: &Path, limits: &Limits) -> Result<RhaiStep, Text> {
        let shown = path.display().to_string();
        let source = crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
            Text::from(text::load::CannotRead {
                path,
                why: quoted(e),
            })
        })?;
        let engine = sandboxed_engine(limits, Instant::now() + limits.wall_clock);
        let ast = engine.compile(&source).map_err(|e| {
            let pos = e.position();
            // `default` is reserved in Rhai, so a param's default is a quoted key.
            let why = quoted(super::one_line_cause(&e.err_type().to_string()));
            let (line, column) = (pos.line().unwrap_or(0), pos.position().unwrap_or(0));
            match e.err_type() {
                rhai::ParseErrorType::Reserved(word) if word == "default" => {
                    Text::from(t::SyntaxDefault {
                        path: &shown,
                        line,
                        column,
                        why,
                    })
                }
                _ => t::Syntax {
                    path: &shown,
                    line,
                    column,
                    why,
                }
                .into(),
            }
        })?;
        // The lab library comes first: the step's own functions replace its namesakes.
        let lab = engine
            .compile(LAB_LIBRARY)
            .map_err(|e| Text::from(t::LabLibrary { why: quoted(e) }))?;
        let ast = lab.merge(&ast);
        if !ast
            .iter_functions()
            .any(|f| f.name == "run" && f.params.len() == 1)
        {
            return Err(t::NoRun { path: &shown }.into());
        }
        let catalog = messages::load_beside(path)?;
        // What the step declares: its catalog's [step] (the way the shipped steps
        // declare themselves, one file for the script and the component), or
        // describe(), or both for different keys.
        let declares = catalog
            .as_ref()
            .is_some_and(|c| c.manifest() != &messages::Manifest::default());
        let has_describe = ast.iter_functions().any(|f| f.name == "describe");
        let described: Dynamic = if !has_describe && declares {
            Dynamic::from(Map::new())
        } else {
            engine
                .call_fn_with_options(
                    CallFnOptions::new().eval_ast(false),
                    &mut Scope::new(),
                    &ast,
                    "describe",
                    (),
                )
                .map_err(|e| {
                    if matches!(*e, EvalAltResult::ErrorFunctionNotFound(..)) {
                        Text::from(text::step_catalog::NoDeclaration {
                            step: &shown,
                            catalog: &messages::sibling_path(path),
                        })
                    } else {
                        t::DescribeFailed {
                            path: &shown,
                            why: eval_error_text(*e),
                        }
                        .into()
                    }
                })?
        };
        let info = step_info(&described, catalog.as_ref()).map_err(|why| {
            if has_describe {
                Text::from(text::load::Describe { path: &shown, why })
            } else {
                text::step_catalog::InStep {
                    catalog: &messages::sibling_path(path),
                    why,
                }
                .into()
            }
        })?;
        let reach = super::reach::reach(&ast);
        check_messages(&shown, path, &reach.msgs, catalog.as_ref())?;
        let operations = operations(&reach);
        Ok(RhaiStep {
            path: shown,
            ast,
            info,
            catalog: Arc::new(catalog.unwrap_or_default()),
            operations,
        })
    }

    /// `capability.operation` for each operation `run` can reach (labrun describe).
    pub fn operations(&self) -> Vec<String> {
        self.operations.clone()
    }

    pub fn info(&self) -> &StepInfo {
        &self.info
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Runs the step for one trainee on a blocking thread (Rhai is synchronous;
    /// capability calls block on the async host).
    pub async fn run(self: Arc<Self>, ctx: RunContext) -> TraineeReport {
        let started = Instant::now();
        let trainee = ctx.trainee.clone();
        let step = self.clone();
        let handle = Handle::current();
        let (done, joined) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("labrun-rhai".into())
            .stack_size(rhai_stack_bytes(&ctx.limits))
            .spawn(move || {
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    step.run_blocking(ctx, handle)
                }));
                let _ = done.send(run.map_err(|panic| quoted(panic_text(&panic))));
            });
        let joined = match spawned {
            Ok(_) => joined
                .await
                .unwrap_or_else(|_| Err(Text::from(t::ThreadEnded).into())),
            Err(e) => Err(Text::from(t::NoRunThread { why: quoted(e) }).into()),
        };
        let (results, log) = match joined {
            Ok(done) => done,
            Err(why) => {
                let collector = Collector::default();
                let cause = Text::from(text::execute::Crashed { why });
                collector.finish(&self.info.checks, Some(&cause))
            }
        };
        let mut results = results;
        super::enforce_needs(&mut results, &self.info.needs);
        TraineeReport {
            trainee,
            results,
            log,
            elapsed_ms: started.elapsed().as_millis() as u64,
            course: None,
            ..Default::default()
        }
    }

    fn run_blocking(&self, ctx: RunContext, handle: Handle) -> (Vec<Outcome>, Vec<String>) {
        let deadline = Instant::now() + ctx.limits.wall_clock;
        let collector = Arc::new(Collector::default());
        let mut engine = sandboxed_engine(&ctx.limits, deadline);
        let bridge = Arc::new(Bridge {
            ctx: ctx.clone(),
            handle,
            deadline: tokio::time::Instant::from_std(deadline),
            collector: collector.clone(),
            needs: self.info.needs.clone(),
        });
        {
            let bridge = bridge.clone();
            engine.on_print(move |text| bridge.collector.log(text, &bridge.ctx.limits));
        }
        {
            let bridge = bridge.clone();
            engine.on_debug(move |text, _, pos| {
                bridge
                    .collector
                    .log(&format!("debug {pos}: {text}"), &bridge.ctx.limits)
            });
        }
        for capability in registry::ALL {
            engine.register_static_module(
                capability.name,
                capability_module(&bridge, capability).into(),
            );
        }
        engine.register_static_module("report", report_module(&bridge).into());
        engine.register_static_module("log", log_module(&bridge).into());
        register_msg(&mut engine, &self.catalog);

        let params: Map = ctx
            .params
            .iter()
            .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
            .collect();
        let result = engine.call_fn_with_options::<Dynamic>(
            CallFnOptions::new().eval_ast(true),
            &mut Scope::new(),
            &self.ast,
            "run",
            (params,),
        );
        drop(engine);
        let stopped = result
            .err()
            .map(|e| stop_cause(*e, &ctx.limits, &self.path));
        collector.finish(&self.info.checks, stopped.as_ref())
    }
}

/// `capability.operation` for each registered operation among those reached, in the
/// registry's order.
fn operations(reach: &super::reach::Reach) -> Vec<String> {
    registry::ALL
        .iter()
        .flat_map(|cap| (cap.operations)().iter().map(move |op| (cap.name, op.name)))
        .filter(|(c, o)| reach.operations.contains(&(c.to_string(), o.to_string())))
        .map(|(c, o)| format!("{c}.{o}"))
        .collect()
}

/// Refuses, before anything runs, a `msg(id, key…)` the step can reach that its catalog
/// cannot fill: a template the catalog lacks would otherwise show only in class, as an
/// `error` row in place of the hint.
fn check_messages(
    shown: &str,
    path: &Path,
    msgs: &[super::reach::MsgCall],
    catalog: Option<&Catalog>,
) -> Result<(), Text> {
    use crate::text::step_catalog;
    for m in msgs {
        let at = format!(
            "{shown}:{}:{}",
            m.position.line().unwrap_or(0),
            m.position.position().unwrap_or(0)
        );
        let Some((id, key)) = &m.literal else {
            return Err(step_catalog::MsgNotLiteral { at }.into());
        };
        let catalog_path = messages::sibling_path(path);
        match catalog {
            None => {
                return Err(step_catalog::MsgWithoutCatalog {
                    at,
                    id,
                    key,
                    catalog: &catalog_path,
                }
                .into())
            }
            Some(c) if !c.has(id, key) => {
                return Err(step_catalog::MsgNotInCatalog {
                    at,
                    id,
                    key,
                    catalog: &catalog_path,
                }
                .into())
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Native stack a Rhai step may need per call level and nested expression. Rhai
/// recurses on the native stack for both, so a step nesting expressions around a
/// recursive call needs up to `max_call_levels × max_expr_depth` frames; a debug
/// build measured about 6 KiB each. Overflowing the stack aborts the whole process
/// (every trainee's results lost), so steps run on a thread sized for their limits.
const RHAI_STACK_PER_NESTING: usize = 16 << 10;

/// The stack of the thread a Rhai step compiles, describes itself and runs on: room
/// for its nesting limits (see [`RHAI_STACK_PER_NESTING`]), between 16 and 256 MiB
/// (the policy's largest nesting limits, 128 × 128, fit). Only pages touched are
/// ever committed.
fn rhai_stack_bytes(limits: &Limits) -> usize {
    limits
        .max_call_levels
        .max(1)
        .saturating_mul(limits.max_expr_depth.max(1))
        .saturating_mul(RHAI_STACK_PER_NESTING)
        .clamp(16 << 20, 256 << 20)
}

/// A panic's message, for the row that reports it.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// An engine with every door closed except the modules registered afterwards.
fn sandboxed_engine(limits: &Limits, deadline: Instant) -> Engine {
    let mut engine = Engine::new();
    engine.set_module_resolver(DummyModuleResolver::new());
    engine.set_max_modules(0);
    engine.disable_symbol("eval");
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.on_progress(move |ops| {
        if ops % 1024 != 0 {
            None
        } else if super::stopping() {
            Some(Dynamic::from(super::stopping_text()))
        } else if Instant::now() > deadline {
            Some(Dynamic::from("wall-clock"))
        } else {
            None
        }
    });
    // labrun's errors thrown into a script (see `runtime_error`) read as English text
    // there, as every capability answer does.
    engine.register_fn("to_string", |t: &mut Text| t.en());
    engine.register_fn("to_debug", |t: &mut Text| t.en());
    // A step reports through `report::`; stray prints go to the step log, never stdout.
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine
}

struct Bridge {
    ctx: RunContext,
    handle: Handle,
    deadline: tokio::time::Instant,
    collector: Arc<Collector>,
    /// The step's declared prerequisites (`needs`), for `report::blocked_by`.
    needs: BTreeMap<String, Vec<String>>,
}

impl Bridge {
    /// One capability call through the gate. A call that trips the gate's stop (too
    /// many calls or denials) ends the step: Rhai cannot catch a termination.
    fn call(
        &self,
        capability: &str,
        operation: &str,
        request: Value,
        pos: Position,
    ) -> RhaiResult<Result<Value, CapError>> {
        let gate = self.ctx.gate.clone();
        let deadline = self.deadline;
        let stop = || {
            Box::new(EvalAltResult::ErrorTerminated(
                Dynamic::from(super::stopping_text()),
                pos,
            ))
        };
        // Never into a runtime that may be shutting down.
        if super::stopping() {
            return Err(stop());
        }
        let result = match oversized_request(capability, operation, &request) {
            Some(too_big) => Err(gate.refuse(too_big)),
            None => self.handle.block_on(async move {
                let call =
                    tokio::time::timeout_at(deadline, gate.call(capability, operation, request));
                tokio::select! {
                    answer = call => match answer {
                        Ok(result) => result,
                        Err(_) => Err(CapError::new(
                            capability,
                            operation,
                            ErrorKind::Timeout,
                            t::CallOutOfTime,
                        )),
                    },
                    _ = super::stopped() => Err(CapError::new(
                        capability,
                        operation,
                        ErrorKind::Timeout,
                        super::stopping_text(),
                    )),
                }
            }),
        };
        if super::stopping() {
            return Err(stop());
        }
        match self.ctx.gate.stop_cause() {
            Some(cause) => Err(Box::new(EvalAltResult::ErrorTerminated(
                Dynamic::from(cause),
                pos,
            ))),
            None => Ok(result),
        }
    }
}

/// A request over [`MAX_REQUEST_BYTES`] is refused before it is copied any further.
fn oversized_request(capability: &str, operation: &str, request: &Value) -> Option<CapError> {
    let size = serde_json::to_vec(request).map_or(usize::MAX, |v| v.len());
    (size > MAX_REQUEST_BYTES).then(|| request_too_big(capability, operation, size))
}

fn to_json(value: &Dynamic, what: Text, pos: Position) -> RhaiResult<Value> {
    rhai::serde::from_dynamic::<Value>(value).map_err(|e| {
        runtime_error(
            t::NotJson {
                what,
                why: quoted(e),
            }
            .into(),
            pos,
        )
    })
}

/// An error labrun throws into the script: the script can `catch` it (it reads as
/// the English text, `${e}`); uncaught, it stops the step and is shown in the run's
/// language.
fn runtime_error(message: Text, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(Dynamic::from(message), pos))
}

/// A capability error is thrown as a map the script can `catch`:
/// `#{ capability, operation, kind, code, message }`.
fn throw_cap_error(err: CapError, pos: Position) -> Box<EvalAltResult> {
    let value = rhai::serde::to_dynamic(&err).unwrap_or_else(|_| err.to_string().into());
    Box::new(EvalAltResult::ErrorRuntime(value, pos))
}

/// One Rhai module per capability, one function per operation, each taking a request
/// map (or nothing) and returning the answer as a map: `aws::ec2_describe_vpcs()`,
/// `dns::lookup(#{ name: "…" })`, `mysql::query(#{ … })`.
fn capability_module(bridge: &Arc<Bridge>, spec: &'static Capability) -> Module {
    let mut module = Module::new();
    let capability = spec.name;
    for operation in (spec.operations)().iter().map(|op| op.name) {
        let b = bridge.clone();
        module.set_native_fn(
            operation,
            move |nctx: NativeCallContext, request: Map| -> RhaiResult<Dynamic> {
                let pos = nctx.call_position();
                let request = to_json(&Dynamic::from_map(request), t::TheRequest.into(), pos)?;
                match b.call(capability, operation, request, pos)? {
                    Ok(value) => rhai::serde::to_dynamic(value),
                    Err(e) => Err(throw_cap_error(e, pos)),
                }
            },
        );
        let b = bridge.clone();
        module.set_native_fn(
            operation,
            move |nctx: NativeCallContext| -> RhaiResult<Dynamic> {
                let pos = nctx.call_position();
                match b.call(
                    capability,
                    operation,
                    Value::Object(Default::default()),
                    pos,
                )? {
                    Ok(value) => rhai::serde::to_dynamic(value),
                    Err(e) => Err(throw_cap_error(e, pos)),
                }
            },
        );
    }
    module
}

fn report_module(bridge: &Arc<Bridge>) -> Module {
    let mut module = Module::new();
    for status in Status::ALL {
        let b = bridge.clone();
        module.set_native_fn(
            status.as_str(),
            move |nctx: NativeCallContext, id: &str, en: &str, ja: &str| -> RhaiResult<()> {
                b.report(id, status, en, ja, None, nctx.call_position())
            },
        );
        let b = bridge.clone();
        module.set_native_fn(
            status.as_str(),
            move |nctx: NativeCallContext,
                  id: &str,
                  en: &str,
                  ja: &str,
                  evidence: Dynamic|
                  -> RhaiResult<()> {
                let pos = nctx.call_position();
                let evidence = to_json(&evidence, t::TheEvidence.into(), pos)?;
                b.report(id, status, en, ja, Some(evidence), pos)
            },
        );
    }
    // `report::blocked_by(id)`: the declared prerequisite of `id` that was reported
    // and did not pass, or `()`; the library's `guard` skips such a check unrun.
    let b = bridge.clone();
    module.set_native_fn("blocked_by", move |id: &str| -> RhaiResult<Dynamic> {
        Ok(
            super::unmet_need(id, &b.needs, |need| b.collector.status(need))
                .map_or(Dynamic::UNIT, |need| need.to_string().into()),
        )
    });
    let b = bridge.clone();
    module.set_native_fn(
        "outcome",
        move |nctx: NativeCallContext, outcome: Map| -> RhaiResult<()> {
            let pos = nctx.call_position();
            let field = |name: &str| -> RhaiResult<String> {
                outcome
                    .get(name)
                    .and_then(|v| v.clone().into_string().ok())
                    .ok_or_else(|| runtime_error(t::NeedsField { name }.into(), pos))
            };
            let status_text = field("status")?;
            let status = Status::parse(&status_text).ok_or_else(|| {
                runtime_error(
                    t::UnknownStatus {
                        status: &status_text,
                    }
                    .into(),
                    pos,
                )
            })?;
            let evidence = match outcome.get("evidence") {
                Some(v) => Some(to_json(v, t::TheEvidence.into(), pos)?),
                None => None,
            };
            b.report(
                &field("id")?,
                status,
                &field("en")?,
                &field("ja")?,
                evidence,
                pos,
            )
        },
    );
    module
}

impl Bridge {
    fn report(
        &self,
        id: &str,
        status: Status,
        en: &str,
        ja: &str,
        evidence: Option<Value>,
        pos: Position,
    ) -> RhaiResult<()> {
        let mut evidence = evidence.filter(|v| !v.is_null()).map(|v| {
            let size = serde_json::to_vec(&v).map_or(usize::MAX, |b| b.len());
            bounded_evidence(v, size)
        });
        if let Some(v) = evidence.as_mut() {
            caps::cassette::redact(v);
        }
        self.collector
            .report(
                Outcome {
                    id: id.to_string(),
                    status,
                    message: Message::new(en, ja),
                    evidence,
                    step: None,
                    undecided: false,
                },
                &self.ctx.limits,
            )
            .map_err(|e| runtime_error(e, pos))
    }
}

fn log_module(bridge: &Arc<Bridge>) -> Module {
    let mut module = Module::new();
    for level in ["info", "warn"] {
        let b = bridge.clone();
        module.set_native_fn(level, move |text: &str| -> RhaiResult<()> {
            b.collector.log(&format!("{level}: {text}"), &b.ctx.limits);
            Ok(())
        });
    }
    module
}

/// `msg(id, key, vars)` (and `msg(id, key)`): template `id.key` of the step's catalog
/// filled from the map `vars`, as `#{ en, ja }`. A value that is itself `#{ en, ja }`
/// fills each language with its own text; any other value is shown as `${value}` is.
fn register_msg(engine: &mut Engine, catalog: &Arc<Catalog>) {
    fn fill(catalog: &Catalog, id: &str, key: &str, vars: &Map, pos: Position) -> RhaiResult<Map> {
        let vars = vars
            .iter()
            .map(|(name, v)| {
                let each = v.clone().try_cast::<Map>().and_then(|m| {
                    let lang = |l: &str| m.get(l).and_then(|t| t.clone().into_string().ok());
                    Some(Message::new(lang("en")?, lang("ja")?))
                });
                let var = match each {
                    Some(m) => messages::Var::Each(m),
                    None => messages::Var::Same(v.to_string()),
                };
                (name.to_string(), var)
            })
            .collect();
        let m = catalog
            .format(id, key, &vars)
            .map_err(|e| runtime_error(e, pos))?;
        let mut out = Map::new();
        out.insert("en".into(), m.en.into());
        out.insert("ja".into(), m.ja.into());
        Ok(out)
    }
    let c = catalog.clone();
    engine.register_fn(
        "msg",
        move |ctx: NativeCallContext, id: &str, key: &str, vars: Map| {
            fill(&c, id, key, &vars, ctx.call_position())
        },
    );
    let c = catalog.clone();
    engine.register_fn("msg", move |ctx: NativeCallContext, id: &str, key: &str| {
        fill(&c, id, key, &Map::new(), ctx.call_position())
    });
}

fn step_info(described: &Dynamic, catalog: Option<&Catalog>) -> Result<StepInfo, Text> {
    let mut map = described
        .clone()
        .try_cast::<Map>()
        .ok_or(Text::from(t::NotAMap))?;
    if let Some(c) = catalog {
        declared_in_catalog(&mut map, c.manifest())?;
    }
    let text = |v: &Dynamic| v.clone().into_string().ok();
    let name = map
        .get("name")
        .and_then(text)
        .ok_or(Text::from(t::NameNotString))?;
    let title = match map.get("title") {
        Some(title) => {
            let title = title
                .clone()
                .try_cast::<Map>()
                .ok_or(Text::from(t::TitleNotPair))?;
            Message::new(
                title.get("en").and_then(text).unwrap_or_default(),
                title.get("ja").and_then(text).unwrap_or_default(),
            )
        }
        None => catalog
            .and_then(|c| c.title(messages::STEP_SECTION))
            .unwrap_or_else(|| Message::new(name.clone(), name.clone())),
    };
    let mut params = BTreeMap::new();
    if let Some(p) = map.get("params") {
        let p = p
            .clone()
            .try_cast::<Map>()
            .ok_or(Text::from(t::ParamsNotMap))?;
        for (k, v) in p {
            params.insert(k.to_string(), param(&k, &v)?);
        }
    }
    let c = map
        .get("checks")
        .ok_or(Text::from(t::ChecksMissing))?
        .clone()
        .try_cast::<rhai::Array>()
        .ok_or(Text::from(t::ChecksNotArray))?;
    let mut checks = Vec::with_capacity(c.len());
    for id in c {
        checks.push(text(&id).ok_or(Text::from(t::ChecksNotStrings))?);
    }
    let mut needs = BTreeMap::new();
    if let Some(n) = map.get("needs") {
        let n = n
            .clone()
            .try_cast::<Map>()
            .ok_or(Text::from(t::NeedsNotMap))?;
        for (id, before) in n {
            let before = before
                .try_cast::<rhai::Array>()
                .ok_or_else(|| Text::from(t::NeedsNotArray { id: id.as_str() }))?;
            let mut list = Vec::with_capacity(before.len());
            for b in before {
                list.push(text(&b).ok_or(Text::from(t::NeedsNotStrings))?);
            }
            needs.insert(id.to_string(), list);
        }
    }
    let mut requires = BTreeMap::new();
    if let Some(r) = map.get("requires") {
        let r = r
            .clone()
            .try_cast::<Map>()
            .ok_or(Text::from(t::RequiresNotMap))?;
        for (id, list) in r {
            let list = list
                .try_cast::<rhai::Array>()
                .ok_or_else(|| Text::from(t::RequiresNotArray { id: id.as_str() }))?;
            let mut needs_of = Vec::with_capacity(list.len());
            for n in list {
                let n = text(&n).ok_or(Text::from(t::RequiresNotStrings))?;
                needs_of.push(super::requires::Need::parse(&n)?);
            }
            requires.insert(id.to_string(), needs_of);
        }
    }
    let mut titles = BTreeMap::new();
    if let Some(t) = map.get("titles") {
        let titles_map = t
            .clone()
            .try_cast::<Map>()
            .ok_or(Text::from(t::TitlesNotMap))?;
        for (id, v) in titles_map {
            let m = v
                .try_cast::<Map>()
                .ok_or_else(|| Text::from(t::TitleNotMap { id: id.as_str() }))?;
            titles.insert(
                id.to_string(),
                Message::new(
                    m.get("en").and_then(text).unwrap_or_default(),
                    m.get("ja").and_then(text).unwrap_or_default(),
                ),
            );
        }
    }
    if let Some(c) = catalog {
        c.check_ids(&checks)
            .map_err(|why| Text::from(t::ItsCatalog { why }))?;
        let from_catalog = c.titles();
        if !from_catalog.is_empty() {
            if !titles.is_empty() {
                return Err(t::TitlesTwice.into());
            }
            titles = from_catalog;
        }
    }
    let info = StepInfo {
        name,
        title,
        params,
        checks,
        needs,
        requires,
        titles,
    };
    super::check_info(&info)?;
    Ok(info)
}

/// Adds what the catalog's `[step]` declares to what `describe()` returned, in
/// describe()'s shape, so that one set of rules checks both. A fact is declared once:
/// a key in both is refused.
fn declared_in_catalog(map: &mut Map, manifest: &messages::Manifest) -> Result<(), Text> {
    let strings = |list: &[String]| -> Dynamic {
        Dynamic::from_array(list.iter().cloned().map(Dynamic::from).collect())
    };
    let mut from_catalog: Vec<(&str, Dynamic)> = Vec::new();
    if let Some(name) = &manifest.name {
        from_catalog.push(("name", Dynamic::from(name.clone())));
    }
    if let Some(checks) = &manifest.checks {
        from_catalog.push(("checks", strings(checks)));
    }
    let by_id = |table: &BTreeMap<String, Vec<String>>| -> Dynamic {
        Dynamic::from_map(
            table
                .iter()
                .map(|(id, list)| (id.as_str().into(), strings(list)))
                .collect(),
        )
    };
    if let Some(needs) = &manifest.needs {
        from_catalog.push(("needs", by_id(needs)));
    }
    if let Some(requires) = &manifest.requires {
        from_catalog.push(("requires", by_id(requires)));
    }
    if let Some(params) = &manifest.params {
        let params: Map = params
            .iter()
            .map(|(name, p)| {
                let mut decl = Map::new();
                decl.insert("about".into(), Dynamic::from(p.about.clone()));
                if let Some(default) = &p.default {
                    decl.insert("default".into(), Dynamic::from(default.clone()));
                }
                decl.insert("required".into(), Dynamic::from_bool(p.required));
                (name.as_str().into(), Dynamic::from_map(decl))
            })
            .collect();
        from_catalog.push(("params", Dynamic::from_map(params)));
    }
    for (key, value) in from_catalog {
        if map.insert(key.into(), value).is_some() {
            return Err(text::step_catalog::DeclaredTwice { key }.into());
        }
    }
    Ok(())
}

/// One declared param: `"what it means"` (required, no default) or
/// `#{ about: "…", "default": "wp-{user}-slave" }` / `#{ about: "…", required: true }`
/// (`default` is a reserved word in Rhai, so that key is quoted).
/// Without `required`, a param is required exactly when it has no default.
fn param(name: &str, value: &Dynamic) -> Result<super::Param, Text> {
    if let Ok(about) = value.clone().into_string() {
        return Ok(super::Param::required(about));
    }
    let map = value.clone().try_cast::<Map>().ok_or_else(|| {
        Text::from(t::ParamNotMap {
            name,
            got: a_value(value.type_name()),
        })
    })?;
    let mut about = String::new();
    let mut default = None;
    let mut required = None;
    for (key, v) in &map {
        let wrong = |what: Text| {
            Text::from(t::ParamKeyType {
                name,
                key: key.as_str(),
                what,
                got: a_value(v.type_name()),
            })
        };
        match key.as_str() {
            "about" => {
                about = v
                    .clone()
                    .into_string()
                    .map_err(|_| wrong(t::AStringValue.into()))?
            }
            "default" => {
                default = Some(
                    v.clone()
                        .into_string()
                        .map_err(|_| wrong(t::AStringValue.into()))?,
                )
            }
            "required" => required = Some(v.as_bool().map_err(|_| wrong(t::TrueOrFalse.into()))?),
            other => return Err(t::ParamUnknownKey { name, key: other }.into()),
        }
    }
    let required = required.unwrap_or(default.is_none());
    Ok(super::Param {
        about,
        default,
        required,
    })
}

/// Why a run stopped, in one line with `path:line:column` where Rhai knows it, and
/// the script function it stopped in (Rhai's own multi-line call trace folded).
fn stop_cause(err: EvalAltResult, limits: &Limits, path: &str) -> Text {
    let (inner, pos, calls) = innermost(err);
    let what: Text = match inner {
        // The gate's stop carries its cause; the wall clock's token is "wall-clock".
        EvalAltResult::ErrorTerminated(token, _) if token.is::<Text>() => token.cast::<Text>(),
        EvalAltResult::ErrorTerminated(..) => t::WallClock {
            secs: limits.wall_clock.as_secs(),
        }
        .into(),
        EvalAltResult::ErrorTooManyOperations(..) => t::Operations {
            max: limits.max_operations,
        }
        .into(),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            if what.contains("string") {
                t::StringTooLarge {
                    max: limits.max_string_size,
                }
                .into()
            } else if what.contains("array") {
                t::ArrayTooLarge {
                    max: limits.max_array_size,
                }
                .into()
            } else {
                t::MapTooLarge {
                    max: limits.max_map_size,
                }
                .into()
            }
        }
        EvalAltResult::ErrorTooManyModules(..) => t::NoImport.into(),
        EvalAltResult::ErrorStackOverflow(..) => t::Nesting {
            levels: limits.max_call_levels,
        }
        .into(),
        other => eval_error_text(other),
    };
    let what: Text = match calls.as_slice() {
        [] => what,
        [only] => t::InFn { what, name: only }.into(),
        [innermost, .., outermost] => t::InFnCalledFrom {
            what,
            name: innermost,
            from: outermost,
        }
        .into(),
    };
    match (pos.line(), pos.position()) {
        (Some(line), Some(column)) => t::At {
            path,
            line,
            column,
            what,
        }
        .into(),
        _ => t::AtFile { path, what }.into(),
    }
}

/// The error that really happened, where, and the script functions it happened in
/// (innermost first; closures are not named).
fn innermost(err: EvalAltResult) -> (EvalAltResult, Position, Vec<String>) {
    match err {
        EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) => {
            let (e, p, mut calls) = innermost(*inner);
            if !name.starts_with("anon$") {
                calls.push(name);
            }
            (e, if p.is_none() { pos } else { p }, calls)
        }
        EvalAltResult::ErrorInModule(_, inner, pos) => {
            let (e, p, calls) = innermost(*inner);
            (e, if p.is_none() { pos } else { p }, calls)
        }
        other => {
            let pos = other.position();
            (other, pos, Vec::new())
        }
    }
}

/// The error's message in one line, without Rhai's position suffix or call trace; a
/// thrown capability error map says `aws.operation: message`; a value of the wrong
/// type names the function, field or index it was used with, and says what that
/// usually means. What the script threw and what Rhai itself says stay quoted.
fn eval_error_text(err: EvalAltResult) -> Text {
    let (mut err, ..) = innermost(err);
    let hinted = |what: Text| -> Text { t::WrongType { what }.into() };
    let text: Option<Text> = match &err {
        EvalAltResult::ErrorRuntime(value, _) if value.is::<Text>() => {
            Some(value.clone().cast::<Text>())
        }
        EvalAltResult::ErrorRuntime(value, _) => {
            if let Ok(cap) = rhai::serde::from_dynamic::<CapError>(value) {
                Some(
                    t::CapFailed {
                        capability: &cap.capability,
                        operation: &cap.operation,
                        why: cap.message_arg(),
                    }
                    .into(),
                )
            } else {
                value
                    .clone()
                    .into_string()
                    .ok()
                    .map(|s| t::Thrown { what: remote(&s) }.into())
            }
        }
        EvalAltResult::ErrorFunctionNotFound(signature, _) => Some(not_found_text(signature)),
        EvalAltResult::ErrorMismatchDataType(expected, actual, _) => Some(hinted(
            t::GotWhere {
                got: a_value(actual),
                expected: a_value(expected),
            }
            .into(),
        )),
        EvalAltResult::ErrorIndexingType(what, _) => Some(hinted(match what.split_once(" [") {
            Some((on, with)) => t::CannotIndexWith {
                on: a_value(on),
                with: a_value(with.trim_end_matches(']')),
            }
            .into(),
            None => t::CannotIndex { on: a_value(what) }.into(),
        })),
        EvalAltResult::ErrorDotExpr(text, _) => field_text(text).map(hinted),
        EvalAltResult::ErrorFor(_) => Some(hinted(t::ForNeedsList.into())),
        _ => None,
    };
    text.unwrap_or_else(|| {
        err.clear_position();
        t::Engine {
            what: remote(&err.to_string()),
        }
        .into()
    })
}

/// Text the script or the engine wrote, on one line and quoted.
fn remote(text: &str) -> text::Arg {
    super::remote_cause(text)
}

/// `Function not found: filter (string, Fn)` for people: which function, field or
/// index got a value of the wrong type.
fn not_found_text(signature: &str) -> Text {
    let (name, args) = match signature.split_once(" (") {
        Some((name, args)) => (name, args.strip_suffix(')').unwrap_or(args)),
        None => (signature, ""),
    };
    let mut types = args.split(", ").filter(|a| !a.is_empty());
    let hinted = |what: Text| -> Text { t::WrongType { what }.into() };
    if let Some(field) = name
        .strip_prefix("get$")
        .or_else(|| name.strip_prefix("set$"))
    {
        let on = a_value(types.next().unwrap_or("?"));
        return hinted(t::FieldUsedOn { field, on }.into());
    }
    if name == "index$get$" || name == "index$set$" {
        let on = a_value(types.next().unwrap_or("?"));
        let with = a_value(types.next().unwrap_or("?"));
        return hinted(t::CannotIndexWith { on, with }.into());
    }
    let args: Vec<Text> = types.map(type_name).collect();
    if args.is_empty() || name.contains("::") {
        // An unknown function (e.g. an operation a capability does not have).
        return t::NoFunction { signature }.into();
    }
    hinted(
        t::DoesNotTake {
            name,
            args: text::list(args),
        }
        .into(),
    )
}

/// Rhai's `Unknown property 'Value' - a getter is not registered for type 'bool'` (and
/// its setter twin) for people; `None` for any other dot-expression error.
fn field_text(text: &str) -> Option<Text> {
    let quoted = |s: &str| -> Option<String> {
        let (_, rest) = s.split_once('\'')?;
        Some(rest.split_once('\'')?.0.to_string())
    };
    let field = quoted(text)?;
    let (_, on) = text.split_once("for type ")?;
    let on = a_value(&quoted(on)?);
    Some(if text.starts_with("No writable property") {
        t::FieldSetOn { field, on }.into()
    } else {
        t::FieldReadFrom { field, on }.into()
    })
}

/// A Rhai type as a step author knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RhaiType {
    String,
    Number,
    Decimal,
    Unit,
    Function,
    Map,
    List,
    Bool,
    /// Any other type, by its own name (`int32`, `char`, …).
    Other(String),
}

fn rhai_type(rhai: &str) -> RhaiType {
    let names: Vec<&str> = rhai.split('|').map(str::trim).collect();
    if names
        .iter()
        .any(|n| matches!(*n, "&str" | "ImmutableString" | "String" | "string"))
    {
        return RhaiType::String;
    }
    match names[0] {
        "i64" | "int" | "INT" => RhaiType::Number,
        "f64" | "float" | "FLOAT" => RhaiType::Decimal,
        "()" => RhaiType::Unit,
        "Fn" | "FnPtr" => RhaiType::Function,
        "Map" | "map" => RhaiType::Map,
        "Array" | "array" => RhaiType::List,
        "bool" => RhaiType::Bool,
        other => RhaiType::Other(other.rsplit("::").next().unwrap_or(other).to_string()),
    }
}

/// Rhai's type names as a step author knows them: `number`, `string`, `list`, …
fn type_name(rhai: &str) -> Text {
    match rhai_type(rhai) {
        RhaiType::String => t::TypeString.into(),
        RhaiType::Number => t::TypeNumber.into(),
        RhaiType::Decimal => t::TypeDecimal.into(),
        RhaiType::Unit => t::TypeUnit.into(),
        RhaiType::Function => t::TypeFunction.into(),
        RhaiType::Map => t::TypeMap.into(),
        RhaiType::List => t::TypeList.into(),
        RhaiType::Bool => t::TypeBool.into(),
        RhaiType::Other(name) => t::TypeOther { name }.into(),
    }
}

/// A value of a Rhai type, with its article: `a number`, `nothing ()`, `an int32`.
fn a_value(rhai: &str) -> Text {
    match rhai_type(rhai) {
        RhaiType::String => t::AString.into(),
        RhaiType::Number => t::ANumber.into(),
        RhaiType::Decimal => t::ADecimal.into(),
        RhaiType::Unit => t::Nothing.into(),
        RhaiType::Function => t::AFunction.into(),
        RhaiType::Map => t::AMap.into(),
        RhaiType::List => t::AList.into(),
        RhaiType::Bool => t::ABool.into(),
        RhaiType::Other(name) if name.starts_with(['a', 'e', 'i', 'o', 'u']) => {
            t::AnOther { name }.into()
        }
        RhaiType::Other(name) => t::AOther { name }.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operations of a script with the lab library merged in, as a loaded step
    /// lists them.
    fn operations_of(script: &str) -> Vec<String> {
        let limits = Limits::default();
        let engine = sandboxed_engine(&limits, Instant::now() + limits.wall_clock);
        let ast = engine
            .compile(LAB_LIBRARY)
            .unwrap()
            .merge(&engine.compile(script).unwrap());
        operations(&super::super::reach::reach(&ast))
    }

    #[test]
    fn operations_follow_the_lab_library_functions_a_script_calls() {
        let ops = operations_of(
            "fn run(p) { let lb = http_only_from_load_balancer(g); aws::ec2_describe_vpcs(); }",
        );
        assert_eq!(
            ops,
            ["aws.ec2_describe_vpcs", "aws.elbv2_describe_load_balancers"]
        );
        // A script's own function of that name replaces the library's.
        let ops = operations_of(
            "fn http_only_from_load_balancer(g) { () }\nfn run(p) { http_only_from_load_balancer(g) }",
        );
        assert!(ops.is_empty(), "{ops:?}");
        // A longer name that merely ends like a library function is not a call of it.
        assert!(operations_of("fn run(p) { my_http_only_from_load_balancer(g) }").is_empty());
        // Step 1 reaches the load balancers only through the lab library.
        let step1 = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/step1.rhai"
        ))
        .unwrap();
        assert!(operations_of(&step1).contains(&"aws.elbv2_describe_load_balancers".to_string()));
    }

    /// How a `run` that fails with `script` stops, as the report says it.
    fn stopped(script: &str) -> String {
        let limits = Limits::default();
        let engine = sandboxed_engine(&limits, Instant::now() + limits.wall_clock);
        let ast = engine.compile(script).unwrap();
        let err = engine
            .call_fn::<Dynamic>(&mut Scope::new(), &ast, "run", (Map::new(),))
            .unwrap_err();
        stop_cause(*err, &limits, "step.rhai").en()
    }

    const HINT: &str = "a value has another type than the step expects";

    #[test]
    fn a_value_of_the_wrong_type_stops_in_one_line_naming_what_got_it() {
        for (script, expected) in [
            (
                r#"fn run(p) { let vpcs = "not a list"; vpcs.filter(|v| v.Tags[0] == "x") }"#,
                "step.rhai:1:43: Function not found: `filter` does not take (string, function): ",
            ),
            (
                r#"fn run(p) { [#{ Tags: 7 }].filter(|v| v.Tags[0].Value == "x") }"#,
                "step.rhai:1:49: field `Value` read from a bool, which has no fields: ",
            ),
            (
                r#"fn check(w) { w.Tags.Value } fn run(p) { check(#{ Tags: "s" }) }"#,
                "step.rhai:1:22: field `Value` read from a string, which has no fields: ",
            ),
            (
                r#"fn check(w) { w.Tags.x = 1 } fn run(p) { check(#{ Tags: 1 }) }"#,
                "step.rhai:1:22: field `x` set on a number, which has no fields: ",
            ),
            (
                r#"fn check(w) { for x in w.Tags {} } fn run(p) { check(#{ Tags: 5 }) }"#,
                "step.rhai:1:24: `for` needs a list, a range or a string to loop over: ",
            ),
            (
                r#"fn check(w) { w.Tags[0] } fn run(p) { check(#{ Tags: () }) }"#,
                "step.rhai:1:21: cannot index nothing () with a number: ",
            ),
            (
                r#"fn check(w) { w.Tags["k"] } fn run(p) { check(#{ Tags: [1] }) }"#,
                "step.rhai:1:22: got a string where a number was expected: ",
            ),
            (
                r#"fn check(w) { if w { 1 } } fn run(p) { check(5) }"#,
                "step.rhai:1:18: got a number where a bool was expected: ",
            ),
            (
                r#"fn check(w) { w.len() > 1 } fn outer(w) { check(w) } fn run(p) { outer(5) }"#,
                "step.rhai:1:17: Function not found: `len` does not take (number): ",
            ),
        ] {
            let cause = stopped(script);
            assert!(cause.starts_with(expected), "{script}\n{cause}");
            assert!(cause.contains(HINT), "{cause}");
            assert!(!cause.contains('\n'), "{cause:?}");
        }
        let nested = stopped(
            r#"fn check(w) { w.len() > 1 } fn outer(w) { check(w) } fn run(p) { outer(5) }"#,
        );
        assert!(
            nested.ends_with("(in fn check, called from outer)"),
            "{nested}"
        );
    }

    #[test]
    fn every_stop_cause_is_one_line() {
        for script in [
            r#"fn run(p) { throw "line one\nline two\r\n  line three" }"#,
            r#"fn f() { g() } fn g() { throw "deep\ntrace" } fn run(p) { f() }"#,
            r#"fn run(p) { [1].map(|x| x.nope()) }"#,
            r#"fn run(p) { let a = [1]; a[5] }"#,
            r#"fn run(p) { undefined_fn(1) }"#,
        ] {
            let cause = stopped(script);
            assert!(!cause.contains('\n') && !cause.contains('\r'), "{cause:?}");
            assert!(cause.starts_with("step.rhai:1:"), "{cause}");
        }
        assert_eq!(
            stopped(r#"fn run(p) { throw "line one\nline two" }"#),
            "step.rhai:1:13: “line one line two”"
        );
        assert!(stopped(r#"fn f() { throw "x" } fn run(p) { f() }"#).ends_with("“x” (in fn f)"));
    }

    #[test]
    fn a_sibling_catalog_gives_the_titles_and_the_messages() {
        let limits = Limits::default();
        let dir = std::env::temp_dir().join(format!("labrun-rhai-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.rhai");
        let catalog = dir.join("s.messages.toml");
        std::fs::write(
            &path,
            "fn describe() { #{ name: \"s\", checks: [\"A1\"] } }\nfn run(p) {}\n",
        )
        .unwrap();
        std::fs::write(
            &catalog,
            "[step]\ntitle = { en = \"S\", ja = \"エス\" }\n[A1]\ntitle = { en = \"one\", ja = \"一\" }\nok = { en = \"{x} and {y}\", ja = \"{y}・{x}\" }\n",
        )
        .unwrap();
        let step = RhaiStep::load(&path, &limits).unwrap();
        assert_eq!(step.info().title, Message::new("S", "エス"));
        assert_eq!(step.info().titles["A1"], Message::new("one", "一"));

        // msg(): plain values in both languages, #{ en, ja } per language, and a
        // missing value is a script error naming it.
        let mut engine = sandboxed_engine(&limits, Instant::now() + limits.wall_clock);
        register_msg(&mut engine, &step.catalog);
        let m: Map = engine
            .eval(r#"msg("A1", "ok", #{ x: 5, y: #{ en: "a, b", ja: "a、b" } })"#)
            .unwrap();
        assert_eq!(m["en"].to_string(), "5 and a, b");
        assert_eq!(m["ja"].to_string(), "a、b・5");
        let err = engine
            .eval::<Map>(r#"msg("A1", "ok", #{ x: 5 })"#)
            .unwrap_err();
        let err = eval_error_text(*err).en();
        assert!(err.contains("message A1.ok needs a value for {y}"), "{err}");
        // A script that catches it reads it as text.
        let caught: String = engine
            .eval(r#"let r = ""; try { msg("A1", "ok", #{ x: 5 }); } catch (e) { r = `${e}`; } r"#)
            .unwrap();
        assert!(caught.contains("needs a value for {y}"), "{caught}");

        // Titles in both places, or a declared check without one, are refused.
        std::fs::write(
            &path,
            "fn describe() { #{ name: \"s\", checks: [\"A1\"], titles: #{ A1: #{ en: \"x\", ja: \"x\" } } } }\nfn run(p) {}\n",
        )
        .unwrap();
        let err = RhaiStep::load(&path, &limits).err().unwrap().to_string();
        assert!(
            err.contains("both here and in the message catalog"),
            "{err}"
        );
        std::fs::write(
            &path,
            "fn describe() { #{ name: \"s\", checks: [\"A1\", \"A2\"] } }\nfn run(p) {}\n",
        )
        .unwrap();
        let err = RhaiStep::load(&path, &limits).err().unwrap().to_string();
        assert!(
            err.contains("its message catalog: [A2] has no title"),
            "{err}"
        );
        std::fs::write(&catalog, "[A1\n").unwrap();
        let err = RhaiStep::load(&path, &limits).err().unwrap().to_string();
        assert!(
            err.starts_with(&format!("{}: line 1: not valid TOML", catalog.display())),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_describe_declaring_bad_checks_is_refused_in_one_line() {
        let limits = Limits::default();
        let dir = std::env::temp_dir().join(format!("labrun-rhai-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (checks, expected) in [
            ("[\"A1\", \"A1\"]", "`checks` lists `A1` twice"),
            ("[]", "`checks` is empty"),
            ("[\"A 1\"]", "holds a space"),
        ] {
            let path = dir.join("step.rhai");
            std::fs::write(
                &path,
                format!(
                    "fn describe() {{ #{{ name: \"s\", checks: {checks} }} }}\nfn run(p) {{}}\n"
                ),
            )
            .unwrap();
            let err = RhaiStep::load(&path, &limits).err().unwrap().to_string();
            assert!(
                err.contains("describe(): ") && err.contains(expected),
                "{err}"
            );
        }
        let path = dir.join("step.rhai");
        std::fs::write(&path, "fn describe() { #{ name: \"s\" } }\nfn run(p) {}\n").unwrap();
        let err = RhaiStep::load(&path, &limits).err().unwrap().to_string();
        assert!(err.contains("`checks` is missing"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn params_are_a_description_or_a_map_with_about_default_required() {
        let described = |params: &str| {
            let engine = Engine::new();
            let value: Dynamic = engine
                .eval(&format!(
                    "#{{ name: \"s\", params: {params}, checks: [\"A1\"] }}"
                ))
                .unwrap();
            step_info(&value, None)
        };
        let info = described(
            r#"#{ user: "trainee id", reader: #{ about: "reader", "default": "wp-{user}-slave" },
                 key: #{ about: "key pair", required: true }, bare: #{ about: "x" } }"#,
        )
        .unwrap();
        assert_eq!(
            info.params["user"],
            super::super::Param::required("trainee id")
        );
        assert_eq!(
            info.params["reader"],
            super::super::Param::with_default("reader", "wp-{user}-slave")
        );
        assert_eq!(
            info.params["key"],
            super::super::Param::required("key pair")
        );
        assert!(info.params["bare"].required);
        for (params, says) in [
            (
                r#"#{ a: #{ about: "x", dflt: "y" } }"#,
                "`a` has an unknown key `dflt`",
            ),
            (
                r#"#{ a: #{ "default": 5 } }"#,
                "`a`: `default` must be a string, not a number",
            ),
            (
                r#"#{ a: #{ required: "yes" } }"#,
                "`required` must be true or false",
            ),
            (
                r#"#{ a: 5 }"#,
                "`a` must be a description string or #{ about, default, required }",
            ),
            (
                r#"#{ a: #{ about: "x", "default": "d", required: true } }"#,
                "is required and has a default",
            ),
            (
                r#"#{ a: #{ "default": "{b}" } }"#,
                "refers to `{b}`, which the step does not declare",
            ),
        ] {
            let err = described(params).unwrap_err().to_string();
            assert!(err.contains(says), "{params}: {err}");
        }
    }

    #[test]
    fn an_unquoted_default_key_is_a_syntax_error_saying_to_quote_it() {
        let dir = std::env::temp_dir().join(format!("labrun-rhai-default-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("step.rhai");
        std::fs::write(
            &path,
            "fn describe() { #{ name: \"s\", params: #{ r: #{ default: \"x\" } }, checks: [\"A1\"] } }\nfn run(p) {}\n",
        )
        .unwrap();
        let err = RhaiStep::load(&path, &Limits::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.ends_with("'default' is a reserved keyword” (as a map key write it quoted: \"default\": \"…\")"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Every helper lives once: a function two shipped steps need is in the lab library,
    /// never copied into both, and no step redefines one the library has.
    #[test]
    fn no_function_is_defined_in_two_steps_or_beside_the_lab_library() {
        let limits = Limits::default();
        let engine = sandboxed_engine(&limits, Instant::now() + limits.wall_clock);
        let lab: std::collections::BTreeSet<String> = engine
            .compile(LAB_LIBRARY)
            .unwrap()
            .iter_functions()
            .map(|f| f.name.to_string())
            .collect();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
        let mut scripts: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
            .collect();
        scripts.sort();
        assert!(scripts.len() >= 3, "{scripts:?}");
        let mut defined_in: BTreeMap<String, String> = BTreeMap::new();
        for path in &scripts {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let ast = engine
                .compile(std::fs::read_to_string(path).unwrap())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let mut names: Vec<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
            names.sort();
            names.dedup();
            for name in names {
                // What every step defines: its interface to labrun, not a helper.
                if name == "describe" || name == "run" {
                    continue;
                }
                assert!(
                    !lab.contains(&name),
                    "{file} defines `{name}`, which the lab library has: call the library's"
                );
                if let Some(other) = defined_in.insert(name.clone(), file.clone()) {
                    panic!("`{name}` is defined in both {other} and {file}: move it to the lab library (host/src/step/lab.rhai)");
                }
            }
        }
    }
}
