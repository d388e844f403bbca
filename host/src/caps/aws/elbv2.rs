//! ELBv2 describe operations and the mapping of ELBv2 types to the AWS CLI output
//! shape.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, AvailabilityZone, Certificate, DescribeTargetHealthInputIncludeEnum,
    FixedResponseActionConfig, ForwardActionConfig, Listener, LoadBalancer, LoadBalancerAddress,
    LoadBalancerState, Matcher, RedirectActionConfig, TargetDescription, TargetGroup,
    TargetGroupStickinessConfig, TargetGroupTuple, TargetHealth, TargetHealthDescription,
};
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::{json, Value};

use super::error::from_sdk;
use super::request::Req;
use super::{merged, unsupported, Obj, Service};
use crate::caps::capability::{Operation, Scope};
use crate::caps::error::CapError;

/// ELBv2's read-only operations, in WIT order, each with its untrusted-step scope.
pub(crate) const OPERATIONS: &[Operation] = &[
    Operation {
        name: "elbv2_describe_load_balancers",
        iam: Some("elasticloadbalancing:DescribeLoadBalancers"),
        about: "ELBv2 DescribeLoadBalancers → {\"LoadBalancers\":[…]}",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "LoadBalancers", |lb| {
                o.owns(lb["LoadBalancerName"].as_str().unwrap_or(""))
            })
        }),
    },
    Operation {
        name: "elbv2_describe_target_groups",
        iam: Some("elasticloadbalancing:DescribeTargetGroups"),
        about: "ELBv2 DescribeTargetGroups → {\"TargetGroups\":[…]}",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "TargetGroups", |tg| {
                o.owns(tg["TargetGroupName"].as_str().unwrap_or(""))
            })
        }),
    },
    Operation {
        name: "elbv2_describe_target_health",
        iam: Some("elasticloadbalancing:DescribeTargetHealth"),
        about:
            "ELBv2 DescribeTargetHealth (needs TargetGroupArn) → {\"TargetHealthDescriptions\":[…]}",
        scope: Scope::OwnResources(&["TargetGroupArn"]),
    },
    Operation {
        name: "elbv2_describe_listeners",
        iam: Some("elasticloadbalancing:DescribeListeners"),
        about:
            "ELBv2 DescribeListeners (needs LoadBalancerArn or ListenerArns) → {\"Listeners\":[…]}",
        scope: Scope::OwnResources(&["LoadBalancerArn", "ListenerArns"]),
    },
];

pub(crate) async fn call(
    svc: &Service<Client>,
    op: &str,
    request: &Value,
) -> Result<Value, CapError> {
    let c = &svc.client;
    match op {
        "elbv2_describe_load_balancers" => {
            let r = Req::new(op, request, &["LoadBalancerArns", "Names"])?;
            let pages = all_pages!(
                c.describe_load_balancers()
                    .set_load_balancer_arns(r.strs("LoadBalancerArns")?)
                    .set_names(r.strs("Names")?),
                op,
                svc
            );
            Ok(merged(
                "LoadBalancers",
                &pages,
                |p| p.load_balancers(),
                load_balancer,
            ))
        }
        "elbv2_describe_target_groups" => {
            let r = Req::new(
                op,
                request,
                &["LoadBalancerArn", "TargetGroupArns", "Names"],
            )?;
            let pages = all_pages!(
                c.describe_target_groups()
                    .set_load_balancer_arn(r.str("LoadBalancerArn")?)
                    .set_target_group_arns(r.strs("TargetGroupArns")?)
                    .set_names(r.strs("Names")?),
                op,
                svc
            );
            Ok(merged(
                "TargetGroups",
                &pages,
                |p| p.target_groups(),
                target_group,
            ))
        }
        "elbv2_describe_target_health" => {
            let r = Req::new(op, request, &["TargetGroupArn", "Targets", "Include"])?;
            let targets = r
                .objects("Targets", &["Id", "Port", "AvailabilityZone"])?
                .map(|ts| {
                    ts.iter()
                        .map(|t| {
                            Ok(TargetDescription::builder()
                                .id(t.required_str("Id")?)
                                .set_port(t.int("Port")?)
                                .set_availability_zone(t.str("AvailabilityZone")?)
                                .build())
                        })
                        .collect::<Result<Vec<_>, CapError>>()
                })
                .transpose()?;
            let include = r
                .enum_strs("Include", DescribeTargetHealthInputIncludeEnum::values())?
                .map(|v| {
                    v.iter()
                        .map(|s| DescribeTargetHealthInputIncludeEnum::from(s.as_str()))
                        .collect()
                });
            // Not paginated: one call returns every target.
            let out = send_one!(
                c.describe_target_health()
                    .set_target_group_arn(Some(r.required_str("TargetGroupArn")?))
                    .set_targets(targets)
                    .set_include(include),
                op,
                svc
            );
            Ok(json!({
                "TargetHealthDescriptions": out
                    .target_health_descriptions()
                    .iter()
                    .map(target_health_description)
                    .collect::<Vec<_>>()
            }))
        }
        "elbv2_describe_listeners" => {
            let r = Req::new(op, request, &["LoadBalancerArn", "ListenerArns"])?;
            let pages = all_pages!(
                c.describe_listeners()
                    .set_load_balancer_arn(r.str("LoadBalancerArn")?)
                    .set_listener_arns(r.strs("ListenerArns")?),
                op,
                svc
            );
            Ok(merged("Listeners", &pages, |p| p.listeners(), listener))
        }
        _ => Err(unsupported(op)),
    }
}

pub fn load_balancer(lb: &LoadBalancer) -> Value {
    Obj::new()
        .s("LoadBalancerArn", lb.load_balancer_arn.as_ref())
        .s("DNSName", lb.dns_name.as_ref())
        .s(
            "CanonicalHostedZoneId",
            lb.canonical_hosted_zone_id.as_ref(),
        )
        .t("CreatedTime", lb.created_time.as_ref())
        .s("LoadBalancerName", lb.load_balancer_name.as_ref())
        .s("Scheme", lb.scheme.as_ref())
        .s("VpcId", lb.vpc_id.as_ref())
        .o("State", lb.state.as_ref(), load_balancer_state)
        .s("Type", lb.r#type.as_ref())
        .list(
            "AvailabilityZones",
            lb.availability_zones.as_ref(),
            availability_zone,
        )
        .strs("SecurityGroups", lb.security_groups.as_ref())
        .s("IpAddressType", lb.ip_address_type.as_ref())
        .done()
}

pub fn load_balancer_state(s: &LoadBalancerState) -> Value {
    Obj::new()
        .s("Code", s.code.as_ref())
        .s("Reason", s.reason.as_ref())
        .done()
}

pub fn availability_zone(z: &AvailabilityZone) -> Value {
    Obj::new()
        .s("ZoneName", z.zone_name.as_ref())
        .s("SubnetId", z.subnet_id.as_ref())
        .s("OutpostId", z.outpost_id.as_ref())
        .list(
            "LoadBalancerAddresses",
            z.load_balancer_addresses.as_ref(),
            load_balancer_address,
        )
        .done()
}

pub fn load_balancer_address(a: &LoadBalancerAddress) -> Value {
    Obj::new()
        .s("IpAddress", a.ip_address.as_ref())
        .s("AllocationId", a.allocation_id.as_ref())
        .s("PrivateIPv4Address", a.private_ipv4_address.as_ref())
        .s("IPv6Address", a.ipv6_address.as_ref())
        .done()
}

pub fn target_group(g: &TargetGroup) -> Value {
    Obj::new()
        .s("TargetGroupArn", g.target_group_arn.as_ref())
        .s("TargetGroupName", g.target_group_name.as_ref())
        .s("Protocol", g.protocol.as_ref())
        .n("Port", g.port)
        .s("VpcId", g.vpc_id.as_ref())
        .s("HealthCheckProtocol", g.health_check_protocol.as_ref())
        .s("HealthCheckPort", g.health_check_port.as_ref())
        .n("HealthCheckEnabled", g.health_check_enabled)
        .n(
            "HealthCheckIntervalSeconds",
            g.health_check_interval_seconds,
        )
        .n("HealthCheckTimeoutSeconds", g.health_check_timeout_seconds)
        .n("HealthyThresholdCount", g.healthy_threshold_count)
        .n("UnhealthyThresholdCount", g.unhealthy_threshold_count)
        .s("HealthCheckPath", g.health_check_path.as_ref())
        .o("Matcher", g.matcher.as_ref(), matcher)
        .strs("LoadBalancerArns", g.load_balancer_arns.as_ref())
        .s("TargetType", g.target_type.as_ref())
        .s("ProtocolVersion", g.protocol_version.as_ref())
        .s("IpAddressType", g.ip_address_type.as_ref())
        .done()
}

pub fn matcher(m: &Matcher) -> Value {
    Obj::new()
        .s("HttpCode", m.http_code.as_ref())
        .s("GrpcCode", m.grpc_code.as_ref())
        .done()
}

pub fn target_health_description(d: &TargetHealthDescription) -> Value {
    Obj::new()
        .o("Target", d.target.as_ref(), target_description)
        .s("HealthCheckPort", d.health_check_port.as_ref())
        .o("TargetHealth", d.target_health.as_ref(), target_health)
        .done()
}

pub fn target_description(t: &TargetDescription) -> Value {
    Obj::new()
        .s("Id", t.id.as_ref())
        .n("Port", t.port)
        .s("AvailabilityZone", t.availability_zone.as_ref())
        .done()
}

pub fn target_health(h: &TargetHealth) -> Value {
    Obj::new()
        .s("State", h.state.as_ref())
        .s("Reason", h.reason.as_ref())
        .s("Description", h.description.as_ref())
        .done()
}

pub fn listener(l: &Listener) -> Value {
    Obj::new()
        .s("ListenerArn", l.listener_arn.as_ref())
        .s("LoadBalancerArn", l.load_balancer_arn.as_ref())
        .n("Port", l.port)
        .s("Protocol", l.protocol.as_ref())
        .list("Certificates", l.certificates.as_ref(), certificate)
        .s("SslPolicy", l.ssl_policy.as_ref())
        .list("DefaultActions", l.default_actions.as_ref(), action)
        .strs("AlpnPolicy", l.alpn_policy.as_ref())
        .done()
}

pub fn certificate(c: &Certificate) -> Value {
    Obj::new()
        .s("CertificateArn", c.certificate_arn.as_ref())
        .n("IsDefault", c.is_default)
        .done()
}

pub fn action(a: &Action) -> Value {
    Obj::new()
        .s("Type", a.r#type.as_ref())
        .s("TargetGroupArn", a.target_group_arn.as_ref())
        .n("Order", a.order)
        .o(
            "RedirectConfig",
            a.redirect_config.as_ref(),
            redirect_action_config,
        )
        .o(
            "FixedResponseConfig",
            a.fixed_response_config.as_ref(),
            fixed_response_action_config,
        )
        .o(
            "ForwardConfig",
            a.forward_config.as_ref(),
            forward_action_config,
        )
        .done()
}

pub fn forward_action_config(f: &ForwardActionConfig) -> Value {
    Obj::new()
        .list("TargetGroups", f.target_groups.as_ref(), target_group_tuple)
        .o(
            "TargetGroupStickinessConfig",
            f.target_group_stickiness_config.as_ref(),
            target_group_stickiness_config,
        )
        .done()
}

pub fn target_group_tuple(t: &TargetGroupTuple) -> Value {
    Obj::new()
        .s("TargetGroupArn", t.target_group_arn.as_ref())
        .n("Weight", t.weight)
        .done()
}

pub fn target_group_stickiness_config(s: &TargetGroupStickinessConfig) -> Value {
    Obj::new()
        .n("Enabled", s.enabled)
        .n("DurationSeconds", s.duration_seconds)
        .done()
}

pub fn redirect_action_config(r: &RedirectActionConfig) -> Value {
    Obj::new()
        .s("Protocol", r.protocol.as_ref())
        .s("Port", r.port.as_ref())
        .s("Host", r.host.as_ref())
        .s("Path", r.path.as_ref())
        .s("Query", r.query.as_ref())
        .s("StatusCode", r.status_code.as_ref())
        .done()
}

pub fn fixed_response_action_config(f: &FixedResponseActionConfig) -> Value {
    Obj::new()
        .s("MessageBody", f.message_body.as_ref())
        .s("StatusCode", f.status_code.as_ref())
        .s("ContentType", f.content_type.as_ref())
        .done()
}
