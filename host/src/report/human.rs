//! The human report: one block per trainee, one aligned row per outcome.

use std::fmt::Write;

use super::Style;
use crate::outcome::{Lang, Report, Status};

fn label(status: Status, lang: Lang) -> &'static str {
    match (status, lang) {
        (Status::Pass, Lang::En) => "PASS",
        (Status::Fail, Lang::En) => "FAIL",
        (Status::Pending, Lang::En) => "PENDING",
        (Status::Error, Lang::En) => "ERROR",
        (Status::Skip, Lang::En) => "SKIP",
        (Status::Pass, Lang::Ja) => "合格",
        (Status::Fail, Lang::Ja) => "不合格",
        (Status::Pending, Lang::Ja) => "待機中",
        (Status::Error, Lang::Ja) => "確認不可",
        (Status::Skip, Lang::Ja) => "省略",
    }
}

fn color(status: Status) -> &'static str {
    match status {
        Status::Pass => "\x1b[32m",
        Status::Fail => "\x1b[31m",
        Status::Pending => "\x1b[33m",
        Status::Error => "\x1b[35m",
        Status::Skip => "\x1b[2m",
    }
}

/// Display width: CJK characters take two terminal columns.
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

pub fn render(report: &Report, style: &Style) -> String {
    let lang = style.lang;
    let mut out = String::new();
    let label_width = Status::ALL
        .iter()
        .map(|s| width(label(*s, lang)))
        .max()
        .unwrap_or(0);
    let id_width = report
        .trainees
        .iter()
        .flat_map(|t| t.results.iter().map(|o| o.id.len()))
        .max()
        .unwrap_or(2);
    for trainee in &report.trainees {
        let _ = writeln!(out, "{} · {}", report.step, trainee.trainee);
        for outcome in &trainee.results {
            let text = label(outcome.status, lang);
            let pad = " ".repeat(label_width - width(text));
            let (on, off) = if style.color {
                (color(outcome.status), "\x1b[0m")
            } else {
                ("", "")
            };
            let _ = writeln!(
                out,
                "  {on}{text}{off}{pad}  {:id_width$}  {}",
                outcome.id,
                outcome.message.get(lang)
            );
        }
        for line in &trainee.log {
            let _ = writeln!(out, "  | {line}");
        }
        out.push('\n');
    }
    let s = &report.summary;
    let seconds = s.elapsed_ms as f64 / 1000.0;
    let calls = if s.replayed_calls > 0 {
        match lang {
            Lang::En => format!("{} calls replayed from the cassette", s.replayed_calls),
            Lang::Ja => format!("カセットから再生した呼び出し {} 件", s.replayed_calls),
        }
    } else {
        match lang {
            Lang::En => format!("{} AWS calls", s.aws_calls),
            Lang::Ja => format!("AWS 呼び出し {} 件", s.aws_calls),
        }
    };
    let _ = match lang {
        Lang::En => writeln!(
            out,
            "{} pass · {} fail · {} pending · {} error · {} skip — {} trainee(s), {seconds:.1} s, {calls}",
            s.pass, s.fail, s.pending, s.error, s.skip, report.trainees.len()
        ),
        Lang::Ja => writeln!(
            out,
            "合格 {} · 不合格 {} · 待機中 {} · 確認不可 {} · 省略 {} — 受講者 {} 名、{seconds:.1} 秒、{calls}",
            s.pass, s.fail, s.pending, s.error, s.skip, report.trainees.len()
        ),
    };
    out
}
