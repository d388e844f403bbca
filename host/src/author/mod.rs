//! The step authors' kit: `labrun test` runs a step against its own regression
//! cases ([`cases`]), `labrun new` writes a starter step with a case that passes
//! ([`new`]). Both run steps exactly as `labrun STEP …` does, through
//! [`crate::plan`] and [`crate::execute`].

pub mod cases;
pub mod component;
pub mod new;
pub mod refusal;
