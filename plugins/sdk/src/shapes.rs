//! Typed views of the AWS answers steps read, in the AWS CLI JSON shape labrun returns
//! (`wit/labrun-host.wit`): only the fields the lab steps look at, every one optional
//! or defaulted, so an answer with more (or fewer) fields still reads. The lookups
//! that fetch them are in [`crate::lab`].

use serde::Deserialize;

/// `{ Key, Value }` on EC2 resources.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: String,
    pub value: Option<String>,
}

/// Resources with `Tags`: [`Tagged::tag`] and [`Tagged::name`].
pub trait Tagged {
    fn tags(&self) -> &[Tag];

    /// The value of tag `key`.
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags()
            .iter()
            .find(|t| t.key == key)
            .and_then(|t| t.value.as_deref())
    }

    /// The `Name` tag, as the console shows it.
    fn name(&self) -> Option<&str> {
        self.tag("Name")
    }
}

macro_rules! tagged {
    ($($t:ty),*) => {$(
        impl Tagged for $t {
            fn tags(&self) -> &[Tag] {
                &self.tags
            }
        }
    )*};
}

// ------------------------------------------------------------------ EC2

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Vpc {
    pub vpc_id: String,
    pub cidr_block: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: Option<String>,
    pub cidr_block: Option<String>,
    pub availability_zone: Option<String>,
    pub map_public_ip_on_launch: Option<bool>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceState {
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GroupIdentifier {
    pub group_id: Option<String>,
    pub group_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkInterface {
    pub groups: Vec<GroupIdentifier>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Instance {
    pub instance_id: String,
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    pub key_name: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub public_ip_address: Option<String>,
    pub private_ip_address: Option<String>,
    pub state: InstanceState,
    pub security_groups: Vec<GroupIdentifier>,
    pub network_interfaces: Vec<NetworkInterface>,
    pub tags: Vec<Tag>,
}

impl Instance {
    /// Names of the instance's security groups: its own list, then its network
    /// interfaces' (some APIs fill only the latter), each once.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let all = self
            .security_groups
            .iter()
            .chain(self.network_interfaces.iter().flat_map(|n| &n.groups));
        for g in all {
            if let Some(n) = &g.group_name {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        names
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Reservation {
    pub instances: Vec<Instance>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Image {
    pub image_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub source_instance_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpRange {
    pub cidr_ip: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipv6Range {
    pub cidr_ipv6: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserIdGroupPair {
    pub group_id: Option<String>,
}

/// One security-group rule (`IpPermissions[i]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Permission {
    pub ip_protocol: String,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
    pub ip_ranges: Vec<IpRange>,
    pub ipv6_ranges: Vec<Ipv6Range>,
    pub user_id_group_pairs: Vec<UserIdGroupPair>,
}

impl Permission {
    /// Whether the rule covers TCP `port` (all traffic does).
    pub fn covers_port(&self, port: i64) -> bool {
        match self.ip_protocol.as_str() {
            "-1" => true,
            "tcp" | "6" => {
                self.from_port.is_some_and(|f| f <= port) && self.to_port.is_some_and(|t| t >= port)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: String,
    pub vpc_id: Option<String>,
    pub ip_permissions: Vec<Permission>,
    pub tags: Vec<Tag>,
}

impl SecurityGroup {
    /// The CIDR sources (IPv4, then IPv6, rule by rule) allowed on TCP `port`.
    pub fn cidrs_allowed(&self, port: i64) -> Vec<String> {
        let mut out = Vec::new();
        for p in self.ip_permissions.iter().filter(|p| p.covers_port(port)) {
            out.extend(p.ip_ranges.iter().map(|r| r.cidr_ip.clone()));
            out.extend(p.ipv6_ranges.iter().map(|r| r.cidr_ipv6.clone()));
        }
        out
    }

    /// The source security-group ids allowed on TCP `port`.
    pub fn groups_allowed(&self, port: i64) -> Vec<String> {
        self.ip_permissions
            .iter()
            .filter(|p| p.covers_port(port))
            .flat_map(|p| &p.user_id_group_pairs)
            .filter_map(|g| g.group_id.clone())
            .collect()
    }

    /// Whether `port` is open to the whole internet (0.0.0.0/0 or ::/0).
    pub fn open_to_anywhere(&self, port: i64) -> bool {
        self.cidrs_allowed(port)
            .iter()
            .any(|c| c == "0.0.0.0/0" || c == "::/0")
    }
}

tagged!(Vpc, Subnet, Instance, SecurityGroup);

// ------------------------------------------------------------------ RDS

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DbClusterMember {
    #[serde(rename = "DBInstanceIdentifier")]
    pub db_instance_identifier: String,
    #[serde(rename = "IsClusterWriter")]
    pub is_cluster_writer: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DbCluster {
    #[serde(rename = "DBClusterIdentifier")]
    pub db_cluster_identifier: String,
    #[serde(rename = "DBClusterMembers")]
    pub members: Vec<DbClusterMember>,
    #[serde(rename = "Endpoint")]
    pub endpoint: Option<String>,
    #[serde(rename = "ReaderEndpoint")]
    pub reader_endpoint: Option<String>,
    #[serde(rename = "Status")]
    pub status: Option<String>,
    #[serde(rename = "Port")]
    pub port: Option<i64>,
    #[serde(rename = "MasterUsername")]
    pub master_username: Option<String>,
    #[serde(rename = "DBSubnetGroup")]
    pub db_subnet_group: Option<String>,
}

impl DbCluster {
    /// The member that is the writer now (`IsClusterWriter`).
    pub fn writer(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.is_cluster_writer)
            .map(|m| m.db_instance_identifier.as_str())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DbEndpoint {
    pub address: String,
    pub port: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DbInstance {
    #[serde(rename = "DBInstanceIdentifier")]
    pub db_instance_identifier: String,
    #[serde(rename = "DBInstanceClass")]
    pub db_instance_class: Option<String>,
    #[serde(rename = "DBInstanceStatus")]
    pub db_instance_status: Option<String>,
    #[serde(rename = "AvailabilityZone")]
    pub availability_zone: Option<String>,
    #[serde(rename = "PubliclyAccessible")]
    pub publicly_accessible: Option<bool>,
    #[serde(rename = "Endpoint")]
    pub endpoint: Option<DbEndpoint>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AvailabilityZoneName {
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DbSubnet {
    pub subnet_identifier: String,
    pub subnet_availability_zone: AvailabilityZoneName,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DbSubnetGroup {
    #[serde(rename = "DBSubnetGroupName")]
    pub name: String,
    #[serde(rename = "Subnets")]
    pub subnets: Vec<DbSubnet>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Event {
    pub source_identifier: Option<String>,
    pub message: String,
    /// As labrun shows it (RFC 3339 text).
    pub date: Option<serde_json::Value>,
}

// ------------------------------------------------------------------ ELBv2

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LoadBalancerState {
    pub code: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LbZone {
    pub zone_name: String,
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LoadBalancer {
    #[serde(rename = "LoadBalancerName")]
    pub name: String,
    #[serde(rename = "LoadBalancerArn")]
    pub arn: String,
    #[serde(rename = "DNSName")]
    pub dns_name: String,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    #[serde(rename = "Scheme")]
    pub scheme: Option<String>,
    #[serde(rename = "VpcId")]
    pub vpc_id: Option<String>,
    #[serde(rename = "State")]
    pub state: LoadBalancerState,
    #[serde(rename = "AvailabilityZones")]
    pub zones: Vec<LbZone>,
    #[serde(rename = "SecurityGroups")]
    pub security_groups: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TargetGroup {
    #[serde(rename = "TargetGroupName")]
    pub name: String,
    #[serde(rename = "TargetGroupArn")]
    pub arn: String,
    #[serde(rename = "Protocol")]
    pub protocol: Option<String>,
    #[serde(rename = "Port")]
    pub port: Option<i64>,
    #[serde(rename = "TargetType")]
    pub target_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Target {
    pub id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TargetHealth {
    pub state: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TargetHealthDescription {
    pub target: Target,
    pub target_health: TargetHealth,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TargetGroupRef {
    pub target_group_arn: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ForwardConfig {
    pub target_groups: Vec<TargetGroupRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Action {
    #[serde(rename = "Type")]
    pub kind: String,
    pub target_group_arn: Option<String>,
    pub forward_config: Option<ForwardConfig>,
}

impl Action {
    /// The target groups a `forward` action sends to (none for other actions).
    pub fn forwards_to(&self) -> Vec<String> {
        if self.kind != "forward" {
            return Vec::new();
        }
        let mut out: Vec<String> = self.target_group_arn.iter().cloned().collect();
        for t in self.forward_config.iter().flat_map(|f| &f.target_groups) {
            if !out.contains(&t.target_group_arn) {
                out.push(t.target_group_arn.clone());
            }
        }
        out
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Listener {
    pub port: Option<i64>,
    pub protocol: Option<String>,
    pub default_actions: Vec<Action>,
}
