//! What a check needs from the operator to be decided at all (`requires` in
//! `describe()`): SSH into the trainee's server, a way into the VPC, a MySQL
//! credential, a capability the policy grants. Without it the check can only say
//! `error` or `skip`, which is not the trainee's doing: the run leaves it undecided
//! (see [`crate::outcome::done`]). [`Operator`] is what this run was given;
//! [`Need::unmet`] compares. Steps never see the operator's values, only whether a
//! need is met by the outcome's being undecided.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::caps::{registry, Settings};
use crate::outcome::Message;
use crate::policy::Policy;
use crate::text::{self, Arg, Text};

/// One thing a check needs from the operator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub enum Need {
    /// Inside the trainee's server over SSH (`--ssh-key`; the policy grants `server`,
    /// which tells a step whether it can get in).
    Ssh,
    /// Inside the trainee's VPC: through the server (`--ssh-key`), or a tunnel the
    /// operator made (`--connect-to`).
    Vpc,
    /// A MySQL credential: Aurora's password (`None`) or a named one; and the policy
    /// grants `mysql`.
    Mysql(Option<String>),
    /// A capability the policy must grant (`dns`, `http`, `tcp`, `server`, `aws`).
    Capability(String),
}

impl From<Need> for String {
    fn from(need: Need) -> String {
        match need {
            Need::Ssh => "ssh".into(),
            Need::Vpc => "vpc".into(),
            Need::Mysql(None) => "mysql".into(),
            Need::Mysql(Some(name)) => format!("mysql:{name}"),
            Need::Capability(c) => c,
        }
    }
}

impl Need {
    /// `ssh`, `vpc`, `mysql`, `mysql:NAME`, or a capability's name.
    pub fn parse(text: &str) -> Result<Need, Text> {
        match text {
            "ssh" => return Ok(Need::Ssh),
            "vpc" => return Ok(Need::Vpc),
            "mysql" => return Ok(Need::Mysql(None)),
            _ => {}
        }
        if let Some(name) = text.strip_prefix("mysql:") {
            if !crate::caps::mysql::credential_name(name) {
                return Err(crate::text::step::RequiresNoCredential { need: text }.into());
            }
            return Ok(Need::Mysql(Some(name.to_string())));
        }
        if registry::get(text).is_some() {
            return Ok(Need::Capability(text.to_string()));
        }
        Err(crate::text::step::RequiresUnknown {
            need: text,
            capabilities: registry::names().join(", "),
        }
        .into())
    }

    /// What the operator would give: a flag as it is typed, or a catalog text.
    pub fn flag(&self) -> Arg {
        match self {
            Need::Ssh => "--ssh-key".into(),
            Need::Vpc => Text::from(text::class::NeedVpc {
                ssh: "--ssh-key",
                tunnel: "--connect-to",
            })
            .into(),
            Need::Mysql(None) => "--mysql-password-file".into(),
            Need::Mysql(Some(name)) => format!("--mysql-password-file {name}=FILE").into(),
            Need::Capability(c) => Text::from(text::class::NeedGrant {
                capability: c.as_str(),
            })
            .into(),
        }
    }

    /// Whether this run was not given the need.
    pub fn unmet(&self, operator: &Operator) -> bool {
        let Operator::Live {
            ssh,
            tunnel,
            mysql,
            credentials,
            policy,
        } = operator
        else {
            // A cassette answers as it was recorded; it decides what it holds.
            return false;
        };
        let granted = |cap: &str, op: &str| policy.refusal(cap, op).is_none();
        let inside = *ssh && granted("server", "listening");
        match self {
            Need::Ssh => !inside,
            Need::Vpc => !inside && !tunnel,
            Need::Mysql(None) => !mysql || !granted("mysql", "query"),
            Need::Mysql(Some(name)) => !credentials.contains(name) || !granted("mysql", "query"),
            Need::Capability(c) => !policy.grants.contains_key(c.as_str()),
        }
    }
}

/// What the operator gave this run, as far as deciding checks goes.
pub enum Operator<'a> {
    Live {
        /// `--ssh-key`.
        ssh: bool,
        /// `--connect-to` (a tunnel into the VPC).
        tunnel: bool,
        /// Aurora's password.
        mysql: bool,
        /// Named MySQL credentials.
        credentials: BTreeSet<String>,
        policy: &'a Policy,
    },
    /// Replaying a cassette recorded before labrun noted its settings: the recording
    /// decides.
    Replay,
}

/// What a recording notes about the settings it was made with (no secret: only
/// whether each was given), so that its replay leaves the same outcomes undecided.
pub fn recorded_settings(settings: &Settings) -> serde_json::Value {
    serde_json::json!({
        "ssh": settings.net.ssh.is_some(),
        "tunnel": !settings.net.connect_to.is_empty(),
        "mysql": settings.net.mysql_password.is_some(),
        "credentials": settings.net.mysql_credentials.keys().collect::<Vec<_>>(),
    })
}

impl<'a> Operator<'a> {
    /// A replay: the settings the cassette was recorded with ([`recorded_settings`]),
    /// under this run's policy; [`Operator::Replay`] when it does not say.
    pub fn recorded(recorded: &serde_json::Value, policy: &'a Policy) -> Operator<'a> {
        let o = &recorded["operator"];
        if !o.is_object() {
            return Operator::Replay;
        }
        Operator::Live {
            ssh: o["ssh"] == true,
            tunnel: o["tunnel"] == true,
            mysql: o["mysql"] == true,
            credentials: o["credentials"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect(),
            policy,
        }
    }

    pub fn live(settings: &Settings, policy: &'a Policy) -> Operator<'a> {
        Operator::Live {
            ssh: settings.net.ssh.is_some(),
            tunnel: !settings.net.connect_to.is_empty(),
            mysql: settings.net.mysql_password.is_some(),
            credentials: settings.net.mysql_credentials.keys().cloned().collect(),
            policy,
        }
    }
}

/// What `needs` asks of the operator, one phrase: "--ssh-key and --mysql-password-file".
fn needs_arg(needs: &[Need]) -> Arg {
    let mut wanted: Option<Arg> = None;
    for need in needs {
        wanted = Some(match wanted {
            None => need.flag(),
            Some(first) => Text::from(text::class::NeedsAnd {
                first,
                second: need.flag(),
            })
            .into(),
        });
    }
    wanted.unwrap_or_else(|| "".into())
}

/// What `needs` asks of the operator (`--ssh-key and --mysql-password-file`), in both
/// languages.
pub fn needs_phrase(needs: &[Need]) -> Message {
    Message::text(text::class::Wanting {
        needs: needs_arg(needs),
    })
}

/// The line for outcomes `ids` left undecided for want of `needs`, both languages:
/// "A5 A6 D1 need --ssh-key: not decided in this run".
pub fn undecided_line(ids: &[String], needs: &[Need], trainees: &[String]) -> Message {
    let shown = ids.join(" ");
    let needs = needs_arg(needs);
    let line: Text = if ids.len() == 1 {
        text::class::UndecidedOne { ids: shown, needs }.into()
    } else {
        text::class::UndecidedMany { ids: shown, needs }.into()
    };
    if trainees.is_empty() {
        return Message::text(line);
    }
    Message::text(text::class::UndecidedFor {
        line,
        trainees: text::list(trainees),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Trust;

    #[test]
    fn needs_parse_and_refuse_what_no_operator_gives() {
        assert_eq!(Need::parse("ssh").unwrap(), Need::Ssh);
        assert_eq!(
            Need::parse("mysql:local").unwrap(),
            Need::Mysql(Some("local".into()))
        );
        assert_eq!(Need::parse("dns").unwrap(), Need::Capability("dns".into()));
        for bad in ["", "sshkey", "mysql:", "mysql:Bad-Name", "\u{1b}[2J"] {
            let e = Need::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("`requires`"), "{e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
    }

    #[test]
    fn a_need_is_unmet_without_its_setting_or_its_grant_and_never_in_replay() {
        let instructor = Policy::preset(Trust::Instructor);
        let bare = Operator::live(&Settings::default(), &instructor);
        for need in [
            Need::Ssh,
            Need::Vpc,
            Need::Mysql(None),
            Need::Mysql(Some("local".into())),
        ] {
            assert!(need.unmet(&bare), "{need:?}");
            assert!(!need.unmet(&Operator::Replay), "{need:?}");
        }
        assert!(!Need::Capability("dns".into()).unmet(&bare));
        let tunnel = Operator::Live {
            ssh: false,
            tunnel: true,
            mysql: true,
            credentials: BTreeSet::new(),
            policy: &instructor,
        };
        assert!(!Need::Vpc.unmet(&tunnel) && Need::Ssh.unmet(&tunnel));
        assert!(!Need::Mysql(None).unmet(&tunnel));
        let mut no_mysql = Policy::preset(Trust::Instructor);
        no_mysql.grants.remove("mysql");
        let given = Operator::Live {
            ssh: true,
            tunnel: false,
            mysql: true,
            credentials: BTreeSet::new(),
            policy: &no_mysql,
        };
        assert!(Need::Mysql(None).unmet(&given));
        assert!(Need::Capability("mysql".into()).unmet(&given));
        assert!(!Need::Ssh.unmet(&given));
    }

    #[test]
    fn the_line_names_the_ids_and_the_flags_in_both_languages() {
        let m = undecided_line(
            &["A5".into(), "A6".into(), "D1".into(), "F1".into()],
            &[Need::Ssh],
            &[],
        );
        assert_eq!(m.en, "A5 A6 D1 F1 need --ssh-key: not decided in this run");
        assert!(
            m.ja.contains("--ssh-key") && m.ja.contains("判定しません"),
            "{}",
            m.ja
        );
        let one = undecided_line(
            &["C3".into()],
            &[Need::Mysql(Some("local".into()))],
            &["user05".into()],
        );
        assert_eq!(
            one.en,
            "C3 needs --mysql-password-file local=FILE: not decided in this run (for user05)"
        );
    }
}
