//! Golden tests of the AWS output shapes: SDK values built with the SDK builders are
//! mapped to JSON and compared with `tests/golden/<name>.json`.
//!
//! After an intended change run `UPDATE_GOLDEN=1 cargo test -p labrun --test aws_shapes`,
//! read the diff of the golden files, and commit them.

use std::path::PathBuf;

use aws_smithy_types::DateTime;
use labrun::caps::aws::{self, ec2, elbv2, rds, s3};
use labrun::caps::ErrorKind;
use serde_json::{json, Value};

fn t(secs: i64) -> DateTime {
    DateTime::from_secs(secs)
}

/// 2024-05-01T09:30:00Z
const T0: i64 = 1_714_555_800;

/// Tests that set AWS_* environment variables take turns.
static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn golden(name: &str, actual: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let actual_text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual_text).unwrap();
        return;
    }
    let expected_text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {}: {e}\nrun with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected_text != actual_text {
        panic!(
            "{name}: mapped JSON differs from {} (- golden, + actual):\n{}\n\
             if the change is intended, run with UPDATE_GOLDEN=1 and review the file diff",
            path.display(),
            line_diff(&expected_text, &actual_text)
        );
    }
}

/// A small LCS line diff, enough for golden files of a few hundred lines.
fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("{:>4} - {}", i + 1, a[i]));
            i += 1;
        } else {
            out.push(format!("{:>4} + {}", j + 1, b[j]));
            j += 1;
        }
    }
    out.join("\n")
}

// ---------------------------------------------------------------- EC2

mod ec2_values {
    use super::*;
    use aws_sdk_ec2::types::*;

    pub fn tag(k: &str, v: &str) -> Tag {
        Tag::builder().key(k).value(v).build()
    }

    pub fn group(id: &str, name: &str) -> GroupIdentifier {
        GroupIdentifier::builder()
            .group_id(id)
            .group_name(name)
            .build()
    }

    pub fn reservation() -> Reservation {
        let assoc = InstanceNetworkInterfaceAssociation::builder()
            .ip_owner_id("amazon")
            .public_dns_name("ec2-54-250-1-10.ap-northeast-1.compute.amazonaws.com")
            .public_ip("54.250.1.10")
            .build();
        let eni = InstanceNetworkInterface::builder()
            .association(assoc.clone())
            .attachment(
                InstanceNetworkInterfaceAttachment::builder()
                    .attach_time(t(T0))
                    .attachment_id("eni-attach-0a1b2c3d")
                    .delete_on_termination(true)
                    .device_index(0)
                    .status(AttachmentStatus::Attached)
                    .build(),
            )
            .description("")
            .groups(group("sg-0web", "web-sg"))
            .mac_address("06:aa:bb:cc:dd:ee")
            .network_interface_id("eni-0123456789abcdef0")
            .owner_id("123456789012")
            .private_dns_name("ip-10-0-1-10.ap-northeast-1.compute.internal")
            .private_ip_address("10.0.1.10")
            .private_ip_addresses(
                InstancePrivateIpAddress::builder()
                    .association(assoc)
                    .primary(true)
                    .private_dns_name("ip-10-0-1-10.ap-northeast-1.compute.internal")
                    .private_ip_address("10.0.1.10")
                    .build(),
            )
            .source_dest_check(true)
            .status(NetworkInterfaceStatus::InUse)
            .subnet_id("subnet-0pub1a")
            .vpc_id("vpc-0lab")
            .interface_type("interface")
            .build();
        let instance = Instance::builder()
            .ami_launch_index(0)
            .image_id("ami-0abcdef1234567890")
            .instance_id("i-0123456789abcdef0")
            .instance_type(InstanceType::T3Micro)
            .key_name("trainee01-key")
            .launch_time(t(T0))
            .placement(
                Placement::builder()
                    .availability_zone("ap-northeast-1a")
                    .availability_zone_id("apne1-az4")
                    .group_name("")
                    .tenancy(Tenancy::Default)
                    .build(),
            )
            .private_dns_name("ip-10-0-1-10.ap-northeast-1.compute.internal")
            .private_ip_address("10.0.1.10")
            .public_dns_name("ec2-54-250-1-10.ap-northeast-1.compute.amazonaws.com")
            .public_ip_address("54.250.1.10")
            .state(
                InstanceState::builder()
                    .code(16)
                    .name(InstanceStateName::Running)
                    .build(),
            )
            .state_transition_reason("")
            .subnet_id("subnet-0pub1a")
            .vpc_id("vpc-0lab")
            .architecture(ArchitectureValues::X8664)
            .block_device_mappings(
                InstanceBlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(
                        EbsInstanceBlockDevice::builder()
                            .attach_time(t(T0 + 1))
                            .delete_on_termination(true)
                            .status(AttachmentStatus::Attached)
                            .volume_id("vol-0123456789abcdef0")
                            .build(),
                    )
                    .build(),
            )
            .iam_instance_profile(
                IamInstanceProfile::builder()
                    .arn("arn:aws:iam::123456789012:instance-profile/lab-web")
                    .id("AIPAEXAMPLEPROFILEID")
                    .build(),
            )
            .network_interfaces(eni)
            .root_device_name("/dev/xvda")
            .root_device_type(DeviceType::Ebs)
            .security_groups(group("sg-0web", "web-sg"))
            .source_dest_check(true)
            .tags(tag("Name", "trainee01-web"))
            .tags(tag("Owner", "trainee01"))
            .platform_details("Linux/UNIX")
            .build();
        let stopped = Instance::builder()
            .instance_id("i-0fedcba9876543210")
            .state(
                InstanceState::builder()
                    .code(80)
                    .name(InstanceStateName::Stopped)
                    .build(),
            )
            .state_reason(
                StateReason::builder()
                    .code("Client.UserInitiatedShutdown")
                    .message("Client.UserInitiatedShutdown: User initiated shutdown")
                    .build(),
            )
            .set_security_groups(Some(vec![]))
            .build();
        Reservation::builder()
            .reservation_id("r-0123456789abcdef0")
            .owner_id("123456789012")
            .set_groups(Some(vec![]))
            .instances(instance)
            .instances(stopped)
            .build()
    }

    pub fn image() -> Image {
        Image::builder()
            .architecture(ArchitectureValues::X8664)
            .creation_date("2024-05-01T10:00:00.000Z")
            .image_id("ami-0trainee01web")
            .image_location("123456789012/trainee01-web-ami")
            .image_type(ImageTypeValues::Machine)
            .public(false)
            .owner_id("123456789012")
            .platform_details("Linux/UNIX")
            .state(ImageState::Available)
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(
                        EbsBlockDevice::builder()
                            .delete_on_termination(true)
                            .snapshot_id("snap-0123456789abcdef0")
                            .volume_size(8)
                            .volume_type(VolumeType::Gp3)
                            .encrypted(false)
                            .build(),
                    )
                    .build(),
            )
            .description("web server after step 2")
            .ena_support(true)
            .hypervisor(HypervisorType::Xen)
            .name("trainee01-web-ami")
            .root_device_name("/dev/xvda")
            .root_device_type(DeviceType::Ebs)
            .tags(tag("Owner", "trainee01"))
            .virtualization_type(VirtualizationType::Hvm)
            .source_instance_id("i-0123456789abcdef0")
            .build()
    }

    pub fn security_group() -> SecurityGroup {
        let http_from_alb = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .description("from ALB")
                    .group_id("sg-0alb")
                    .group_name("alb-sg")
                    .user_id("123456789012")
                    .build(),
            )
            .set_ip_ranges(Some(vec![]))
            .set_ipv6_ranges(Some(vec![]))
            .set_prefix_list_ids(Some(vec![]))
            .build();
        let ssh = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .set_user_id_group_pairs(Some(vec![]))
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip("203.0.113.0/24")
                    .description("office")
                    .build(),
            )
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("2001:db8::/32").build())
            .prefix_list_ids(
                PrefixListId::builder()
                    .prefix_list_id("pl-0123456789abcdef0")
                    .build(),
            )
            .build();
        let all_out = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        SecurityGroup::builder()
            .group_id("sg-0web")
            .group_name("web-sg")
            .description("web servers")
            .vpc_id("vpc-0lab")
            .owner_id("123456789012")
            .ip_permissions(http_from_alb)
            .ip_permissions(ssh)
            .ip_permissions_egress(all_out)
            .tags(tag("Name", "trainee01-web-sg"))
            .build()
    }

    pub fn subnet() -> Subnet {
        Subnet::builder()
            .availability_zone("ap-northeast-1c")
            .availability_zone_id("apne1-az1")
            .available_ip_address_count(250)
            .cidr_block("10.0.2.0/24")
            .default_for_az(false)
            .map_public_ip_on_launch(false)
            .state(SubnetState::Available)
            .subnet_id("subnet-0priv1c")
            .vpc_id("vpc-0lab")
            .owner_id("123456789012")
            .tags(tag("Name", "private-1c"))
            .build()
    }

    pub fn vpc() -> Vpc {
        Vpc::builder()
            .cidr_block("10.0.0.0/16")
            .dhcp_options_id("dopt-0123")
            .state(VpcState::Available)
            .vpc_id("vpc-0lab")
            .owner_id("123456789012")
            .instance_tenancy(Tenancy::Default)
            .cidr_block_association_set(
                VpcCidrBlockAssociation::builder()
                    .association_id("vpc-cidr-assoc-0123")
                    .cidr_block("10.0.0.0/16")
                    .cidr_block_state(
                        VpcCidrBlockState::builder()
                            .state(VpcCidrBlockStateCode::Associated)
                            .build(),
                    )
                    .build(),
            )
            .is_default(false)
            .tags(tag("Name", "lab-vpc"))
            .build()
    }
}

#[test]
fn ec2_reservation() {
    golden(
        "ec2_reservation",
        &ec2::reservation(&ec2_values::reservation()),
    );
}

#[test]
fn ec2_image() {
    golden("ec2_image", &ec2::image(&ec2_values::image()));
}

#[test]
fn ec2_security_group() {
    golden(
        "ec2_security_group",
        &ec2::security_group(&ec2_values::security_group()),
    );
}

#[test]
fn ec2_subnet_and_vpc() {
    golden("ec2_subnet", &ec2::subnet(&ec2_values::subnet()));
    golden("ec2_vpc", &ec2::vpc(&ec2_values::vpc()));
}

/// The network pieces Step 1 checks: the route table, the internet gateway, the key pair.
#[test]
fn ec2_route_table_internet_gateway_key_pair() {
    use aws_sdk_ec2::types::*;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    let table = RouteTable::builder()
        .associations(
            RouteTableAssociation::builder()
                .main(false)
                .route_table_association_id("rtbassoc-0pub1a")
                .route_table_id("rtb-0pub")
                .subnet_id("subnet-0pub1a")
                .association_state(
                    RouteTableAssociationState::builder()
                        .state(RouteTableAssociationStateCode::Associated)
                        .build(),
                )
                .build(),
        )
        .route_table_id("rtb-0pub")
        .routes(
            Route::builder()
                .destination_cidr_block("10.0.0.0/16")
                .gateway_id("local")
                .origin(RouteOrigin::CreateRouteTable)
                .state(RouteState::Active)
                .build(),
        )
        .routes(
            Route::builder()
                .destination_cidr_block("0.0.0.0/0")
                .gateway_id("igw-0lab")
                .origin(RouteOrigin::CreateRoute)
                .state(RouteState::Active)
                .build(),
        )
        .tags(tag("Name", "route-user05"))
        .vpc_id("vpc-0lab")
        .owner_id("123456789012")
        .build();
    golden("ec2_route_table", &ec2::route_table(&table));
    let igw = InternetGateway::builder()
        .attachments(
            InternetGatewayAttachment::builder()
                .state(AttachmentStatus::Attached)
                .vpc_id("vpc-0lab")
                .build(),
        )
        .internet_gateway_id("igw-0lab")
        .owner_id("123456789012")
        .tags(tag("Name", "igw-user05"))
        .build();
    golden("ec2_internet_gateway", &ec2::internet_gateway(&igw));
    let key = KeyPairInfo::builder()
        .key_pair_id("key-0123456789abcdef0")
        .key_fingerprint("1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f")
        .key_name("1day-user05")
        .key_type(KeyType::Rsa)
        .create_time(t(1_700_000_000))
        .public_key("ssh-rsa AAAA… never shown")
        .build();
    let mapped = ec2::key_pair(&key);
    assert!(
        !mapped.to_string().contains("ssh-rsa"),
        "key material never leaves the host: {mapped}"
    );
    golden("ec2_key_pair", &mapped);
}

#[test]
fn absent_fields_are_omitted_and_empty_lists_kept() {
    let bare = aws_sdk_ec2::types::Instance::builder()
        .instance_id("i-1")
        .set_security_groups(Some(vec![]))
        .build();
    assert_eq!(
        ec2::instance(&bare),
        json!({"InstanceId": "i-1", "SecurityGroups": []})
    );
    assert_eq!(
        rds::db_cluster(&aws_sdk_rds::types::DbCluster::builder().build()),
        json!({})
    );
}

// ---------------------------------------------------------------- RDS

mod rds_values {
    use super::*;
    use aws_sdk_rds::types::*;

    pub fn vpc_sg(id: &str) -> VpcSecurityGroupMembership {
        VpcSecurityGroupMembership::builder()
            .vpc_security_group_id(id)
            .status("active")
            .build()
    }

    pub fn subnet_group() -> DbSubnetGroup {
        let subnet = |id: &str, az: &str| {
            Subnet::builder()
                .subnet_identifier(id)
                .subnet_availability_zone(AvailabilityZone::builder().name(az).build())
                .subnet_status("Active")
                .build()
        };
        DbSubnetGroup::builder()
            .db_subnet_group_name("trainee01-db-subnets")
            .db_subnet_group_description("private subnets for Aurora")
            .vpc_id("vpc-0lab")
            .subnet_group_status("Complete")
            .subnets(subnet("subnet-0priv1a", "ap-northeast-1a"))
            .subnets(subnet("subnet-0priv1c", "ap-northeast-1c"))
            .db_subnet_group_arn(
                "arn:aws:rds:ap-northeast-1:123456789012:subgrp:trainee01-db-subnets",
            )
            .supported_network_types("IPV4")
            .build()
    }

    pub fn cluster() -> DbCluster {
        let member = |id: &str, writer: bool| {
            DbClusterMember::builder()
                .db_instance_identifier(id)
                .is_cluster_writer(writer)
                .db_cluster_parameter_group_status("in-sync")
                .promotion_tier(1)
                .build()
        };
        DbCluster::builder()
            .allocated_storage(1)
            .availability_zones("ap-northeast-1a")
            .availability_zones("ap-northeast-1c")
            .availability_zones("ap-northeast-1d")
            .backup_retention_period(1)
            .database_name("labdb")
            .db_cluster_identifier("trainee01-aurora")
            .db_cluster_parameter_group("default.aurora-mysql8.0")
            .db_subnet_group("trainee01-db-subnets")
            .status("available")
            .endpoint("trainee01-aurora.cluster-abc123.ap-northeast-1.rds.amazonaws.com")
            .reader_endpoint("trainee01-aurora.cluster-ro-abc123.ap-northeast-1.rds.amazonaws.com")
            .multi_az(true)
            .engine("aurora-mysql")
            .engine_version("8.0.mysql_aurora.3.05.2")
            .port(3306)
            .master_username("admin")
            .db_cluster_members(member("trainee01-aurora-1", true))
            .db_cluster_members(member("trainee01-aurora-2", false))
            .vpc_security_groups(vpc_sg("sg-0db"))
            .hosted_zone_id("Z24O6O9L7SGTNB")
            .storage_encrypted(true)
            .db_cluster_arn("arn:aws:rds:ap-northeast-1:123456789012:cluster:trainee01-aurora")
            .cluster_create_time(t(T0))
            .engine_mode("provisioned")
            .deletion_protection(false)
            .tag_list(Tag::builder().key("Owner").value("trainee01").build())
            .build()
    }

    pub fn instance() -> DbInstance {
        DbInstance::builder()
            .db_instance_identifier("trainee01-aurora-1")
            .db_instance_class("db.t3.medium")
            .engine("aurora-mysql")
            .db_instance_status("available")
            .master_username("admin")
            .endpoint(
                Endpoint::builder()
                    .address("trainee01-aurora-1.abc123.ap-northeast-1.rds.amazonaws.com")
                    .port(3306)
                    .hosted_zone_id("Z24O6O9L7SGTNB")
                    .build(),
            )
            .allocated_storage(1)
            .instance_create_time(t(T0 + 600))
            .vpc_security_groups(vpc_sg("sg-0db"))
            .availability_zone("ap-northeast-1a")
            .db_subnet_group(subnet_group())
            .multi_az(false)
            .engine_version("8.0.mysql_aurora.3.05.2")
            .auto_minor_version_upgrade(false)
            .publicly_accessible(false)
            .storage_type("aurora")
            .db_cluster_identifier("trainee01-aurora")
            .storage_encrypted(true)
            .monitoring_interval(0)
            .promotion_tier(1)
            .db_instance_arn("arn:aws:rds:ap-northeast-1:123456789012:db:trainee01-aurora-1")
            .build()
    }

    pub fn event() -> Event {
        Event::builder()
            .source_identifier("trainee01-aurora")
            .source_type(SourceType::DbCluster)
            .message("Completed failover to DB instance: trainee01-aurora-2")
            .event_categories("failover")
            .date(t(T0 + 3600))
            .source_arn("arn:aws:rds:ap-northeast-1:123456789012:cluster:trainee01-aurora")
            .build()
    }
}

#[test]
fn rds_shapes() {
    golden("rds_db_cluster", &rds::db_cluster(&rds_values::cluster()));
    golden(
        "rds_db_instance",
        &rds::db_instance(&rds_values::instance()),
    );
    golden(
        "rds_db_subnet_group",
        &rds::db_subnet_group(&rds_values::subnet_group()),
    );
    golden("rds_event", &rds::event(&rds_values::event()));
}

// ---------------------------------------------------------------- ELBv2

mod elbv2_values {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::*;

    pub const LB_ARN: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:\
                              loadbalancer/app/trainee01-alb/50dc6c495c0c9188";
    pub const TG_ARN: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:\
                              targetgroup/trainee01-tg/73e2d6bc24d8a067";

    pub fn load_balancer() -> LoadBalancer {
        let az = |zone: &str, subnet: &str| {
            AvailabilityZone::builder()
                .zone_name(zone)
                .subnet_id(subnet)
                .set_load_balancer_addresses(Some(vec![]))
                .build()
        };
        LoadBalancer::builder()
            .load_balancer_arn(LB_ARN)
            .dns_name("trainee01-alb-1234567890.ap-northeast-1.elb.amazonaws.com")
            .canonical_hosted_zone_id("Z14GRHDCWA56QT")
            .created_time(t(T0 + 1200))
            .load_balancer_name("trainee01-alb")
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .vpc_id("vpc-0lab")
            .state(
                LoadBalancerState::builder()
                    .code(LoadBalancerStateEnum::Active)
                    .build(),
            )
            .r#type(LoadBalancerTypeEnum::Application)
            .availability_zones(az("ap-northeast-1a", "subnet-0pub1a"))
            .availability_zones(az("ap-northeast-1c", "subnet-0pub1c"))
            .security_groups("sg-0alb")
            .ip_address_type(IpAddressType::Ipv4)
            .build()
    }

    pub fn target_group() -> TargetGroup {
        TargetGroup::builder()
            .target_group_arn(TG_ARN)
            .target_group_name("trainee01-tg")
            .protocol(ProtocolEnum::Http)
            .port(80)
            .vpc_id("vpc-0lab")
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_port("traffic-port")
            .health_check_enabled(true)
            .health_check_interval_seconds(30)
            .health_check_timeout_seconds(5)
            .healthy_threshold_count(5)
            .unhealthy_threshold_count(2)
            .health_check_path("/")
            .matcher(Matcher::builder().http_code("200").build())
            .load_balancer_arns(LB_ARN)
            .target_type(TargetTypeEnum::Instance)
            .protocol_version("HTTP1")
            .ip_address_type(TargetGroupIpAddressTypeEnum::Ipv4)
            .build()
    }

    pub fn target_health() -> Vec<TargetHealthDescription> {
        let target = |id: &str, az: &str| {
            TargetDescription::builder()
                .id(id)
                .port(80)
                .availability_zone(az)
                .build()
        };
        vec![
            TargetHealthDescription::builder()
                .target(target("i-0123456789abcdef0", "ap-northeast-1a"))
                .health_check_port("80")
                .target_health(
                    TargetHealth::builder()
                        .state(TargetHealthStateEnum::Healthy)
                        .build(),
                )
                .build(),
            TargetHealthDescription::builder()
                .target(target("i-0fedcba9876543210", "ap-northeast-1c"))
                .health_check_port("80")
                .target_health(
                    TargetHealth::builder()
                        .state(TargetHealthStateEnum::Unhealthy)
                        .reason(TargetHealthReasonEnum::FailedHealthChecks)
                        .description("Health checks failed")
                        .build(),
                )
                .build(),
        ]
    }

    pub fn listener() -> Listener {
        Listener::builder()
            .listener_arn(
                "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:\
                 listener/app/trainee01-alb/50dc6c495c0c9188/f2f7dc8efc522ab2",
            )
            .load_balancer_arn(LB_ARN)
            .port(80)
            .protocol(ProtocolEnum::Http)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(TG_ARN)
                    .order(1)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(
                                TargetGroupTuple::builder()
                                    .target_group_arn(TG_ARN)
                                    .weight(1)
                                    .build(),
                            )
                            .target_group_stickiness_config(
                                TargetGroupStickinessConfig::builder()
                                    .enabled(false)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    }
}

#[test]
fn elbv2_shapes() {
    golden(
        "elbv2_load_balancer",
        &elbv2::load_balancer(&elbv2_values::load_balancer()),
    );
    golden(
        "elbv2_target_group",
        &elbv2::target_group(&elbv2_values::target_group()),
    );
    golden(
        "elbv2_target_health",
        &Value::Array(
            elbv2_values::target_health()
                .iter()
                .map(elbv2::target_health_description)
                .collect(),
        ),
    );
    golden(
        "elbv2_listener",
        &elbv2::listener(&elbv2_values::listener()),
    );
}

// ---------------------------------------------------------------- call() without the network

#[tokio::test]
async fn call_rejects_bad_requests_before_any_network() {
    let _env = ENV.lock().await;
    // An endpoint nobody listens on: none of these calls may get that far.
    std::env::set_var("AWS_REGION", "ap-northeast-1");
    std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let clients = aws::AwsClients::from_env(None).await.unwrap();
    assert_eq!(clients.region(), "ap-northeast-1");

    let e = aws::call(&clients, "ec2_run_instances", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(
        e.message.contains("ec2_describe_instances"),
        "{}",
        e.message
    );

    let e = aws::call(
        &clients,
        "rds_describe_db_clusters",
        &json!({"DBClusterIdentifer": "x"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert_eq!(
        (e.capability.as_str(), e.operation.as_str()),
        ("aws", "rds_describe_db_clusters")
    );
    assert!(e.message.contains("`DBClusterIdentifer`"), "{}", e.message);
    assert!(
        e.message.contains("DBClusterIdentifier, Filters"),
        "{}",
        e.message
    );

    let e = aws::call(
        &clients,
        "elbv2_describe_target_health",
        &json!({"Targets": [{"Id": "i-1"}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(
        e.message.contains("`TargetGroupArn` is required"),
        "{}",
        e.message
    );

    let e = aws::call(
        &clients,
        "rds_describe_events",
        &json!({"SourceType": "cluster"}),
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("db-cluster"), "{}", e.message);

    // A well-formed call reaches the (closed) port and reports the endpoint.
    let e = aws::call(&clients, "ec2_describe_vpcs", &Value::Null)
        .await
        .unwrap_err();
    eprintln!("{e}");
    assert_eq!(e.kind, ErrorKind::Network, "{e:?}");
    assert!(e.message.contains("http://127.0.0.1:9"), "{}", e.message);
    assert!(e.message.contains("could not connect"), "{}", e.message);
    assert!(!e.message.contains('\n'));

    // No credentials anywhere: reported as such, before any connection attempt.
    std::env::remove_var("AWS_ACCESS_KEY_ID");
    std::env::remove_var("AWS_SECRET_ACCESS_KEY");
    std::env::remove_var("AWS_SESSION_TOKEN");
    std::env::remove_var("AWS_PROFILE");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/labrun/config");
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/labrun/credentials",
    );
    let clients = aws::AwsClients::from_env(Some("eu-west-1".into()))
        .await
        .unwrap();
    assert_eq!(clients.region(), "eu-west-1");
    let started = std::time::Instant::now();
    let e = aws::call(&clients, "rds_describe_db_instances", &json!({}))
        .await
        .unwrap_err();
    eprintln!("{e} ({:?})", started.elapsed());
    assert_eq!(e.kind, ErrorKind::Credentials, "{e:?}");
    assert!(e.message.contains("credentials"), "{}", e.message);
    assert!(!e.message.contains('\n'));

    // No region anywhere.
    std::env::remove_var("AWS_REGION");
    std::env::remove_var("AWS_DEFAULT_REGION");
    let e = aws::AwsClients::from_env(None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(
        e.message.contains("AWS_REGION") && e.message.contains("--region"),
        "{}",
        e.message
    );
}

/// The AWS environment of the moto server `tests/run` starts, held while the test
/// runs (tests that set AWS_* variables take turns), and its SDK configuration.
async fn moto_config() -> (tokio::sync::MutexGuard<'static, ()>, aws_config::SdkConfig) {
    let endpoint = std::env::var("LABRUN_MOTO_URL")
        .expect("LABRUN_MOTO_URL is not set: run the suite with tests/run (it starts moto)");
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "moto only on 127.0.0.1"
    );
    let _env = ENV.lock().await;
    std::env::set_var("AWS_REGION", "ap-northeast-1");
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    (_env, conf)
}

/// Against the moto server `tests/run` starts (`LABRUN_MOTO_URL=http://127.0.0.1:PORT`),
/// create a little Step-3 world with the SDK and check the shapes `call` returns.
#[tokio::test]
async fn moto_smoke() {
    let (_env, conf) = moto_config().await;
    let ec2c = aws_sdk_ec2::Client::new(&conf);
    // Unique per run, so the test can run again on the same moto.
    let name = format!(
        "smoke-web-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let vpc = ec2c
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let subnet = ec2c
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.1.0/24")
        .availability_zone("ap-northeast-1a")
        .send()
        .await
        .unwrap()
        .subnet
        .unwrap()
        .subnet_id
        .unwrap();
    ec2c.run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnet)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .tags(ec2_values::tag("Name", &name))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let clients = aws::AwsClients::from_env(None).await.unwrap();
    let out = aws::call(
        &clients,
        "ec2_describe_instances",
        &json!({"Filters": [{"Name": "tag:Name", "Values": [name]}]}),
    )
    .await
    .unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&out).unwrap());
    let inst = &out["Reservations"][0]["Instances"][0];
    assert_eq!(inst["SubnetId"], json!(subnet));
    assert_eq!(inst["VpcId"], json!(vpc));
    assert!(inst["State"]["Name"].is_string());
    assert!(inst["LaunchTime"].as_str().unwrap().ends_with('Z'));

    let out = aws::call(
        &clients,
        "ec2_describe_subnets",
        &json!({"SubnetIds": [subnet]}),
    )
    .await
    .unwrap();
    assert_eq!(out["Subnets"][0]["AvailabilityZone"], "ap-northeast-1a");

    // Every operation answers (in its output shape) on whatever moto holds now.
    let lbs = aws::call(&clients, "elbv2_describe_load_balancers", &json!({}))
        .await
        .unwrap();
    let tgs = aws::call(&clients, "elbv2_describe_target_groups", &json!({}))
        .await
        .unwrap();
    for op in aws::SPEC.operation_names() {
        let req = match op {
            "ec2_describe_images" => json!({"Owners": ["self"]}),
            "elbv2_describe_listeners" => match lbs["LoadBalancers"][0]["LoadBalancerArn"].as_str()
            {
                Some(arn) => json!({"LoadBalancerArn": arn}),
                None => continue,
            },
            "elbv2_describe_target_health" => {
                match tgs["TargetGroups"][0]["TargetGroupArn"].as_str() {
                    Some(arn) => json!({"TargetGroupArn": arn}),
                    None => continue,
                }
            }
            // Bucket operations have their own test (s3_on_moto).
            op if op.starts_with("s3_") && op != "s3_list_buckets" => continue,
            _ => json!({}),
        };
        let out = aws::call(&clients, op, &req)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        let key = out.as_object().unwrap().keys().next().unwrap();
        assert!(out[key].is_array(), "{op}: {out}");
        eprintln!("{op}: {out}");
    }
    let e = aws::call(
        &clients,
        "rds_describe_db_clusters",
        &json!({"DBClusterIdentifier": "nope"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");
}

/// The S3 shapes on moto: a bucket with a public access block, an ACL and objects.
#[tokio::test]
async fn s3_on_moto() {
    let (_env, conf) = moto_config().await;
    let s3c = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!(
        "wp-user05-media-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    };
    s3c.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::ApNortheast1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3c.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for key in [
        "wp-content/uploads/2019/01/a.jpg",
        "wp-content/uploads/2019/01/b.jpg",
        "other.txt",
    ] {
        s3c.put_object()
            .bucket(&bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let clients = aws::AwsClients::from_env(None).await.unwrap();
    let call = |op: &'static str, req: Value| {
        let clients = clients.clone();
        async move { aws::call(&clients, op, &req).await }
    };
    let listed = call("s3_list_buckets", json!({})).await.unwrap();
    assert!(
        listed["Buckets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["Name"] == bucket.as_str()),
        "{listed}"
    );
    let location = call("s3_get_bucket_location", json!({"Bucket": bucket}))
        .await
        .unwrap();
    assert_eq!(location, json!({"LocationConstraint": "ap-northeast-1"}));
    let block = call("s3_get_public_access_block", json!({"Bucket": bucket}))
        .await
        .unwrap();
    assert_eq!(
        block,
        json!({"PublicAccessBlockConfiguration": {"BlockPublicAcls": true,
            "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": false}})
    );
    let acl = call("s3_get_bucket_acl", json!({"Bucket": bucket}))
        .await
        .unwrap();
    assert!(acl["Grants"][0]["Permission"].is_string(), "{acl}");
    let objects = call(
        "s3_list_objects_v2",
        json!({"Bucket": bucket, "Prefix": "wp-content/uploads/", "MaxKeys": 1}),
    )
    .await
    .unwrap();
    assert_eq!(objects["KeyCount"], 1, "{objects}");
    assert_eq!(objects["IsTruncated"], true, "{objects}");
    assert_eq!(
        objects["Contents"][0]["Key"],
        "wp-content/uploads/2019/01/a.jpg"
    );
    let e = call(
        "s3_get_bucket_acl",
        json!({"Bucket": "no-such-bucket-here"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");
    let e = call(
        "s3_list_objects_v2",
        json!({"Bucket": bucket, "MaxKeys": 5000}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest, "{e:?}");
}

#[test]
fn s3_shapes() {
    use aws_sdk_s3::types::*;
    golden(
        "s3_bucket",
        &s3::bucket(
            &Bucket::builder()
                .name("wp-user05-media")
                .creation_date(t(1_700_000_000))
                .bucket_region("ap-northeast-1")
                .build(),
        ),
    );
    golden(
        "s3_grant",
        &s3::grant(
            &Grant::builder()
                .grantee(
                    Grantee::builder()
                        .r#type(Type::CanonicalUser)
                        .id("75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a")
                        .display_name("webfile")
                        .build()
                        .unwrap(),
                )
                .permission(Permission::FullControl)
                .build(),
        ),
    );
    golden(
        "s3_object",
        &s3::object(
            &Object::builder()
                .key("wp-content/uploads/2019/01/a.jpg")
                .last_modified(t(1_700_000_000))
                .e_tag("\"9dd4e461268c8034f5c8564e155c67a6\"")
                .size(12345)
                .storage_class(ObjectStorageClass::Standard)
                .build(),
        ),
    );
}
