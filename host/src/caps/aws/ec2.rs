//! EC2 describe operations and the mapping of EC2 types to the AWS CLI output shape.

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, EbsInstanceBlockDevice, Filter, GroupIdentifier,
    IamInstanceProfile, Image, Instance, InstanceBlockDeviceMapping, InstanceNetworkInterface,
    InstanceNetworkInterfaceAssociation, InstanceNetworkInterfaceAttachment,
    InstancePrivateIpAddress, InstanceState, InternetGateway, InternetGatewayAttachment,
    IpPermission, IpRange, Ipv6Range, KeyPairInfo, Placement, PrefixListId, Reservation, Route,
    RouteTable, RouteTableAssociation, SecurityGroup, StateReason, Subnet, Tag, UserIdGroupPair,
    Vpc, VpcCidrBlockAssociation,
};
use aws_sdk_ec2::Client;
use serde_json::Value;

use super::error::from_sdk;
use super::request::Req;
use super::{merged, unsupported, Obj, Service};
use crate::caps::capability::{Operation, Owner, Scope};
use crate::caps::error::CapError;

/// EC2's read-only operations, in WIT order, each with its untrusted-step scope.
pub(crate) const OPERATIONS: &[Operation] = &[
    Operation {
        name: "ec2_describe_instances",
        iam: Some("ec2:DescribeInstances"),
        about: "EC2 DescribeInstances → {\"Reservations\":[{\"Instances\":[…]}]}",
        scope: Scope::Filter(own_instances),
    },
    Operation {
        name: "ec2_describe_images",
        iam: Some("ec2:DescribeImages"),
        about: "EC2 DescribeImages → {\"Images\":[…]}",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "Images", |i| {
                o.owns(i["Name"].as_str().unwrap_or("")) || o.owns_tagged(i)
            })
        }),
    },
    Operation {
        name: "ec2_describe_security_groups",
        iam: Some("ec2:DescribeSecurityGroups"),
        about: "EC2 DescribeSecurityGroups → {\"SecurityGroups\":[…]}",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "SecurityGroups", |g| {
                o.owns(g["GroupName"].as_str().unwrap_or("")) || o.owns_tagged(g) || o.in_vpc(g)
            })
        }),
    },
    Operation {
        name: "ec2_describe_subnets",
        iam: Some("ec2:DescribeSubnets"),
        about: "EC2 DescribeSubnets → {\"Subnets\":[…]}",
        scope: Scope::Filter(|a, o| o.keep(a, "Subnets", |s| o.owns_tagged(s) || o.in_vpc(s))),
    },
    Operation {
        name: "ec2_describe_vpcs",
        iam: Some("ec2:DescribeVpcs"),
        about: "EC2 DescribeVpcs → {\"Vpcs\":[…]}",
        scope: Scope::Filter(|a, o| o.keep(a, "Vpcs", |v| o.owns_tagged(v))),
    },
    Operation {
        name: "ec2_describe_route_tables",
        iam: Some("ec2:DescribeRouteTables"),
        about: "EC2 DescribeRouteTables → {\"RouteTables\":[…]}",
        scope: Scope::Filter(|a, o| o.keep(a, "RouteTables", |t| o.owns_tagged(t) || o.in_vpc(t))),
    },
    Operation {
        name: "ec2_describe_internet_gateways",
        iam: Some("ec2:DescribeInternetGateways"),
        about: "EC2 DescribeInternetGateways → {\"InternetGateways\":[…]}",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "InternetGateways", |g| {
                o.owns_tagged(g)
                    || g["Attachments"]
                        .as_array()
                        .is_some_and(|at| at.iter().any(|at| o.in_vpc(at)))
            })
        }),
    },
    Operation {
        name: "ec2_describe_key_pairs",
        iam: Some("ec2:DescribeKeyPairs"),
        about: "EC2 DescribeKeyPairs → {\"KeyPairs\":[…]} (never the key material)",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "KeyPairs", |k| {
                o.owns(k["KeyName"].as_str().unwrap_or("")) || o.owns_tagged(k)
            })
        }),
    },
];

/// Reservations keep only the trainee's instances (by Name tag); empty ones go.
fn own_instances(answer: &mut Value, owner: &Owner) {
    if let Some(reservations) = answer["Reservations"].as_array_mut() {
        for r in reservations.iter_mut() {
            owner.keep(r, "Instances", |i| owner.owns_tagged(i));
        }
        reservations.retain(|r| r["Instances"].as_array().is_some_and(|i| !i.is_empty()));
    }
}

pub(crate) async fn call(
    svc: &Service<Client>,
    op: &str,
    request: &Value,
) -> Result<Value, CapError> {
    let c = &svc.client;
    match op {
        "ec2_describe_instances" => {
            let r = Req::new(op, request, &["Filters", "InstanceIds"])?;
            let pages = all_pages!(
                c.describe_instances()
                    .set_filters(filters(&r)?)
                    .set_instance_ids(r.strs("InstanceIds")?),
                op,
                svc
            );
            Ok(merged(
                "Reservations",
                &pages,
                |p| p.reservations(),
                reservation,
            ))
        }
        "ec2_describe_images" => {
            let r = Req::new(
                op,
                request,
                &[
                    "Filters",
                    "ImageIds",
                    "Owners",
                    "ExecutableUsers",
                    "IncludeDeprecated",
                    "IncludeDisabled",
                ],
            )?;
            let pages = all_pages!(
                c.describe_images()
                    .set_filters(filters(&r)?)
                    .set_image_ids(r.strs("ImageIds")?)
                    .set_owners(r.strs("Owners")?)
                    .set_executable_users(r.strs("ExecutableUsers")?)
                    .set_include_deprecated(r.bool("IncludeDeprecated")?)
                    .set_include_disabled(r.bool("IncludeDisabled")?),
                op,
                svc
            );
            Ok(merged("Images", &pages, |p| p.images(), image))
        }
        "ec2_describe_security_groups" => {
            let r = Req::new(op, request, &["Filters", "GroupIds", "GroupNames"])?;
            let pages = all_pages!(
                c.describe_security_groups()
                    .set_filters(filters(&r)?)
                    .set_group_ids(r.strs("GroupIds")?)
                    .set_group_names(r.strs("GroupNames")?),
                op,
                svc
            );
            Ok(merged(
                "SecurityGroups",
                &pages,
                |p| p.security_groups(),
                security_group,
            ))
        }
        "ec2_describe_subnets" => {
            let r = Req::new(op, request, &["Filters", "SubnetIds"])?;
            let pages = all_pages!(
                c.describe_subnets()
                    .set_filters(filters(&r)?)
                    .set_subnet_ids(r.strs("SubnetIds")?),
                op,
                svc
            );
            Ok(merged("Subnets", &pages, |p| p.subnets(), subnet))
        }
        "ec2_describe_vpcs" => {
            let r = Req::new(op, request, &["Filters", "VpcIds"])?;
            let pages = all_pages!(
                c.describe_vpcs()
                    .set_filters(filters(&r)?)
                    .set_vpc_ids(r.strs("VpcIds")?),
                op,
                svc
            );
            Ok(merged("Vpcs", &pages, |p| p.vpcs(), vpc))
        }
        "ec2_describe_route_tables" => {
            let r = Req::new(op, request, &["Filters", "RouteTableIds"])?;
            let pages = all_pages!(
                c.describe_route_tables()
                    .set_filters(filters(&r)?)
                    .set_route_table_ids(r.strs("RouteTableIds")?),
                op,
                svc
            );
            Ok(merged(
                "RouteTables",
                &pages,
                |p| p.route_tables(),
                route_table,
            ))
        }
        "ec2_describe_internet_gateways" => {
            let r = Req::new(op, request, &["Filters", "InternetGatewayIds"])?;
            let pages = all_pages!(
                c.describe_internet_gateways()
                    .set_filters(filters(&r)?)
                    .set_internet_gateway_ids(r.strs("InternetGatewayIds")?),
                op,
                svc
            );
            Ok(merged(
                "InternetGateways",
                &pages,
                |p| p.internet_gateways(),
                internet_gateway,
            ))
        }
        "ec2_describe_key_pairs" => {
            // No IncludePublicKey: a step has no use for key material.
            let r = Req::new(op, request, &["Filters", "KeyNames", "KeyPairIds"])?;
            // Not paginated: one call returns every key pair.
            let out = send_one!(
                c.describe_key_pairs()
                    .set_filters(filters(&r)?)
                    .set_key_names(r.strs("KeyNames")?)
                    .set_key_pair_ids(r.strs("KeyPairIds")?),
                op,
                svc
            );
            Ok(serde_json::json!({
                "KeyPairs": out.key_pairs().iter().map(key_pair).collect::<Vec<_>>()
            }))
        }
        _ => Err(unsupported(op)),
    }
}

pub fn route_table(t: &RouteTable) -> Value {
    Obj::new()
        .list(
            "Associations",
            t.associations.as_ref(),
            |a: &RouteTableAssociation| {
                Obj::new()
                    .n("Main", a.main)
                    .s(
                        "RouteTableAssociationId",
                        a.route_table_association_id.as_ref(),
                    )
                    .s("RouteTableId", a.route_table_id.as_ref())
                    .s("SubnetId", a.subnet_id.as_ref())
                    .s("GatewayId", a.gateway_id.as_ref())
                    .o("AssociationState", a.association_state.as_ref(), |s| {
                        Obj::new()
                            .s("State", s.state.as_ref())
                            .s("StatusMessage", s.status_message.as_ref())
                            .done()
                    })
                    .done()
            },
        )
        .s("RouteTableId", t.route_table_id.as_ref())
        .list("Routes", t.routes.as_ref(), |r: &Route| {
            Obj::new()
                .s("DestinationCidrBlock", r.destination_cidr_block.as_ref())
                .s(
                    "DestinationIpv6CidrBlock",
                    r.destination_ipv6_cidr_block.as_ref(),
                )
                .s(
                    "DestinationPrefixListId",
                    r.destination_prefix_list_id.as_ref(),
                )
                .s("GatewayId", r.gateway_id.as_ref())
                .s("InstanceId", r.instance_id.as_ref())
                .s("NatGatewayId", r.nat_gateway_id.as_ref())
                .s("TransitGatewayId", r.transit_gateway_id.as_ref())
                .s("NetworkInterfaceId", r.network_interface_id.as_ref())
                .s(
                    "VpcPeeringConnectionId",
                    r.vpc_peering_connection_id.as_ref(),
                )
                .s("Origin", r.origin.as_ref())
                .s("State", r.state.as_ref())
                .done()
        })
        .list("Tags", t.tags.as_ref(), tag)
        .s("VpcId", t.vpc_id.as_ref())
        .s("OwnerId", t.owner_id.as_ref())
        .done()
}

pub fn internet_gateway(g: &InternetGateway) -> Value {
    Obj::new()
        .list(
            "Attachments",
            g.attachments.as_ref(),
            |a: &InternetGatewayAttachment| {
                Obj::new()
                    .s("State", a.state.as_ref())
                    .s("VpcId", a.vpc_id.as_ref())
                    .done()
            },
        )
        .s("InternetGatewayId", g.internet_gateway_id.as_ref())
        .s("OwnerId", g.owner_id.as_ref())
        .list("Tags", g.tags.as_ref(), tag)
        .done()
}

pub fn key_pair(k: &KeyPairInfo) -> Value {
    Obj::new()
        .s("KeyPairId", k.key_pair_id.as_ref())
        .s("KeyFingerprint", k.key_fingerprint.as_ref())
        .s("KeyName", k.key_name.as_ref())
        .s("KeyType", k.key_type.as_ref())
        .t("CreateTime", k.create_time.as_ref())
        .list("Tags", k.tags.as_ref(), tag)
        .done()
}

fn filters(r: &Req) -> Result<Option<Vec<Filter>>, CapError> {
    Ok(r.filters()?.map(|fs| {
        fs.into_iter()
            .map(|(name, values)| {
                Filter::builder()
                    .name(name)
                    .set_values(Some(values))
                    .build()
            })
            .collect()
    }))
}

pub fn tag(t: &Tag) -> Value {
    Obj::new()
        .s("Key", t.key.as_ref())
        .s("Value", t.value.as_ref())
        .done()
}

pub fn group_identifier(g: &GroupIdentifier) -> Value {
    Obj::new()
        .s("GroupId", g.group_id.as_ref())
        .s("GroupName", g.group_name.as_ref())
        .done()
}

pub fn reservation(r: &Reservation) -> Value {
    Obj::new()
        .s("ReservationId", r.reservation_id.as_ref())
        .s("OwnerId", r.owner_id.as_ref())
        .s("RequesterId", r.requester_id.as_ref())
        .list("Groups", r.groups.as_ref(), group_identifier)
        .list("Instances", r.instances.as_ref(), instance)
        .done()
}

pub fn instance(i: &Instance) -> Value {
    Obj::new()
        .n("AmiLaunchIndex", i.ami_launch_index)
        .s("ImageId", i.image_id.as_ref())
        .s("InstanceId", i.instance_id.as_ref())
        .s("InstanceType", i.instance_type.as_ref())
        .s("KeyName", i.key_name.as_ref())
        .t("LaunchTime", i.launch_time.as_ref())
        .o("Placement", i.placement.as_ref(), placement)
        .s("Platform", i.platform.as_ref())
        .s("PrivateDnsName", i.private_dns_name.as_ref())
        .s("PrivateIpAddress", i.private_ip_address.as_ref())
        .s("PublicDnsName", i.public_dns_name.as_ref())
        .s("PublicIpAddress", i.public_ip_address.as_ref())
        .o("State", i.state.as_ref(), instance_state)
        .s("StateTransitionReason", i.state_transition_reason.as_ref())
        .s("SubnetId", i.subnet_id.as_ref())
        .s("VpcId", i.vpc_id.as_ref())
        .s("Architecture", i.architecture.as_ref())
        .list(
            "BlockDeviceMappings",
            i.block_device_mappings.as_ref(),
            instance_block_device_mapping,
        )
        .o(
            "IamInstanceProfile",
            i.iam_instance_profile.as_ref(),
            iam_instance_profile,
        )
        .list(
            "NetworkInterfaces",
            i.network_interfaces.as_ref(),
            instance_network_interface,
        )
        .s("RootDeviceName", i.root_device_name.as_ref())
        .s("RootDeviceType", i.root_device_type.as_ref())
        .list(
            "SecurityGroups",
            i.security_groups.as_ref(),
            group_identifier,
        )
        .n("SourceDestCheck", i.source_dest_check)
        .o("StateReason", i.state_reason.as_ref(), state_reason)
        .list("Tags", i.tags.as_ref(), tag)
        .s("PlatformDetails", i.platform_details.as_ref())
        .done()
}

pub fn instance_state(s: &InstanceState) -> Value {
    Obj::new()
        .n("Code", s.code)
        .s("Name", s.name.as_ref())
        .done()
}

pub fn placement(p: &Placement) -> Value {
    Obj::new()
        .s("AvailabilityZone", p.availability_zone.as_ref())
        .s("AvailabilityZoneId", p.availability_zone_id.as_ref())
        .s("GroupName", p.group_name.as_ref())
        .s("Tenancy", p.tenancy.as_ref())
        .done()
}

pub fn state_reason(s: &StateReason) -> Value {
    Obj::new()
        .s("Code", s.code.as_ref())
        .s("Message", s.message.as_ref())
        .done()
}

pub fn iam_instance_profile(p: &IamInstanceProfile) -> Value {
    Obj::new()
        .s("Arn", p.arn.as_ref())
        .s("Id", p.id.as_ref())
        .done()
}

pub fn instance_block_device_mapping(m: &InstanceBlockDeviceMapping) -> Value {
    Obj::new()
        .s("DeviceName", m.device_name.as_ref())
        .o("Ebs", m.ebs.as_ref(), ebs_instance_block_device)
        .done()
}

pub fn ebs_instance_block_device(e: &EbsInstanceBlockDevice) -> Value {
    Obj::new()
        .t("AttachTime", e.attach_time.as_ref())
        .n("DeleteOnTermination", e.delete_on_termination)
        .s("Status", e.status.as_ref())
        .s("VolumeId", e.volume_id.as_ref())
        .done()
}

pub fn instance_network_interface(n: &InstanceNetworkInterface) -> Value {
    Obj::new()
        .o(
            "Association",
            n.association.as_ref(),
            network_interface_association,
        )
        .o(
            "Attachment",
            n.attachment.as_ref(),
            network_interface_attachment,
        )
        .s("Description", n.description.as_ref())
        .list("Groups", n.groups.as_ref(), group_identifier)
        .s("MacAddress", n.mac_address.as_ref())
        .s("NetworkInterfaceId", n.network_interface_id.as_ref())
        .s("OwnerId", n.owner_id.as_ref())
        .s("PrivateDnsName", n.private_dns_name.as_ref())
        .s("PrivateIpAddress", n.private_ip_address.as_ref())
        .list(
            "PrivateIpAddresses",
            n.private_ip_addresses.as_ref(),
            instance_private_ip_address,
        )
        .n("SourceDestCheck", n.source_dest_check)
        .s("Status", n.status.as_ref())
        .s("SubnetId", n.subnet_id.as_ref())
        .s("VpcId", n.vpc_id.as_ref())
        .s("InterfaceType", n.interface_type.as_ref())
        .done()
}

pub fn network_interface_association(a: &InstanceNetworkInterfaceAssociation) -> Value {
    Obj::new()
        .s("IpOwnerId", a.ip_owner_id.as_ref())
        .s("PublicDnsName", a.public_dns_name.as_ref())
        .s("PublicIp", a.public_ip.as_ref())
        .done()
}

pub fn network_interface_attachment(a: &InstanceNetworkInterfaceAttachment) -> Value {
    Obj::new()
        .t("AttachTime", a.attach_time.as_ref())
        .s("AttachmentId", a.attachment_id.as_ref())
        .n("DeleteOnTermination", a.delete_on_termination)
        .n("DeviceIndex", a.device_index)
        .s("Status", a.status.as_ref())
        .done()
}

pub fn instance_private_ip_address(p: &InstancePrivateIpAddress) -> Value {
    Obj::new()
        .o(
            "Association",
            p.association.as_ref(),
            network_interface_association,
        )
        .n("Primary", p.primary)
        .s("PrivateDnsName", p.private_dns_name.as_ref())
        .s("PrivateIpAddress", p.private_ip_address.as_ref())
        .done()
}

pub fn image(i: &Image) -> Value {
    Obj::new()
        .s("Architecture", i.architecture.as_ref())
        .s("CreationDate", i.creation_date.as_ref())
        .s("ImageId", i.image_id.as_ref())
        .s("ImageLocation", i.image_location.as_ref())
        .s("ImageType", i.image_type.as_ref())
        .n("Public", i.public)
        .s("OwnerId", i.owner_id.as_ref())
        .s("PlatformDetails", i.platform_details.as_ref())
        .s("State", i.state.as_ref())
        .list(
            "BlockDeviceMappings",
            i.block_device_mappings.as_ref(),
            block_device_mapping,
        )
        .s("Description", i.description.as_ref())
        .n("EnaSupport", i.ena_support)
        .s("Hypervisor", i.hypervisor.as_ref())
        .s("Name", i.name.as_ref())
        .s("RootDeviceName", i.root_device_name.as_ref())
        .s("RootDeviceType", i.root_device_type.as_ref())
        .o("StateReason", i.state_reason.as_ref(), state_reason)
        .list("Tags", i.tags.as_ref(), tag)
        .s("VirtualizationType", i.virtualization_type.as_ref())
        .s("SourceInstanceId", i.source_instance_id.as_ref())
        .done()
}

pub fn block_device_mapping(m: &BlockDeviceMapping) -> Value {
    Obj::new()
        .s("DeviceName", m.device_name.as_ref())
        .s("VirtualName", m.virtual_name.as_ref())
        .o("Ebs", m.ebs.as_ref(), ebs_block_device)
        .s("NoDevice", m.no_device.as_ref())
        .done()
}

pub fn ebs_block_device(e: &EbsBlockDevice) -> Value {
    Obj::new()
        .n("DeleteOnTermination", e.delete_on_termination)
        .n("Iops", e.iops)
        .s("SnapshotId", e.snapshot_id.as_ref())
        .n("VolumeSize", e.volume_size)
        .s("VolumeType", e.volume_type.as_ref())
        .n("Throughput", e.throughput)
        .n("Encrypted", e.encrypted)
        .done()
}

pub fn security_group(g: &SecurityGroup) -> Value {
    Obj::new()
        .s("GroupId", g.group_id.as_ref())
        .s("GroupName", g.group_name.as_ref())
        .s("Description", g.description.as_ref())
        .s("VpcId", g.vpc_id.as_ref())
        .s("OwnerId", g.owner_id.as_ref())
        .s("SecurityGroupArn", g.security_group_arn.as_ref())
        .list("IpPermissions", g.ip_permissions.as_ref(), ip_permission)
        .list(
            "IpPermissionsEgress",
            g.ip_permissions_egress.as_ref(),
            ip_permission,
        )
        .list("Tags", g.tags.as_ref(), tag)
        .done()
}

pub fn ip_permission(p: &IpPermission) -> Value {
    Obj::new()
        .s("IpProtocol", p.ip_protocol.as_ref())
        .n("FromPort", p.from_port)
        .n("ToPort", p.to_port)
        .list(
            "UserIdGroupPairs",
            p.user_id_group_pairs.as_ref(),
            user_id_group_pair,
        )
        .list("IpRanges", p.ip_ranges.as_ref(), ip_range)
        .list("Ipv6Ranges", p.ipv6_ranges.as_ref(), ipv6_range)
        .list("PrefixListIds", p.prefix_list_ids.as_ref(), prefix_list_id)
        .done()
}

pub fn ip_range(r: &IpRange) -> Value {
    Obj::new()
        .s("CidrIp", r.cidr_ip.as_ref())
        .s("Description", r.description.as_ref())
        .done()
}

pub fn ipv6_range(r: &Ipv6Range) -> Value {
    Obj::new()
        .s("CidrIpv6", r.cidr_ipv6.as_ref())
        .s("Description", r.description.as_ref())
        .done()
}

pub fn user_id_group_pair(p: &UserIdGroupPair) -> Value {
    Obj::new()
        .s("Description", p.description.as_ref())
        .s("GroupId", p.group_id.as_ref())
        .s("GroupName", p.group_name.as_ref())
        .s("UserId", p.user_id.as_ref())
        .s("VpcId", p.vpc_id.as_ref())
        .s(
            "VpcPeeringConnectionId",
            p.vpc_peering_connection_id.as_ref(),
        )
        .s("PeeringStatus", p.peering_status.as_ref())
        .done()
}

pub fn prefix_list_id(p: &PrefixListId) -> Value {
    Obj::new()
        .s("Description", p.description.as_ref())
        .s("PrefixListId", p.prefix_list_id.as_ref())
        .done()
}

pub fn subnet(s: &Subnet) -> Value {
    Obj::new()
        .s("AvailabilityZone", s.availability_zone.as_ref())
        .s("AvailabilityZoneId", s.availability_zone_id.as_ref())
        .n("AvailableIpAddressCount", s.available_ip_address_count)
        .s("CidrBlock", s.cidr_block.as_ref())
        .n("DefaultForAz", s.default_for_az)
        .n("MapPublicIpOnLaunch", s.map_public_ip_on_launch)
        .s("State", s.state.as_ref())
        .s("SubnetId", s.subnet_id.as_ref())
        .s("VpcId", s.vpc_id.as_ref())
        .s("OwnerId", s.owner_id.as_ref())
        .n(
            "AssignIpv6AddressOnCreation",
            s.assign_ipv6_address_on_creation,
        )
        .list("Tags", s.tags.as_ref(), tag)
        .s("SubnetArn", s.subnet_arn.as_ref())
        .done()
}

pub fn vpc(v: &Vpc) -> Value {
    Obj::new()
        .s("CidrBlock", v.cidr_block.as_ref())
        .s("DhcpOptionsId", v.dhcp_options_id.as_ref())
        .s("State", v.state.as_ref())
        .s("VpcId", v.vpc_id.as_ref())
        .s("OwnerId", v.owner_id.as_ref())
        .s("InstanceTenancy", v.instance_tenancy.as_ref())
        .list(
            "CidrBlockAssociationSet",
            v.cidr_block_association_set.as_ref(),
            vpc_cidr_block_association,
        )
        .n("IsDefault", v.is_default)
        .list("Tags", v.tags.as_ref(), tag)
        .done()
}

pub fn vpc_cidr_block_association(a: &VpcCidrBlockAssociation) -> Value {
    Obj::new()
        .s("AssociationId", a.association_id.as_ref())
        .s("CidrBlock", a.cidr_block.as_ref())
        .o(
            "CidrBlockState",
            a.cidr_block_state.as_ref(),
            |s: &aws_sdk_ec2::types::VpcCidrBlockState| {
                Obj::new()
                    .s("State", s.state.as_ref())
                    .s("StatusMessage", s.status_message.as_ref())
                    .done()
            },
        )
        .done()
}
