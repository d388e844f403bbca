//! RDS describe operations and the mapping of RDS types to the AWS CLI output shape.

use aws_sdk_rds::types::{
    AvailabilityZone, DbCluster, DbClusterMember, DbInstance, DbSubnetGroup, Endpoint, Event,
    Filter, SourceType, Subnet, Tag, VpcSecurityGroupMembership,
};
use aws_sdk_rds::Client;
use serde_json::Value;

use super::error::from_sdk;
use super::request::Req;
use super::{merged, unsupported, Obj, Service};
use crate::caps::capability::{Operation, Scope};
use crate::caps::error::CapError;

/// RDS's read-only operations, in WIT order, each with its untrusted-step scope.
pub(crate) const OPERATIONS: &[Operation] = &[
    Operation {
        name: "rds_describe_db_clusters",
        iam: Some("rds:DescribeDBClusters"),
        about: "RDS DescribeDBClusters → {\"DBClusters\":[…]}",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "DBClusters", |c| {
                o.owns(c["DBClusterIdentifier"].as_str().unwrap_or(""))
            })
        }),
    },
    Operation {
        name: "rds_describe_db_instances",
        iam: Some("rds:DescribeDBInstances"),
        about: "RDS DescribeDBInstances → {\"DBInstances\":[…]}",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "DBInstances", |i| {
                o.owns(i["DBInstanceIdentifier"].as_str().unwrap_or(""))
            })
        }),
    },
    Operation {
        name: "rds_describe_db_subnet_groups",
        iam: Some("rds:DescribeDBSubnetGroups"),
        about: "RDS DescribeDBSubnetGroups → {\"DBSubnetGroups\":[…]}",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "DBSubnetGroups", |g| {
                o.owns(g["DBSubnetGroupName"].as_str().unwrap_or("")) || o.in_vpc(g)
            })
        }),
    },
    Operation {
        name: "rds_describe_events",
        iam: Some("rds:DescribeEvents"),
        about: "RDS DescribeEvents → {\"Events\":[…]} (AWS keeps 14 days)",
        scope: Scope::Filter(|a, o| {
            o.keep(a, "Events", |e| {
                o.owns(e["SourceIdentifier"].as_str().unwrap_or(""))
            })
        }),
    },
];

pub(crate) async fn call(
    svc: &Service<Client>,
    op: &str,
    request: &Value,
) -> Result<Value, CapError> {
    let c = &svc.client;
    match op {
        "rds_describe_db_clusters" => {
            let r = Req::new(
                op,
                request,
                &["DBClusterIdentifier", "Filters", "IncludeShared"],
            )?;
            let pages = all_pages!(
                c.describe_db_clusters()
                    .set_db_cluster_identifier(r.str("DBClusterIdentifier")?)
                    .set_filters(filters(&r)?)
                    .set_include_shared(r.bool("IncludeShared")?),
                op,
                svc
            );
            Ok(merged(
                "DBClusters",
                &pages,
                |p| p.db_clusters(),
                db_cluster,
            ))
        }
        "rds_describe_db_instances" => {
            let r = Req::new(op, request, &["DBInstanceIdentifier", "Filters"])?;
            let pages = all_pages!(
                c.describe_db_instances()
                    .set_db_instance_identifier(r.str("DBInstanceIdentifier")?)
                    .set_filters(filters(&r)?),
                op,
                svc
            );
            Ok(merged(
                "DBInstances",
                &pages,
                |p| p.db_instances(),
                db_instance,
            ))
        }
        "rds_describe_db_subnet_groups" => {
            let r = Req::new(op, request, &["DBSubnetGroupName", "Filters"])?;
            let pages = all_pages!(
                c.describe_db_subnet_groups()
                    .set_db_subnet_group_name(r.str("DBSubnetGroupName")?)
                    .set_filters(filters(&r)?),
                op,
                svc
            );
            Ok(merged(
                "DBSubnetGroups",
                &pages,
                |p| p.db_subnet_groups(),
                db_subnet_group,
            ))
        }
        "rds_describe_events" => {
            let r = Req::new(
                op,
                request,
                &[
                    "SourceIdentifier",
                    "SourceType",
                    "StartTime",
                    "EndTime",
                    "Duration",
                    "EventCategories",
                    "Filters",
                ],
            )?;
            let pages = all_pages!(
                c.describe_events()
                    .set_source_identifier(r.str("SourceIdentifier")?)
                    .set_source_type(
                        r.enum_str("SourceType", SourceType::values())?
                            .map(|s| SourceType::from(s.as_str())),
                    )
                    .set_start_time(r.time("StartTime")?)
                    .set_end_time(r.time("EndTime")?)
                    .set_duration(r.int("Duration")?)
                    .set_event_categories(r.strs("EventCategories")?)
                    .set_filters(filters(&r)?),
                op,
                svc
            );
            Ok(merged("Events", &pages, |p| p.events(), event))
        }
        _ => Err(unsupported(op)),
    }
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

pub fn db_cluster(c: &DbCluster) -> Value {
    Obj::new()
        .n("AllocatedStorage", c.allocated_storage)
        .strs("AvailabilityZones", c.availability_zones.as_ref())
        .n("BackupRetentionPeriod", c.backup_retention_period)
        .s("DatabaseName", c.database_name.as_ref())
        .s("DBClusterIdentifier", c.db_cluster_identifier.as_ref())
        .s(
            "DBClusterParameterGroup",
            c.db_cluster_parameter_group.as_ref(),
        )
        .s("DBSubnetGroup", c.db_subnet_group.as_ref())
        .s("Status", c.status.as_ref())
        .s("PercentProgress", c.percent_progress.as_ref())
        .t(
            "EarliestRestorableTime",
            c.earliest_restorable_time.as_ref(),
        )
        .s("Endpoint", c.endpoint.as_ref())
        .s("ReaderEndpoint", c.reader_endpoint.as_ref())
        .strs("CustomEndpoints", c.custom_endpoints.as_ref())
        .n("MultiAZ", c.multi_az)
        .s("Engine", c.engine.as_ref())
        .s("EngineVersion", c.engine_version.as_ref())
        .t("LatestRestorableTime", c.latest_restorable_time.as_ref())
        .n("Port", c.port)
        .s("MasterUsername", c.master_username.as_ref())
        .s("PreferredBackupWindow", c.preferred_backup_window.as_ref())
        .s(
            "PreferredMaintenanceWindow",
            c.preferred_maintenance_window.as_ref(),
        )
        .strs(
            "ReadReplicaIdentifiers",
            c.read_replica_identifiers.as_ref(),
        )
        .list(
            "DBClusterMembers",
            c.db_cluster_members.as_ref(),
            db_cluster_member,
        )
        .list(
            "VpcSecurityGroups",
            c.vpc_security_groups.as_ref(),
            vpc_security_group_membership,
        )
        .s("HostedZoneId", c.hosted_zone_id.as_ref())
        .n("StorageEncrypted", c.storage_encrypted)
        .s("KmsKeyId", c.kms_key_id.as_ref())
        .s("DbClusterResourceId", c.db_cluster_resource_id.as_ref())
        .s("DBClusterArn", c.db_cluster_arn.as_ref())
        .n(
            "IAMDatabaseAuthenticationEnabled",
            c.iam_database_authentication_enabled,
        )
        .t("ClusterCreateTime", c.cluster_create_time.as_ref())
        .s("EngineMode", c.engine_mode.as_ref())
        .n("DeletionProtection", c.deletion_protection)
        .n("PubliclyAccessible", c.publicly_accessible)
        .s(
            "DBClusterInstanceClass",
            c.db_cluster_instance_class.as_ref(),
        )
        .s("StorageType", c.storage_type.as_ref())
        .list("TagList", c.tag_list.as_ref(), tag)
        .s("NetworkType", c.network_type.as_ref())
        .done()
}

pub fn db_cluster_member(m: &DbClusterMember) -> Value {
    Obj::new()
        .s("DBInstanceIdentifier", m.db_instance_identifier.as_ref())
        .n("IsClusterWriter", m.is_cluster_writer)
        .s(
            "DBClusterParameterGroupStatus",
            m.db_cluster_parameter_group_status.as_ref(),
        )
        .n("PromotionTier", m.promotion_tier)
        .done()
}

pub fn vpc_security_group_membership(m: &VpcSecurityGroupMembership) -> Value {
    Obj::new()
        .s("VpcSecurityGroupId", m.vpc_security_group_id.as_ref())
        .s("Status", m.status.as_ref())
        .done()
}

pub fn db_instance(i: &DbInstance) -> Value {
    Obj::new()
        .s("DBInstanceIdentifier", i.db_instance_identifier.as_ref())
        .s("DBInstanceClass", i.db_instance_class.as_ref())
        .s("Engine", i.engine.as_ref())
        .s("DBInstanceStatus", i.db_instance_status.as_ref())
        .s("MasterUsername", i.master_username.as_ref())
        .s("DBName", i.db_name.as_ref())
        .o("Endpoint", i.endpoint.as_ref(), endpoint)
        .n("AllocatedStorage", i.allocated_storage)
        .t("InstanceCreateTime", i.instance_create_time.as_ref())
        .list(
            "VpcSecurityGroups",
            i.vpc_security_groups.as_ref(),
            vpc_security_group_membership,
        )
        .s("AvailabilityZone", i.availability_zone.as_ref())
        .o("DBSubnetGroup", i.db_subnet_group.as_ref(), db_subnet_group)
        .n("MultiAZ", i.multi_az)
        .s("EngineVersion", i.engine_version.as_ref())
        .n("AutoMinorVersionUpgrade", i.auto_minor_version_upgrade)
        .s(
            "SecondaryAvailabilityZone",
            i.secondary_availability_zone.as_ref(),
        )
        .n("PubliclyAccessible", i.publicly_accessible)
        .s("StorageType", i.storage_type.as_ref())
        .n("DbInstancePort", i.db_instance_port)
        .s("DBClusterIdentifier", i.db_cluster_identifier.as_ref())
        .n("StorageEncrypted", i.storage_encrypted)
        .s("DbiResourceId", i.dbi_resource_id.as_ref())
        .n("MonitoringInterval", i.monitoring_interval)
        .n("PromotionTier", i.promotion_tier)
        .s("DBInstanceArn", i.db_instance_arn.as_ref())
        .n("DeletionProtection", i.deletion_protection)
        .list("TagList", i.tag_list.as_ref(), tag)
        .s("NetworkType", i.network_type.as_ref())
        .done()
}

pub fn endpoint(e: &Endpoint) -> Value {
    Obj::new()
        .s("Address", e.address.as_ref())
        .n("Port", e.port)
        .s("HostedZoneId", e.hosted_zone_id.as_ref())
        .done()
}

pub fn db_subnet_group(g: &DbSubnetGroup) -> Value {
    Obj::new()
        .s("DBSubnetGroupName", g.db_subnet_group_name.as_ref())
        .s(
            "DBSubnetGroupDescription",
            g.db_subnet_group_description.as_ref(),
        )
        .s("VpcId", g.vpc_id.as_ref())
        .s("SubnetGroupStatus", g.subnet_group_status.as_ref())
        .list("Subnets", g.subnets.as_ref(), subnet)
        .s("DBSubnetGroupArn", g.db_subnet_group_arn.as_ref())
        .strs("SupportedNetworkTypes", g.supported_network_types.as_ref())
        .done()
}

pub fn subnet(s: &Subnet) -> Value {
    Obj::new()
        .s("SubnetIdentifier", s.subnet_identifier.as_ref())
        .o(
            "SubnetAvailabilityZone",
            s.subnet_availability_zone.as_ref(),
            availability_zone,
        )
        .s("SubnetStatus", s.subnet_status.as_ref())
        .done()
}

pub fn availability_zone(z: &AvailabilityZone) -> Value {
    Obj::new().s("Name", z.name.as_ref()).done()
}

pub fn event(e: &Event) -> Value {
    Obj::new()
        .s("SourceIdentifier", e.source_identifier.as_ref())
        .s("SourceType", e.source_type.as_ref())
        .s("Message", e.message.as_ref())
        .strs("EventCategories", e.event_categories.as_ref())
        .t("Date", e.date.as_ref())
        .s("SourceArn", e.source_arn.as_ref())
        .done()
}
