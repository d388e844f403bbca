//! WebAssembly front-end: a step is a component of the world `labrun:host/step`
//! (`wit/labrun-host.wit`), run in wasmtime with exactly the capabilities granted.
//!
//! - Grants are checked against the component's import list before anything runs.
//! - Capability imports go through the same [`Gate`] (policy, then the hub) as the
//!   Rhai modules;
//!   `report`/`log` go to the same [`Collector`] with the same [`Limits`].
//! - Bounded: fuel (CPU), epoch interruption (wall clock), memory and table growth,
//!   each host call bounded by the run's deadline; a trap marks every unreported
//!   check `error`, naming the limit.
//! - WASI: no preopens, no env, no args, no network; stdout/stderr go to a bounded
//!   buffer (truncated, never a crash) and then to the step log.
//! - Compiled artifacts are cached (see [`cache`]).

pub mod cache;
pub mod policy;

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::{Collector, Limits, RunContext, StepInfo};
use crate::caps::{self, registry, CapError, ErrorKind};
use crate::gate::Gate;
use crate::outcome::{Message, Outcome, Status, TraineeReport};
use crate::text::{self, quoted, wasm as t, Lang, Text};

/// What the host tells a guest that called it wrongly (WIT `result<_, string>`): in
/// English, as every answer a guest reads.
type ToGuest = String;
pub use cache::Source;
pub use policy::Grants;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "step",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::labrun::host as wit;

/// The world of `labrun:host@0.1.0`, which this host keeps serving: its exports have
/// the same names as today's, `describe` returns this older record. Wasmtime checks
/// records by field names and types, so these mirror the 0.1.0 WIT exactly.
mod v0_1 {
    use wasmtime::component::{ComponentType, Lift};

    /// `step-info` of 0.1.0: params as (name, description), all required.
    #[derive(ComponentType, Lift, Debug)]
    #[component(record)]
    pub struct StepInfo {
        pub name: String,
        #[component(name = "title-en")]
        pub title_en: String,
        #[component(name = "title-ja")]
        pub title_ja: String,
        pub params: Vec<(String, String)>,
        pub checks: Vec<String>,
    }
}

/// A component ready to instantiate, in the world of the labrun:host minor it was
/// built for.
enum Pre {
    Current(bindings::StepPre<State>),
    V0_1(wasmtime::component::InstancePre<State>),
}

/// Epoch ticks: the wall clock is checked (and the executor yielded to) this often.
const TICK: Duration = Duration::from_millis(10);
/// Bytes of guest stdout + stderr kept per run; the rest is counted and dropped.
const OUTPUT_CAP: usize = 64 * 1024;
/// Native stack a step's wasm frames may use (wasmtime's default, named here so the
/// error can say it).
const MAX_WASM_STACK: usize = 512 << 10;
/// Frames kept in a trap's backtrace (wasmtime's default); a full one of one or two
/// functions tells a stack overflow apart from other out-of-bounds accesses.
const BACKTRACE_FRAMES: usize = 20;
/// Table elements a step may grow to.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Concurrent instances the pooling allocator holds (a run or a describe each).
const POOL_INSTANCES: u32 = 300;

/// One engine per process: compiled code is shared by every trainee's run.
fn engine() -> Result<&'static Engine, Text> {
    static ENGINE: OnceLock<Result<Engine, Text>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let engine = match Engine::new(&config(pooling())) {
                Ok(engine) => engine,
                // The pool reserves its address space up front; under `ulimit -v` that
                // fails, and instances are allocated one by one instead (slower to
                // start, the same limits).
                Err(pooled) => {
                    let engine = Engine::new(&config(InstanceAllocationStrategy::OnDemand))
                        .map_err(|e| Text::from(t::NoEngine { why: quoted(e) }))?;
                    eprintln!(
                        "labrun: {}",
                        Text::from(t::Note {
                            what: pool_refused(&pooled.to_string()),
                        })
                    );
                    engine
                }
            };
            let weak = engine.weak();
            std::thread::Builder::new()
                .name("labrun-epoch".into())
                .spawn(move || {
                    while let Some(engine) = weak.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(TICK);
                    }
                })
                .map_err(|e| Text::from(t::NoTimer { why: quoted(e) }))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The pooling allocator: [`POOL_INSTANCES`] instances' memories, tables and stacks
/// reserved once, so instantiating a step costs microseconds.
fn pooling() -> InstanceAllocationStrategy {
    let limits = Limits::default();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 8)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        .max_core_instances_per_component(50)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .max_memory_size(limits.max_memory_bytes);
    InstanceAllocationStrategy::Pooling(pool)
}

fn config(allocation: InstanceAllocationStrategy) -> Config {
    let limits = Limits::default();
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(BACKTRACE_FRAMES))
        .epoch_interruption(true)
        .allocation_strategy(allocation)
        // Reserve no more address space per memory than a step may use.
        .memory_reservation(limits.max_memory_bytes as u64)
        .memory_guard_size(64 << 10)
        .memory_reservation_for_growth(0);
    config
}

/// The note when the pool could not be reserved: which limit stood in the way.
fn pool_refused(error: &str) -> Text {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we own.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    let cause: Text = if got && limit.rlim_cur != libc::RLIM_INFINITY {
        t::AddressLimit {
            mib: limit.rlim_cur >> 20,
        }
        .into()
    } else {
        t::SystemRefused {
            why: quoted(error.lines().next().unwrap_or(error)),
        }
        .into()
    };
    t::NoPool {
        instances: POOL_INSTANCES,
        cause,
    }
    .into()
}

fn linker(engine: &Engine) -> Result<Linker<State>, Text> {
    let mut linker = Linker::new(engine);
    // Linked for completeness; the grants refuse wasi:sockets imports before linking
    // matters, and the context allows no address anyway.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| Text::from(t::NoWasi { why: quoted(e) }))?;
    let link = |e: wasmtime::Error| Text::from(t::NoHostLink { why: quoted(e) });
    wit::types::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(link)?;
    wit::report::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(link)?;
    wit::log::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(link)?;
    // Older minors' interfaces: the same functions and types (a minor only adds), so
    // the same host code serves them under their own version.
    for version in policy::SERVED_VERSIONS
        .iter()
        .filter(|v| **v != policy::HOST_VERSION)
    {
        let at = |interface: &str| format!("{}/{interface}@{version}", policy::HOST_PACKAGE);
        linker.instance(&at("types")).map_err(link)?;
        let mut report = linker.instance(&at("report")).map_err(link)?;
        report
            .func_wrap_async(
                "outcome",
                |mut store: wasmtime::StoreContextMut<'_, State>, (row,): (wit::report::Row,)| {
                    Box::new(async move {
                        let done = wit::report::Host::outcome(store.data_mut(), row).await?;
                        Ok((done,))
                    })
                },
            )
            .map_err(link)?;
        let mut log = linker.instance(&at("log")).map_err(link)?;
        log.func_wrap_async(
            "info",
            |mut store: wasmtime::StoreContextMut<'_, State>, (message,): (String,)| {
                Box::new(async move { wit::log::Host::info(store.data_mut(), message).await })
            },
        )
        .map_err(link)?;
        log.func_wrap_async(
            "warn",
            |mut store: wasmtime::StoreContextMut<'_, State>, (message,): (String,)| {
                Box::new(async move { wit::log::Host::warn(store.data_mut(), message).await })
            },
        )
        .map_err(link)?;
    }
    // Capability imports are generated from the registry: one host function per
    // operation, each going through the run's gate like the Rhai modules; under
    // every served version.
    for (capability, version) in registry::ALL
        .iter()
        .flat_map(|c| policy::SERVED_VERSIONS.iter().map(move |v| (c, v)))
    {
        let name = format!("{}/{}@{}", policy::HOST_PACKAGE, capability.name, version);
        let mut instance = linker.instance(&name).map_err(link)?;
        for op in (capability.operations)() {
            let (cap, operation) = (capability.name, op.name);
            instance
                .func_wrap_async(
                    &op.wit_name(),
                    move |mut store: wasmtime::StoreContextMut<'_, State>,
                          (request,): (String,)| {
                        Box::new(async move {
                            let answer = store.data_mut().call(cap, operation, request).await?;
                            Ok((answer,))
                        })
                    },
                )
                .map_err(link)?;
        }
    }
    Ok(linker)
}

/// What a component imports, and its size and sha256 (`labrun describe` shows them).
#[derive(Debug, Clone)]
pub struct Manifest {
    pub size: usize,
    pub sha256: String,
    /// Every import, as the component names it.
    pub imports: Vec<String>,
    /// `capability.operation` for each labrun:host capability function imported.
    pub operations: Vec<String>,
}

impl Manifest {
    /// labrun:host capability interfaces imported (e.g. `aws`).
    pub fn capabilities(&self) -> Vec<String> {
        self.imports
            .iter()
            .filter_map(|i| policy::split_import(i))
            .filter(|i| i.package == policy::HOST_PACKAGE && registry::get(i.interface).is_some())
            .map(|i| i.interface.to_string())
            .collect()
    }

    /// The labrun:host versions imported (normally one).
    pub fn host_versions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .imports
            .iter()
            .filter_map(|i| policy::split_import(i))
            .filter(|i| i.package == policy::HOST_PACKAGE)
            .map(|i| i.version.unwrap_or("?").to_string())
            .collect();
        v.dedup();
        v
    }
}

pub struct WasmStep {
    path: String,
    info: StepInfo,
    pre: Pre,
    manifest: Manifest,
    source: Source,
}

impl WasmStep {
    /// Reads, checks grants, compiles (or loads from the cache) and asks the
    /// component to describe itself. Errors are one line, ready to print.
    pub async fn load(path: &Path, limits: &Limits, grants: &Grants) -> Result<WasmStep, Text> {
        let shown = path.display().to_string();
        let (component, manifest, source) = compile(path)?;
        policy::check_imports(manifest.imports.iter().map(String::as_str), grants)
            .map_err(|why| Text::from(t::InStep { path: &shown, why }))?;
        let engine = engine()?;
        let pre = linker(engine)?.instantiate_pre(&component).map_err(|e| {
            Text::from(t::CannotLink {
                path: &shown,
                why: quoted(one_line(&e)),
            })
        })?;
        let not_a_step = |version: &str| -> Text {
            t::NotAStep {
                path: &shown,
                version,
            }
            .into()
        };
        // The minor it imports fixes the shape of its exports (one version: checked).
        let pre = match manifest.host_versions().first().map(String::as_str) {
            Some(v) if v.starts_with("0.1.") => {
                let exports = ["describe", "run"];
                if exports
                    .iter()
                    .any(|e| component.get_export_index(None, e).is_none())
                {
                    return Err(not_a_step(v));
                }
                Pre::V0_1(pre)
            }
            _ => Pre::Current(
                bindings::StepPre::new(pre).map_err(|_| not_a_step(policy::HOST_VERSION))?,
            ),
        };
        let mut step = WasmStep {
            path: shown.clone(),
            info: StepInfo {
                name: String::new(),
                title: Message::new("", ""),
                params: BTreeMap::new(),
                checks: Vec::new(),
                needs: BTreeMap::new(),
                requires: BTreeMap::new(),
                titles: BTreeMap::new(),
            },
            pre,
            manifest,
            source,
        };
        step.info = step
            .describe(limits)
            .await
            .map_err(|why| Text::from(t::DescribeFailed { path: &shown, why }))?;
        Ok(step)
    }

    pub fn info(&self) -> &StepInfo {
        &self.info
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether the compiled code came from the cache.
    pub fn source(&self) -> Source {
        self.source
    }

    async fn describe(&self, limits: &Limits) -> Result<StepInfo, Text> {
        let deadline = Instant::now() + limits.wall_clock.min(Duration::from_secs(30));
        let collector = Arc::new(Collector::default());
        let (mut store, output) = self.store(None, collector, limits, deadline);
        let outcome = async {
            match &self.pre {
                Pre::Current(pre) => {
                    let step = pre.instantiate_async(&mut store).await?;
                    let d = step.call_describe(&mut store).await?;
                    Ok::<_, wasmtime::Error>(StepInfo {
                        name: d.name,
                        title: Message::new(d.title_en, d.title_ja),
                        params: d
                            .params
                            .into_iter()
                            .map(|p| {
                                let spec = super::Param {
                                    about: p.about,
                                    default: p.default,
                                    required: p.required,
                                };
                                (p.name, spec)
                            })
                            .collect(),
                        checks: d.checks,
                        titles: d
                            .check_titles
                            .into_iter()
                            .map(|t| (t.id, Message::new(t.en, t.ja)))
                            .collect(),
                        needs: d.needs.into_iter().collect(),
                        requires: BTreeMap::new(),
                    })
                }
                Pre::V0_1(pre) => {
                    let instance = pre.instantiate_async(&mut store).await?;
                    let describe =
                        instance.get_typed_func::<(), (v0_1::StepInfo,)>(&mut store, "describe")?;
                    let (d,) = describe.call_async(&mut store, ()).await?;
                    Ok(StepInfo {
                        name: d.name,
                        title: Message::new(d.title_en, d.title_ja),
                        params: d
                            .params
                            .into_iter()
                            .map(|(k, about)| (k, super::Param::required(about)))
                            .collect(),
                        checks: d.checks,
                        titles: BTreeMap::new(),
                        // 0.1.0 has no prerequisites: such a component skips by itself.
                        needs: BTreeMap::new(),
                        requires: BTreeMap::new(),
                    })
                }
            }
        };
        let described = match tokio::time::timeout_at(
            tokio::time::Instant::from_std(deadline + Duration::from_secs(1)),
            outcome,
        )
        .await
        {
            Ok(Ok(d)) => d,
            // The guest's panic text goes to stderr or a row: one line, inert.
            Ok(Err(e)) => return Err(trap_cause(&e, &store, limits, &output)),
            Err(_) => return Err(wall_clock_text(limits)),
        };
        super::check_info(&described)?;
        Ok(described)
    }

    fn store(
        &self,
        gate: Option<Arc<Gate>>,
        collector: Arc<Collector>,
        limits: &Limits,
        deadline: Instant,
    ) -> (Store<State>, BoundedOutput) {
        let output = BoundedOutput::new(OUTPUT_CAP);
        let mut wasi = WasiCtx::builder();
        // No preopens, env, args or network: only a bounded stdout/stderr.
        wasi.stdout(output.clone()).stderr(output.clone());
        let state = State {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: Limiter {
                max_memory: limits.max_memory_bytes,
                hit: None,
            },
            gate,
            collector,
            limits: limits.clone(),
            deadline: tokio::time::Instant::from_std(deadline),
        };
        let engine = match &self.pre {
            Pre::Current(pre) => pre.engine(),
            Pre::V0_1(pre) => pre.engine(),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(limits.max_fuel)
            .expect("fuel is enabled in the engine");
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        (store, output)
    }

    /// Runs the step for one trainee.
    pub async fn run(self: Arc<Self>, ctx: RunContext) -> TraineeReport {
        let started = Instant::now();
        let deadline = started + ctx.limits.wall_clock;
        let collector = Arc::new(Collector::default());
        let (mut store, output) = self.store(
            Some(ctx.gate.clone()),
            collector.clone(),
            &ctx.limits,
            deadline,
        );
        let params: Vec<(String, String)> = ctx.params.clone().into_iter().collect();
        let work = async {
            match &self.pre {
                Pre::Current(pre) => {
                    let step = pre.instantiate_async(&mut store).await?;
                    step.call_run(&mut store, &params).await
                }
                Pre::V0_1(pre) => {
                    let instance = pre.instantiate_async(&mut store).await?;
                    let run = instance
                        .get_typed_func::<(Vec<(String, String)>,), (Result<(), GuestWords>,)>(
                            &mut store, "run",
                        )?;
                    run.call_async(&mut store, (params.clone(),))
                        .await
                        .map(|(r,)| r)
                }
            }
        };
        let result = tokio::time::timeout_at(
            tokio::time::Instant::from_std(deadline + Duration::from_secs(1)),
            work,
        )
        .await;
        let at = |what: Text| -> Text {
            t::At {
                path: &self.path,
                what,
            }
            .into()
        };
        let stopped = match result {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(words))) => Some(at(t::Returned {
                why: super::remote_cause(&words),
            }
            .into())),
            Ok(Err(e)) => Some(at(trap_cause(&e, &store, &ctx.limits, &output))),
            Err(_) => Some(at(wall_clock_text(&ctx.limits))),
        };
        drop(store);
        for line in output.lines() {
            collector.log(&line, &ctx.limits);
        }
        let (mut results, log) = collector.finish(&self.info.checks, stopped.as_ref());
        super::enforce_needs(&mut results, &self.info.needs);
        TraineeReport {
            trainee: ctx.trainee,
            results,
            log,
            elapsed_ms: started.elapsed().as_millis() as u64,
            course: None,
            ..Default::default()
        }
    }
}

/// Reads and compiles (or loads from the cache); checks the bytes first so a wrong
/// file gets a one-line reason.
pub fn compile(path: &Path) -> Result<(Component, Manifest, Source), Text> {
    let shown = path.display().to_string();
    let bytes = crate::files::read(path, crate::files::cap::COMPONENT).map_err(|e| {
        Text::from(text::load::CannotRead {
            path,
            why: quoted(e),
        })
    })?;
    let manifest_of = |component: &Component, engine: &Engine| Manifest {
        size: bytes.len(),
        sha256: hex::encode(cache::sha256(&bytes)),
        imports: component
            .component_type()
            .imports(engine)
            .map(|(name, _)| name.to_string())
            .collect(),
        operations: imported_operations(component, engine),
    };
    check_header(&shown, &bytes)?;
    let engine = engine()?;
    let digest = cache::sha256(&bytes);
    let cache = cache::cache_dir().and_then(|d| cache::Cache::open(&d));
    if let Some(component) = cache.as_ref().and_then(|c| c.load(engine, &digest)) {
        let manifest = manifest_of(&component, engine);
        return Ok((component, manifest, Source::Cached));
    }
    let component = Component::new(engine, &bytes).map_err(|e| -> Text {
        let words = one_line(&e);
        if words.contains("unexpected end") {
            t::Truncated {
                path: &shown,
                bytes: bytes.len(),
            }
            .into()
        } else {
            t::NotAComponent {
                path: &shown,
                why: quoted(words),
            }
            .into()
        }
    })?;
    if let Some(cache) = &cache {
        cache.store(engine, &digest, &component);
    }
    let manifest = manifest_of(&component, engine);
    Ok((component, manifest, Source::Compiled))
}

/// The capability functions a component imports, as `capability.operation` (the
/// registry's operation names): what `labrun describe` lists for it.
fn imported_operations(component: &Component, engine: &Engine) -> Vec<String> {
    use wasmtime::component::types::ComponentItem;
    let mut ops = Vec::new();
    for (name, item) in component.component_type().imports(engine) {
        let Some(import) = policy::split_import(name) else {
            continue;
        };
        let Some(cap) = registry::get(import.interface) else {
            continue;
        };
        if import.package != policy::HOST_PACKAGE {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        for (func, ty) in instance.exports(engine) {
            // An interface also exports its types (`cap-error`): only functions are operations.
            if !matches!(ty.ty, ComponentItem::ComponentFunc(_)) {
                continue;
            }
            let known = (cap.operations)().iter().find(|op| op.wit_name() == func);
            ops.push(match known {
                Some(op) => format!("{}.{}", cap.name, op.name),
                None => format!("{}.{func}", cap.name),
            });
        }
    }
    ops
}

fn check_header(shown: &str, bytes: &[u8]) -> Result<(), Text> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(t::NotWasm { path: shown }.into());
    }
    match &bytes[4..8] {
        [1, 0, 0, 0] => Err(t::CoreModule { path: shown }.into()),
        [_, _, 1, 0] => Ok(()),
        other => Err(t::BinaryVersion {
            path: shown,
            version: format!("{other:02x?}"),
        }
        .into()),
    }
}

fn wall_clock_text(limits: &Limits) -> Text {
    text::rhai::WallClock {
        secs: limits.wall_clock.as_secs(),
    }
    .into()
}

/// Text a guest wrote (its `run`'s error under labrun:host 0.1).
type GuestWords = String;

/// Why a call into the guest failed, naming the limit that stopped it.
fn trap_cause(
    err: &wasmtime::Error,
    store: &Store<State>,
    limits: &Limits,
    output: &BoundedOutput,
) -> Text {
    if let Some(hit) = &store.data().limiter.hit {
        return hit.clone();
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => t::Fuel {
            max: limits.max_fuel,
        }
        .into(),
        Some(Trap::Interrupt) => wall_clock_text(limits),
        Some(Trap::StackOverflow) => t::Stack {
            kib: MAX_WASM_STACK >> 10,
        }
        .into(),
        Some(Trap::MemoryOutOfBounds) if shadow_stack_overflow(err) => t::ShadowStack.into(),
        Some(trap) => match output.panic_message() {
            Some(line) => t::CrashedSaying {
                trap: trap.to_string(),
                why: super::remote_cause(&line),
            }
            .into(),
            None => t::Crashed {
                trap: trap.to_string(),
            }
            .into(),
        },
        None => t::Failed {
            why: super::remote_cause(&one_line(err)),
        }
        .into(),
    }
}

/// A toolchain-built step keeps its stack in linear memory, growing down to address 0;
/// recursing past it is an out-of-bounds access. Told apart from other faults by the
/// backtrace: full, and only one or two functions calling themselves.
fn shadow_stack_overflow(err: &wasmtime::Error) -> bool {
    let Some(trace) = err.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return false;
    };
    let frames = trace.frames();
    let functions: std::collections::BTreeSet<u32> =
        frames.iter().map(|f| f.func_index()).collect();
    frames.len() >= BACKTRACE_FRAMES && functions.len() <= 2
}

fn one_line(err: &wasmtime::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}

// ------------------------------------------------------------------ store state

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    /// The run's policy door to the capability hub; `None` while describing, when no
    /// capability is usable.
    gate: Option<Arc<Gate>>,
    collector: Arc<Collector>,
    limits: Limits,
    deadline: tokio::time::Instant,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Memory and table growth limits; remembers which one stopped the step.
struct Limiter {
    max_memory: usize,
    hit: Option<Text>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            let why = Text::from(t::Memory {
                mib: self.max_memory >> 20,
            });
            let english = why.render(Lang::En);
            self.hit = Some(why);
            return Err(wasmtime::Error::msg(english));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            let why = Text::from(t::Table {
                max: MAX_TABLE_ELEMENTS,
            });
            let english = why.render(Lang::En);
            self.hit = Some(why);
            return Err(wasmtime::Error::msg(english));
        }
        Ok(true)
    }
}

impl State {
    async fn call(
        &mut self,
        capability: &str,
        operation: &str,
        request: String,
    ) -> wasmtime::Result<Result<String, wit::types::CapError>> {
        let Some(gate) = self.gate.clone() else {
            return Ok(Err(to_wit(CapError::new(
                capability,
                operation,
                ErrorKind::Denied,
                t::NoCapsInDescribe,
            ))));
        };
        if request.len() > super::MAX_REQUEST_BYTES {
            let too_big = gate.refuse(super::request_too_big(capability, operation, request.len()));
            if let Some(cause) = gate.stop_cause() {
                let english = cause.render(Lang::En);
                self.limiter.hit = Some(cause);
                return Err(wasmtime::Error::msg(english));
            }
            return Ok(Err(to_wit(too_big)));
        }
        let request: Value = match serde_json::from_str(&request) {
            Ok(v) => v,
            Err(e) => {
                return Ok(Err(to_wit(CapError::new(
                    capability,
                    operation,
                    ErrorKind::InvalidRequest,
                    t::NotJson { why: quoted(e) },
                ))))
            }
        };
        let answer =
            tokio::time::timeout_at(self.deadline, gate.call(capability, operation, request))
                .await
                .unwrap_or_else(|_| {
                    Err(CapError::new(
                        capability,
                        operation,
                        ErrorKind::Timeout,
                        text::rhai::CallOutOfTime,
                    ))
                });
        // Past the gate's limits the step is stopped, not answered denial after denial.
        if let Some(cause) = gate.stop_cause() {
            let english = cause.render(Lang::En);
            self.limiter.hit = Some(cause);
            return Err(wasmtime::Error::msg(english));
        }
        Ok(answer.map(|v| v.to_string()).map_err(to_wit))
    }
}

fn to_wit(e: CapError) -> wit::types::CapError {
    use wit::types::ErrorKind as K;
    wit::types::CapError {
        capability: e.capability,
        operation: e.operation,
        kind: match e.kind {
            ErrorKind::Credentials => K::Credentials,
            ErrorKind::Denied => K::Denied,
            ErrorKind::Throttling => K::Throttling,
            ErrorKind::Network => K::Network,
            ErrorKind::Timeout => K::Timeout,
            ErrorKind::InvalidRequest => K::InvalidRequest,
            ErrorKind::NotFound => K::NotFound,
            ErrorKind::Service => K::Service,
            ErrorKind::Unsupported => K::Unsupported,
            ErrorKind::NotRecorded => K::NotRecorded,
        },
        code: e.code,
        message: e.message,
    }
}

impl wit::types::Host for State {}

impl wit::report::Host for State {
    async fn outcome(&mut self, o: wit::report::Row) -> wasmtime::Result<Result<(), ToGuest>> {
        use wit::report::Status as S;
        let status = match o.status {
            S::Pass => Status::Pass,
            S::Fail => Status::Fail,
            S::Pending => Status::Pending,
            S::Error => Status::Error,
            S::Skip => Status::Skip,
        };
        // The id first: it is quoted in every error below. A refusal is also a row.
        if let Err(e) = crate::outcome::check_id(&o.id) {
            self.collector.refuse(status, &e);
            return Ok(Err(e.en()));
        }
        // Sized before it is parsed: a large value is never copied again.
        let size = o.evidence.as_ref().map_or(0, String::len);
        let evidence_text = o.evidence.filter(|_| size <= super::MAX_EVIDENCE_BYTES);
        let mut evidence = match evidence_text.as_deref().map(serde_json::from_str::<Value>) {
            None if size > super::MAX_EVIDENCE_BYTES => {
                Some(super::bounded_evidence(Value::Null, size))
            }
            None => None,
            Some(Ok(v)) => Some(v).filter(|v| !v.is_null()),
            Some(Err(e)) => {
                let why = Text::from(t::EvidenceNotJson {
                    id: &o.id,
                    why: quoted(e),
                });
                self.collector.refuse(status, &why);
                return Ok(Err(why.en()));
            }
        };
        if let Some(v) = evidence.as_mut() {
            caps::cassette::redact(v);
        }
        Ok(self
            .collector
            .report(
                Outcome {
                    id: o.id,
                    status,
                    message: Message::new(o.en, o.ja),
                    evidence,
                    step: None,
                    undecided: false,
                },
                &self.limits,
            )
            .map_err(|e| e.en()))
    }
}

impl wit::log::Host for State {
    async fn info(&mut self, message: String) -> wasmtime::Result<()> {
        self.collector
            .log(&format!("info: {message}"), &self.limits);
        Ok(())
    }
    async fn warn(&mut self, message: String) -> wasmtime::Result<()> {
        self.collector
            .log(&format!("warn: {message}"), &self.limits);
        Ok(())
    }
}

// ------------------------------------------------------------------ bounded output

/// Guest stdout/stderr: keeps the first `cap` bytes, counts the rest, and always
/// accepts the write so a chatty guest goes on (wasmtime's `MemoryOutputPipe` traps
/// when full).
#[derive(Clone)]
struct BoundedOutput {
    inner: Arc<Mutex<(Vec<u8>, usize)>>,
    cap: usize,
}

impl BoundedOutput {
    fn new(cap: usize) -> Self {
        BoundedOutput {
            inner: Arc::new(Mutex::new((Vec::new(), 0))),
            cap,
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut inner = self.inner.lock().expect("output lock poisoned");
        let room = self.cap.saturating_sub(inner.0.len());
        let take = room.min(bytes.len());
        inner.0.extend_from_slice(&bytes[..take]);
        inner.1 += bytes.len() - take;
    }

    /// The message of a Rust panic in what the guest printed (the line after
    /// "panicked at …"), else the last line that is not a note.
    fn panic_message(&self) -> Option<String> {
        let inner = self.inner.lock().expect("output lock poisoned");
        let text = String::from_utf8_lossy(&inner.0);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        if let Some(i) = lines.iter().rposition(|l| l.contains("panicked at")) {
            if let Some(message) = lines.get(i + 1).filter(|l| !l.is_empty()) {
                return Some(message.to_string());
            }
            return Some(lines[i].to_string());
        }
        lines
            .iter()
            .rev()
            .find(|l| !l.is_empty() && !l.starts_with("note:"))
            .map(|l| l.to_string())
    }

    /// What the guest printed, as log lines.
    fn lines(&self) -> Vec<String> {
        let inner = self.inner.lock().expect("output lock poisoned");
        let mut lines: Vec<String> = String::from_utf8_lossy(&inner.0)
            .lines()
            .map(|l| format!("output: {l}"))
            .collect();
        if inner.1 > 0 {
            lines.push(
                Text::from(t::OutputDropped {
                    bytes: inner.1,
                    kib: self.cap >> 10,
                })
                .to_string(),
            );
        }
        lines
    }
}

impl wasmtime_wasi::cli::IsTerminal for BoundedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for BoundedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for BoundedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
