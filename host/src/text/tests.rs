//! The catalog's rendering rules; the catalog's own checks run in host/build.rs.

use super::*;

fn no_step(example: impl Into<Arg>) -> Text {
    cli::NoStep { example }.into()
}

#[test]
fn a_text_renders_in_each_language_from_one_value() {
    let t = no_step("labrun s.rhai");
    assert_eq!(t.key(), "cli.no_step");
    assert_eq!(
        t.render(Lang::En),
        "give the step to run, e.g. labrun s.rhai (see labrun --help)"
    );
    assert_eq!(
        t.render(Lang::Ja),
        "実行するステップを指定してください (例: labrun s.rhai)。labrun --help も参照"
    );
}

#[test]
fn quoted_remote_text_is_marked_in_both_languages_and_kept_as_it_came() {
    let t = no_step(quoted("No such file or directory (os error 2)"));
    assert!(t
        .render(Lang::En)
        .contains("“No such file or directory (os error 2)”"));
    assert!(t
        .render(Lang::Ja)
        .contains("「No such file or directory (os error 2)」"));
}

#[test]
fn values_and_remote_text_are_made_inert() {
    let t = no_step(quoted("evil\u{1b}[2J\nrow"));
    assert!(t.render(Lang::En).contains("“evil\\u{1b}[2J\\nrow”"));
    let t = no_step("a\rb");
    assert!(t.render(Lang::Ja).contains("a\\rb"));
}

#[test]
fn nested_texts_and_lists_follow_the_language() {
    let t = no_step(no_step(list(["a", "b"])));
    assert_eq!(
        t.render(Lang::Ja),
        "実行するステップを指定してください (例: 実行するステップを指定してください (例: a、b)。labrun --help も参照)。labrun --help も参照"
    );
    assert!(t.render(Lang::En).contains("e.g. a, b (see"));
}

#[test]
fn display_uses_the_process_language() {
    // The process language is global: this is the only test that sets it.
    let t = no_step("x");
    set_lang(Lang::Ja);
    let ja = t.to_string();
    set_lang(Lang::En);
    assert_eq!(ja, t.render(Lang::Ja));
    assert_eq!(t.to_string(), t.render(Lang::En));
}

#[test]
fn the_language_flag_is_found_before_the_flags_are_parsed() {
    let args = |a: &[&str]| -> Vec<std::ffi::OsString> { a.iter().map(Into::into).collect() };
    assert_eq!(
        Lang::from_args(&args(&["labrun", "s", "--lang", "ja"])),
        Some(Lang::Ja)
    );
    assert_eq!(
        Lang::from_args(&args(&["labrun", "--lang=en", "s"])),
        Some(Lang::En)
    );
    assert_eq!(Lang::from_args(&args(&["labrun", "--lang", "fr"])), None);
    assert_eq!(Lang::from_args(&args(&["labrun", "s"])), None);
    // After `--` a word belongs to something else (`labrun test --record … -- …`).
    assert_eq!(
        Lang::from_args(&args(&["labrun", "--", "--lang", "ja"])),
        None
    );
    // The last one wins, as clap's does.
    assert_eq!(
        Lang::from_args(&args(&["labrun", "--lang", "ja", "--lang", "en"])),
        Some(Lang::En)
    );
}

/// Every key of the catalog is used somewhere in the host: its struct named
/// (`::Name`) in a file that names its section (`text::section` or `section as …`),
/// outside this module's own code. A catalog that only grows would hide dead words.
#[test]
fn every_key_is_used_by_the_host() {
    use std::collections::BTreeSet;
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let own = [src.join("text/mod.rs"), src.join("text/tests.rs")];
    // Per file: the `::Name` paths it writes.
    let used: Vec<(String, BTreeSet<String>)> = files
        .iter()
        .filter(|f| !own.contains(f))
        .map(|f| {
            let code = std::fs::read_to_string(f).unwrap();
            let names = code
                .split("::")
                .skip(1)
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .collect();
            (code, names)
        })
        .collect();
    let unused: Vec<&str> = ENTRIES
        .iter()
        .map(|e| e.key)
        .filter(|key| {
            let (section, name) = key.split_once('.').unwrap();
            let camel: String = name
                .split('_')
                .map(|p| {
                    let mut c = p.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            !used.iter().any(|(code, names)| {
                names.contains(&camel)
                    && (code.contains(&format!("{section}::{camel}"))
                        || code.contains(&format!("text::{section}"))
                        || code.contains(&format!("{section} as "))
                        || code.contains(&format!("super::{section}")))
            })
        })
        .collect();
    assert!(unused.is_empty(), "catalog keys no code uses: {unused:?}");
}
