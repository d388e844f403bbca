//! labrun: checks whether a trainee really finished a hands-on AWS lab step.
//!
//! One path through the program, each stage a module that imports only the ones
//! below it (checked by `host/tests/layers.rs`):
//!
//! - [`cli`]: the command tree (one file per subcommand) and exit codes; [`author`]:
//!   the step authors' kit (`labrun test`, `labrun new`); [`prepare`]: a real class
//!   prepared (`labrun iam-policy`, `labrun preflight`); [`plan`]: the raw [`flags`]
//!   become a checked run plan (steps, trainees, params, policy, settings, outputs);
//!   [`publish`]: steps shared through OCI registries;
//! - [`watch`]: the watch loop of a live class (cycles, history, outputs) and
//!   [`serve`], its dashboard;
//! - [`execute`]: every trainee's run, then the outputs;
//! - [`step`]: what a step declares, and the two front-ends that run it (Rhai scripts
//!   and WebAssembly components);
//! - [`gate`]: one policy check and one audit record per capability call, under a
//!   [`policy`];
//! - [`caps`]: the capabilities (each one module, listed in a registry) and the hub
//!   that answers live, records and replays;
//! - [`report`]: human, JSON, JSONL, JUnit, HTML and CSV reporters of an [`outcome`]
//!   report, and the watch's terminal grid; [`history`]: who passed what when;
//! - [`error`]: the bad-input type every loader returns; [`files`]: the operator's
//!   files read (regular files only, capped) and written (never over a device);
//! - [`text`]: every line labrun writes for a person, in Japanese and English, from one
//!   catalog (its doc says how to add one).

pub mod author;
pub mod caps;
pub mod cli;
pub mod error;
pub mod execute;
pub mod files;
pub mod flags;
pub mod gate;
pub mod history;
pub mod outcome;
pub mod plan;
pub mod policy;
pub mod prepare;
pub mod publish;
pub mod report;
pub mod serve;
pub mod step;
pub mod text;
pub mod watch;
