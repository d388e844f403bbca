//! Step-3 of the WordPress-on-AWS workshop as a labrun component: a check-for-check
//! port of `scripts/step3.rhai` (same ids, statuses and messages; the parity test
//! holds them together).
//!
//!     cargo build --target wasm32-wasip2 --release   # in plugins/
//!     labrun plugins/target/wasm32-wasip2/release/step3.wasm --param user=user05
//!
//! Every name and value the manual gives is a param with the manual's (2019 edition)
//! default, the same as the script's: `--param reader=wp-user05-standby`.

use std::collections::BTreeMap;

use labrun_step_sdk::{
    aws, dns, export_step, http, json, mysql, report, server, tcp, CapError, Info, Params,
    Problems, Status, Step, Value,
};

const F1_REQUESTS: usize = 6; // sent through the ALB: round robin gives each target several
const F1_TAIL_LINES: u64 = 2000; // access-log lines read back from each server

const DB_WAIT_STATES: [&str; 12] = [
    "creating",
    "modifying",
    "backing-up",
    "rebooting",
    "starting",
    "upgrading",
    "maintenance",
    "renaming",
    "configuring-enhanced-monitoring",
    "configuring-log-exports",
    "resetting-master-credentials",
    "configuring-iam-database-auth",
];

struct Step3;

impl Step for Step3 {
    fn describe() -> Info {
        Info::new(
            "step3",
            "Step 3: Multi-AZ Aurora, second web server, Application Load Balancer",
            "Step-3: Aurora の Multi-AZ 化、Web サーバの水平分散、ALB",
        )
        .param("user", "trainee id as in the manual, e.g. user05")
        .param_default("cluster", "Aurora cluster (Step 2)", "wp-{user}-cluster")
        .param_default(
            "writer",
            "the writer instance as the manual names it (shown in hints; the checks find the writer by IsClusterWriter)",
            "wp-{user}",
        )
        .param_default(
            "reader",
            "Aurora reader instance (2021 edition: wp-{user}-standby)",
            "wp-{user}-slave",
        )
        .param_default("reader_az", "availability zone of the reader", "ap-northeast-1c")
        .param_default(
            "reader_class",
            "instance class of the reader (empty: not checked)",
            "db.t2.small",
        )
        .param_default("database", "WordPress database on the cluster", "wordpress")
        .param_default("vpc", "VPC (Step 1)", "vpc-{user}")
        .param_default("web1", "first web server's Name tag (Step 1)", "webserver#1-{user}")
        .param_default("web2", "second web server's Name tag", "webserver#2-{user}")
        .param_default(
            "web2_az",
            "availability zone of the second web server",
            "ap-northeast-1c",
        )
        .param_default(
            "web2_cidr",
            "CIDR of the public subnet of the second web server",
            "10.0.1.0/24",
        )
        .param_default("web2_type", "instance type of the second web server", "t2.micro")
        .param_default("web_sg", "web servers' security group (Step 1)", "web-{user}")
        .param_default("alb_sg", "ALB security group", "alb-{user}")
        .param_default("key", "key pair (Step 1)", "1day-{user}")
        .param_default("ami", "AMI made from the first web server", "wordpress {user}")
        .param_default("alb", "Application Load Balancer", "elb-{user}")
        .param_default("tg", "ALB target group", "tg-elb-{user}")
        .param_default(
            "alb_azs",
            "availability zones of the ALB, comma-separated",
            "ap-northeast-1c,ap-northeast-1d",
        )
        .checks([
            "A1", "A2", "A3", "A4", "A5", "A6", "A7", "B1", "B2", "C1", "C2", "C3", "C4", "C5",
            "D1", "E1", "E2", "F1",
        ])
        // As the script declares them: checks that mean nothing until another passed.
        .needs("A2", ["A1"])
        .needs("A4", ["A1", "A3"])
        .needs("A5", ["A3"])
        .needs("A6", ["A1", "A3"])
        .needs("A7", ["A1"])
        .needs("D1", ["A5"])
        .title("A1", "the reader is a member of the cluster", "リーダーがクラスターのメンバー")
        .title("A2", "the reader's AZ, access and class", "リーダーの AZ・公開設定・クラス")
        .title("A3", "cluster and reader endpoints", "クラスター・読み込みエンドポイント")
        .title("A4", "endpoints resolve to the right instances", "エンドポイントの名前解決")
        .title("A5", "the wordpress database through the cluster endpoint", "クラスターエンドポイント経由の wordpress データベース")
        .title("A6", "the reader endpoint is read-only", "読み込みエンドポイントは読み取り専用")
        .title("A7", "a failover was done", "フェイルオーバー済み")
        .title("B1", "the AMI of webserver#1", "webserver#1 の AMI")
        .title("B2", "webserver#2 from the AMI", "AMI から作った webserver#2")
        .title("C1", "the Application Load Balancer", "Application Load Balancer")
        .title("C2", "the ALB security group allows HTTP", "ALB のセキュリティグループが HTTP を許可")
        .title("C3", "the target group holds both web servers, healthy", "ターゲットグループに両 Web サーバ (healthy)")
        .title("C4", "an HTTP:80 listener forwards to the target group", "HTTP:80 リスナーがターゲットグループへ転送")
        .title("C5", "WordPress answers through the ALB", "ALB 経由で WordPress が応答")
        .title("D1", "siteurl and home are the ALB's address", "siteurl と home が ALB のアドレス")
        .title("E1", "web servers take HTTP only from the ALB", "Web サーバの HTTP は ALB からのみ")
        .title("E2", "no direct HTTP to the web servers", "Web サーバへの直接 HTTP は不可")
        .title("F1", "both targets receive requests", "両ターゲットがリクエストを受信")
    }

    fn run(params: Params) -> Result<(), String> {
        let mut w = Names::new(&params)?;
        let mut st = BTreeMap::new();
        let checks: [(&str, Check); 11] = [
            ("A1", a1_reader_member),
            ("A2", a2_reader_placement),
            ("A3", a3_endpoints),
            ("A7", a7_failover),
            ("B1", b1_ami),
            ("B2", b2_web2),
            ("C1", c1_alb),
            ("C2", c2_alb_sg),
            ("C3", c3_target_group),
            ("C4", c4_listener),
            ("E1", e1_web_sg),
        ];
        for (id, check) in checks {
            let status = report::guard(id, || check(&w, &st));
            st.insert(id, status);
        }

        // What the console cannot show: DNS, MySQL and HTTP as the trainee's servers see them.
        // MySQL goes through webserver#1 over SSH when the operator gave --ssh-key, as the
        // manual does; without it, straight (an `ssh -L` tunnel and --connect-to).
        w.via = web_server_address(&w.web1).unwrap_or(Value::Null);
        w.ssh = ssh_usable(&w.via);
        let probes: [(&str, Check); 7] = [
            ("A4", a4_endpoint_dns),
            ("A5", a5_databases),
            ("A6", a6_reader_read_only),
            ("C5", c5_wordpress_via_alb),
            ("D1", d1_site_url),
            ("E2", e2_no_direct_http),
            ("F1", f1_both_targets_receive),
        ];
        for (id, check) in probes {
            let status = report::guard(id, || check(&w, &st));
            st.insert(id, status);
        }
        Ok(())
    }
}

export_step!(Step3);

type Check = fn(&Names, &St) -> Result<Status, CapError>;
type St = BTreeMap<&'static str, Status>;

/// The names and values the manual gives a trainee's resources: the params, every
/// one filled by labrun (given or defaulted).
struct Names {
    user: String,
    /// webserver#1's public address: where checks go `via` over SSH.
    via: Value,
    /// The operator gave SSH settings (see [`ssh_usable`]).
    ssh: bool,
    cluster: String,
    writer: String,
    reader: String,
    reader_az: String,
    reader_class: String,
    database: String,
    vpc: String,
    web1: String,
    web2: String,
    web2_az: String,
    web2_cidr: String,
    web2_type: String,
    web_sg: String,
    alb_sg: String,
    key: String,
    ami: String,
    alb: String,
    tg: String,
    alb_azs: Vec<String>,
}

impl Names {
    fn new(params: &Params) -> Result<Names, String> {
        let p = |name: &str| params.get(name).map(str::to_string);
        Ok(Names {
            user: p("user")?,
            via: Value::Null,
            ssh: false,
            cluster: p("cluster")?,
            writer: p("writer")?,
            reader: p("reader")?,
            reader_az: p("reader_az")?,
            reader_class: p("reader_class")?,
            database: p("database")?,
            vpc: p("vpc")?,
            web1: p("web1")?,
            web2: p("web2")?,
            web2_az: p("web2_az")?,
            web2_cidr: p("web2_cidr")?,
            web2_type: p("web2_type")?,
            web_sg: p("web_sg")?,
            alb_sg: p("alb_sg")?,
            key: p("key")?,
            ami: p("ami")?,
            alb: p("alb")?,
            tg: p("tg")?,
            alb_azs: p("alb_azs")?
                .split(',')
                .map(|az| az.trim().to_string())
                .collect(),
        })
    }
}

// ---------------------------------------------------------------- plumbing

/// Reports `skip` and returns true when a prerequisite did not pass.
fn blocked(id: &str, st: &St, deps: &[&str]) -> bool {
    for d in deps {
        if let Some(s) = st.get(d) {
            if *s != Status::Pass {
                report::skip(
                    id,
                    format!("skipped: {d} did not pass"),
                    format!("省略: {d} が合格していないため"),
                );
                return true;
            }
        }
    }
    false
}

/// A JSON value as Rhai's string interpolation shows it (missing → empty).
fn t(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn none(v: &Value) -> bool {
    v.is_null()
}

fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn join(list: &[String], sep: &str) -> String {
    list.join(sep)
}

fn first(list: &Value, key: &str, value: &str) -> Value {
    items(list)
        .iter()
        .find(|x| x[key] == value)
        .cloned()
        .unwrap_or(Value::Null)
}

fn tag<'a>(resource: &'a Value, key: &str) -> Option<&'a Value> {
    items(&resource["Tags"])
        .iter()
        .find(|t| t["Key"] == key)
        .map(|t| &t["Value"])
}

fn is_str(v: &Value, s: &str) -> bool {
    v.as_str() == Some(s)
}

fn contains(list: &[Value], v: &Value) -> bool {
    list.iter().any(|x| x == v)
}

// ---------------------------------------------------------------- lookups

fn find_cluster(w: &Names) -> Result<Value, CapError> {
    let all = aws::call("rds_describe_db_clusters", json!({}))?;
    Ok(first(&all["DBClusters"], "DBClusterIdentifier", &w.cluster))
}

fn find_db_instance(name: &str) -> Result<Value, CapError> {
    let all = aws::call("rds_describe_db_instances", json!({}))?;
    Ok(first(&all["DBInstances"], "DBInstanceIdentifier", name))
}

fn find_vpc(w: &Names) -> Result<Value, CapError> {
    let all = aws::call("ec2_describe_vpcs", json!({}))?;
    Ok(items(&all["Vpcs"])
        .iter()
        .find(|v| tag(v, "Name").is_some_and(|n| is_str(n, &w.vpc)))
        .cloned()
        .unwrap_or(Value::Null))
}

fn instances_named(name: &str) -> Result<Vec<Value>, CapError> {
    let all = aws::call("ec2_describe_instances", json!({}))?;
    let mut found = Vec::new();
    for r in items(&all["Reservations"]) {
        for i in items(&r["Instances"]) {
            if tag(i, "Name").is_some_and(|n| is_str(n, name))
                && !is_str(&i["State"]["Name"], "terminated")
            {
                found.push(i.clone());
            }
        }
    }
    Ok(found)
}

fn find_subnet(id: &Value) -> Result<Value, CapError> {
    let all = aws::call("ec2_describe_subnets", json!({}))?;
    Ok(items(&all["Subnets"])
        .iter()
        .find(|s| &s["SubnetId"] == id)
        .cloned()
        .unwrap_or(Value::Null))
}

/// The trainee's security group by name, inside their VPC when it is known.
fn find_sg(name: &str, vpc: &Value) -> Result<Value, CapError> {
    let all = aws::call("ec2_describe_security_groups", json!({}))?;
    Ok(items(&all["SecurityGroups"])
        .iter()
        .find(|g| is_str(&g["GroupName"], name) && (none(vpc) || g["VpcId"] == vpc["VpcId"]))
        .cloned()
        .unwrap_or(Value::Null))
}

/// Groups of an instance: the instance's own list and its network interfaces'.
fn instance_group_names(i: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let nics = items(&i["NetworkInterfaces"]);
    let groups = items(&i["SecurityGroups"])
        .iter()
        .chain(nics.iter().flat_map(|n| items(&n["Groups"])));
    for g in groups {
        let name = t(&g["GroupName"]);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn covers_port(perm: &Value, port: i64) -> bool {
    let proto = &perm["IpProtocol"];
    if is_str(proto, "-1") {
        return true;
    }
    if !is_str(proto, "tcp") && !is_str(proto, "6") {
        return false;
    }
    match (perm["FromPort"].as_i64(), perm["ToPort"].as_i64()) {
        (Some(from), Some(to)) => from <= port && to >= port,
        _ => false,
    }
}

fn find_alb(w: &Names) -> Result<Value, CapError> {
    let all = aws::call("elbv2_describe_load_balancers", json!({}))?;
    Ok(first(&all["LoadBalancers"], "LoadBalancerName", &w.alb))
}

fn find_tg(w: &Names) -> Result<Value, CapError> {
    let all = aws::call("elbv2_describe_target_groups", json!({}))?;
    Ok(first(&all["TargetGroups"], "TargetGroupName", &w.tg))
}

// ---------------------------------------------------------------- A. Aurora

fn a1_reader_member(w: &Names, _st: &St) -> Result<Status, CapError> {
    let c = find_cluster(w)?;
    if none(&c) {
        return Ok(report::fail(
            "A1",
            format!("cluster {} not found (Step 2 creates it)", w.cluster),
            format!(
                "クラスター {} が見つかりません (Step-2 で作成します)",
                w.cluster
            ),
            Value::Null,
        ));
    }
    let members: Vec<Value> = items(&c["DBClusterMembers"])
        .iter()
        .map(|m| m["DBInstanceIdentifier"].clone())
        .collect();
    let shown: Vec<String> = members.iter().map(t).collect();
    let evidence = json!({ "cluster": w.cluster, "members": members });
    if contains(&members, &json!(w.reader)) {
        return Ok(report::pass(
            "A1",
            format!("reader {} is a member of {}", w.reader, w.cluster),
            format!("リーダー {} が {} のメンバーです", w.reader, w.cluster),
            evidence,
        ));
    }
    Ok(report::fail("A1",
        format!("no instance {} in cluster {} (members: {}); add a reader named {}", w.reader, w.cluster, join(&shown, ", "), w.reader),
        format!("クラスター {} に {} がありません (メンバー: {})。「リーダーの追加」で {} を作成してください", w.cluster, w.reader, join(&shown, ", "), w.reader),
        evidence))
}

fn a2_reader_placement(w: &Names, st: &St) -> Result<Status, CapError> {
    let (az_reader, reader_class) = (w.reader_az.as_str(), w.reader_class.as_str());
    if blocked("A2", st, &["A1"]) {
        return Ok(Status::Skip);
    }
    let r = find_db_instance(&w.reader)?;
    if none(&r) {
        return Ok(report::fail(
            "A2",
            format!("DB instance {} not found", w.reader),
            format!("DB インスタンス {} が見つかりません", w.reader),
            Value::Null,
        ));
    }
    let mut p = Problems::new();
    let az = t(&r["AvailabilityZone"]);
    if !is_str(&r["AvailabilityZone"], az_reader) {
        p.problem(
            format!("it is in {az}, not {az_reader}"),
            format!("アベイラビリティゾーンが {az} です ({az_reader} にしてください)"),
        );
    }
    if r["PubliclyAccessible"] == json!(true) {
        p.problem(
            "it is publicly accessible (choose \"No\")",
            "パブリックアクセス可能になっています (「いいえ」を選択)",
        );
    }
    let class = t(&r["DBInstanceClass"]);
    if !reader_class.is_empty() && !is_str(&r["DBInstanceClass"], reader_class) {
        p.problem(
            format!("its class is {class}, not {reader_class}"),
            format!("インスタンスクラスが {class} です ({reader_class} にしてください)"),
        );
    }
    let status = t(&r["DBInstanceStatus"]);
    let evidence = json!({
        "instance": w.reader, "az": r["AvailabilityZone"], "class": r["DBInstanceClass"],
        "publicly_accessible": r["PubliclyAccessible"], "status": r["DBInstanceStatus"],
    });
    if !p.is_empty() {
        return Ok(report::fail(
            "A2",
            format!("reader {}: {}", w.reader, join(&p.en, "; ")),
            format!("リーダー {}: {}", w.reader, join(&p.ja, "、")),
            evidence,
        ));
    }
    if status == "available" {
        return Ok(report::pass(
            "A2",
            format!(
                "reader {} is in {az_reader}, private, {reader_class}, available",
                w.reader
            ),
            format!(
                "リーダー {} は {az_reader}・非公開・{reader_class}・利用可能です",
                w.reader
            ),
            evidence,
        ));
    }
    if DB_WAIT_STATES.contains(&status.as_str()) {
        return Ok(report::pending(
            "A2",
            format!(
                "reader {} is {status}; it takes about five minutes to become available",
                w.reader
            ),
            format!(
                "リーダー {} は {status} です。利用可能になるまで約5分かかります",
                w.reader
            ),
            evidence,
        ));
    }
    Ok(report::fail(
        "A2",
        format!("reader {} is {status}, not available", w.reader),
        format!(
            "リーダー {} の状態が {status} です (利用可能ではありません)",
            w.reader
        ),
        evidence,
    ))
}

fn a3_endpoints(w: &Names, _st: &St) -> Result<Status, CapError> {
    let c = find_cluster(w)?;
    if none(&c) {
        return Ok(report::skip(
            "A3",
            format!("skipped: cluster {} not found (see A1)", w.cluster),
            format!("省略: クラスター {} がありません (A1 参照)", w.cluster),
        ));
    }
    let evidence = json!({
        "endpoint": c["Endpoint"], "reader_endpoint": c["ReaderEndpoint"], "status": c["Status"],
    });
    let has_writer = !none(&c["Endpoint"]) && !is_str(&c["Endpoint"], "");
    let has_reader = !none(&c["ReaderEndpoint"]) && !is_str(&c["ReaderEndpoint"], "");
    let (endpoint, reader_endpoint, status) =
        (t(&c["Endpoint"]), t(&c["ReaderEndpoint"]), t(&c["Status"]));
    if has_writer && has_reader {
        return Ok(report::pass("A3",
            format!("cluster endpoint {endpoint} and reader endpoint {reader_endpoint} exist"),
            format!("クラスターエンドポイント {endpoint} と読み込みエンドポイント {reader_endpoint} があります"),
            evidence));
    }
    if status != "available" {
        return Ok(report::pending(
            "A3",
            format!(
                "cluster {} is {status}; its endpoints are not there yet",
                w.cluster
            ),
            format!(
                "クラスター {} は {status} です。エンドポイントはまだありません",
                w.cluster
            ),
            evidence,
        ));
    }
    Ok(report::fail(
        "A3",
        format!(
            "cluster {} lacks a {} endpoint",
            w.cluster,
            if has_writer { "reader" } else { "cluster" }
        ),
        format!(
            "クラスター {} に{}エンドポイントがありません",
            w.cluster,
            if has_writer {
                "読み込み"
            } else {
                "クラスター"
            }
        ),
        evidence,
    ))
}

fn a7_failover(w: &Names, st: &St) -> Result<Status, CapError> {
    if blocked("A7", st, &["A1"]) {
        return Ok(Status::Skip);
    }
    let c = find_cluster(w)?;
    let mut writer: Option<String> = None;
    let mut roles = serde_json::Map::new();
    for m in items(&c["DBClusterMembers"]) {
        let is_writer = m["IsClusterWriter"] == json!(true);
        let id = t(&m["DBInstanceIdentifier"]);
        roles.insert(
            id.clone(),
            json!(if is_writer { "writer" } else { "reader" }),
        );
        if is_writer {
            writer = Some(id);
        }
    }
    let mut evidence = json!({ "roles": roles, "cluster_status": c["Status"] });
    // Failover events are evidence where the API keeps them (14 days at most). One
    // account-wide call, shared by the whole class, filtered here to this cluster.
    let request = json!({ "SourceType": "db-cluster", "Duration": 20160 });
    match aws::call("rds_describe_events", request) {
        Ok(events) => {
            let failovers: Vec<Value> = items(&events["Events"])
                .iter()
                .filter(|e| {
                    is_str(&e["SourceIdentifier"], &w.cluster)
                        && t(&e["Message"]).to_lowercase().contains("failover")
                })
                .map(|e| json!(format!("{} {}", t(&e["Date"]), t(&e["Message"]))))
                .collect();
            evidence["failover_events"] = Value::Array(failovers);
        }
        Err(e) => evidence["failover_events_error"] = json!(e.to_string()),
    }
    if is_str(&c["Status"], "failing-over") {
        return Ok(report::pending(
            "A7",
            format!("cluster {} is failing over; wait a few minutes", w.cluster),
            format!(
                "クラスター {} はフェイルオーバー中です。数分待ってください",
                w.cluster
            ),
            evidence,
        ));
    }
    let writer_is_reader = writer.as_deref() == Some(w.reader.as_str());
    // The old writer is whichever other member is now a reader, by IsClusterWriter:
    // trainees copy the manual's typos into its name (`wb-user05`).
    let old: Vec<String> = items(&c["DBClusterMembers"])
        .iter()
        .filter(|m| m["IsClusterWriter"] != json!(true))
        .map(|m| t(&m["DBInstanceIdentifier"]))
        .filter(|id| *id != w.reader)
        .collect();
    if writer_is_reader && !old.is_empty() {
        return Ok(report::pass(
            "A7",
            format!(
                "failover done: {} is the writer, {} a reader",
                w.reader,
                join(&old, ", ")
            ),
            format!(
                "フェイルオーバー済み: {} が書き込み、{} が読み込みです",
                w.reader,
                join(&old, "、")
            ),
            evidence,
        ));
    }
    if writer_is_reader {
        return Ok(report::fail(
            "A7",
            format!(
                "{} is the writer but {} is no longer in the cluster",
                w.reader, w.writer
            ),
            format!(
                "{} が書き込みですが、{} がクラスターにありません",
                w.reader, w.writer
            ),
            evidence,
        ));
    }
    Ok(report::fail("A7",
        format!("no failover yet: the writer is {}; fail over {} so that {} becomes the writer",
            writer.as_deref().unwrap_or("missing"), w.writer, w.reader),
        format!("フェイルオーバーされていません (書き込み: {})。{} をフェイルオーバーし {} を書き込みにしてください",
            writer.as_deref().unwrap_or("なし"), w.writer, w.reader),
        evidence))
}

// ---------------------------------------------------------------- B. AMI, web server 2

fn find_ami(w: &Names) -> Result<Value, CapError> {
    let all = aws::call("ec2_describe_images", json!({ "Owners": ["self"] }))?;
    Ok(first(&all["Images"], "Name", &w.ami))
}

fn b1_ami(w: &Names, _st: &St) -> Result<Status, CapError> {
    let img = find_ami(w)?;
    if none(&img) {
        return Ok(report::fail(
            "B1",
            format!(
                "no AMI named \"{}\"; create it from {} (Actions → Image → Create image)",
                w.ami, w.web1
            ),
            format!(
                "AMI「{}」がありません。{} から「イメージの作成」で作成してください",
                w.ami, w.web1
            ),
            Value::Null,
        ));
    }
    let web1 = instances_named(&w.web1)?;
    let mut p = Problems::new();
    if !is_str(&img["Description"], &w.ami) {
        let d = t(&img["Description"]);
        p.problem(
            format!("its description is \"{d}\", not \"{}\"", w.ami),
            format!("説明が「{d}」です (「{}」にしてください)", w.ami),
        );
    }
    let mut lineage = "unknown";
    let source = &img["SourceInstanceId"];
    if !none(source) {
        if !web1.is_empty() && source == &web1[0]["InstanceId"] {
            lineage = "SourceInstanceId";
        } else {
            let s = t(source);
            p.problem(
                format!("it was made from {s}, not from {}", w.web1),
                format!("{} ではなく {s} から作成されています", w.web1),
            );
        }
    } else {
        lineage = "name only (the API did not report the source instance)";
    }
    let evidence = json!({
        "image_id": img["ImageId"], "name": img["Name"], "state": img["State"],
        "source_instance": img["SourceInstanceId"], "lineage": lineage,
    });
    if !p.is_empty() {
        return Ok(report::fail(
            "B1",
            format!("AMI \"{}\": {}", w.ami, join(&p.en, "; ")),
            format!("AMI「{}」: {}", w.ami, join(&p.ja, "、")),
            evidence,
        ));
    }
    let (state, image_id) = (t(&img["State"]), t(&img["ImageId"]));
    if state == "available" {
        return Ok(report::pass(
            "B1",
            format!(
                "AMI \"{}\" ({image_id}) from {} is available",
                w.ami, w.web1
            ),
            format!(
                "{} から作成した AMI「{}」({image_id}) が利用可能です",
                w.web1, w.ami
            ),
            evidence,
        ));
    }
    if state == "pending" {
        return Ok(report::pending(
            "B1",
            format!("AMI \"{}\" is still being created", w.ami),
            format!("AMI「{}」は作成中です", w.ami),
            evidence,
        ));
    }
    Ok(report::fail(
        "B1",
        format!("AMI \"{}\" is {state}", w.ami),
        format!("AMI「{}」の状態が {state} です", w.ami),
        evidence,
    ))
}

fn b2_web2(w: &Names, _st: &St) -> Result<Status, CapError> {
    let (web2_type, web2_cidr, az_web2) = (
        w.web2_type.as_str(),
        w.web2_cidr.as_str(),
        w.web2_az.as_str(),
    );
    let found = instances_named(&w.web2)?;
    if found.is_empty() {
        return Ok(report::fail(
            "B2",
            format!(
                "no EC2 instance named {}; launch it from the AMI \"{}\"",
                w.web2, w.ami
            ),
            format!(
                "EC2 インスタンス {} がありません。AMI「{}」から起動してください",
                w.web2, w.ami
            ),
            Value::Null,
        ));
    }
    let i = &found[0];
    let mut p = Problems::new();
    let img = find_ami(w)?;
    if none(&img) {
        return Ok(report::skip(
            "B2",
            format!(
                "skipped: the AMI \"{}\" that {} should run from does not exist (see B1)",
                w.ami, w.web2
            ),
            format!(
                "省略: {} の起動元 AMI「{}」がありません (B1 参照)",
                w.web2, w.ami
            ),
        ));
    }
    if i["ImageId"] != img["ImageId"] {
        let (runs, want) = (t(&i["ImageId"]), t(&img["ImageId"]));
        p.problem(
            format!("it runs {runs}, not the AMI \"{}\" ({want})", w.ami),
            format!(
                "AMI「{}」({want}) ではなく {runs} から起動しています",
                w.ami
            ),
        );
    }
    if !is_str(&i["InstanceType"], web2_type) {
        let ty = t(&i["InstanceType"]);
        p.problem(
            format!("its type is {ty}, not {web2_type}"),
            format!("インスタンスタイプが {ty} です ({web2_type} にしてください)"),
        );
    }
    let vpc = find_vpc(w)?;
    if none(&vpc) || i["VpcId"] != vpc["VpcId"] {
        p.problem(
            format!("it is not in {}", w.vpc),
            format!("{} に配置されていません", w.vpc),
        );
    }
    let subnet = find_subnet(&i["SubnetId"])?;
    if none(&subnet)
        || !is_str(&subnet["CidrBlock"], web2_cidr)
        || !is_str(&subnet["AvailabilityZone"], az_web2)
    {
        let where_ = if none(&subnet) {
            t(&i["SubnetId"])
        } else {
            format!(
                "{} in {}",
                t(&subnet["CidrBlock"]),
                t(&subnet["AvailabilityZone"])
            )
        };
        p.problem(
            format!("its subnet is {where_}, not the public subnet {web2_cidr} in {az_web2}"),
            format!("サブネットが {where_} です (パブリックサブネット {az_web2} {web2_cidr} にしてください)"),
        );
    }
    let state = t(&i["State"]["Name"]);
    if none(&i["PublicIpAddress"]) && state == "running" {
        p.problem(
            "it has no public IP (enable auto-assign public IP)",
            "パブリック IP がありません (自動割り当てパブリック IP を有効化)",
        );
    }
    let groups = instance_group_names(i);
    if !groups.contains(&w.web_sg) {
        p.problem(
            format!(
                "its security groups are {}, not {}",
                join(&groups, ", "),
                w.web_sg
            ),
            format!(
                "セキュリティグループが {} です ({} を割り当ててください)",
                join(&groups, ", "),
                w.web_sg
            ),
        );
    }
    if !is_str(&i["KeyName"], &w.key) {
        let k = t(&i["KeyName"]);
        p.problem(
            format!("its key pair is {k}, not {}", w.key),
            format!("キーペアが {k} です ({} にしてください)", w.key),
        );
    }
    let mut evidence = json!({
        "instance_id": i["InstanceId"], "image_id": i["ImageId"], "type": i["InstanceType"],
        "subnet": i["SubnetId"], "public_ip": i["PublicIpAddress"], "groups": groups,
        "key": i["KeyName"], "state": i["State"]["Name"],
    });
    if found.len() > 1 {
        evidence["note"] = json!(format!(
            "{} instances are named {}; checked the first",
            found.len(),
            w.web2
        ));
    }
    if !p.is_empty() {
        return Ok(report::fail(
            "B2",
            format!("{}: {}", w.web2, join(&p.en, "; ")),
            format!("{}: {}", w.web2, join(&p.ja, "、")),
            evidence,
        ));
    }
    Ok(match state.as_str() {
        "running" => report::pass(
            "B2",
            format!(
                "{} runs from \"{}\" as configured in the manual",
                w.web2, w.ami
            ),
            format!(
                "{} は AMI「{}」から手順どおりに起動しています",
                w.web2, w.ami
            ),
            evidence,
        ),
        "pending" => report::pending(
            "B2",
            format!("{} is starting", w.web2),
            format!("{} は起動中です", w.web2),
            evidence,
        ),
        _ => report::fail(
            "B2",
            format!("{} is {state}; start it", w.web2),
            format!("{} が {state} です。起動してください", w.web2),
            evidence,
        ),
    })
}

// ---------------------------------------------------------------- C. load balancer

/// Subnets of the trainee's DB subnet group: private, never the ALB's.
fn private_subnet_ids(w: &Names) -> Result<Vec<Value>, CapError> {
    let c = find_cluster(w)?;
    if none(&c) || none(&c["DBSubnetGroup"]) {
        return Ok(Vec::new());
    }
    let all = aws::call("rds_describe_db_subnet_groups", json!({}))?;
    let mut ids = Vec::new();
    for g in items(&all["DBSubnetGroups"]) {
        if g["DBSubnetGroupName"] == c["DBSubnetGroup"] {
            for s in items(&g["Subnets"]) {
                ids.push(s["SubnetIdentifier"].clone());
            }
        }
    }
    Ok(ids)
}

fn c1_alb(w: &Names, _st: &St) -> Result<Status, CapError> {
    let lb = find_alb(w)?;
    if none(&lb) {
        return Ok(report::fail(
            "C1",
            format!(
                "no load balancer named {}; create an Application Load Balancer",
                w.alb
            ),
            format!(
                "ロードバランサ {} がありません。Application Load Balancer を作成してください",
                w.alb
            ),
            Value::Null,
        ));
    }
    let mut p = Problems::new();
    if !is_str(&lb["Type"], "application") {
        let ty = t(&lb["Type"]);
        p.problem(
            format!("it is a {ty} load balancer, not application"),
            format!("種類が {ty} です (Application Load Balancer にしてください)"),
        );
    }
    if !is_str(&lb["Scheme"], "internet-facing") {
        let s = t(&lb["Scheme"]);
        p.problem(
            format!("its scheme is {s}, not internet-facing"),
            format!("スキームが {s} です (インターネット向けにしてください)"),
        );
    }
    let vpc = find_vpc(w)?;
    if none(&vpc) || lb["VpcId"] != vpc["VpcId"] {
        p.problem(
            format!("it is not in {}", w.vpc),
            format!("{} にありません", w.vpc),
        );
    }
    let zones_list = items(&lb["AvailabilityZones"]);
    let zones: Vec<String> = zones_list.iter().map(|z| t(&z["ZoneName"])).collect();
    for az in &w.alb_azs {
        if !zones.iter().any(|z| z == az) {
            p.problem(
                format!("it is not in {az}"),
                format!("{az} が選択されていません"),
            );
        }
    }
    let private_ids = private_subnet_ids(w)?;
    for z in zones_list {
        if contains(&private_ids, &z["SubnetId"]) {
            let (zone, subnet) = (t(&z["ZoneName"]), t(&z["SubnetId"]));
            p.problem(
                format!("in {zone} it uses the private (DB) subnet {subnet}; choose the public subnet"),
                format!("{zone} でプライベート (DB) サブネット {subnet} を使っています。パブリックサブネットを選択してください"),
            );
        }
    }
    let state = t(&lb["State"]["Code"]);
    let evidence = json!({
        "dns_name": lb["DNSName"], "scheme": lb["Scheme"], "type": lb["Type"],
        "state": lb["State"]["Code"],
        "zones": zones_list.iter()
            .map(|z| format!("{}:{}", t(&z["ZoneName"]), t(&z["SubnetId"])))
            .collect::<Vec<_>>(),
    });
    if !p.is_empty() {
        return Ok(report::fail(
            "C1",
            format!("{}: {}", w.alb, join(&p.en, "; ")),
            format!("{}: {}", w.alb, join(&p.ja, "、")),
            evidence,
        ));
    }
    Ok(match state.as_str() {
        "active" => report::pass(
            "C1",
            format!(
                "{} is an active internet-facing ALB in {}",
                w.alb,
                join(&zones, " and ")
            ),
            format!(
                "{} は {} のインターネット向け ALB で、有効です",
                w.alb,
                join(&zones, "・")
            ),
            evidence,
        ),
        "provisioning" => report::pending(
            "C1",
            format!("{} is still provisioning", w.alb),
            format!("{} はプロビジョニング中です", w.alb),
            evidence,
        ),
        _ => report::fail(
            "C1",
            format!("{} is {state}", w.alb),
            format!("{} の状態が {state} です", w.alb),
            evidence,
        ),
    })
}

fn c2_alb_sg(w: &Names, _st: &St) -> Result<Status, CapError> {
    let lb = find_alb(w)?;
    if none(&lb) {
        return Ok(report::skip(
            "C2",
            format!("skipped: no load balancer {} (see C1)", w.alb),
            format!("省略: ロードバランサ {} がありません (C1 参照)", w.alb),
        ));
    }
    let sg = find_sg(&w.alb_sg, &find_vpc(w)?)?;
    if none(&sg) {
        return Ok(report::fail(
            "C2",
            format!(
                "no security group {}; create it while creating the ALB",
                w.alb_sg
            ),
            format!(
                "セキュリティグループ {} がありません。ALB 作成時に作成してください",
                w.alb_sg
            ),
            Value::Null,
        ));
    }
    let attached = contains(items(&lb["SecurityGroups"]), &sg["GroupId"]);
    let mut open = false;
    for perm in items(&sg["IpPermissions"]) {
        if !covers_port(perm, 80) {
            continue;
        }
        open |= items(&perm["IpRanges"])
            .iter()
            .any(|r| is_str(&r["CidrIp"], "0.0.0.0/0"));
        open |= items(&perm["Ipv6Ranges"])
            .iter()
            .any(|r| is_str(&r["CidrIpv6"], "::/0"));
    }
    let evidence =
        json!({ "group_id": sg["GroupId"], "attached": attached, "http_from_anywhere": open });
    if !attached {
        return Ok(report::fail(
            "C2",
            format!("{} does not use {}", w.alb, w.alb_sg),
            format!("{} に {} が割り当てられていません", w.alb, w.alb_sg),
            evidence,
        ));
    }
    if !open {
        return Ok(report::fail(
            "C2",
            format!(
                "{} does not allow HTTP (80) from anywhere (0.0.0.0/0)",
                w.alb_sg
            ),
            format!(
                "{} が HTTP (80) を 0.0.0.0/0 から許可していません",
                w.alb_sg
            ),
            evidence,
        ));
    }
    Ok(report::pass(
        "C2",
        format!("{} on {} allows HTTP (80) from anywhere", w.alb_sg, w.alb),
        format!(
            "{} の {} が HTTP (80) をどこからでも許可しています",
            w.alb, w.alb_sg
        ),
        evidence,
    ))
}

fn c3_target_group(w: &Names, _st: &St) -> Result<Status, CapError> {
    let tg = find_tg(w)?;
    if none(&tg) {
        return Ok(report::fail(
            "C3",
            format!("no target group {}", w.tg),
            format!("ターゲットグループ {} がありません", w.tg),
            Value::Null,
        ));
    }
    let mut p = Problems::new();
    if !is_str(&tg["Protocol"], "HTTP") || tg["Port"] != json!(80) {
        let (proto, port) = (t(&tg["Protocol"]), t(&tg["Port"]));
        p.problem(
            format!("it listens on {proto}:{port}, not HTTP:80"),
            format!("{proto}:{port} です (HTTP:80 にしてください)"),
        );
    }
    if !is_str(&tg["TargetType"], "instance") {
        let ty = t(&tg["TargetType"]);
        p.problem(
            format!("its targets are {ty}s, not instances"),
            format!("ターゲットの種類が {ty} です (インスタンスにしてください)"),
        );
    }
    let health = aws::call(
        "elbv2_describe_target_health",
        json!({ "TargetGroupArn": tg["TargetGroupArn"] }),
    )?;
    let health = items(&health["TargetHealthDescriptions"]);
    let mut states = serde_json::Map::new();
    for h in health {
        states.insert(t(&h["Target"]["Id"]), h["TargetHealth"]["State"].clone());
    }
    let mut waiting: Vec<String> = Vec::new();
    for name in [&w.web1, &w.web2] {
        let found = instances_named(name)?;
        if found.is_empty() {
            p.problem(
                format!("{name} does not exist"),
                format!("{name} がありません"),
            );
            continue;
        }
        let id = t(&found[0]["InstanceId"]);
        let Some(s) = states.get(&id) else {
            p.problem(
                format!("{name} ({id}) is not registered"),
                format!("{name} ({id}) が登録されていません"),
            );
            continue;
        };
        if is_str(s, "initial") {
            waiting.push(name.clone());
        } else if !is_str(s, "healthy") {
            let mut reason = String::new();
            for h in health {
                if is_str(&h["Target"]["Id"], &id) && !none(&h["TargetHealth"]["Description"]) {
                    reason = format!(": {}", t(&h["TargetHealth"]["Description"]));
                }
            }
            let s = t(s);
            p.problem(
                format!("{name} is {s}{reason}"),
                format!("{name} の状態が {s} です{reason}"),
            );
        }
    }
    let evidence = json!({ "target_group": tg["TargetGroupArn"], "health": states });
    if !p.is_empty() {
        return Ok(report::fail(
            "C3",
            format!("{}: {}", w.tg, join(&p.en, "; ")),
            format!("{}: {}", w.tg, join(&p.ja, "、")),
            evidence,
        ));
    }
    if !waiting.is_empty() {
        return Ok(report::pending(
            "C3",
            format!("health checks still running for {}", join(&waiting, ", ")),
            format!("{} のヘルスチェック中です", join(&waiting, "、")),
            evidence,
        ));
    }
    Ok(report::pass(
        "C3",
        format!(
            "{} (HTTP:80) holds {} and {}, both healthy",
            w.tg, w.web1, w.web2
        ),
        format!(
            "{} (HTTP:80) に {} と {} が登録され、どちらも正常です",
            w.tg, w.web1, w.web2
        ),
        evidence,
    ))
}

fn c4_listener(w: &Names, _st: &St) -> Result<Status, CapError> {
    let lb = find_alb(w)?;
    if none(&lb) {
        return Ok(report::skip(
            "C4",
            format!("skipped: no load balancer {} (see C1)", w.alb),
            format!("省略: ロードバランサ {} がありません (C1 参照)", w.alb),
        ));
    }
    let tg = find_tg(w)?;
    let listeners = aws::call(
        "elbv2_describe_listeners",
        json!({ "LoadBalancerArn": lb["LoadBalancerArn"] }),
    )?;
    let listeners = items(&listeners["Listeners"]);
    let l = listeners
        .iter()
        .rfind(|x| x["Port"] == json!(80) && is_str(&x["Protocol"], "HTTP"));
    let mut evidence = json!({
        "listeners": listeners.iter()
            .map(|x| format!("{}:{}", t(&x["Protocol"]), t(&x["Port"])))
            .collect::<Vec<_>>(),
    });
    let Some(l) = l else {
        return Ok(report::fail(
            "C4",
            format!("{} has no HTTP:80 listener", w.alb),
            format!("{} に HTTP:80 のリスナーがありません", w.alb),
            evidence,
        ));
    };
    let mut targets: Vec<Value> = Vec::new();
    for a in items(&l["DefaultActions"]) {
        if !is_str(&a["Type"], "forward") {
            continue;
        }
        if !none(&a["TargetGroupArn"]) {
            targets.push(a["TargetGroupArn"].clone());
        }
        for tgt in items(&a["ForwardConfig"]["TargetGroups"]) {
            if !contains(&targets, &tgt["TargetGroupArn"]) {
                targets.push(tgt["TargetGroupArn"].clone());
            }
        }
    }
    evidence["forwards_to"] = Value::Array(targets.clone());
    if none(&tg) || !contains(&targets, &tg["TargetGroupArn"]) {
        return Ok(report::fail(
            "C4",
            format!(
                "the HTTP:80 listener of {} does not forward to {}",
                w.alb, w.tg
            ),
            format!(
                "{} の HTTP:80 リスナーが {} に転送していません",
                w.alb, w.tg
            ),
            evidence,
        ));
    }
    Ok(report::pass(
        "C4",
        format!("the HTTP:80 listener of {} forwards to {}", w.alb, w.tg),
        format!("{} の HTTP:80 リスナーが {} に転送しています", w.alb, w.tg),
        evidence,
    ))
}

// ---------------------------------------------------------------- E. lock-down

fn e1_web_sg(w: &Names, _st: &St) -> Result<Status, CapError> {
    let vpc = find_vpc(w)?;
    let sg = find_sg(&w.web_sg, &vpc)?;
    if none(&sg) {
        return Ok(report::fail(
            "E1",
            format!("no security group {}", w.web_sg),
            format!("セキュリティグループ {} がありません", w.web_sg),
            Value::Null,
        ));
    }
    let alb = find_sg(&w.alb_sg, &vpc)?;
    let mut cidrs: Vec<Value> = Vec::new();
    let mut groups: Vec<Value> = Vec::new();
    let mut from_alb = false;
    for perm in items(&sg["IpPermissions"]) {
        if !covers_port(perm, 80) {
            continue;
        }
        cidrs.extend(items(&perm["IpRanges"]).iter().map(|r| r["CidrIp"].clone()));
        cidrs.extend(
            items(&perm["Ipv6Ranges"])
                .iter()
                .map(|r| r["CidrIpv6"].clone()),
        );
        for g in items(&perm["UserIdGroupPairs"]) {
            if !none(&alb) && g["GroupId"] == alb["GroupId"] {
                from_alb = true;
            } else {
                groups.push(g["GroupId"].clone());
            }
        }
    }
    let shown = |list: &[Value]| list.iter().map(t).collect::<Vec<_>>().join(", ");
    let evidence = json!({
        "group_id": sg["GroupId"], "http_from_cidrs": cidrs,
        "http_from_other_groups": groups, "http_from_alb": from_alb,
    });
    if !cidrs.is_empty() {
        return Ok(report::fail("E1",
            format!("{} still allows HTTP (80) from {}; delete that rule and allow only {}", w.web_sg, shown(&cidrs), w.alb_sg),
            format!("{} が HTTP (80) を {} から許可したままです。そのルールを削除し {} のみを許可してください", w.web_sg, shown(&cidrs), w.alb_sg),
            evidence));
    }
    if !from_alb {
        return Ok(report::fail(
            "E1",
            format!(
                "{} does not allow HTTP (80) from {}; the ALB cannot reach the web servers",
                w.web_sg, w.alb_sg
            ),
            format!(
                "{} が {} からの HTTP (80) を許可していません。ALB から Web サーバに届きません",
                w.web_sg, w.alb_sg
            ),
            evidence,
        ));
    }
    if !groups.is_empty() {
        return Ok(report::fail(
            "E1",
            format!(
                "{} also allows HTTP (80) from {}; allow only {}",
                w.web_sg,
                shown(&groups),
                w.alb_sg
            ),
            format!(
                "{} が {} からの HTTP (80) も許可しています。{} のみにしてください",
                w.web_sg,
                shown(&groups),
                w.alb_sg
            ),
            evidence,
        ));
    }
    Ok(report::pass(
        "E1",
        format!("{} allows HTTP (80) only from {}", w.web_sg, w.alb_sg),
        format!(
            "{} は {} からの HTTP (80) のみを許可しています",
            w.web_sg, w.alb_sg
        ),
        evidence,
    ))
}

// ---------------------------------------------------------------- probes

/// IPv4 text → integer, or `None` when it is not one.
fn ip4(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut n: i64 = 0;
    for part in parts {
        if part.is_empty() || part.len() > 3 || !part.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let v: i64 = part.parse().ok()?;
        if v > 255 {
            return None;
        }
        n = n * 256 + v;
    }
    Some(n)
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let Some((base, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Some(base), Some(addr), Ok(bits)) = (ip4(base), ip4(ip), bits.parse::<i64>()) else {
        return false;
    };
    let size = 1i64 << (32 - bits).clamp(0, 32);
    addr / size == base / size
}

fn bare(name: &str) -> String {
    let n = name.to_lowercase();
    n.strip_suffix('.').map(str::to_string).unwrap_or(n)
}

fn mysql_port(c: &Value) -> Value {
    if none(&c["Port"]) {
        json!(3306)
    } else {
        c["Port"].clone()
    }
}

/// The EC2 subnet of the cluster's DB subnet group in an AZ: where an instance there lives.
fn db_subnet_in(w: &Names, az: &Value) -> Result<Value, CapError> {
    let c = find_cluster(w)?;
    if none(&c) || none(&c["DBSubnetGroup"]) {
        return Ok(Value::Null);
    }
    let all = aws::call("rds_describe_db_subnet_groups", json!({}))?;
    for g in items(&all["DBSubnetGroups"]) {
        if g["DBSubnetGroupName"] != c["DBSubnetGroup"] {
            continue;
        }
        for s in items(&g["Subnets"]) {
            if &s["SubnetAvailabilityZone"]["Name"] == az {
                return find_subnet(&s["SubnetIdentifier"]);
            }
        }
    }
    Ok(Value::Null)
}

/// Checks that `answer` (a dns lookup of `name`) leads to one of `instances` and to an
/// address inside that instance's subnet; records problems, returns evidence.
fn endpoint_problems(
    p: &mut Problems,
    w: &Names,
    label: &str,
    name: &Value,
    answer: &Value,
    instances: &[Value],
) -> Result<Value, CapError> {
    let mut ev = json!({
        "name": name, "status": answer["status"], "cname_chain": answer["cname_chain"],
        "addresses": answer["addresses"],
        "expected": instances.iter().map(|i| i["Endpoint"]["Address"].clone()).collect::<Vec<_>>(),
    });
    let (name, status) = (t(name), t(&answer["status"]));
    if status != "ok" {
        p.problem(
            format!("the {label} endpoint {name} does not resolve ({status})"),
            format!("{label}エンドポイント {name} が名前解決できません ({status})"),
        );
        return Ok(ev);
    }
    let chain: Vec<String> = items(&answer["cname_chain"])
        .iter()
        .map(|n| bare(&t(n)))
        .collect();
    let target = instances
        .iter()
        .rfind(|i| chain.contains(&bare(&t(&i["Endpoint"]["Address"]))));
    let Some(target) = target else {
        let shown = chain.last().map_or("no CNAME", String::as_str);
        let ids: Vec<String> = instances
            .iter()
            .map(|i| t(&i["DBInstanceIdentifier"]))
            .collect();
        p.problem(
            format!(
                "the {label} endpoint points to {shown}, not to {}",
                join(&ids, " or ")
            ),
            format!(
                "{label}エンドポイントが {shown} を指しています ({} ではありません)",
                join(&ids, " または ")
            ),
        );
        return Ok(ev);
    };
    let subnet = db_subnet_in(w, &target["AvailabilityZone"])?;
    ev["instance"] = target["DBInstanceIdentifier"].clone();
    let az = t(&target["AvailabilityZone"]);
    if none(&subnet) {
        p.problem(
            format!("no subnet of the DB subnet group is in {az}"),
            format!("DB サブネットグループに {az} のサブネットがありません"),
        );
        return Ok(ev);
    }
    let cidr = t(&subnet["CidrBlock"]);
    ev["subnet"] = subnet["CidrBlock"].clone();
    let addresses: Vec<String> = items(&answer["addresses"]).iter().map(t).collect();
    if !addresses.iter().any(|a| in_cidr(a, &cidr)) {
        let id = t(&target["DBInstanceIdentifier"]);
        p.problem(
            format!(
                "the {label} endpoint resolves to {}, outside {cidr} where {id} lives",
                join(&addresses, ", ")
            ),
            format!(
                "{label}エンドポイントが {} に解決され、{id} のサブネット {cidr} の外です",
                join(&addresses, ", ")
            ),
        );
    }
    Ok(ev)
}

fn a4_endpoint_dns(w: &Names, st: &St) -> Result<Status, CapError> {
    if blocked("A4", st, &["A1", "A3"]) {
        return Ok(Status::Skip);
    }
    let c = find_cluster(w)?;
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for m in items(&c["DBClusterMembers"]) {
        let i = find_db_instance(&t(&m["DBInstanceIdentifier"]))?;
        if none(&i) || none(&i["Endpoint"]) {
            continue;
        }
        if m["IsClusterWriter"] == json!(true) {
            writers.push(i);
        } else {
            readers.push(i);
        }
    }
    let mut p = Problems::new();
    let mut evidence = json!({});
    let answer = dns::lookup(json!({ "name": c["Endpoint"] }))?;
    evidence["cluster"] =
        endpoint_problems(&mut p, w, "cluster", &c["Endpoint"], &answer, &writers)?;
    let answer = dns::lookup(json!({ "name": c["ReaderEndpoint"] }))?;
    evidence["reader"] =
        endpoint_problems(&mut p, w, "reader", &c["ReaderEndpoint"], &answer, &readers)?;
    if p.is_empty() {
        let (ci, cs) = (
            t(&evidence["cluster"]["instance"]),
            t(&evidence["cluster"]["subnet"]),
        );
        let (ri, rs) = (
            t(&evidence["reader"]["instance"]),
            t(&evidence["reader"]["subnet"]),
        );
        return Ok(report::pass(
            "A4",
            format!("cluster endpoint → {ci} in {cs}, reader endpoint → {ri} in {rs}"),
            format!("クラスターエンドポイント → {ci} ({cs})、読み込みエンドポイント → {ri} ({rs})"),
            evidence,
        ));
    }
    if is_str(&c["Status"], "failing-over") {
        return Ok(report::pending(
            "A4",
            format!("failover in progress: {}", join(&p.en, "; ")),
            format!("フェイルオーバー中: {}", join(&p.ja, "、")),
            evidence,
        ));
    }
    Ok(report::fail(
        "A4",
        format!(
            "{} (right after a failover DNS may lag a minute: re-run)",
            join(&p.en, "; ")
        ),
        format!(
            "{} (フェイルオーバー直後は DNS の反映に1分ほどかかります。再実行してください)",
            join(&p.ja, "、")
        ),
        evidence,
    ))
}

fn a5_databases(w: &Names, st: &St) -> Result<Status, CapError> {
    if blocked("A5", st, &["A3"]) {
        return Ok(Status::Skip);
    }
    let c = find_cluster(w)?;
    let answer = query(
        w,
        json!({
            "host": c["Endpoint"], "port": mysql_port(&c), "user": c["MasterUsername"],
            "sql": "SHOW DATABASES",
        }),
    )?;
    let databases: Vec<String> = items(&answer["rows"]).iter().map(|r| t(&r[0])).collect();
    let evidence = json!({ "endpoint": c["Endpoint"], "databases": databases });
    let db = &w.database;
    if databases.iter().any(|d| d == db) {
        return Ok(report::pass(
            "A5",
            format!("through the cluster endpoint, SHOW DATABASES lists {db}"),
            format!("クラスターエンドポイント経由の SHOW DATABASES に {db} があります"),
            evidence,
        ));
    }
    Ok(report::fail(
        "A5",
        format!(
            "no database {db} through the cluster endpoint (found: {})",
            join(&databases, ", ")
        ),
        format!(
            "クラスターエンドポイント経由で {db} データベースが見つかりません ({})",
            join(&databases, ", ")
        ),
        evidence,
    ))
}

fn a6_reader_read_only(w: &Names, st: &St) -> Result<Status, CapError> {
    if blocked("A6", st, &["A1", "A3"]) {
        return Ok(Status::Skip);
    }
    let c = find_cluster(w)?;
    // Decided by reading server variables: a check never writes, not even to fail.
    let answer = query(
        w,
        json!({
            "host": c["ReaderEndpoint"], "port": mysql_port(&c), "user": c["MasterUsername"],
            "sql": "SELECT @@read_only, @@innodb_read_only",
        }),
    )?;
    let Some(row) = items(&answer["rows"]).first() else {
        return Ok(report::error(
            "A6",
            "could not check: SELECT @@read_only returned no row",
            "確認できませんでした: SELECT @@read_only が行を返しませんでした",
            Value::Null,
        ));
    };
    let evidence = json!({
        "endpoint": c["ReaderEndpoint"], "read_only": row[0], "innodb_read_only": row[1],
    });
    if t(&row[0]) == "1" || t(&row[1]) == "1" {
        // Only the variables were read: a check never writes, so it never saw ERROR 1290.
        return Ok(report::pass(
            "A6",
            format!(
                "the reader endpoint is read-only (@@read_only {}, @@innodb_read_only {})",
                t(&row[0]),
                t(&row[1])
            ),
            format!(
                "読み込みエンドポイントは読み取り専用です (@@read_only {}、@@innodb_read_only {})",
                t(&row[0]),
                t(&row[1])
            ),
            evidence,
        ));
    }
    Ok(report::fail(
        "A6",
        "the reader endpoint accepts writes: it does not lead to a read-only replica",
        "読み込みエンドポイントが書き込み可能です: 読み取り専用のレプリカにつながっていません",
        evidence,
    ))
}

fn c5_wordpress_via_alb(w: &Names, _st: &St) -> Result<Status, CapError> {
    let lb = find_alb(w)?;
    if none(&lb) {
        return Ok(report::skip(
            "C5",
            format!("skipped: no load balancer {} (see C1)", w.alb),
            format!("省略: ロードバランサ {} がありません (C1 参照)", w.alb),
        ));
    }
    let url = format!("http://{}/", t(&lb["DNSName"]));
    let r = http::get(json!({ "url": url }))?;
    let mut evidence = json!({
        "url": url, "ok": r["ok"], "status": r["status"], "failure": r["failure"],
        "elapsed_ms": r["elapsed_ms"],
    });
    let failure = t(&r["failure"]);
    if r["ok"] != json!(true) {
        if is_str(&lb["State"]["Code"], "provisioning") {
            return Ok(report::pending(
                "C5",
                format!("{} is still provisioning ({failure})", w.alb),
                format!("{} はプロビジョニング中です ({failure})", w.alb),
                evidence,
            ));
        }
        return Ok(report::fail(
            "C5",
            format!("no answer from {url}: {failure} ({})", t(&r["message"])),
            format!("{url} から応答がありません: {failure}"),
            evidence,
        ));
    }
    let status = r["status"].as_i64().unwrap_or(0);
    if status >= 500 {
        return Ok(report::fail(
            "C5",
            format!("{url} answers HTTP {status}: the targets are unhealthy or WordPress is down (see C3)"),
            format!("{url} が HTTP {status} を返します: ターゲットが異常か WordPress が停止しています (C3 参照)"),
            evidence,
        ));
    }
    if (300..400).contains(&status) {
        let to = r["headers"]["location"].clone();
        evidence["location"] = to.clone();
        let to = t(&to);
        return Ok(report::fail(
            "C5",
            format!("{url} redirects to {to}: WordPress still names another address (see D1)"),
            format!("{url} が {to} にリダイレクトします: WordPress が別のアドレスを設定しています (D1 参照)"),
            evidence,
        ));
    }
    let body = t(&r["body"]);
    if status == 200 && (body.contains("wp-content") || body.contains("WordPress")) {
        return Ok(report::pass(
            "C5",
            format!("{url} answers with the WordPress site"),
            format!("{url} で WordPress が表示されます"),
            evidence,
        ));
    }
    Ok(report::fail(
        "C5",
        format!("{url} answers HTTP {status}, but not with WordPress"),
        format!("{url} は HTTP {status} を返しますが WordPress ではありません"),
        evidence,
    ))
}

fn d1_site_url(w: &Names, st: &St) -> Result<Status, CapError> {
    if blocked("D1", st, &["A5"]) {
        return Ok(Status::Skip);
    }
    let lb = find_alb(w)?;
    if none(&lb) {
        return Ok(report::skip(
            "D1",
            format!("skipped: no load balancer {} (see C1)", w.alb),
            format!("省略: ロードバランサ {} がありません (C1 参照)", w.alb),
        ));
    }
    let c = find_cluster(w)?;
    let answer = query(
        w,
        json!({
            "host": c["Endpoint"], "port": mysql_port(&c), "user": c["MasterUsername"],
            "database": w.database,
            "sql": "SELECT option_name, option_value FROM wp_options WHERE option_name IN ('siteurl', 'home')",
        }),
    )?;
    let dns_name = t(&lb["DNSName"]);
    let want = format!("http://{dns_name}").to_lowercase();
    let mut values = BTreeMap::new();
    for row in items(&answer["rows"]) {
        values.insert(t(&row[0]), t(&row[1]));
    }
    let mut p = Problems::new();
    for name in ["siteurl", "home"] {
        let Some(value) = values.get(name) else {
            p.problem(
                format!("wp_options has no {name}"),
                format!("wp_options に {name} がありません"),
            );
            continue;
        };
        let got = value.to_lowercase();
        let got = got.strip_suffix('/').unwrap_or(&got);
        if got != want {
            p.problem(
                format!("{name} is {value}, not http://{dns_name}"),
                format!("{name} が {value} です (http://{dns_name} にしてください)"),
            );
        }
    }
    let evidence = json!({ "expected": format!("http://{dns_name}"), "found": values });
    if !p.is_empty() {
        return Ok(report::fail(
            "D1",
            format!(
                "{}: update them in WordPress settings (or wp_options)",
                join(&p.en, "; ")
            ),
            format!(
                "{}: WordPress の設定 (または wp_options) で変更してください",
                join(&p.ja, "、")
            ),
            evidence,
        ));
    }
    Ok(report::pass(
        "D1",
        format!("siteurl and home are http://{dns_name}"),
        format!("siteurl と home が http://{dns_name} です"),
        evidence,
    ))
}

fn e2_no_direct_http(w: &Names, _st: &St) -> Result<Status, CapError> {
    let mut servers: Vec<(String, Value)> = Vec::new();
    for name in [&w.web1, &w.web2] {
        let found = instances_named(name)?;
        if let Some(i) = found.first() {
            if !none(&i["PublicIpAddress"]) {
                servers.push((name.clone(), i["PublicIpAddress"].clone()));
            }
        }
    }
    if servers.is_empty() {
        return Ok(report::skip(
            "E2",
            "skipped: no web server has a public address to try",
            "省略: パブリックアドレスを持つ Web サーバがありません",
        ));
    }
    let mut p = Problems::new();
    let mut tried = BTreeMap::new();
    for (name, ip) in &servers {
        let r = tcp::connect(json!({ "host": ip, "port": 80 }))?;
        let ok = r["ok"] == json!(true);
        tried.insert(
            name.clone(),
            if ok {
                json!("connected")
            } else {
                r["failure"].clone()
            },
        );
        if ok {
            let ip = t(ip);
            p.problem(
                format!("{name} ({ip}) accepts HTTP connections directly"),
                format!("{name} ({ip}) に直接 HTTP 接続できます"),
            );
        }
    }
    let evidence = json!({ "tried": tried });
    if !p.is_empty() {
        return Ok(report::fail(
            "E2",
            format!(
                "{}: allow port 80 only from {} (see E1)",
                join(&p.en, "; "),
                w.alb_sg
            ),
            format!(
                "{}: ポート 80 は {} からのみ許可してください (E1 参照)",
                join(&p.ja, "、"),
                w.alb_sg
            ),
            evidence,
        ));
    }
    let names: Vec<String> = servers.iter().map(|(n, _)| n.clone()).collect();
    Ok(report::pass(
        "E2",
        format!(
            "direct HTTP to the web servers fails ({})",
            join(&names, ", ")
        ),
        format!(
            "Web サーバへの直接 HTTP は失敗します ({})",
            join(&names, ", ")
        ),
        evidence,
    ))
}

// ---------------------------------------------------------------- through the web server

/// The operator gave no SSH settings (--ssh-key): the capability says so, nothing failed.
fn no_ssh(e: &CapError) -> bool {
    e.kind == "unsupported" && e.code.as_deref() == Some("ssh")
}

/// Whether checks go through the web server: the operator gave --ssh-key (a cassette
/// recorded without it replays as without it). An SSH failure counts as usable: the
/// checks through the server then say what failed.
fn ssh_usable(via: &Value) -> bool {
    if none(via) {
        return false;
    }
    match server::listening(json!({ "via": via })) {
        Ok(_) => true,
        // Not recorded: a cassette made without --ssh-key; a policy denial: not granted.
        Err(e) => !(no_ssh(&e) || e.kind == "not_recorded" || e.code.as_deref() == Some("policy")),
    }
}

/// A read-only MySQL query, through the web server (`w.via`) when labrun can SSH there.
fn query(w: &Names, mut request: Value) -> Result<Value, CapError> {
    if w.ssh {
        request["via"] = w.via.clone();
    }
    mysql::query(request)
}

/// The public address of the web server named `name`, or null.
fn web_server_address(name: &str) -> Result<Value, CapError> {
    Ok(instances_named(name)?
        .first()
        .map(|i| i["PublicIpAddress"].clone())
        .unwrap_or(Value::Null))
}

fn access_log(ip: &Value, lines: u64) -> Result<String, CapError> {
    let f = server::read_file(json!({
        "via": ip, "path": "/var/log/nginx/access.log", "tail_lines": lines,
    }))?;
    Ok(t(&f["content"]))
}

fn count_marked(log: &str, marker: &str) -> usize {
    log.split('\n').filter(|l| l.contains(marker)).count()
}

/// A log's last line as a short token: its time stamp's digits and its length (""
/// for an empty log). That line is whatever came last before this run (often the last
/// run's own marked request), so the token changes from run to run.
fn last_stamp(log: &str) -> String {
    let Some(last) = log.split('\n').rfind(|l| !l.is_empty()) else {
        return String::new();
    };
    let digits: String = match (last.find('['), last.find(']')) {
        (Some(open), Some(close)) if close > open => last[open + 1..close]
            .chars()
            .filter(char::is_ascii_digit)
            .collect(),
        _ => String::new(),
    };
    format!("{digits}{}", last.chars().count())
}

fn f1_both_targets_receive(w: &Names, _st: &St) -> Result<Status, CapError> {
    if !w.ssh {
        return Ok(report::skip("F1",
            "not checked: seeing both targets receive requests needs each server's nginx log: give labrun --ssh-key",
            "未確認: 両ターゲットへの振り分けの確認には各サーバの nginx ログが必要です: labrun に --ssh-key を指定してください"));
    }
    let lb = find_alb(w)?;
    if none(&lb) {
        return Ok(report::skip(
            "F1",
            format!("skipped: no load balancer {} (see C1)", w.alb),
            format!("省略: ロードバランサ {} がありません (C1 参照)", w.alb),
        ));
    }
    let mut servers: Vec<(String, Value)> = Vec::new();
    for name in [&w.web1, &w.web2] {
        let ip = web_server_address(name)?;
        if none(&ip) {
            return Ok(report::skip(
                "F1",
                format!(
                    "skipped: {name} has no public address to read its nginx log from (see B2)"
                ),
                format!("省略: {name} にログを読むためのパブリックアドレスがありません (B2 参照)"),
            ));
        }
        servers.push((name.clone(), ip));
    }
    // The marker is unique to this run yet replays from a cassette: it is made from the
    // logs' last lines before this run's requests (a different request from the read
    // after them: labrun answers identical calls once per run).
    let mut before = Vec::new();
    for (_, ip) in &servers {
        before.push(access_log(ip, 1)?);
    }
    let marker = format!(
        "labrun-f1={}-{}-{}",
        w.user,
        last_stamp(&before[0]),
        last_stamp(&before[1])
    );
    let mut answered = 0;
    for i in 0..F1_REQUESTS {
        let r = http::get(json!({ "url": format!("http://{}/?{marker}-{i}", t(&lb["DNSName"])) }))?;
        if r["ok"] == json!(true) {
            answered += 1;
        }
    }
    let mut received = BTreeMap::new();
    let mut p = Problems::new();
    for (name, ip) in &servers {
        let n = count_marked(&access_log(ip, F1_TAIL_LINES)?, &marker);
        received.insert(name.clone(), n);
        if n == 0 {
            p.problem(
                format!("{name} received none of {F1_REQUESTS} requests sent through {}: is it registered in {} and healthy? (see C3)", w.alb, w.tg),
                format!("{name} は {} 経由の {F1_REQUESTS} 件のリクエストを1件も受けていません: {} に登録され healthy ですか? (C3 参照)", w.alb, w.tg),
            );
        }
    }
    let evidence = json!({ "marker": marker, "sent": F1_REQUESTS, "answered": answered, "received": received });
    if !p.is_empty() {
        return Ok(report::fail(
            "F1",
            join(&p.en, "; "),
            join(&p.ja, "、"),
            evidence,
        ));
    }
    Ok(report::pass(
        "F1",
        format!(
            "both targets received requests through {} ({}: {}, {}: {})",
            w.alb, w.web1, received[&w.web1], w.web2, received[&w.web2]
        ),
        format!(
            "両ターゲットが {} 経由のリクエストを受けています ({}: {}、{}: {})",
            w.alb, w.web1, received[&w.web1], w.web2, received[&w.web2]
        ),
        evidence,
    ))
}
