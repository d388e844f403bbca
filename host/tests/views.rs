//! Per-trainee views of account-wide answers (`labrun::caps::aws::view`): against the
//! moto server `tests/run` starts, every view answers exactly what the API answers to
//! the same narrowed request; through the hub, a class's views cost one account-wide
//! call, which is all the cassette records, and replay answers any view of it.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use labrun::caps::aws::{self, view};
use labrun::caps::{Cassette, ErrorKind, Hub, Settings};
use serde_json::{json, Value};

/// A fresh moto account (the server `tests/run` starts), as this process's AWS
/// environment; nextest runs each test in its own process.
async fn moto() -> labrun_tests::TestAccount {
    let account = labrun_tests::TestAccount::new().await;
    for (key, value) in account.aws_env() {
        std::env::set_var(key, value);
    }
    account
}

fn name_tag(resource: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key("Name").value(name).build())
        .tags(Tag::builder().key("course").value("wp").build())
        .build()
}

/// Three trainees' VPCs, subnets, groups and instances (one stopped) in one account.
async fn small_class(account: &labrun_tests::TestAccount) {
    let ec2 = &account.ec2;
    for (n, user) in ["user01", "user02", "user03"].iter().enumerate() {
        let vpc = ec2
            .create_vpc()
            .cidr_block(format!("10.{n}.0.0/16"))
            .tag_specifications(name_tag(ResourceType::Vpc, &format!("vpc-{user}")))
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.{n}.1.0/24"))
            .availability_zone("ap-northeast-1c")
            .tag_specifications(name_tag(ResourceType::Subnet, &format!("public-{user}")))
            .send()
            .await
            .unwrap()
            .subnet
            .unwrap()
            .subnet_id
            .unwrap();
        let sg = ec2
            .create_security_group()
            .group_name(format!("web-{user}"))
            .description(format!("web servers of {user}"))
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id
            .unwrap();
        for web in ["webserver#1", "webserver#2"] {
            let out = ec2
                .run_instances()
                .image_id("ami-12c6146b")
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet)
                .security_group_ids(&sg)
                .tag_specifications(name_tag(ResourceType::Instance, &format!("{web}-{user}")))
                .send()
                .await
                .unwrap();
            if web == "webserver#2" && *user == "user02" {
                let id = out.instances()[0].instance_id().unwrap();
                ec2.stop_instances().instance_ids(id).send().await.unwrap();
            }
        }
        ec2.create_key_pair()
            .key_name(format!("1day-{user}"))
            .send()
            .await
            .unwrap();
    }
}

fn filters(list: &[(&str, &[&str])]) -> Value {
    json!({ "Filters": list.iter().map(|(n, v)| json!({ "Name": n, "Values": v })).collect::<Vec<_>>() })
}

/// Sorted by the list's id field, so the comparison does not depend on moto's order.
fn normalised(answer: &Value) -> Value {
    let mut answer = answer.clone();
    if let Some(map) = answer.as_object_mut() {
        for list in map.values_mut() {
            if let Some(items) = list.as_array_mut() {
                items.sort_by_key(|i| i.to_string());
            }
        }
    }
    answer
}

#[tokio::test]
async fn every_view_answers_what_aws_answers_to_the_narrowed_request() {
    let account = moto().await;
    small_class(&account).await;
    let clients = aws::AwsClients::from_env(None).await.unwrap();
    let cases = [
        (
            "ec2_describe_instances",
            filters(&[("tag:Name", &["webserver#1-user02"])]),
        ),
        (
            "ec2_describe_instances",
            filters(&[
                ("tag:Name", &["webserver#1-user02", "webserver#2-user02"]),
                ("instance-state-name", &["running"]),
            ]),
        ),
        (
            "ec2_describe_instances",
            filters(&[("tag:Name", &["webserver#?-user03"])]),
        ),
        (
            "ec2_describe_instances",
            filters(&[
                ("tag:Name", &["*-user01"]),
                ("instance-state-name", &["stopped"]),
            ]),
        ),
        (
            "ec2_describe_instances",
            filters(&[("instance.group-name", &["web-user01"])]),
        ),
        (
            "ec2_describe_instances",
            filters(&[("tag:Name", &["nobody"])]),
        ),
        (
            "ec2_describe_vpcs",
            filters(&[("tag:Name", &["vpc-user02"])]),
        ),
        ("ec2_describe_vpcs", filters(&[("cidr", &["10.2.0.0/16"])])),
        (
            "ec2_describe_subnets",
            filters(&[
                ("tag:Name", &["public-user01"]),
                ("availability-zone", &["ap-northeast-1c"]),
            ]),
        ),
        (
            "ec2_describe_security_groups",
            filters(&[("group-name", &["web-user03"])]),
        ),
        (
            "ec2_describe_security_groups",
            filters(&[("group-name", &["default"]), ("tag-key", &["nothing"])]),
        ),
        (
            "ec2_describe_key_pairs",
            filters(&[("key-name", &["1day-user02"])]),
        ),
    ];
    for (op, request) in cases {
        let base =
            (view::VIEWS.base)(op, &request).unwrap_or_else(|| panic!("{op} {request} is a view"));
        let wide = aws::call(&clients, op, &base).await.unwrap();
        let from_index = (view::VIEWS.index)(op, wide).select(&request).unwrap();
        let from_aws = aws::call(&clients, op, &request).await.unwrap();
        assert_eq!(
            normalised(&from_index),
            normalised(&from_aws),
            "{op} {request}"
        );
    }
}

#[tokio::test]
async fn a_class_s_views_cost_one_account_wide_call_which_the_cassette_records() {
    let account = moto().await;
    small_class(&account).await;
    let hub = Hub::live(Settings::default());
    for user in ["user01", "user02", "user03"] {
        let out = hub
            .call(
                "aws",
                "ec2_describe_instances",
                filters(&[("tag:Name", &[&format!("webserver#1-{user}")])]),
            )
            .await
            .unwrap();
        let tagged = &out["Reservations"][0]["Instances"][0]["Tags"];
        assert!(
            tagged.to_string().contains(&format!("webserver#1-{user}")),
            "{out}"
        );
        assert_eq!(out["Reservations"].as_array().unwrap().len(), 1);
    }
    assert_eq!(hub.live_calls(), 1, "one DescribeInstances for the class");
    let cassette = hub.cassette(json!({}));
    assert_eq!(cassette.calls.len(), 1);
    assert_eq!(cassette.calls[0].operation, "ec2_describe_instances");
    assert_eq!(cassette.calls[0].request, json!({}), "the call really made");

    // Replayed, the recording answers any view of it, and only views of it.
    let text = serde_json::to_string(&cassette).unwrap();
    let replay = Hub::replay(Cassette::parse(&text, "views").unwrap());
    let out = replay
        .call(
            "aws",
            "ec2_describe_instances",
            filters(&[("tag:Name", &["webserver#2-user03"])]),
        )
        .await
        .unwrap();
    assert_eq!(out["Reservations"].as_array().unwrap().len(), 1);
    let e = replay
        .call(
            "aws",
            "ec2_describe_vpcs",
            filters(&[("tag:Name", &["vpc-user01"])]),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotRecorded);
}

#[tokio::test]
async fn a_cassette_that_holds_the_narrowed_request_itself_answers_it() {
    // Recorded before views existed: the filtered call, and no account-wide one.
    let request = filters(&[("tag:Name", &["vpc-user05"])]);
    let cassette = json!({
        "labrun_cassette": 1,
        "calls": [{
            "capability": "aws", "operation": "ec2_describe_vpcs", "request": request,
            "response": { "Vpcs": [{ "VpcId": "vpc-recorded" }] }
        }]
    });
    let replay = Hub::replay(Cassette::parse(&cassette.to_string(), "old").unwrap());
    let out = replay
        .call("aws", "ec2_describe_vpcs", request)
        .await
        .unwrap();
    assert_eq!(out, json!({ "Vpcs": [{ "VpcId": "vpc-recorded" }] }));
}

#[tokio::test]
async fn an_account_wide_error_is_every_view_s_error() {
    let cassette = json!({
        "labrun_cassette": 1,
        "calls": [{
            "capability": "aws", "operation": "ec2_describe_vpcs", "request": {},
            "error": { "capability": "aws", "operation": "ec2_describe_vpcs", "kind": "denied",
                       "code": "UnauthorizedOperation", "message": "not allowed" }
        }]
    });
    let replay = Hub::replay(Cassette::parse(&cassette.to_string(), "denied").unwrap());
    let e = replay
        .call(
            "aws",
            "ec2_describe_vpcs",
            filters(&[("tag:Name", &["vpc-user05"])]),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(e.code.as_deref(), Some("UnauthorizedOperation"));
}
