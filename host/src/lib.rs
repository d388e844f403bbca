//! labrun: checks whether a trainee really finished a hands-on AWS lab step.
//!
//! One path through the program: [`cli`] → [`step`] (Rhai front-end) → [`caps`]
//! (the capability hub: live, record, replay) → [`outcome`] → [`report`].

pub mod caps;
pub mod class;
pub mod cli;
pub mod gate;
pub mod outcome;
pub mod policy;
pub mod publish;
pub mod report;
pub mod run;
pub mod step;
