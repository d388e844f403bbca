//! Smoke tests of the scenario builder itself: the worlds it creates in moto look, through
//! the AWS SDK, like the checklist says (and each broken world is broken in exactly the
//! documented way). A small reference oracle, written straight from
//! `lab/step-3-checklist.md`, judges the AWS-visible ids; it is deliberately independent
//! of labrun.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use futures::StreamExt;
use labrun_tests::world::AWS_IDS;
use labrun_tests::{Broken, TestAccount, World};

fn name_filter(name: &str) -> Filter {
    Filter::builder().name("tag:Name").values(name).build()
}

async fn instance_by_name(acct: &TestAccount, name: &str) -> Option<aws_sdk_ec2::types::Instance> {
    let out = acct
        .ec2
        .describe_instances()
        .filters(name_filter(name))
        .send()
        .await
        .expect("DescribeInstances");
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .cloned()
}

async fn sg_by_name(
    acct: &TestAccount,
    vpc_id: &str,
    name: &str,
) -> Option<aws_sdk_ec2::types::SecurityGroup> {
    let out = acct
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .expect("DescribeSecurityGroups");
    out.security_groups().first().cloned()
}

fn allows_80_from_anywhere(sg: &aws_sdk_ec2::types::SecurityGroup) -> bool {
    sg.ip_permissions().iter().any(|p| {
        let covers_80 = p.ip_protocol() == Some("-1")
            || (p.from_port().unwrap_or(0) <= 80 && p.to_port().unwrap_or(0) >= 80);
        covers_80
            && (p
                .ip_ranges()
                .iter()
                .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
                || p.ipv6_ranges()
                    .iter()
                    .any(|r| r.cidr_ipv6() == Some("::/0")))
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "pass"
    } else {
        "fail"
    }
}

/// Judge the AWS-visible checklist ids for `t` from what the SDK reports.
async fn oracle(acct: &TestAccount, t: &str) -> BTreeMap<&'static str, &'static str> {
    let mut st = BTreeMap::new();

    // --- A: Aurora ---
    let cl = acct
        .rds
        .describe_db_clusters()
        .db_cluster_identifier(format!("wp-{t}-cluster"))
        .send()
        .await
        .expect("DescribeDBClusters");
    let cl = cl.db_clusters().first().expect("cluster exists").clone();
    let slave_id = format!("wp-{t}-slave");
    let primary_id = format!("wp-{t}");
    let member = |id: &str| {
        cl.db_cluster_members()
            .iter()
            .find(|m| m.db_instance_identifier() == Some(id))
            .cloned()
    };
    let slave_member = member(&slave_id);
    st.insert("A1", verdict(slave_member.is_some()));
    if slave_member.is_some() {
        let i = acct
            .rds
            .describe_db_instances()
            .db_instance_identifier(&slave_id)
            .send()
            .await
            .expect("DescribeDBInstances");
        let i = i.db_instances().first().expect("slave exists");
        st.insert(
            "A2",
            verdict(
                i.availability_zone() == Some("ap-northeast-1c")
                    && i.publicly_accessible() == Some(false)
                    && i.db_instance_class() == Some("db.t2.small")
                    && i.db_instance_status() == Some("available"),
            ),
        );
        let primary_writer = member(&primary_id).and_then(|m| m.is_cluster_writer());
        st.insert(
            "A7",
            verdict(
                slave_member.as_ref().and_then(|m| m.is_cluster_writer()) == Some(true)
                    && primary_writer == Some(false),
            ),
        );
    } else {
        st.insert("A2", "skip");
        st.insert("A7", "skip");
    }
    st.insert(
        "A3",
        verdict(
            cl.endpoint().is_some_and(|e| !e.is_empty())
                && cl.reader_endpoint().is_some_and(|e| !e.is_empty()),
        ),
    );

    // --- B: AMI and webserver#2 ---
    let vpc = acct
        .ec2
        .describe_vpcs()
        .filters(name_filter(&format!("vpc-{t}")))
        .send()
        .await
        .expect("DescribeVpcs");
    assert_eq!(vpc.vpcs().len(), 1, "exactly one vpc-{t}");
    let vpc_id = vpc.vpcs()[0].vpc_id().unwrap().to_owned();
    let web1 = instance_by_name(acct, &format!("webserver#1-{t}"))
        .await
        .expect("webserver#1 exists");
    let ami_name = format!("wordpress {t}");
    let imgs = acct
        .ec2
        .describe_images()
        .owners("self")
        .filters(Filter::builder().name("name").values(&ami_name).build())
        .send()
        .await
        .expect("DescribeImages");
    let ami = imgs.images().first().cloned();
    st.insert(
        "B1",
        verdict(ami.as_ref().is_some_and(|a| {
            a.description() == Some(ami_name.as_str())
                && a.state().map(|s| s.as_str()) == Some("available")
                && a.source_instance_id()
                    .is_none_or(|s| Some(s) == web1.instance_id())
        })),
    );
    match &ami {
        None => {
            st.insert("B2", "skip");
        }
        Some(ami) => {
            let ok = match instance_by_name(acct, &format!("webserver#2-{t}")).await {
                None => false,
                Some(w2) => {
                    let subnet = acct
                        .ec2
                        .describe_subnets()
                        .subnet_ids(w2.subnet_id().unwrap_or_default())
                        .send()
                        .await
                        .expect("DescribeSubnets");
                    let subnet = subnet.subnets().first().expect("subnet");
                    let web_sg = sg_by_name(acct, &vpc_id, &format!("web-{t}"))
                        .await
                        .expect("web SG");
                    let sgs: Vec<&str> = w2
                        .security_groups()
                        .iter()
                        .filter_map(|g| g.group_id())
                        .chain(
                            w2.network_interfaces()
                                .iter()
                                .flat_map(|n| n.groups())
                                .filter_map(|g| g.group_id()),
                        )
                        .collect();
                    w2.image_id() == ami.image_id()
                        && w2.instance_type().map(|t| t.as_str()) == Some("t2.micro")
                        && w2.vpc_id() == Some(vpc_id.as_str())
                        && subnet.cidr_block() == Some("10.0.1.0/24")
                        && subnet.availability_zone() == Some("ap-northeast-1c")
                        && w2.public_ip_address().is_some()
                        && sgs == [web_sg.group_id().unwrap()]
                        && w2.key_name() == Some(format!("1day-{t}").as_str())
                        && w2.state().and_then(|s| s.name()).map(|s| s.as_str()) == Some("running")
                }
            };
            st.insert("B2", verdict(ok));
        }
    }

    // --- C: ALB ---
    let lbs = acct
        .elb
        .describe_load_balancers()
        .names(format!("elb-{t}"))
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let lb = lbs.load_balancers().first().expect("ALB exists").clone();
    let mut azs: Vec<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name())
        .collect();
    azs.sort_unstable();
    st.insert(
        "C1",
        verdict(
            lb.r#type().map(|t| t.as_str()) == Some("application")
                && lb.scheme().map(|s| s.as_str()) == Some("internet-facing")
                && lb.state().and_then(|s| s.code()).map(|c| c.as_str()) == Some("active")
                && lb.vpc_id() == Some(vpc_id.as_str())
                && azs == ["ap-northeast-1c", "ap-northeast-1d"],
        ),
    );
    let alb_sg = sg_by_name(acct, &vpc_id, &format!("alb-{t}"))
        .await
        .expect("alb SG");
    st.insert(
        "C2",
        verdict(
            lb.security_groups()
                .iter()
                .any(|g| Some(g.as_str()) == alb_sg.group_id())
                && allows_80_from_anywhere(&alb_sg),
        ),
    );
    let tgs = acct
        .elb
        .describe_target_groups()
        .names(format!("tg-elb-{t}"))
        .send()
        .await
        .expect("DescribeTargetGroups");
    let tg = tgs.target_groups().first().expect("TG exists").clone();
    let health = acct
        .elb
        .describe_target_health()
        .target_group_arn(tg.target_group_arn().unwrap())
        .send()
        .await
        .expect("DescribeTargetHealth");
    let healthy: Vec<&str> = health
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health()
                .and_then(|h| h.state())
                .map(|s| s.as_str())
                == Some("healthy")
        })
        .filter_map(|d| d.target().and_then(|t| t.id()))
        .collect();
    let web2 = instance_by_name(acct, &format!("webserver#2-{t}")).await;
    st.insert(
        "C3",
        verdict(
            tg.protocol().map(|p| p.as_str()) == Some("HTTP")
                && tg.port() == Some(80)
                && tg.target_type().map(|t| t.as_str()) == Some("instance")
                && healthy.contains(&web1.instance_id().unwrap())
                && web2
                    .as_ref()
                    .is_some_and(|w| healthy.contains(&w.instance_id().unwrap())),
        ),
    );
    let ls = acct
        .elb
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .expect("DescribeListeners");
    st.insert(
        "C4",
        verdict(ls.listeners().iter().any(|l| {
            l.port() == Some(80)
                && l.protocol().map(|p| p.as_str()) == Some("HTTP")
                && l.default_actions().iter().any(|a| {
                    a.r#type().map(|t| t.as_str()) == Some("forward")
                        && a.target_group_arn() == tg.target_group_arn()
                })
        })),
    );

    // --- E1 ---
    let web_sg = sg_by_name(acct, &vpc_id, &format!("web-{t}"))
        .await
        .expect("web SG");
    let from_alb = web_sg.ip_permissions().iter().any(|p| {
        p.from_port() == Some(80)
            && p.user_id_group_pairs()
                .iter()
                .any(|g| g.group_id() == alb_sg.group_id())
    });
    st.insert("E1", verdict(from_alb && !allows_80_from_anywhere(&web_sg)));
    st
}

fn expected_aws(b: Broken) -> BTreeMap<&'static str, &'static str> {
    b.expected_statuses()
        .into_iter()
        .filter(|(id, _)| AWS_IDS.contains(id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_finished_trainees_share_one_account() {
    let acct = TestAccount::new().await;
    let [w5, w6]: [World; 2] =
        World::build_each(&acct, &[("user05", Broken::None), ("user06", Broken::None)])
            .await
            .try_into()
            .expect("two worlds");

    for w in [&w5, &w6] {
        let t = &w.trainee;
        assert_eq!(oracle(&acct, t).await, expected_aws(Broken::None), "{t}");

        // After the failover the slave is the writer, the first instance a reader.
        assert_eq!(w.cluster.writer_id, format!("wp-{t}-slave"));
        assert_eq!(w.db_writer().id, format!("wp-{t}-slave"));
        assert_eq!(
            w.db_reader().map(|r| r.id.as_str()),
            Some(w.db_primary.id.as_str())
        );
        assert_eq!(w.db_writer().az, "ap-northeast-1c");
        assert_eq!(w.db_primary.az, "ap-northeast-1d");
        assert!(!w.cluster.endpoint.is_empty() && !w.cluster.reader_endpoint.is_empty());
        assert_ne!(w.cluster.endpoint, w.cluster.reader_endpoint);

        // webserver#2: from the AMI, public IP, SG only on its ENI (moto quirk).
        let ami = w.ami.as_ref().expect("AMI");
        assert_eq!(ami.name, format!("wordpress {t}"));
        assert_eq!(w.web2.image_id, ami.id);
        assert!(w.web2.public_ip.is_some(), "webserver#2 has a public IP");
        assert!(
            w.web2.private_ip.starts_with("10.0.1."),
            "{}",
            w.web2.private_ip
        );
        assert!(
            w.web1.private_ip.starts_with("10.0.0."),
            "{}",
            w.web1.private_ip
        );
        let w2 = instance_by_name(&acct, &w.web2.name).await.unwrap();
        assert!(
            w2.security_groups().is_empty(),
            "moto 5.2.5 leaves Instance.SecurityGroups empty for SGs given on the ENI \
             (if this fails, moto changed: update FIELD-NOTES and the checker tests)"
        );
        let img = acct
            .ec2
            .describe_images()
            .image_ids(&ami.id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            img.images()[0].source_instance_id(),
            Some(w.web1.id.as_str()),
            "moto fills SourceInstanceId"
        );

        assert!(w.alb.dns_name.contains(&w.alb.name), "{}", w.alb.dns_name);
        assert!(w.listener_arn.is_some());
    }

    // The two trainees do not share anything.
    assert_ne!(w5.vpc_id, w6.vpc_id);
    assert_ne!(w5.web_sg.id, w6.web_sg.id);
    assert_ne!(w5.cluster.endpoint, w6.cluster.endpoint);
    assert_ne!(w5.alb.dns_name, w6.alb.dns_name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_isolated() {
    let a = TestAccount::new().await;
    let b = TestAccount::new().await;
    assert_ne!(a.account_id, b.account_id);
    World::build_finished(&a, "user05").await.expect("user05");
    let vpcs = b
        .ec2
        .describe_vpcs()
        .filters(name_filter("vpc-user05"))
        .send()
        .await
        .unwrap();
    assert!(
        vpcs.vpcs().is_empty(),
        "account {} sees {}'s VPC",
        b.account_id,
        a.account_id
    );
    let clusters = b.rds.describe_db_clusters().send().await.unwrap();
    assert!(clusters.db_clusters().is_empty());
    let lbs = b.elb.describe_load_balancers().send().await.unwrap();
    assert!(lbs.load_balancers().is_empty());
    // A second handle on the same account id sees the same world.
    let a2 = TestAccount::with_id(&a.account_id).await.unwrap();
    let vpcs = a2
        .ec2
        .describe_vpcs()
        .filters(name_filter("vpc-user05"))
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1);
}

/// Every broken variant, each for its own trainee, all in one account: each must break
/// exactly the ids `Broken::expected` documents, and leave the others passing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_variant_breaks_exactly_its_ids() {
    let acct = TestAccount::new().await;
    let trainees: Vec<(Broken, String)> = Broken::ALL
        .iter()
        .enumerate()
        .map(|(i, b)| (*b, format!("user{:02}", 10 + i)))
        .collect();
    // At most 4 at a time: moto is one process on 2 shared cores.
    let worlds: Vec<_> =
        futures::stream::iter(trainees.iter().map(|(b, t)| World::build(&acct, t, *b)))
            .buffered(4)
            .collect()
            .await;
    for w in &worlds {
        if let Err(e) = w {
            panic!("{e:#}");
        }
    }
    let mut bad = Vec::new();
    for (b, t) in &trainees {
        let got = oracle(&acct, t).await;
        let want = expected_aws(*b);
        if got != want {
            let diff: Vec<String> = want
                .iter()
                .filter(|(id, s)| got.get(*id) != Some(*s))
                .map(|(id, s)| format!("{id}: want {s}, got {:?}", got.get(id)))
                .collect();
            bad.push(format!("{t} {b:?}: {}", diff.join(", ")));
        }
    }
    assert!(
        bad.is_empty(),
        "variants not as documented:\n{}",
        bad.join("\n")
    );
}
