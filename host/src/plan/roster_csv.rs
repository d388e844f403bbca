//! `--roster FILE`: the class as a spreadsheet exports it, CSV with a header row.
//! `trainee` is required; `name`, `email`, `idnumber` (who the trainee is: the
//! report and the gradebook carry them), `ssh_key` (the trainee's key file, relative
//! to the roster's folder), `aws_profile` or `aws_role_arn` (+ `aws_external_id`) and
//! `region` (where the trainee's resources are) are optional, and a cell may be empty.
//!
//! Refused in one line each, exit 64: an unknown or repeated column, no `trainee`
//! column, a row with too many or too few cells, an empty or repeated trainee id, a
//! role ARN that is not `arn:aws:iam::ACCOUNT:role/NAME`, a profile and a role on one
//! row, an external id without a role, a bad region or email. RFC 4180 quoting; a
//! UTF-8 byte order mark (Excel's "CSV UTF-8") and blank lines are fine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::PlanError;
use crate::caps::settings::AwsIdentity;
use crate::outcome::Person;
use crate::text::{self, list, quoted, roster_csv as t, Text};

/// Every column a roster may have, in the order the docs list them.
pub const COLUMNS: &[&str] = &[
    "trainee",
    "name",
    "email",
    "idnumber",
    "ssh_key",
    "aws_profile",
    "aws_role_arn",
    "aws_external_id",
    "region",
];

/// The largest roster file read (a class is tens of rows, a big one thousands).
const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// One trainee as the roster gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub trainee: String,
    pub person: Person,
    /// The trainee's private key, resolved against the roster's folder.
    pub ssh_key: Option<PathBuf>,
    /// Where the trainee's AWS answers come from; `None`: the operator's configuration.
    pub aws: Option<AwsIdentity>,
}

/// The roster, in file order.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    pub entries: Vec<Entry>,
}

impl Roster {
    /// The entry of `trainee`.
    pub fn get(&self, trainee: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.trainee == trainee)
    }

    /// Every trainee's key file the roster names.
    pub fn ssh_keys(&self) -> BTreeMap<String, PathBuf> {
        self.entries
            .iter()
            .filter_map(|e| Some((e.trainee.clone(), e.ssh_key.clone()?)))
            .collect()
    }

    /// Every trainee's own AWS identity the roster names.
    pub fn aws_identities(&self) -> BTreeMap<String, AwsIdentity> {
        self.entries
            .iter()
            .filter_map(|e| Some((e.trainee.clone(), e.aws.clone()?)))
            .collect()
    }
}

/// Reads and checks a roster file.
pub fn load(path: &Path) -> Result<Roster, PlanError> {
    let shown = path.display().to_string();
    let cannot = |e: std::io::Error| {
        PlanError::Flag(
            t::CannotRead {
                path: &shown,
                why: quoted(e),
            }
            .into(),
        )
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(PlanError::Flag(t::NotAFile { path: &shown }.into()));
    }
    if meta.len() > MAX_BYTES {
        return Err(PlanError::Flag(
            t::TooBig {
                path: &shown,
                bytes: meta.len(),
                max: MAX_BYTES,
            }
            .into(),
        ));
    }
    let bytes = crate::files::read(path, MAX_BYTES).map_err(cannot)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| PlanError::Flag(t::NotUtf8 { path: &shown }.into()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, &shown, base).map_err(PlanError::Flag)
}

/// Parses a roster's text; `base` resolves relative `ssh_key` paths.
pub fn parse(text: &str, shown: &str, base: &Path) -> Result<Roster, Text> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let at_line = |line: usize| Text::from(t::AtLine { path: shown, line });
    let rows = records(text).map_err(|(line, why)| {
        Text::from(t::At {
            at: at_line(line),
            why,
        })
    })?;
    let mut rows = rows
        .into_iter()
        .filter(|(_, cells)| !(cells.len() == 1 && cells[0].trim().is_empty()));
    let Some((_, header)) = rows.next() else {
        return Err(t::Empty { path: shown }.into());
    };
    let mut columns: Vec<&'static str> = Vec::with_capacity(header.len());
    for cell in &header {
        let name = cell.trim().to_ascii_lowercase();
        let Some(column) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(t::At {
                at: at_line(1),
                why: Text::from(t::UnknownColumn {
                    column: cell.trim(),
                    columns: list(COLUMNS.iter().copied()),
                }),
            }
            .into());
        };
        if columns.contains(column) {
            return Err(t::At {
                at: at_line(1),
                why: Text::from(t::ColumnTwice { column: *column }),
            }
            .into());
        }
        columns.push(column);
    }
    if !columns.contains(&"trainee") {
        return Err(t::At {
            at: at_line(1),
            why: Text::from(t::NoTraineeColumn),
        }
        .into());
    }
    let mut roster = Roster::default();
    let mut lines: BTreeMap<String, usize> = BTreeMap::new();
    for (line, cells) in rows {
        let at = |why: Text| -> Text {
            t::At {
                at: at_line(line),
                why,
            }
            .into()
        };
        if cells.len() != columns.len() {
            return Err(at(t::CellCount {
                cells: cells.len(),
                count: columns.len(),
                columns: columns.join(","),
            }
            .into()));
        }
        let row: BTreeMap<&str, &str> = columns
            .iter()
            .copied()
            .zip(cells.iter().map(|c| c.trim()))
            .collect();
        let cell = |name: &str| {
            row.get(name)
                .copied()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let trainee = cell("trainee").unwrap_or_default();
        if trainee.is_empty() {
            return Err(at(text::roster::IdEmpty.into()));
        }
        super::roster::check_id(&trainee).map_err(at)?;
        if let Some(first) = lines.insert(trainee.clone(), line) {
            return Err(at(t::TraineeTwice {
                trainee: &trainee,
                first,
            }
            .into()));
        }
        if let Some(email) = cell("email") {
            let (user, domain) = email.split_once('@').unwrap_or(("", ""));
            if user.is_empty() || domain.is_empty() || email.contains(char::is_whitespace) {
                return Err(at(t::NotAnEmail { email: &email }.into()));
            }
        }
        let aws = identity(
            cell("aws_profile"),
            cell("aws_role_arn"),
            cell("aws_external_id"),
            cell("region"),
        )
        .map_err(at)?;
        roster.entries.push(Entry {
            person: Person {
                name: cell("name"),
                email: cell("email"),
                idnumber: cell("idnumber"),
            },
            ssh_key: cell("ssh_key").map(|k| base.join(k)),
            aws,
            trainee,
        });
    }
    if roster.entries.is_empty() {
        return Err(t::NoTrainee { path: shown }.into());
    }
    Ok(roster)
}

/// A row's AWS cells, checked; `None` when the row gives none.
fn identity(
    profile: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    region: Option<String>,
) -> Result<Option<AwsIdentity>, Text> {
    if profile.is_some() && role_arn.is_some() {
        return Err(t::ProfileAndRole.into());
    }
    if external_id.is_some() && role_arn.is_none() {
        return Err(t::ExternalIdNoRole.into());
    }
    if let Some(arn) = &role_arn {
        role_account(arn)?;
    }
    if let Some(id) = &external_id {
        // AWS: 2–1224 characters of [\w+=,.@:/-].
        let ok = (2..=1224).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
        if !ok {
            return Err(t::BadExternalId.into());
        }
    }
    if let Some(p) = &profile {
        if p.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(t::BadProfile { profile: p }.into());
        }
    }
    if let Some(r) = &region {
        crate::flags::parse_region(r)?;
    }
    if profile.is_none() && role_arn.is_none() && region.is_none() {
        return Ok(None);
    }
    Ok(Some(AwsIdentity {
        profile,
        role_arn,
        external_id,
        region,
    }))
}

/// The account of a role ARN, `arn:aws:iam::123456789012:role/NAME` (or another AWS
/// partition, or a role path `role/path/NAME`), or why it is not one.
pub fn role_account(arn: &str) -> Result<&str, Text> {
    let bad = || Text::from(t::BadRoleArn { arn });
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, service, region, account, resource] = parts[..] else {
        return Err(bad());
    };
    let name = resource.strip_prefix("role/").ok_or_else(bad)?;
    let name_ok = !name.is_empty()
        && !name.ends_with('/')
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    let ok = arn_ == "arn"
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && name_ok;
    if ok {
        Ok(account)
    } else {
        Err(bad())
    }
}

/// A CSV record: the line it starts on and its cells.
type Record = (usize, Vec<String>);

/// RFC 4180 records; a quoted cell may hold commas, quotes (`""`) and line breaks.
/// Error: (line, why).
fn records(text: &str) -> Result<Vec<Record>, (usize, Text)> {
    let mut out = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cell.push('\n');
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.trim().is_empty() && !was_quoted => {
                cell.clear();
                quoted = true;
                was_quoted = true;
            }
            '"' => return Err((line, t::QuoteInside.into())),
            ',' => {
                cells.push(std::mem::take(&mut cell));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                cells.push(std::mem::take(&mut cell));
                was_quoted = false;
                out.push((start, std::mem::take(&mut cells)));
                line += 1;
                start = line;
            }
            _ if was_quoted && !c.is_whitespace() => return Err((line, t::AfterQuote.into())),
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err((start, t::Unclosed.into()));
    }
    if !cell.is_empty() || !cells.is_empty() {
        cells.push(cell);
        out.push((start, cells));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(text: &str) -> Result<Roster, String> {
        parse(text, "class.csv", Path::new("/class")).map_err(|e| e.en())
    }

    #[test]
    fn every_column_is_read_and_empty_cells_are_absent() {
        let r = roster(
            "\u{feff}Trainee,name,email,idnumber,ssh_key,aws_profile,aws_role_arn,aws_external_id,region\r\n\
             user01,\"Sato, Hana\",hana@example.org,S-001,keys/1day-user01.pem,,arn:aws:iam::111111111111:role/labrun,ext-01,ap-northeast-1\r\n\
             \r\n\
             user02,Ito Ken,,,,ws02,,,\r\n\
             user03,,,,,,,,\r\n",
        )
        .unwrap();
        assert_eq!(r.entries.len(), 3);
        let one = &r.entries[0];
        assert_eq!(one.trainee, "user01");
        assert_eq!(one.person.name.as_deref(), Some("Sato, Hana"));
        assert_eq!(one.person.email.as_deref(), Some("hana@example.org"));
        assert_eq!(one.person.idnumber.as_deref(), Some("S-001"));
        assert_eq!(
            one.ssh_key.as_deref(),
            Some(Path::new("/class/keys/1day-user01.pem"))
        );
        let aws = one.aws.as_ref().unwrap();
        assert_eq!(
            aws.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/labrun")
        );
        assert_eq!(aws.external_id.as_deref(), Some("ext-01"));
        assert_eq!(aws.region.as_deref(), Some("ap-northeast-1"));
        assert_eq!(
            r.entries[1].aws.as_ref().unwrap().profile.as_deref(),
            Some("ws02")
        );
        assert_eq!(r.entries[2].aws, None);
        assert_eq!(r.entries[2].person, Person::default());
        assert_eq!(r.ssh_keys().len(), 1);
        assert_eq!(r.aws_identities().len(), 2);
    }

    #[test]
    fn every_refusal_is_one_line_naming_the_line() {
        for (text, why) in [
            ("", "is empty"),
            (
                "trainee,phone\nuser01,1\n",
                "line 1: unknown column `phone`",
            ),
            (
                "trainee,name,Name\nuser01,a,b\n",
                "line 1: the column name is given twice",
            ),
            ("name,email\nA,a@b.c\n", "no trainee column"),
            ("trainee\n", "names no trainee"),
            ("trainee,name\nuser01\n", "line 2: 1 cells for 2 columns"),
            (
                "trainee,name\nuser01,a,b\n",
                "line 2: 3 cells for 2 columns",
            ),
            ("trainee,name\n,Sato\n", "line 2: the trainee id is empty"),
            (
                "trainee\nuser01\nuser02\nuser01\n",
                "line 4: trainee user01 is given twice (first on line 2)",
            ),
            (
                "trainee,aws_role_arn\nuser01,arn:aws:iam::1111:role/x\n",
                "line 2: aws_role_arn `arn:aws:iam::1111:role/x` is not a role ARN",
            ),
            (
                "trainee,aws_role_arn\nuser01,arn:aws:iam::111111111111:user/x\n",
                "is not a role ARN",
            ),
            (
                "trainee,aws_role_arn\nuser01,arn:aws:sts::111111111111:role/x\n",
                "is not a role ARN",
            ),
            (
                "trainee,aws_profile,aws_role_arn\nuser01,p,arn:aws:iam::111111111111:role/x\n",
                "not both",
            ),
            (
                "trainee,aws_external_id\nuser01,abc\n",
                "goes with aws_role_arn",
            ),
            ("trainee,region\nuser01,Tokyo\n", "is not an AWS region"),
            (
                "trainee,email\nuser01,hana.example.org\n",
                "is not an email address",
            ),
            (
                "trainee,name\nuser01,\"open\n",
                "line 2: a quoted cell is not closed",
            ),
            (
                "trainee,name\nuser01,ab\"c\n",
                "line 2: a quote inside an unquoted cell",
            ),
        ] {
            let e = roster(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
            assert!(e.starts_with("--roster class.csv"), "{e}");
        }
    }

    #[test]
    fn a_role_arn_names_its_account() {
        assert_eq!(
            role_account("arn:aws:iam::222222222222:role/path/labrun-check").unwrap(),
            "222222222222"
        );
        assert_eq!(
            role_account("arn:aws-cn:iam::333333333333:role/x").unwrap(),
            "333333333333"
        );
        assert!(role_account("arn:aws:iam::222222222222:role/").is_err());
        assert!(role_account("labrun").is_err());
    }
}
