//! Japanese for the fixed parts of labrun's own English causes (a step that could not
//! load, a limit that stopped it), so a `--lang ja` row reads in Japanese. Only the
//! phrases labrun itself writes are translated; file names, numbers and remote text
//! (an OS error, a script's own message, a capability's answer) are kept as they are.
//! A cause no phrase matches stays English: never wrong, only untranslated.

/// English template → Japanese template; `{}` is a part kept as it is, taken in order.
/// Applied in this order, each to the whole text, so a phrase inside a kept part is
/// still translated by a later template.
const PHRASES: &[(&str, &str)] = &[
    // Loading a step (step front-ends, params).
    ("cannot read step {}: {}", "ステップ {} を読めません: {}"),
    (": describe() failed: ", ": describe() が失敗しました: "),
    (": describe(): ", ": describe() の結果: "),
    (": syntax error: ", ": 構文エラー: "),
    (
        "unknown step type; a step is a Rhai script (.rhai) or a WebAssembly component (.wasm)",
        "不明な種類のステップです。ステップは Rhai スクリプト (.rhai) か WebAssembly コンポーネント (.wasm) です",
    ),
    (
        "a step script must define `fn run(params)`",
        "ステップのスクリプトには `fn run(params)` が必要です",
    ),
    (
        "not a labrun step: it must export `describe` and `run`",
        "labrun のステップではありません: `describe` と `run` をエクスポートする必要があります",
    ),
    (
        "not a valid WebAssembly component: ",
        "有効な WebAssembly コンポーネントではありません: ",
    ),
    (
        "unknown param `{}`: {} takes no params",
        "不明なパラメータ `{}`: {} はパラメータを取りません",
    ),
    (
        "unknown param `{}`: {} takes {}",
        "不明なパラメータ `{}`: {} が取るのは {} です",
    ),
    (
        "missing param `{}`: give it with --param {}=VALUE ({} takes {})",
        "パラメータ `{}` がありません: --param {}=VALUE で指定してください ({} が取るのは {} です)",
    ),
    (
        " (describe() may take at most {} s while a class is planned)",
        " (クラスの準備中に describe() にかけられるのは最大 {} 秒です)",
    ),
    (
        "`checks` is empty: a step declares the checklist ids it reports, e.g. checks: [\"A1\", \"A2\"]",
        "`checks` が空です: ステップは報告するチェックリストの ID を宣言します (例: checks: [\"A1\", \"A2\"])",
    ),
    (
        "`checks` lists `{}` twice: declare each checklist id once",
        "`checks` に `{}` が二度あります: チェックリストの ID は一度ずつ宣言してください",
    ),
    (
        "loading the step crashed inside labrun: {}",
        "ステップの読み込み中に labrun の内部で異常終了しました: {}",
    ),
    (
        "the step crashed inside labrun while loading: {}",
        "ステップの読み込み中に labrun の内部で異常終了しました: {}",
    ),
    (
        "the step crashed inside labrun: {}",
        "ステップが labrun の内部で異常終了しました: {}",
    ),
    // Why a run stopped (the limits).
    (
        "the step ran past its wall-clock limit of {} s",
        "ステップが実行時間の上限 {} 秒を超えました",
    ),
    (
        "the step used more than {} operations (the CPU limit)",
        "ステップが {} 回を超える演算を行いました (CPU の上限)",
    ),
    (
        "the step used more than {} units of fuel (the CPU limit)",
        "ステップが燃料 {} 単位を超えて使いました (CPU の上限)",
    ),
    (
        "the step nested calls deeper than {} levels",
        "ステップの呼び出しの入れ子が {} 段を超えました",
    ),
    (
        "the step recursed past {} KiB of call stack (the stack limit)",
        "ステップの再帰が呼び出しスタック {} KiB を超えました (スタックの上限)",
    ),
    (" (in fn {}, called from {})", " (fn {} 内、{} から呼び出し)"),
    (" (in fn {})", " (fn {} 内)"),
    (
        "`import` is not available to steps: they load no modules or files",
        "ステップでは `import` を使えません: モジュールもファイルも読み込めません",
    ),
    (
        "a string grew past {} (the max_string_size limit)",
        "文字列が {} を超えました (max_string_size の上限)",
    ),
    (
        "an array grew past {} (the max_array_size limit)",
        "配列が {} を超えました (max_array_size の上限)",
    ),
    (
        "a map grew past {} (the max_map_size limit)",
        "マップが {} を超えました (max_map_size の上限)",
    ),
    (
        "too many outcomes: the limit is {}",
        "結果が多すぎます: 上限は {} です",
    ),
    (
        "outcome `{}` was reported twice",
        "結果 `{}` が二度報告されました",
    ),
    (
        "the step crashed ({}): {}",
        "ステップが異常終了しました ({}): {}",
    ),
    ("the step crashed ({})", "ステップが異常終了しました ({})"),
    ("the step failed: {}", "ステップが失敗しました: {}"),
];

/// `text` with every phrase of [`PHRASES`] it contains in Japanese.
pub fn translate(text: &str) -> String {
    PHRASES.iter().fold(text.to_string(), |text, (en, ja)| {
        fill(&text, en, ja).unwrap_or(text)
    })
}

/// The first match of template `en` in `text` replaced by `ja` with the same parts, or
/// `None` when `text` does not contain it. A `{}` at the end of `en` keeps the rest of
/// the text.
fn fill(text: &str, en: &str, ja: &str) -> Option<String> {
    let literals: Vec<&str> = en.split("{}").collect();
    let start = text.find(literals[0])?;
    let mut at = start + literals[0].len();
    let mut parts = Vec::with_capacity(literals.len() - 1);
    for literal in &literals[1..] {
        if literal.is_empty() {
            parts.push(&text[at..]);
            at = text.len();
        } else {
            let found = text[at..].find(literal)?;
            parts.push(&text[at..at + found]);
            at += found + literal.len();
        }
    }
    let mut out = text[..start].to_string();
    let mut parts = parts.into_iter();
    for (i, piece) in ja.split("{}").enumerate() {
        if i > 0 {
            out.push_str(parts.next().unwrap_or_default());
        }
        out.push_str(piece);
    }
    out.push_str(&text[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_the_fixed_parts_and_keeps_the_rest() {
        assert_eq!(
            translate("steps/a.rhai: the step ran past its wall-clock limit of 60 s"),
            "steps/a.rhai: ステップが実行時間の上限 60 秒を超えました"
        );
        assert_eq!(
            translate("cannot read step s.rhai: No such file or directory (os error 2)"),
            "ステップ s.rhai を読めません: No such file or directory (os error 2)"
        );
        assert_eq!(
            translate(
                "slow.rhai: describe() failed: Script terminated \
                 (describe() may take at most 5 s while a class is planned)"
            ),
            "slow.rhai: describe() が失敗しました: Script terminated \
             (クラスの準備中に describe() にかけられるのは最大 5 秒です)"
        );
        assert_eq!(
            translate("unknown param `user`: h.rhai takes no params"),
            "不明なパラメータ `user`: h.rhai はパラメータを取りません"
        );
        assert_eq!(
            translate("the step crashed inside labrun: task 7 panicked"),
            "ステップが labrun の内部で異常終了しました: task 7 panicked"
        );
        // The longer phrase wins over the one it contains.
        assert_eq!(
            translate("s.rhai: loading the step crashed inside labrun: boom"),
            "s.rhai: ステップの読み込み中に labrun の内部で異常終了しました: boom"
        );
        assert_eq!(
            translate("s.rhai:3:5: the step nested calls deeper than 32 levels (in fn f, called from run)"),
            "s.rhai:3:5: ステップの呼び出しの入れ子が 32 段を超えました (fn f 内、run から呼び出し)"
        );
    }

    #[test]
    fn text_it_does_not_know_stays_as_it_is() {
        for text in [
            "",
            "Script terminated",
            "aws.ec2_describe_vpcs: AccessDenied",
            "{}",
        ] {
            assert_eq!(translate(text), text);
        }
        // A template whose later part is missing does not match.
        assert_eq!(
            translate("the step used more than 5 operations"),
            "the step used more than 5 operations"
        );
    }
}
