//! The roster: every trainee id the command line names, in order: the `--trainee`
//! ids, then each `--trainees` range (`user01..user40`, zero padding kept) or roster
//! file (`@roster.txt`: one id or range per line, `#` comments). An empty id, a
//! duplicate, a malformed or backwards range and an unreadable file are bad input;
//! so is an id that is not short and printable ([`check_id`], for every trainee id
//! whatever names it: a class file, `--param user`, a roster).

use std::collections::BTreeSet;

use super::PlanError;
use crate::text::{quoted, roster as t, Text};

/// The most ids one range may expand to (a typo like `user1..user99999` is refused).
pub const MAX_RANGE: u64 = 10_000;

/// The longest trainee id, in characters.
pub const MAX_ID_CHARS: usize = 64;

/// A trainee id is 1 to [`MAX_ID_CHARS`] printable characters without spaces: it is
/// printed in every report (a CSV gradebook, a terminal) and becomes part of AWS
/// names and key paths. The error names the id inert and cut short.
pub fn check_id(id: &str) -> Result<(), Text> {
    crate::outcome::inert::check_printable(id, t::TraineeId.into(), MAX_ID_CHARS)
}

/// Text from the command line or a roster file for an error line: inert, cut short.
fn shown(text: &str) -> String {
    let mut cut: String = text.chars().take(MAX_ID_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    crate::outcome::inert(&cut).into_owned()
}

/// Every trainee id, checked: no empty id, no duplicate.
pub fn ids(single: &[String], specs: &[String]) -> Result<Vec<String>, PlanError> {
    let mut out: Vec<(String, Text)> = Vec::new();
    for id in single {
        out.push((id.clone(), t::FromTrainee { id: shown(id) }.into()));
    }
    for spec in specs {
        if let Some(file) = spec.strip_prefix('@') {
            let content = crate::files::read_to_string(file.as_ref(), crate::files::cap::TEXT)
                .map_err(|e| {
                    PlanError::Flag(
                        t::CannotRead {
                            file: shown(file),
                            why: quoted(e),
                        }
                        .into(),
                    )
                })?;
            for (n, line) in content.lines().enumerate() {
                let entry = line.split('#').next().unwrap_or("").trim();
                if entry.is_empty() {
                    continue;
                }
                let origin = t::FromFileLine {
                    file: shown(file),
                    line: n + 1,
                };
                push_expanded(&mut out, entry, origin.into())?;
            }
        } else {
            push_expanded(&mut out, spec, t::FromSpec { spec: shown(spec) }.into())?;
        }
    }
    let mut seen = BTreeSet::new();
    let mut ids = Vec::with_capacity(out.len());
    for (id, origin) in out {
        if id.trim().is_empty() {
            return Err(PlanError::Flag(t::EmptyId { origin }.into()));
        }
        check_id(&id).map_err(|why| at(&origin, why))?;
        if !seen.insert(id.clone()) {
            return Err(PlanError::Flag(
                t::Twice {
                    id: shown(&id),
                    origin,
                }
                .into(),
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// A refusal of what `origin` (a flag or a roster file's line) gave.
fn at(origin: &Text, why: Text) -> PlanError {
    PlanError::Flag(t::At { origin, why }.into())
}

/// Expands `spec` (an id or a range) and pushes each id with where it came from.
fn push_expanded(out: &mut Vec<(String, Text)>, spec: &str, origin: Text) -> Result<(), PlanError> {
    for id in expand(spec).map_err(|why| at(&origin, why))? {
        out.push((id, origin.clone()));
    }
    Ok(())
}

/// One id, or a range `PREFIXnn..PREFIXmm` expanded in order. The width of the
/// first number is kept (`user01..user12` → `user01`, …, `user12`).
pub fn expand(spec: &str) -> Result<Vec<String>, Text> {
    let Some((from, to)) = spec.split_once("..") else {
        return Ok(vec![spec.to_string()]);
    };
    if from.is_empty() || to.is_empty() {
        return Err(t::BothEnds.into());
    }
    let (fp, fd) = split_number(from).ok_or_else(|| Text::from(t::NoNumber { end: from }))?;
    let (tp, td) = split_number(to).ok_or_else(|| Text::from(t::NoNumber { end: to }))?;
    if fp != tp {
        return Err(t::Prefixes { from, to }.into());
    }
    let parse = |d: &str| {
        d.parse::<u64>()
            .map_err(|_| Text::from(t::TooLarge { number: d }))
    };
    let (a, b) = (parse(fd)?, parse(td)?);
    if a > b {
        return Err(t::Backwards { from, to }.into());
    }
    if b - a >= MAX_RANGE {
        return Err(t::TooMany {
            count: b - a + 1,
            max: MAX_RANGE,
        }
        .into());
    }
    let width = fd.len();
    Ok((a..=b).map(|n| format!("{fp}{n:0width$}")).collect())
}

/// `user05` → (`user`, `05`); `None` when the text does not end with a digit.
fn split_number(text: &str) -> Option<(&str, &str)> {
    let digits = text.len() - text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    (digits > 0).then(|| text.split_at(text.len() - digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_range_keeps_the_zero_padding_of_its_first_end() {
        assert_eq!(
            expand("user01..user03").unwrap(),
            ["user01", "user02", "user03"]
        );
        assert_eq!(
            expand("user08..user10").unwrap(),
            ["user08", "user09", "user10"]
        );
        assert_eq!(expand("u9..u11").unwrap(), ["u9", "u10", "u11"]);
        assert_eq!(expand("user05").unwrap(), ["user05"]);
    }

    #[test]
    fn malformed_ranges_are_refused_with_the_reason() {
        for (spec, why) in [
            ("user10..user01", "comes after"),
            ("user01..", "both ends"),
            ("..user01", "both ends"),
            ("user01..admin02", "different prefixes"),
            ("user..userx", "no number"),
            ("u0..u99999", "more than"),
        ] {
            let e = expand(spec).unwrap_err().to_string();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }

    #[test]
    fn ids_combine_trainee_ranges_and_files_and_refuse_duplicates() {
        let dir = std::env::temp_dir().join(format!("labrun-roster-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("roster.txt");
        std::fs::write(
            &file,
            "# class A\nuser10\n\n  user11 # late\nuser12..user13\n",
        )
        .unwrap();
        let at = format!("@{}", file.display());
        let got = ids(&strings(&["admin"]), &strings(&["user01..user02", &at])).unwrap();
        assert_eq!(
            got,
            ["admin", "user01", "user02", "user10", "user11", "user12", "user13"]
        );

        let e = ids(&strings(&["user02"]), &strings(&["user01..user03"]))
            .unwrap_err()
            .to_string();
        assert!(e.to_string().contains("user02 is given twice"), "{e}");
        let e = ids(&strings(&[""]), &[]).unwrap_err().to_string();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = ids(&[], &strings(&["@/nonexistent/roster.txt"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.to_string()
                .starts_with("cannot read --trainees @/nonexistent/roster.txt"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
