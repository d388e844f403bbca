//! Reporters: one file each, one entry point. Every reporter prints the same
//! [`Report`]; the exit code comes from the report, not from the printer.

mod human;
mod junit;

use clap::ValueEnum;

use crate::outcome::{Lang, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table for people (colour on a terminal).
    Human,
    /// The JSON contract documented in README.md.
    Json,
    /// JUnit XML for CI dashboards: one testsuite per trainee, one testcase per id.
    Junit,
}

pub struct Style {
    pub lang: Lang,
    pub color: bool,
}

pub fn render(report: &Report, format: Format, style: &Style) -> String {
    match format {
        Format::Human => human::render(report, style),
        Format::Json => {
            let mut text =
                serde_json::to_string_pretty(report).expect("a report always serializes");
            text.push('\n');
            text
        }
        Format::Junit => junit::render(report, style.lang),
    }
}
