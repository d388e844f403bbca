//! Per-trainee views of account-wide answers: a step asks AWS's own question about
//! its trainee (`Filters` such as `tag:Name`, `vpc-id`, `group-name`,
//! `instance-state-name`; an identifier such as `DBClusterIdentifier` or `Names`),
//! and labrun answers it from the account-wide answer of the same operation, made
//! once per run (per watch cycle) and per account, through an index. A class of N
//! costs N small answers, not N copies of the whole account that each step scans.
//!
//! The answer is the one AWS gives to the narrowed request: EC2 filters joined with
//! AND, a filter's values with OR, case-sensitive, `*` (any run of characters) and
//! `?` (exactly one) as wildcards and `\` escaping them; the instances of
//! DescribeInstances grouped in their reservations; RDS filters and identifiers
//! matched as RDS does (identifier or ARN, any case); an identifier that names no
//! resource is AWS's own `…NotFound` error. The cassette records the account-wide
//! call that was really made, so a recording replays with any narrowing of it.
//!
//! A request with anything this module does not know (another field, another filter
//! name, an empty value list, DescribeImages without `Owners`) is no view: it goes
//! to AWS as it is, which is always right, only not shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::CAPABILITY;
use crate::caps::capability::{Indexed, Views};
use crate::caps::error::{CapError, ErrorKind};

/// The `aws` capability's views.
pub const VIEWS: Views = Views { base, index };

/// What one item's field holds, for a filter or an identifier.
#[derive(Clone, Copy, Debug)]
enum Field {
    /// A path of keys; lists on the way are looked through.
    Path(&'static [&'static str]),
    /// Any of these paths (an RDS identifier or its ARN).
    Either(&'static [&'static str], &'static [&'static str]),
    /// The value of the tag whose key follows `tag:` in the filter name.
    Tag,
    /// Every tag key.
    TagKey,
    /// Every tag value.
    TagValue,
}

/// How a filter value is compared with an item's value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Matching {
    /// EC2: case-sensitive, with `*` and `?` wildcards.
    Ec2,
    /// RDS: exact, any case.
    NoCase,
    /// ELBv2 names: exact.
    Exact,
}

/// An identifier parameter answered from the index, and AWS's error when it names
/// nothing.
#[derive(Clone, Copy, Debug)]
struct Ids {
    field: &'static str,
    /// A list (`Names`) or one string (`DBClusterIdentifier`).
    list: bool,
    matches: Field,
    code: &'static str,
    /// AWS's message, `{}` standing for the identifier.
    message: &'static str,
}

#[derive(Debug)]
struct Spec {
    operation: &'static str,
    /// The answer's list, e.g. `Vpcs`; `nested` for DescribeInstances' instances.
    list: &'static str,
    nested: Option<&'static str>,
    /// Request fields kept in the account-wide request (they decide what the
    /// account-wide list holds).
    keep: &'static [&'static str],
    /// The account-wide request must hold one of these to be the account's own (an
    /// unbounded DescribeImages lists every public AMI).
    bounded_by: &'static [&'static str],
    filters: &'static [(&'static str, Field)],
    /// `tag:KEY`, `tag-key` and `tag-value` filters.
    tags: bool,
    ids: Option<Ids>,
    matching: Matching,
}

use Field::Path as P;

static SPECS: &[Spec] = &[
    Spec {
        operation: "ec2_describe_instances",
        list: "Reservations",
        nested: Some("Instances"),
        keep: &[],
        bounded_by: &[],
        filters: &[
            ("instance-id", P(&["InstanceId"])),
            ("instance-state-name", P(&["State", "Name"])),
            ("instance-state-code", P(&["State", "Code"])),
            ("instance-type", P(&["InstanceType"])),
            ("image-id", P(&["ImageId"])),
            ("vpc-id", P(&["VpcId"])),
            ("subnet-id", P(&["SubnetId"])),
            ("availability-zone", P(&["Placement", "AvailabilityZone"])),
            ("key-name", P(&["KeyName"])),
            ("private-ip-address", P(&["PrivateIpAddress"])),
            ("ip-address", P(&["PublicIpAddress"])),
            ("dns-name", P(&["PublicDnsName"])),
            ("private-dns-name", P(&["PrivateDnsName"])),
            ("instance.group-id", P(&["SecurityGroups", "GroupId"])),
            ("instance.group-name", P(&["SecurityGroups", "GroupName"])),
            (
                "network-interface.group-id",
                P(&["NetworkInterfaces", "Groups", "GroupId"]),
            ),
            (
                "network-interface.group-name",
                P(&["NetworkInterfaces", "Groups", "GroupName"]),
            ),
            (
                "network-interface.subnet-id",
                P(&["NetworkInterfaces", "SubnetId"]),
            ),
            (
                "network-interface.vpc-id",
                P(&["NetworkInterfaces", "VpcId"]),
            ),
        ],
        tags: true,
        ids: None,
        matching: Matching::Ec2,
    },
    Spec {
        operation: "ec2_describe_images",
        list: "Images",
        nested: None,
        keep: &[
            "Owners",
            "ExecutableUsers",
            "IncludeDeprecated",
            "IncludeDisabled",
        ],
        bounded_by: &["Owners", "ExecutableUsers"],
        filters: &[
            ("image-id", P(&["ImageId"])),
            ("name", P(&["Name"])),
            ("state", P(&["State"])),
            ("owner-id", P(&["OwnerId"])),
            ("architecture", P(&["Architecture"])),
            ("image-type", P(&["ImageType"])),
            ("is-public", P(&["Public"])),
            ("description", P(&["Description"])),
        ],
        tags: true,
        ids: None,
        matching: Matching::Ec2,
    },
    Spec {
        operation: "ec2_describe_security_groups",
        list: "SecurityGroups",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[
            ("group-id", P(&["GroupId"])),
            ("group-name", P(&["GroupName"])),
            ("vpc-id", P(&["VpcId"])),
            ("description", P(&["Description"])),
            ("owner-id", P(&["OwnerId"])),
        ],
        tags: true,
        ids: None,
        matching: Matching::Ec2,
    },
    Spec {
        operation: "ec2_describe_subnets",
        list: "Subnets",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[
            ("subnet-id", P(&["SubnetId"])),
            ("vpc-id", P(&["VpcId"])),
            ("availability-zone", P(&["AvailabilityZone"])),
            ("availability-zone-id", P(&["AvailabilityZoneId"])),
            ("cidr-block", P(&["CidrBlock"])),
            ("cidr", P(&["CidrBlock"])),
            ("cidrBlock", P(&["CidrBlock"])),
            ("state", P(&["State"])),
            ("default-for-az", P(&["DefaultForAz"])),
            ("map-public-ip-on-launch", P(&["MapPublicIpOnLaunch"])),
            ("owner-id", P(&["OwnerId"])),
        ],
        tags: true,
        ids: None,
        matching: Matching::Ec2,
    },
    Spec {
        operation: "ec2_describe_vpcs",
        list: "Vpcs",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[
            ("vpc-id", P(&["VpcId"])),
            ("cidr", P(&["CidrBlock"])),
            (
                "cidr-block-association.cidr-block",
                P(&["CidrBlockAssociationSet", "CidrBlock"]),
            ),
            ("state", P(&["State"])),
            ("is-default", P(&["IsDefault"])),
            ("owner-id", P(&["OwnerId"])),
            ("dhcp-options-id", P(&["DhcpOptionsId"])),
        ],
        tags: true,
        ids: None,
        matching: Matching::Ec2,
    },
    Spec {
        operation: "ec2_describe_route_tables",
        list: "RouteTables",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[
            ("route-table-id", P(&["RouteTableId"])),
            ("vpc-id", P(&["VpcId"])),
            ("association.subnet-id", P(&["Associations", "SubnetId"])),
            ("association.main", P(&["Associations", "Main"])),
            (
                "association.route-table-association-id",
                P(&["Associations", "RouteTableAssociationId"]),
            ),
            ("association.gateway-id", P(&["Associations", "GatewayId"])),
            ("route.gateway-id", P(&["Routes", "GatewayId"])),
            (
                "route.destination-cidr-block",
                P(&["Routes", "DestinationCidrBlock"]),
            ),
            ("route.state", P(&["Routes", "State"])),
            ("owner-id", P(&["OwnerId"])),
        ],
        tags: true,
        ids: None,
        matching: Matching::Ec2,
    },
    Spec {
        operation: "ec2_describe_internet_gateways",
        list: "InternetGateways",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[
            ("internet-gateway-id", P(&["InternetGatewayId"])),
            ("attachment.vpc-id", P(&["Attachments", "VpcId"])),
            ("attachment.state", P(&["Attachments", "State"])),
            ("owner-id", P(&["OwnerId"])),
        ],
        tags: true,
        ids: None,
        matching: Matching::Ec2,
    },
    Spec {
        operation: "ec2_describe_key_pairs",
        list: "KeyPairs",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[
            ("key-name", P(&["KeyName"])),
            ("key-pair-id", P(&["KeyPairId"])),
            ("fingerprint", P(&["KeyFingerprint"])),
            ("key-type", P(&["KeyType"])),
        ],
        tags: true,
        ids: None,
        matching: Matching::Ec2,
    },
    Spec {
        operation: "rds_describe_db_clusters",
        list: "DBClusters",
        nested: None,
        keep: &["IncludeShared"],
        bounded_by: &[],
        filters: &[
            (
                "db-cluster-id",
                Field::Either(&["DBClusterIdentifier"], &["DBClusterArn"]),
            ),
            ("engine", P(&["Engine"])),
            ("db-cluster-resource-id", P(&["DbClusterResourceId"])),
        ],
        tags: false,
        ids: Some(Ids {
            field: "DBClusterIdentifier",
            list: false,
            matches: Field::Either(&["DBClusterIdentifier"], &["DBClusterArn"]),
            code: "DBClusterNotFoundFault",
            message: "DBCluster {} not found.",
        }),
        matching: Matching::NoCase,
    },
    Spec {
        operation: "rds_describe_db_instances",
        list: "DBInstances",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[
            ("db-cluster-id", P(&["DBClusterIdentifier"])),
            (
                "db-instance-id",
                Field::Either(&["DBInstanceIdentifier"], &["DBInstanceArn"]),
            ),
            ("engine", P(&["Engine"])),
            ("dbi-resource-id", P(&["DbiResourceId"])),
        ],
        tags: false,
        ids: Some(Ids {
            field: "DBInstanceIdentifier",
            list: false,
            matches: Field::Either(&["DBInstanceIdentifier"], &["DBInstanceArn"]),
            code: "DBInstanceNotFound",
            message: "DBInstance {} not found.",
        }),
        matching: Matching::NoCase,
    },
    Spec {
        operation: "rds_describe_db_subnet_groups",
        list: "DBSubnetGroups",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[],
        tags: false,
        ids: Some(Ids {
            field: "DBSubnetGroupName",
            list: false,
            matches: Field::Path(&["DBSubnetGroupName"]),
            code: "DBSubnetGroupNotFoundFault",
            message: "DBSubnetGroup {} not found.",
        }),
        matching: Matching::NoCase,
    },
    Spec {
        operation: "rds_describe_events",
        list: "Events",
        nested: None,
        keep: &[
            "SourceType",
            "StartTime",
            "EndTime",
            "Duration",
            "EventCategories",
        ],
        bounded_by: &[],
        filters: &[],
        tags: false,
        // RDS events of one source: those whose SourceIdentifier it is (none: an
        // empty list).
        ids: None,
        matching: Matching::NoCase,
    },
    Spec {
        operation: "elbv2_describe_load_balancers",
        list: "LoadBalancers",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[],
        tags: false,
        ids: Some(Ids {
            field: "Names",
            list: true,
            matches: Field::Path(&["LoadBalancerName"]),
            code: "LoadBalancerNotFound",
            message: "One or more load balancers not found",
        }),
        matching: Matching::Exact,
    },
    Spec {
        operation: "elbv2_describe_target_groups",
        list: "TargetGroups",
        nested: None,
        keep: &[],
        bounded_by: &[],
        filters: &[],
        tags: false,
        ids: Some(Ids {
            field: "Names",
            list: true,
            matches: Field::Path(&["TargetGroupName"]),
            code: "TargetGroupNotFound",
            message: "One or more target groups not found",
        }),
        matching: Matching::Exact,
    },
];

fn spec(operation: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.operation == operation)
}

/// One condition of a narrowed request: the field it reads, the key its lookup
/// table is kept under, and the values it accepts (any of them).
#[derive(Debug)]
struct Condition {
    field: Field,
    /// `tag:Name`'s `Name`; empty otherwise.
    tag: String,
    key: String,
    values: Vec<String>,
    matching: Matching,
}

/// A narrowed request read: its conditions (ANDed) and the identifier whose absence
/// is an error.
#[derive(Debug)]
struct Narrowed {
    conditions: Vec<Condition>,
    /// The identifiers the request names (each must exist), with the error spec.
    ids: Option<(Ids, Vec<String>)>,
}

/// The account-wide request `request` narrows, or `None` when it is no view.
fn base(operation: &str, request: &Value) -> Option<Value> {
    let spec = spec(operation)?;
    read(spec, request)?;
    let map = request.as_object()?;
    let kept: Map<String, Value> = map
        .iter()
        .filter(|(k, v)| spec.keep.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !spec.bounded_by.is_empty() && !spec.bounded_by.iter().any(|f| kept.contains_key(*f)) {
        return None;
    }
    Some(Value::Object(kept))
}

/// Reads the narrowing part of `request`; `None` when something is not understood or
/// nothing narrows.
fn read(spec: &'static Spec, request: &Value) -> Option<Narrowed> {
    let map = request.as_object()?;
    let mut conditions = Vec::new();
    let mut ids = None;
    for (field, value) in map {
        if value.is_null() || spec.keep.contains(&field.as_str()) {
            continue;
        }
        match field.as_str() {
            "Filters" if !spec.filters.is_empty() || spec.tags => {
                for filter in value.as_array()? {
                    let filter = filter.as_object()?;
                    if filter.keys().any(|k| k != "Name" && k != "Values") {
                        return None;
                    }
                    let name = filter.get("Name")?.as_str()?;
                    let values = strings(filter.get("Values")?)?;
                    let (field, tag) = filter_field(spec, name)?;
                    conditions.push(Condition {
                        field,
                        tag,
                        key: name.to_string(),
                        values,
                        matching: spec.matching,
                    });
                }
            }
            "SourceIdentifier" if spec.operation == "rds_describe_events" => {
                // AWS asks for SourceType with a SourceIdentifier.
                map.get("SourceType")?.as_str()?;
                conditions.push(Condition {
                    field: Field::Path(&["SourceIdentifier"]),
                    tag: String::new(),
                    key: "SourceIdentifier".to_string(),
                    values: vec![value.as_str()?.to_string()],
                    matching: Matching::NoCase,
                });
            }
            name => {
                let id = spec.ids.filter(|id| id.field == name)?;
                let values = if id.list {
                    strings(value)?
                } else {
                    vec![value.as_str()?.to_string()]
                };
                conditions.push(Condition {
                    field: id.matches,
                    tag: String::new(),
                    key: format!("={}", id.field),
                    values: values.clone(),
                    matching: spec.matching,
                });
                ids = Some((id, values));
            }
        }
    }
    (!conditions.is_empty()).then_some(Narrowed { conditions, ids })
}

/// A non-empty list of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    let list = value.as_array()?;
    if list.is_empty() {
        return None;
    }
    list.iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn filter_field(spec: &Spec, name: &str) -> Option<(Field, String)> {
    if spec.tags {
        if let Some(key) = name.strip_prefix("tag:") {
            return (!key.is_empty()).then(|| (Field::Tag, key.to_string()));
        }
        match name {
            "tag-key" => return Some((Field::TagKey, String::new())),
            "tag-value" => return Some((Field::TagValue, String::new())),
            _ => {}
        }
    }
    spec.filters
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| (*f, String::new()))
}

/// Indexes an account-wide answer of `operation`.
fn index(operation: &str, answer: Value) -> Arc<dyn Indexed> {
    let spec = spec(operation).expect("views are only planned for operations with a spec");
    let mut positions = Vec::new();
    if let Some(list) = answer[spec.list].as_array() {
        for (g, group) in list.iter().enumerate() {
            match spec.nested {
                Some(nested) => {
                    let n = group[nested].as_array().map_or(0, Vec::len);
                    positions.extend((0..n).map(|i| (g, i)));
                }
                None => positions.push((g, 0)),
            }
        }
    }
    Arc::new(Index {
        spec,
        answer,
        positions,
        lookups: Mutex::new(HashMap::new()),
    })
}

/// A field's values → the numbers of the items holding them, in the answer's order.
type Lookup = HashMap<String, Vec<usize>>;

/// An account-wide answer with a lookup table per condition key, built on first use:
/// value → positions (in the answer's order).
struct Index {
    spec: &'static Spec,
    answer: Value,
    /// Every item: (its place in the list, its place in the nested list).
    positions: Vec<(usize, usize)>,
    lookups: Mutex<HashMap<String, Arc<Lookup>>>,
}

impl Index {
    fn item(&self, (g, i): (usize, usize)) -> &Value {
        let group = &self.answer[self.spec.list][g];
        match self.spec.nested {
            Some(nested) => &group[nested][i],
            None => group,
        }
    }

    /// Value → item numbers for a condition's field (values normalised as compared).
    fn lookup(&self, condition: &Condition) -> Arc<Lookup> {
        let mut lookups = self.lookups.lock().unwrap_or_else(|e| e.into_inner());
        lookups
            .entry(condition.key.clone())
            .or_insert_with(|| {
                let mut table = Lookup::new();
                for (n, &at) in self.positions.iter().enumerate() {
                    for v in values(self.item(at), condition) {
                        let list = table.entry(normal(&v, condition.matching)).or_default();
                        if list.last() != Some(&n) {
                            list.push(n);
                        }
                    }
                }
                Arc::new(table)
            })
            .clone()
    }

    /// Item numbers that may satisfy `condition`, from its lookup table (sorted), or
    /// `None` when a wildcard needs every item looked at.
    fn candidates(&self, condition: &Condition) -> Option<Vec<usize>> {
        if condition.matching == Matching::Ec2 && condition.values.iter().any(|v| wild(v)) {
            return None;
        }
        let table = self.lookup(condition);
        let mut found: Vec<usize> = condition
            .values
            .iter()
            .flat_map(|v| {
                let key = match condition.matching {
                    Matching::Ec2 => unescape(v),
                    m => normal(v, m),
                };
                table.get(&key).cloned().unwrap_or_default()
            })
            .collect();
        found.sort_unstable();
        found.dedup();
        Some(found)
    }
}

impl Indexed for Index {
    fn select(&self, request: &Value) -> Result<Value, CapError> {
        let spec = self.spec;
        let narrowed = read(spec, request).ok_or_else(|| {
            CapError::new(
                CAPABILITY,
                spec.operation,
                ErrorKind::InvalidRequest,
                crate::text::aws::NotAView,
            )
        })?;
        if let Some((id, names)) = &narrowed.ids {
            let condition = narrowed
                .conditions
                .iter()
                .find(|c| c.key == format!("={}", id.field))
                .expect("an identifier is a condition");
            let table = self.lookup(condition);
            if let Some(missing) = names
                .iter()
                .find(|n| !table.contains_key(&normal(n, condition.matching)))
            {
                let aws = id.message.replace("{}", missing);
                return Err(CapError::new(
                    CAPABILITY,
                    spec.operation,
                    ErrorKind::NotFound,
                    crate::text::aws::NotFound {
                        code: id.code,
                        detail: crate::text::quoted(aws),
                    },
                )
                .with_code(id.code));
            }
        }
        // Start from the narrowest exact lookup, then check every condition.
        let mut chosen: Option<Vec<usize>> = None;
        for c in &narrowed.conditions {
            if let Some(found) = self.candidates(c) {
                if chosen.as_ref().is_none_or(|ch| found.len() < ch.len()) {
                    chosen = Some(found);
                }
            }
        }
        let numbers = chosen.unwrap_or_else(|| (0..self.positions.len()).collect());
        let selected: Vec<(usize, usize)> = numbers
            .into_iter()
            .map(|n| self.positions[n])
            .filter(|&at| {
                let item = self.item(at);
                narrowed.conditions.iter().all(|c| satisfies(item, c))
            })
            .collect();
        Ok(self.answer_of(&selected))
    }
}

impl Index {
    /// The answer AWS gives for exactly these items, in the account-wide order.
    fn answer_of(&self, selected: &[(usize, usize)]) -> Value {
        let spec = self.spec;
        let list = match spec.nested {
            None => selected.iter().map(|&at| self.item(at).clone()).collect(),
            Some(nested) => {
                let mut groups: Vec<Value> = Vec::new();
                let mut current: Option<usize> = None;
                for &(g, i) in selected {
                    if current != Some(g) {
                        let mut group = self.answer[spec.list][g].clone();
                        group[nested] = Value::Array(Vec::new());
                        groups.push(group);
                        current = Some(g);
                    }
                    let item = self.answer[spec.list][g][nested][i].clone();
                    if let Some(Value::Array(items)) =
                        groups.last_mut().map(|group| &mut group[nested])
                    {
                        items.push(item);
                    }
                }
                groups
            }
        };
        let mut out = Map::new();
        out.insert(spec.list.to_string(), Value::Array(list));
        Value::Object(out)
    }
}

/// The values an item holds for a condition's field, as text.
fn values(item: &Value, condition: &Condition) -> Vec<String> {
    let mut out = Vec::new();
    match condition.field {
        Field::Path(path) => collect(item, path, &mut out),
        Field::Either(a, b) => {
            collect(item, a, &mut out);
            collect(item, b, &mut out);
        }
        Field::Tag | Field::TagKey | Field::TagValue => {
            for tag in item["Tags"].as_array().into_iter().flatten() {
                match condition.field {
                    Field::Tag if tag["Key"].as_str() == Some(&condition.tag) => {
                        collect(&tag["Value"], &[], &mut out)
                    }
                    Field::TagKey => collect(&tag["Key"], &[], &mut out),
                    Field::TagValue => collect(&tag["Value"], &[], &mut out),
                    _ => {}
                }
            }
        }
    }
    out
}

fn collect(value: &Value, path: &[&str], out: &mut Vec<String>) {
    match (value, path.split_first()) {
        (Value::Array(items), _) => items.iter().for_each(|v| collect(v, path, out)),
        (Value::Object(map), Some((key, rest))) => {
            if let Some(v) = map.get(*key) {
                collect(v, rest, out);
            }
        }
        (Value::String(s), None) => out.push(s.clone()),
        (Value::Bool(b), None) => out.push(b.to_string()),
        (Value::Number(n), None) => out.push(n.to_string()),
        _ => {}
    }
}

fn satisfies(item: &Value, condition: &Condition) -> bool {
    let held = values(item, condition);
    condition.values.iter().any(|wanted| {
        held.iter().any(|v| match condition.matching {
            Matching::Ec2 => wildcard_match(wanted, v),
            Matching::NoCase => v.eq_ignore_ascii_case(wanted),
            Matching::Exact => v == wanted,
        })
    })
}

fn normal(value: &str, matching: Matching) -> String {
    match matching {
        Matching::NoCase => value.to_ascii_lowercase(),
        _ => value.to_string(),
    }
}

/// Whether an EC2 filter value has an unescaped wildcard.
fn wild(pattern: &str) -> bool {
    let mut escaped = false;
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '*' | '?' => return true,
            _ => {}
        }
    }
    false
}

/// An EC2 filter value without wildcards, its escapes removed.
fn unescape(pattern: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in pattern.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// EC2's filter match: `*` any run of characters, `?` exactly one, `\` escapes.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let mut toks = Vec::new();
    let mut escaped = false;
    for c in pattern.chars() {
        toks.push(match c {
            _ if escaped => {
                escaped = false;
                Tok::Lit(c)
            }
            '\\' => {
                escaped = true;
                continue;
            }
            '*' => Tok::Any,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy match with backtracking to the last `*` (linear in practice).
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::One) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| *t == Tok::Any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tagged(name: &str) -> Value {
        json!([{ "Key": "Name", "Value": name }, { "Key": "course", "Value": "wp" }])
    }

    fn instances() -> Value {
        json!({ "Reservations": [
            { "ReservationId": "r-1", "Instances": [
                { "InstanceId": "i-1", "VpcId": "vpc-a", "State": { "Code": 16, "Name": "running" },
                  "Tags": tagged("webserver#1-user01"),
                  "SecurityGroups": [{ "GroupId": "sg-1", "GroupName": "web-user01" }] },
                { "InstanceId": "i-2", "VpcId": "vpc-a", "State": { "Code": 48, "Name": "terminated" },
                  "Tags": tagged("webserver#1-user01") } ] },
            { "ReservationId": "r-2", "Instances": [
                { "InstanceId": "i-3", "VpcId": "vpc-b", "State": { "Code": 16, "Name": "running" },
                  "Tags": tagged("webserver#1-user02") } ] },
            { "ReservationId": "r-3", "Instances": [
                { "InstanceId": "i-4", "VpcId": "vpc-a", "State": { "Code": 16, "Name": "running" },
                  "Tags": tagged("webserver#2-user01") } ] } ] })
    }

    fn view(operation: &str, answer: Value, request: Value) -> Result<Value, CapError> {
        assert!(base(operation, &request).is_some(), "{request} is a view");
        index(operation, answer).select(&request)
    }

    fn ids(answer: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for r in answer["Reservations"].as_array().into_iter().flatten() {
            for i in r["Instances"].as_array().into_iter().flatten() {
                out.push(i["InstanceId"].as_str().unwrap().to_string());
            }
        }
        out
    }

    fn filters(list: &[(&str, &[&str])]) -> Value {
        json!({ "Filters": list.iter().map(|(n, v)| json!({ "Name": n, "Values": v })).collect::<Vec<_>>() })
    }

    #[test]
    fn instances_by_name_tag_come_back_in_their_reservations() {
        let out = view(
            "ec2_describe_instances",
            instances(),
            filters(&[("tag:Name", &["webserver#1-user01"])]),
        )
        .unwrap();
        assert_eq!(ids(&out), ["i-1", "i-2"]);
        assert_eq!(out["Reservations"].as_array().unwrap().len(), 1);
        assert_eq!(out["Reservations"][0]["ReservationId"], "r-1");
    }

    #[test]
    fn filters_are_anded_and_values_ored() {
        let out = view(
            "ec2_describe_instances",
            instances(),
            filters(&[
                ("tag:Name", &["webserver#1-user01", "webserver#2-user01"]),
                ("instance-state-name", &["running"]),
            ]),
        )
        .unwrap();
        assert_eq!(
            ids(&out),
            ["i-1", "i-4"],
            "ORed names, ANDed with the state"
        );
        let out = view(
            "ec2_describe_instances",
            instances(),
            filters(&[
                ("vpc-id", &["vpc-a"]),
                ("instance.group-name", &["web-user01"]),
            ]),
        )
        .unwrap();
        assert_eq!(ids(&out), ["i-1"]);
        let out = view(
            "ec2_describe_instances",
            instances(),
            filters(&[("instance-state-code", &["48"])]),
        )
        .unwrap();
        assert_eq!(ids(&out), ["i-2"], "numbers compare as text");
        let none = view(
            "ec2_describe_instances",
            instances(),
            filters(&[("tag:Name", &["nobody"])]),
        )
        .unwrap();
        assert_eq!(none, json!({ "Reservations": [] }));
    }

    #[test]
    fn ec2_wildcards_and_case_follow_aws() {
        let run = |pattern: &str| {
            ids(&view(
                "ec2_describe_instances",
                instances(),
                filters(&[("tag:Name", &[pattern])]),
            )
            .unwrap())
        };
        assert_eq!(run("webserver#?-user01"), ["i-1", "i-2", "i-4"]);
        assert_eq!(run("*user02"), ["i-3"]);
        assert_eq!(
            run("WEBSERVER#1-USER01"),
            Vec::<String>::new(),
            "case-sensitive"
        );
        assert_eq!(
            run("webserver#1-user0"),
            Vec::<String>::new(),
            "whole value"
        );
        assert!(wildcard_match("a\\*b", "a*b"));
        assert!(!wildcard_match("a\\*b", "axb"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("?", ""));
        assert!(wildcard_match("a*b*c", "a-b-b-c"));
        assert!(!wildcard_match("a*b*c", "a-b-b-"));
        // Tag keys and values.
        let out = view(
            "ec2_describe_instances",
            instances(),
            filters(&[
                ("tag-key", &["course"]),
                ("tag-value", &["webserver#2-user01"]),
            ]),
        )
        .unwrap();
        assert_eq!(ids(&out), ["i-4"]);
    }

    #[test]
    fn what_is_not_understood_goes_to_aws_as_it_is() {
        let op = "ec2_describe_instances";
        assert_eq!(
            base(op, &json!({})),
            None,
            "no narrowing: the account-wide call itself"
        );
        assert_eq!(base(op, &filters(&[("tag:Name", &[])])), None, "no values");
        assert_eq!(base(op, &filters(&[("unknown-filter", &["x"])])), None);
        assert_eq!(base(op, &json!({ "InstanceIds": ["i-1"] })), None);
        assert_eq!(
            base(
                op,
                &json!({ "Filters": [{ "Name": "vpc-id", "Values": ["v"], "X": 1 }] })
            ),
            None
        );
        assert_eq!(base(op, &json!({ "Filters": "vpc-id" })), None);
        assert_eq!(base("s3_list_buckets", &json!({ "Prefix": "x" })), None);
        // Every public AMI is not the account's: DescribeImages needs Owners.
        let images = "ec2_describe_images";
        assert_eq!(
            base(images, &filters(&[("name", &["wordpress user01"])])),
            None
        );
        let owned = json!({ "Owners": ["self"], "Filters": [{ "Name": "name", "Values": ["wordpress user01"] }] });
        assert_eq!(base(images, &owned), Some(json!({ "Owners": ["self"] })));
        assert_eq!(base(op, &filters(&[("vpc-id", &["v"])])), Some(json!({})));
    }

    #[test]
    fn rds_identifiers_match_any_case_or_arn_and_a_missing_one_is_aws_s_error() {
        let clusters = json!({ "DBClusters": [
            { "DBClusterIdentifier": "wp-user01-cluster", "DBClusterArn": "arn:aws:rds:r:1:cluster:wp-user01-cluster" },
            { "DBClusterIdentifier": "wp-user02-cluster", "DBClusterArn": "arn:aws:rds:r:1:cluster:wp-user02-cluster" } ] });
        let op = "rds_describe_db_clusters";
        let one = view(
            op,
            clusters.clone(),
            json!({ "DBClusterIdentifier": "WP-user02-cluster" }),
        )
        .unwrap();
        assert_eq!(one["DBClusters"].as_array().unwrap().len(), 1);
        assert_eq!(
            one["DBClusters"][0]["DBClusterIdentifier"],
            "wp-user02-cluster"
        );
        let by_arn = view(
            op,
            clusters.clone(),
            filters(&[(
                "db-cluster-id",
                &["arn:aws:rds:r:1:cluster:wp-user01-cluster"],
            )]),
        )
        .unwrap();
        assert_eq!(
            by_arn["DBClusters"][0]["DBClusterIdentifier"],
            "wp-user01-cluster"
        );
        let empty = view(
            op,
            clusters.clone(),
            filters(&[("db-cluster-id", &["nope"])]),
        )
        .unwrap();
        assert_eq!(
            empty,
            json!({ "DBClusters": [] }),
            "a filter matching nothing is an empty list"
        );
        let e = view(
            op,
            clusters,
            json!({ "DBClusterIdentifier": "wp-user09-cluster" }),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.code.as_deref(), Some("DBClusterNotFoundFault"));
        assert_eq!(e.operation, op);
        assert!(
            e.message.contains("DBCluster wp-user09-cluster not found."),
            "{}",
            e.message
        );
    }

    #[test]
    fn elbv2_names_must_all_exist() {
        let lbs = json!({ "LoadBalancers": [
            { "LoadBalancerName": "elb-user01" }, { "LoadBalancerName": "elb-user02" } ] });
        let op = "elbv2_describe_load_balancers";
        let both = view(
            op,
            lbs.clone(),
            json!({ "Names": ["elb-user02", "elb-user01"] }),
        )
        .unwrap();
        assert_eq!(
            both,
            json!({ "LoadBalancers": [{ "LoadBalancerName": "elb-user01" }, { "LoadBalancerName": "elb-user02" }] }),
            "in the account-wide order"
        );
        let e = view(op, lbs, json!({ "Names": ["elb-user01", "elb-user03"] })).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("LoadBalancerNotFound"));
    }

    #[test]
    fn rds_events_of_one_source() {
        let events = json!({ "Events": [
            { "SourceIdentifier": "wp-user01-cluster", "Message": "a" },
            { "SourceIdentifier": "wp-user02-cluster", "Message": "b" },
            { "SourceIdentifier": "wp-user01-cluster", "Message": "c" } ] });
        let op = "rds_describe_events";
        let request = json!({ "SourceType": "db-cluster", "Duration": 20160, "SourceIdentifier": "wp-user01-cluster" });
        assert_eq!(
            base(op, &request),
            Some(json!({ "SourceType": "db-cluster", "Duration": 20160 }))
        );
        let out = view(op, events, request).unwrap();
        let messages: Vec<&str> = out["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Message"].as_str().unwrap())
            .collect();
        assert_eq!(messages, ["a", "c"]);
        assert_eq!(
            base(op, &json!({ "SourceIdentifier": "x" })),
            None,
            "AWS wants SourceType with a SourceIdentifier"
        );
    }

    #[test]
    fn security_groups_by_name_in_a_vpc_and_booleans_as_text() {
        let sgs = json!({ "SecurityGroups": [
            { "GroupId": "sg-1", "GroupName": "web-user01", "VpcId": "vpc-a" },
            { "GroupId": "sg-2", "GroupName": "web-user01", "VpcId": "vpc-default" },
            { "GroupId": "sg-3", "GroupName": "alb-user01", "VpcId": "vpc-a" } ] });
        let out = view(
            "ec2_describe_security_groups",
            sgs,
            filters(&[("group-name", &["web-user01"]), ("vpc-id", &["vpc-a"])]),
        )
        .unwrap();
        assert_eq!(out["SecurityGroups"].as_array().unwrap().len(), 1);
        assert_eq!(out["SecurityGroups"][0]["GroupId"], "sg-1");
        let vpcs = json!({ "Vpcs": [{ "VpcId": "vpc-d", "IsDefault": true }, { "VpcId": "vpc-a", "IsDefault": false }] });
        let out = view(
            "ec2_describe_vpcs",
            vpcs,
            filters(&[("is-default", &["false"])]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({ "Vpcs": [{ "VpcId": "vpc-a", "IsDefault": false }] })
        );
    }

    #[test]
    fn the_docs_list_every_view() {
        let docs = include_str!("../../../../docs/aws-operations.md");
        for spec in SPECS {
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| `{}`", spec.operation)))
                .unwrap_or_else(|| {
                    panic!(
                        "docs/aws-operations.md has no view row for {}",
                        spec.operation
                    )
                });
            let mut names: Vec<String> = spec.filters.iter().map(|(n, _)| n.to_string()).collect();
            if spec.tags {
                names.extend(["tag:KEY", "tag-key", "tag-value"].map(String::from));
            }
            names.extend(spec.ids.map(|i| i.field.to_string()));
            for name in names {
                assert!(
                    row.contains(&format!("`{name}`")),
                    "{}: `{name}` not in {row}",
                    spec.operation
                );
            }
        }
    }
}
