//! The step authors' kit: `labrun test` runs a step against its own regression
//! cases ([`cases`]), `labrun new` writes a starter step with a case that passes
//! ([`new`]). Both run steps exactly as `labrun STEP …` does, through
//! [`crate::plan`] and [`crate::execute`].

pub mod cases;
pub mod component;
pub mod new;

/// clap's help goes to stdout (exit 0); its errors become one line (exit 64).
fn clap_error(e: clap::Error, help: &str) -> u8 {
    match crate::flags::clap_failure(&e) {
        None => crate::outcome::exit::PASS,
        Some(what) => {
            eprintln!(
                "labrun: {}",
                crate::text::Text::from(crate::text::cli::SeeHelp { what, help })
            );
            crate::outcome::exit::BAD_INPUT
        }
    }
}
