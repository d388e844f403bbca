//! Preparing a real class before its first cycle: the exact IAM policy the steps need
//! ([`iam`], `labrun iam-policy`) and the checks of the day before and the hour before
//! ([`preflight`], `labrun preflight`). Both read steps and plans as a run would, and
//! call nothing a run would not.

pub mod iam;
pub mod preflight;
