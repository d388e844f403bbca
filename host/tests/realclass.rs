//! A real class, set up from the command line with no network: the `--roster` file
//! (every column reaches the report and the gradebook; every refusal is one line and
//! exit 64), and a `--replay` rehearsal refusing exactly what the live run refuses.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn command(args: &[&str]) -> Command {
    let home = std::env::temp_dir().join(format!("labrun-realclass-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_")
            || key.starts_with("LABRUN_MYSQL")
            || key == "LANG"
            || key.starts_with("LC_")
        {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(root())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .args(args);
    cmd
}

fn labrun(args: &[&str]) -> Output {
    command(args).output().expect("labrun runs")
}

const STEP: &str = "scripts/step3.rhai";
const CASSETTE: &str = "examples/step3-user05.cassette.json";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("labrun-realclass-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Exit 64 and exactly one line on stderr containing `needle`; nothing on stdout.
fn assert_bad_input(args: &[&str], needle: &str) {
    let out = labrun(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    assert!(err.contains(needle), "{args:?}: `{needle}` in {err}");
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
}

#[test]
fn every_roster_column_reaches_the_report_and_the_gradebook() {
    let dir = scratch("columns");
    let roster = dir.join("class.csv");
    std::fs::write(
        &roster,
        "trainee,name,email,idnumber,ssh_key,aws_profile,aws_role_arn,aws_external_id,region\r\n\
         user05,\"Sato, Hana\",hana@example.org,S-005,keys/1day-user05.pem,,,,\r\n",
    )
    .unwrap();
    let roster = roster.display().to_string();
    let json = labrun(&[
        STEP, "--replay", CASSETTE, "--roster", &roster, "--format", "json",
    ]);
    assert_eq!(
        json.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let t = &report["trainees"][0];
    assert_eq!(t["trainee"], "user05");
    assert_eq!(t["name"], "Sato, Hana");
    assert_eq!(t["email"], "hana@example.org");
    assert_eq!(t["idnumber"], "S-005");
    // The key file named by the roster is missing: one warning, the run goes on.
    let stderr = String::from_utf8_lossy(&json.stderr);
    assert!(
        stderr.contains("cannot read the SSH key of user05") && stderr.contains("1day-user05.pem"),
        "{stderr}"
    );

    let csv = labrun(&[
        STEP, "--replay", CASSETTE, "--roster", &roster, "--format", "csv",
    ]);
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("trainee,name,email,idnumber,A1,"),
        "{header}"
    );
    assert!(header.ends_with(",passed,total,grade,done"), "{header}");
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("user05,\"Sato, Hana\",hana@example.org,S-005,pass,"),
        "{row}"
    );
    assert!(row.ends_with(",18,18,100,yes"), "{row}");
}

#[test]
fn a_roster_picks_its_trainees_and_trainee_picks_among_them() {
    let dir = scratch("pick");
    let roster = dir.join("class.csv");
    std::fs::write(
        &roster,
        "trainee,email\nuser05,a@example.org\nuser06,b@example.org\n",
    )
    .unwrap();
    let roster = roster.display().to_string();
    let all = labrun(&[
        STEP, "--replay", CASSETTE, "--roster", &roster, "--format", "json",
    ]);
    let report: Value = serde_json::from_slice(&all.stdout).unwrap();
    let ids: Vec<&str> = report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trainee"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["user05", "user06"]);
    let one = labrun(&[
        STEP,
        "--replay",
        CASSETTE,
        "--roster",
        &roster,
        "--trainee",
        "user05",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(report["trainees"].as_array().unwrap().len(), 1);
    assert_eq!(report["trainees"][0]["email"], "a@example.org");
    assert_bad_input(
        &[
            STEP,
            "--replay",
            CASSETTE,
            "--roster",
            &roster,
            "--trainee",
            "user07",
        ],
        "trainee user07 is not in --roster",
    );
}

#[test]
fn every_roster_refusal_is_one_line_and_exit_64() {
    let dir = scratch("refusals");
    for (n, (text, needle)) in [
        (
            "trainee,phone\nuser05,1\n",
            "line 1: unknown column `phone`",
        ),
        (
            "trainee,email\nuser05,a@b.c\nuser05,d@e.f\n",
            "line 3: trainee user05 is given twice (first on line 2)",
        ),
        ("trainee,name\n,Sato\n", "line 2: the trainee id is empty"),
        (
            "trainee,aws_role_arn\nuser05,arn:aws:iam::12:role/x\n",
            "is not a role ARN",
        ),
        (
            "trainee,aws_profile,aws_role_arn\nuser05,p,arn:aws:iam::111111111111:role/x\n",
            "not both",
        ),
        (
            "trainee,aws_external_id\nuser05,ext-1\n",
            "goes with aws_role_arn",
        ),
        ("trainee,region\nuser05,tokyo!\n", "is not an AWS region"),
        ("trainee,email\nuser05,nobody\n", "is not an email address"),
        ("name\nSato\n", "no trainee column"),
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.join(format!("roster{n}.csv"));
        std::fs::write(&file, text).unwrap();
        let file = file.display().to_string();
        assert_bad_input(&[STEP, "--replay", CASSETTE, "--roster", &file], needle);
    }
    assert_bad_input(
        &[
            STEP,
            "--replay",
            CASSETTE,
            "--roster",
            "/nonexistent/class.csv",
        ],
        "cannot read --roster /nonexistent/class.csv",
    );
}

/// A trainee in their own account is checked there, never in the operator's: the
/// shipped cassette, recorded in the operator's account, holds no answer of account
/// 111111111111, so every AWS row is an error saying so (none passes on the
/// operator's answers).
#[test]
fn a_trainee_in_their_own_account_is_never_answered_from_the_operators() {
    let dir = scratch("own-account");
    let own = dir.join("own-account.csv");
    std::fs::write(
        &own,
        "trainee,aws_role_arn,aws_external_id\nuser05,arn:aws:iam::111111111111:role/labrun,ext-05\n",
    )
    .unwrap();
    let out = labrun(&[
        STEP,
        "--replay",
        CASSETTE,
        "--roster",
        &own.display().to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["trainees"][0]["results"].as_array().unwrap();
    let a1 = rows.iter().find(|r| r["id"] == "A1").unwrap();
    assert_eq!(a1["status"], "error", "{a1}");
    assert!(
        a1["message"]["en"]
            .as_str()
            .unwrap()
            .contains("in account 111111111111"),
        "{a1}"
    );
    assert!(rows.iter().all(|r| r["status"] != "pass"), "{rows:?}");
}

/// A rehearsal refused what the class then refused too late (it accepted both).
#[test]
fn replay_refuses_what_the_live_run_refuses() {
    let dir = scratch("replay");
    let key = dir.join("one.pem");
    std::fs::write(&key, "not read before a server is reached").unwrap();
    let key = key.display().to_string();
    for live in [false, true] {
        let mut base = vec![STEP];
        if !live {
            base.extend(["--replay", CASSETTE]);
        } else {
            // Live, with no AWS to reach: planning refuses before anything is called.
            base.extend(["--region", "ap-northeast-1"]);
        }
        let with = |extra: &[&'static str]| {
            let mut args = base.clone();
            args.extend_from_slice(extra);
            args
        };
        assert_bad_input(
            &with(&["--param", "user=user05", "--mysql-password-file", "/nope"]),
            "--mysql-password-file …: no such file (the value is not shown",
        );
        let mut two = with(&["--trainee", "user05", "--trainee", "user06", "--ssh-key"]);
        two.push(&key);
        assert_bad_input(&two, "names one key for 2 trainees");
        assert_bad_input(
            &with(&["--param", "user=user05", "--ssh-strict"]),
            "--ssh-known-hosts and --ssh-strict need --ssh-key",
        );
    }
}

/// The policy `labrun iam-policy` prints for `args`, parsed.
fn policy(args: &[&str]) -> Value {
    let mut all = vec!["iam-policy"];
    all.extend_from_slice(args);
    let out = labrun(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the policy is JSON")
}

/// What IAM accepts as a policy document: version, statements with a unique Sid,
/// Allow, `service:Action` names, a resource.
fn assert_valid_iam(doc: &Value) {
    assert_eq!(doc["Version"], "2012-10-17");
    let statements = doc["Statement"].as_array().expect("Statement is a list");
    let mut sids = std::collections::BTreeSet::new();
    for s in statements {
        let sid = s["Sid"].as_str().expect("a Sid");
        assert!(sid.chars().all(|c| c.is_ascii_alphanumeric()), "{sid}");
        assert!(sids.insert(sid), "Sid {sid} twice");
        assert_eq!(s["Effect"], "Allow");
        match &s["Resource"] {
            Value::String(_) => {}
            Value::Array(list) => {
                assert!(!list.is_empty() && list.iter().all(Value::is_string), "{s}")
            }
            _ => panic!("no Resource: {s}"),
        }
        let actions: Vec<&Value> = match &s["Action"] {
            Value::Array(list) => list.iter().collect(),
            one => vec![one],
        };
        assert!(!actions.is_empty());
        for a in actions {
            let a = a.as_str().expect("an action is text");
            let (service, name) = a.split_once(':').expect("service:Action");
            assert!(
                !service.is_empty() && !name.is_empty() && !name.contains('*'),
                "{a}"
            );
        }
    }
}

/// The IAM actions of the registry's operations that `steps` can call.
fn registry_actions(steps: &[&str]) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut actions = std::collections::BTreeSet::new();
    for step in steps {
        let d = rt
            .block_on(labrun::step::describe(&root().join(step)))
            .unwrap();
        for op in d.operations {
            let (cap, name) = op.split_once('.').unwrap();
            let op = labrun::caps::registry::operation(cap, name).unwrap();
            if let Some(action) = op.iam {
                actions.insert(action.to_string());
            }
        }
    }
    actions.into_iter().collect()
}

#[test]
fn iam_policy_grants_exactly_the_registry_actions_of_what_the_course_calls() {
    let course = policy(&["courses/wordpress-2019.toml"]);
    assert_valid_iam(&course);
    let listed: Vec<String> = course["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        registry_actions(&[
            "scripts/step1.rhai",
            "scripts/step2.rhai",
            "scripts/step3.rhai"
        ])
    );
    assert_eq!(course["Statement"].as_array().unwrap().len(), 1);
    // Nothing but describe, list and get calls.
    for a in &listed {
        let name = a.split_once(':').unwrap().1;
        assert!(
            ["Describe", "List", "Get"]
                .iter()
                .any(|p| name.starts_with(p)),
            "{a} is not read-only"
        );
    }
    // One step: only its own operations.
    let step3 = policy(&["scripts/step3.rhai"]);
    assert_valid_iam(&step3);
    let listed: Vec<String> = step3["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, registry_actions(&["scripts/step3.rhai"]));
    assert!(
        !listed.iter().any(|a| a.starts_with("s3:")),
        "step 3 reads no bucket"
    );
}

#[test]
fn iam_policy_with_instance_connect_adds_only_the_push_for_the_login_user() {
    let doc = policy(&[
        "scripts/step3.rhai",
        "--ssh-via",
        "instance-connect",
        "--ssh-user",
        "ec2-user",
    ]);
    assert_valid_iam(&doc);
    let push = &doc["Statement"][1];
    assert_eq!(push["Action"], "ec2-instance-connect:SendSSHPublicKey");
    assert_eq!(push["Condition"]["StringEquals"]["ec2:osuser"], "ec2-user");
    assert!(doc["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .contains(&Value::from("ec2:DescribeInstances")));
    assert_bad_input(
        &["iam-policy", "/nonexistent/step.rhai"],
        "/nonexistent/step.rhai",
    );
    assert_bad_input(
        &["iam-policy", "scripts/step3.rhai", "--ssh-via", "telnet"],
        "telnet",
    );
}

#[test]
fn iam_policy_with_a_roster_grants_assume_role_on_exactly_its_roles() {
    let dir = scratch("iam-roster");
    let roster = dir.join("class.csv");
    std::fs::write(
        &roster,
        "trainee,email,aws_role_arn\n\
         user01,hana@example.org,arn:aws:iam::222222222222:role/labrun-check\n\
         user02,ken@example.org,arn:aws:iam::111111111111:role/labrun-check\n\
         user03,yui@example.org,arn:aws:iam::111111111111:role/labrun-check\n\
         user04,ren@example.org,\n",
    )
    .unwrap();
    let roster = roster.to_str().unwrap();
    let doc = policy(&["courses/wordpress-2019.toml", "--roster", roster]);
    assert_valid_iam(&doc);
    let statements = doc["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{doc}");
    // The read-only statement is the one without a roster (user04 is read in the
    // operator's own account with it).
    assert_eq!(
        statements[0],
        policy(&["courses/wordpress-2019.toml"])["Statement"][0]
    );
    assert_eq!(statements[1]["Sid"], "LabrunAssumeTraineeRoles");
    assert_eq!(statements[1]["Action"], "sts:AssumeRole");
    assert_eq!(
        statements[1]["Resource"],
        serde_json::json!([
            "arn:aws:iam::111111111111:role/labrun-check",
            "arn:aws:iam::222222222222:role/labrun-check"
        ])
    );
    // A roster without roles adds nothing; a bad roster is bad input, named.
    let plain = dir.join("plain.csv");
    std::fs::write(&plain, "trainee\nuser01\nuser02\n").unwrap();
    let doc = policy(&[
        "courses/wordpress-2019.toml",
        "--roster",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "trainee,aws_role_arn\nuser01,not-an-arn\n").unwrap();
    assert_bad_input(
        &[
            "iam-policy",
            "courses/wordpress-2019.toml",
            "--roster",
            bad.to_str().unwrap(),
        ],
        "not-an-arn",
    );
}

/// README shows the policy labrun prints for the course, not a hand list.
#[test]
fn readme_shows_the_course_policy_as_labrun_prints_it() {
    let out = labrun(&["iam-policy", "courses/wordpress-2019.toml"]);
    let printed = String::from_utf8(out.stdout).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```json\n{printed}```")),
        "README.md should show, in a json block, exactly:\n{printed}"
    );
}
