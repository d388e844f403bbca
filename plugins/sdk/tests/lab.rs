//! The SDK's lab library on the host target: catalogs, addresses, rules, and the typed
//! shapes read from the same golden AWS answers the host's shape tests use.

use labrun_step_sdk::lab::Checklist;
use labrun_step_sdk::lab::{bare, filter, in_cidr, ip4, Found};
use labrun_step_sdk::shapes::{
    DbCluster, DbInstance, Instance, Listener, LoadBalancer, Reservation, SecurityGroup, Tagged,
    TargetGroup,
};
use labrun_step_sdk::{catalog, Catalog, Info, Message, Var};

const STEP3: &str = include_str!("../../../scripts/step3.messages.toml");

fn golden<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!(
        "{}/../../host/tests/golden/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn step3_catalog_reads_and_fills() {
    let c = Catalog::parse(STEP3).unwrap();
    assert_eq!(
        c.title("A1"),
        Some(Message::new(
            "the reader is a member of the cluster",
            "リーダーがクラスターのメンバー"
        ))
    );
    let m = c
        .msg(
            "A7",
            "done",
            &[
                ("reader", "wp-user05-slave".into()),
                ("old", Message::joined(&["a", "b"], ", ", "、").into()),
            ],
        )
        .unwrap();
    assert_eq!(
        m.en,
        "failover done: wp-user05-slave is the writer, a, b a reader"
    );
    assert_eq!(
        m.ja,
        "フェイルオーバー済み: wp-user05-slave が書き込み、a、b が読み込みです"
    );
    // A later value replaces an earlier one of the same name; None shows as "".
    let m = c
        .msg(
            "C3",
            "port",
            &[
                ("protocol", "TCP".into()),
                ("port", Var::from(None::<i64>)),
                ("protocol", "HTTPS".into()),
            ],
        )
        .unwrap();
    assert_eq!(m.en, "it listens on HTTPS:, not HTTP:80");
    assert!(matches!(
        c.msg("A1", "member", &[]),
        Err(catalog::Error::NeedsValue { .. })
    ));
    assert_eq!(
        c.msg("A1", "nope", &[]),
        Err(catalog::Error::NoTemplate {
            section: "A1".into(),
            key: "nope".into()
        })
    );
}

#[test]
fn step3_describes_itself_from_its_catalog() {
    // The component's describe() is its catalog's [step]: what scripts/step3.rhai
    // declares too, from the same file.
    let info = Info::from_catalog(&Catalog::parse(STEP3).unwrap());
    assert_eq!(info.name, "step3");
    assert!(info.title_en.starts_with("Step 3:"), "{}", info.title_en);
    assert_eq!(info.checks.first().map(String::as_str), Some("A1"));
    assert_eq!(info.checks.len(), info.titles.len());
    let user = info.params.iter().find(|p| p.name == "user").unwrap();
    assert!(user.required && user.default.is_none());
    let reader = info.params.iter().find(|p| p.name == "reader").unwrap();
    assert_eq!(reader.default.as_deref(), Some("wp-{user}-slave"));
    assert!(info
        .needs
        .iter()
        .any(|(id, before)| id == "A2" && before == &["A1".to_string()]));
    let list = Checklist::declared(&info);
    assert_eq!(list.blocked_by("A2"), None, "nothing ran yet");
}

#[test]
fn the_step3_component_uses_only_params_its_catalog_declares() {
    // The component names no param of its own: it reads them by name
    // (`self.p("reader")`) from what the catalog's [step.params] declares. A name used
    // there but not declared would panic at run time; this holds each to the catalog.
    let source = include_str!("../../step3/src/lib.rs");
    let info = Info::from_catalog(&Catalog::parse(STEP3).unwrap());
    let declared: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
    let mut used = 0;
    for piece in source.split(".p(\"").skip(1) {
        let name = &piece[..piece.find('"').expect("a closing quote")];
        assert!(
            declared.contains(&name),
            "step3 uses param {name:?}, not declared"
        );
        used += 1;
    }
    assert!(
        used > 20,
        "the component reads its params with p(\"…\"): {used} found"
    );
}

#[test]
fn bad_catalogs_are_refused() {
    for (text, fragment) in [
        ("[A1\n", "not valid TOML"),
        ("[A1]\nx = { en = \"e\" }\n", "has no ja template"),
        (
            "[A1]\nx = { en = \"{a}\", ja = \"{b}\" }\n",
            "unknown placeholder {b} in ja",
        ),
        (
            "[A1]\ntitle = { en = \"{a}\", ja = \"\" }\n",
            "a title has no placeholders",
        ),
    ] {
        let e = Catalog::parse(text).unwrap_err().to_string();
        assert!(e.contains(fragment), "{text:?}: {e}");
    }
}

#[test]
fn addresses() {
    assert_eq!(ip4("10.0.2.7"), Some(0x0a00_0207));
    assert_eq!(ip4("10.0.2"), None);
    assert_eq!(ip4("10.0.2.256"), None);
    assert!(in_cidr("10.0.2.7", "10.0.2.0/24"));
    assert!(!in_cidr("10.0.3.7", "10.0.2.0/24"));
    assert!(in_cidr("1.2.3.4", "0.0.0.0/0"));
    assert!(!in_cidr("10.0.2.7", "10.0.2.0/33"));
    assert!(!in_cidr("fe80::1", "10.0.2.0/24"));
    assert_eq!(bare("Wp.Cluster.Example.COM."), "wp.cluster.example.com");
}

#[test]
fn problems_join_per_language() {
    let mut p = Found::new();
    assert!(p.is_empty());
    p.add(Message::new("a", "あ"));
    p.add(Message::new("b", "い"));
    assert_eq!(p.summary(), Message::new("a; b", "あ、い"));
}

#[test]
fn security_group_rules() {
    let sg: SecurityGroup = serde_json::from_value(serde_json::json!({
        "GroupId": "sg-1", "GroupName": "web-user05", "VpcId": "vpc-1",
        "IpPermissions": [
            { "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
              "IpRanges": [{ "CidrIp": "0.0.0.0/0" }], "Ipv6Ranges": [{ "CidrIpv6": "::/0" }],
              "UserIdGroupPairs": [{ "GroupId": "sg-alb" }] },
            { "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
              "IpRanges": [{ "CidrIp": "203.0.113.0/24" }] },
            { "IpProtocol": "-1", "UserIdGroupPairs": [{ "GroupId": "sg-all" }] },
        ],
    }))
    .unwrap();
    assert_eq!(sg.cidrs_allowed(80), ["0.0.0.0/0", "::/0"]);
    assert_eq!(sg.groups_allowed(80), ["sg-alb", "sg-all"]);
    assert_eq!(sg.cidrs_allowed(22), ["203.0.113.0/24"]);
    assert_eq!(sg.groups_allowed(443), ["sg-all"]);
    assert!(sg.open_to_anywhere(80));
    assert!(!sg.open_to_anywhere(22));
}

#[test]
fn golden_aws_answers_read_as_shapes() {
    let r: Reservation = golden("ec2_reservation");
    let i: &Instance = &r.instances[0];
    assert!(!i.instance_id.is_empty());
    assert!(i.name().is_some(), "{i:?}");
    let _: SecurityGroup = golden("ec2_security_group");
    let c: DbCluster = golden("rds_db_cluster");
    assert!(!c.db_cluster_identifier.is_empty());
    let d: DbInstance = golden("rds_db_instance");
    assert!(!d.db_instance_identifier.is_empty());
    let lb: LoadBalancer = golden("elbv2_load_balancer");
    assert!(!lb.dns_name.is_empty() && !lb.state.code.is_empty());
    let tg: TargetGroup = golden("elbv2_target_group");
    assert!(!tg.arn.is_empty());
    let _: Listener = golden("elbv2_listener");
}

#[test]
fn ec2_filters_take_names_literally() {
    assert_eq!(
        filter("tag:Name", "webserver#1-user05"),
        serde_json::json!({ "Name": "tag:Name", "Values": ["webserver#1-user05"] })
    );
    // EC2 reads `*` and `?` as wildcards and `\` as their escape.
    assert_eq!(filter("tag:Name", r"a*b?c\d")["Values"][0], r"a\*b\?c\\d");
}
