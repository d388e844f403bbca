//! Planning a live class: `--watch` and its companions become a checked
//! [`WatchPlan`] before the first cycle runs. `--until` (`done` or `HH:MM`) and
//! `--for` are parsed, the `--state` history is loaded (it must belong to this step)
//! and its folder checked, the `--serve` socket is bound (a port in use is bad input
//! now) and a non-loopback address is refused without a token. `--record` records
//! one run, so it is refused with `--watch`.

use std::time::Duration;

use tokio::time::Instant;

use super::PlanError;
use crate::execute::RunPlan;
use crate::flags::Flags;
use crate::history::History;
use crate::outcome::Message;
use crate::text::{live as t, Text};
use crate::watch::WatchPlan;

/// The watch the flags ask for, or `None` for a one-shot run.
pub fn watch(flags: &Flags, plan: &RunPlan) -> Result<Option<WatchPlan>, PlanError> {
    let live = &flags.live;
    let Some(seconds) = live.watch else {
        return Ok(None);
    };
    if flags.record.is_some() {
        return Err(PlanError::Flag(t::RecordAndWatch.into()));
    }
    let mut until_done = false;
    let mut deadline: Option<Instant> = None;
    if let Some(until) = &live.until {
        if until == "done" {
            until_done = true;
        } else {
            let at = clock(until).map_err(|why| {
                PlanError::Flag(
                    t::InFlag {
                        flag: "--until",
                        value: until,
                        why,
                    }
                    .into(),
                )
            })?;
            deadline = Some(Instant::now() + until_clock(at, crate::watch::local_hms()));
        }
    }
    if let Some(text) = &live.for_duration {
        let d = duration(text).map_err(|why| {
            PlanError::Flag(
                t::InFlag {
                    flag: "--for",
                    value: text,
                    why,
                }
                .into(),
            )
        })?;
        let at = Instant::now() + d;
        deadline = Some(deadline.map_or(at, |d| d.min(at)));
    }
    let history = match &live.state {
        Some(path) => {
            super::check_writable_pub(path, "--state")?;
            History::load(path, &plan.name).map_err(PlanError::Flag)?
        }
        None => History::new(&plan.name),
    };
    let serve = match &live.serve {
        Some(addr) => Some(
            crate::serve::bind(
                addr,
                live.serve_token.as_deref(),
                live.trainee_links.is_some(),
            )
            .map_err(PlanError::Flag)?,
        ),
        None => None,
    };
    let stuck_after = match &live.stuck_after {
        Some(text) => duration(text).map_err(|why| {
            PlanError::Flag(
                t::InFlag {
                    flag: "--stuck-after",
                    value: text,
                    why,
                }
                .into(),
            )
        })?,
        None => DEFAULT_STUCK_AFTER,
    };
    let title = plan.title.clone().unwrap_or_else(|| {
        plan.runs
            .iter()
            .flat_map(|r| &r.parts)
            .find_map(|p| p.step.as_ref().ok())
            .map(|(step, _)| step.info().title.clone())
            .unwrap_or_else(|| Message::new(plan.name.clone(), plan.name.clone()))
    });
    Ok(Some(WatchPlan {
        interval: Duration::from_secs(seconds),
        until_done,
        deadline,
        state: live.state.clone(),
        history,
        serve,
        title,
        titles: titles(plan),
        stuck_after,
        trainee_links: live.trainee_links.clone(),
    }))
}

/// `--stuck-after`'s default: ten minutes on one outcome is worth a look.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(600);

/// Each checklist id's title as the report names the id (`S1-A1` in a course), for
/// the board's column heads and the trainee pages: the first step that titles it.
fn titles(plan: &RunPlan) -> std::collections::BTreeMap<String, Message> {
    let mut out = std::collections::BTreeMap::new();
    for part in plan.runs.iter().flat_map(|r| &r.parts) {
        let Ok((step, _)) = &part.step else { continue };
        for (id, title) in &step.info().titles {
            let shown = match &part.course_step {
                Some(s) => crate::execute::course_id(s, id),
                None => id.clone(),
            };
            out.entry(shown).or_insert_with(|| title.clone());
        }
    }
    out
}

/// `HH:MM` → (hour, minute).
pub fn clock(text: &str) -> Result<(u32, u32), Text> {
    let bad = || Text::from(t::NotAClock);
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok((h, m))
}

/// How long from the local time `now` (h, m, s) until the next `at` (h, m): later
/// today, or tomorrow when it has passed.
pub fn until_clock(at: (u32, u32), now: (u32, u32, u32)) -> Duration {
    let target = at.0 * 3600 + at.1 * 60;
    let now = now.0 * 3600 + now.1 * 60 + now.2;
    let secs = if target > now {
        target - now
    } else {
        target + 86_400 - now
    };
    Duration::from_secs(secs as u64)
}

/// `90m`, `2h`, `1h30m`, `45s`, or plain seconds; at least one second, at most a week.
/// Each unit at most once, largest first (`1h1h` or `30m1h` is a typo, not 2 hours).
pub fn duration(text: &str) -> Result<Duration, Text> {
    let bad = || Text::from(t::NotADuration);
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return check_duration(secs);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    // The unit before, as its size: the next must be smaller.
    let mut last = u64::MAX;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        if unit >= last {
            return Err(t::UnitOrder.into());
        }
        last = unit;
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    check_duration(total)
}

fn check_duration(secs: u64) -> Result<Duration, Text> {
    if secs == 0 || secs > 7 * 86_400 {
        return Err(t::DurationRange.into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_clock_times_parse_or_say_why_not() {
        assert_eq!(duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(duration("45").unwrap(), Duration::from_secs(45));
        for bad in [
            "", "0", "5x", "m", "1h30", "8d", "1h1h", "30m1h", "5s5s", "-1m", "-5",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert_eq!(clock("16:30").unwrap(), (16, 30));
        assert_eq!(clock("9:05").unwrap(), (9, 5));
        for bad in ["24:00", "12:60", "1230", "12:3", "done!"] {
            assert!(clock(bad).is_err(), "{bad}");
        }
        assert_eq!(until_clock((10, 0), (9, 59, 30)), Duration::from_secs(30));
        assert_eq!(
            until_clock((9, 0), (10, 0, 0)),
            Duration::from_secs(23 * 3600)
        );
    }
}
