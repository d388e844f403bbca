//! Step-3 of the WordPress-on-AWS workshop as a labrun component: Aurora made
//! Multi-AZ, an AMI and a second web server, an Application Load Balancer, and the web
//! servers locked behind it. One function per check of
//! `shared/lab/step-3-checklist.md`, in checklist order.
//!
//!     cargo build --target wasm32-wasip2 --release   # in plugins/
//!     labrun plugins/target/wasm32-wasip2/release/step3.wasm --param user=user05
//!
//! The step's params, checklist ids, prerequisites, titles and messages are all in
//! `scripts/step3.messages.toml`, embedded here and read by `scripts/step3.rhai` too:
//! the two declare the same step and say the same words from one file (the parity test
//! holds their verdicts together). Every name and value the manual gives is a param
//! with the manual's (2019 edition) default: `--param reader=wp-user05-standby`.

use std::collections::BTreeMap;

use labrun_step_sdk::lab::{self, fail, pass, pending, skip, Checked, Checklist, Error, Found};
use labrun_step_sdk::shapes::{
    DbCluster, DbInstance, Image, Instance, LoadBalancer, SecurityGroup, Subnet, TargetGroup, Vpc,
};
use labrun_step_sdk::{
    dns, export_step, http, json, mysql, server, tcp, CapError, Catalog, Info, Message, Params,
    Step, Value, Var,
};

/// The step's declaration (`[step]`) and words, shared with the script.
const CATALOG: &str = include_str!("../../../scripts/step3.messages.toml");

const F1_REQUESTS: usize = 6; // sent through the ALB: round robin gives each target several
const F1_TAIL_LINES: u64 = 2000; // access-log lines read back from each server

/// RDS states on the way to `available`: a reader in one is `pending`, not wrong.
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
        // The catalog declares the step (its [step]: params, checks, needs) and its
        // words; the tests load it beside scripts/step3.rhai too, so it parses.
        Info::from_catalog(&Catalog::parse(CATALOG).expect("scripts/step3.messages.toml parses"))
    }

    fn run(params: Params) -> Result<(), String> {
        let catalog =
            Catalog::parse(CATALOG).map_err(|e| format!("scripts/step3.messages.toml: {e}"))?;
        let info = Info::from_catalog(&catalog);
        let mut s = Trainee::new(&params, &info, catalog)?;
        // What the console cannot show (DNS, MySQL, HTTP, the servers' logs) is seen
        // as the trainee's servers see it: through webserver#1 over SSH when the
        // operator gave --ssh-key, as the manual does; without it, straight (an
        // `ssh -L` tunnel and --connect-to).
        s.via = public_address(s.p("web1")).ok().flatten();
        s.ssh = s.via.as_deref().is_some_and(ssh_usable);
        let mut list = Checklist::declared(&info);
        list.check("A1", || s.a1_reader_member());
        list.check("A2", || s.a2_reader_placement());
        list.check("A3", || s.a3_endpoints());
        list.check("A4", || s.a4_endpoint_dns());
        list.check("A5", || s.a5_databases());
        list.check("A6", || s.a6_reader_read_only());
        list.check("A7", || s.a7_failover());
        list.check("B1", || s.b1_ami());
        list.check("B2", || s.b2_web2());
        list.check("C1", || s.c1_alb());
        list.check("C2", || s.c2_alb_sg());
        list.check("C3", || s.c3_target_group());
        list.check("C4", || s.c4_listener());
        list.check("C5", || s.c5_wordpress_via_alb());
        list.check("D1", || s.d1_site_url());
        list.check("E1", || s.e1_web_sg());
        list.check("E2", || s.e2_no_direct_http());
        list.check("F1", || s.f1_both_targets_receive());
        Ok(())
    }
}

export_step!(Step3);

/// One trainee's names (the params the catalog declares, every one filled by labrun)
/// and how to reach their servers. Messages see every param (`writer` is only ever
/// shown).
struct Trainee {
    params: BTreeMap<String, String>,
    catalog: Catalog,
    /// webserver#1's public address: where checks go `via` over SSH.
    via: Option<String>,
    /// The operator gave SSH settings (see [`ssh_usable`]).
    ssh: bool,
}

impl Trainee {
    /// Takes every param `info` (the catalog's `[step]`) declares: labrun fills each
    /// one, given or defaulted, so a missing one is labrun's contract broken.
    fn new(params: &Params, info: &Info, catalog: Catalog) -> Result<Trainee, String> {
        let params = info
            .params
            .iter()
            .map(|p| Ok((p.name.clone(), params.get(&p.name)?.to_string())))
            .collect::<Result<_, String>>()?;
        Ok(Trainee {
            params,
            catalog,
            via: None,
            ssh: false,
        })
    }

    /// Param `name`'s value. Only names the catalog declares are used here (a test
    /// holds this file to it), and [`Trainee::new`] took every one.
    fn p(&self, name: &str) -> &str {
        self.params
            .get(name)
            .unwrap_or_else(|| panic!("param {name} is not declared in [step.params]"))
    }

    /// `alb_azs`, the ALB's availability zones, comma-separated.
    fn alb_azs(&self) -> impl Iterator<Item = &str> {
        self.p("alb_azs").split(',').map(str::trim)
    }

    /// Message `id.key` of the catalog: every param is a value (`{reader}`), `extra`
    /// adds the check's own.
    fn msg(&self, id: &str, key: &str, extra: &[(&str, Var)]) -> Result<Message, Error> {
        let mut vars: Vec<(&str, Var)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), Var::from(v)))
            .collect();
        vars.extend(extra.iter().cloned());
        Ok(self.catalog.msg(id, key, &vars)?)
    }

    // ------------------------------------------------------------ lookups
    // This trainee's resources, asked as the API takes them (the lab library's
    // lookups): labrun answers each from one account-wide call per run.

    fn cluster(&self) -> Result<Option<DbCluster>, Error> {
        lab::db_cluster(self.p("cluster"))
    }

    /// The cluster, for checks that run only after A1 or A3 passed (`needs`).
    fn known_cluster(&self) -> Result<DbCluster, Error> {
        self.cluster()?
            .ok_or_else(|| Error::Step(format!("cluster {} not found", self.p("cluster"))))
    }

    fn vpc_of(&self) -> Result<Option<Vpc>, Error> {
        lab::vpc_named(self.p("vpc"))
    }

    /// The security group `name`, inside the trainee's VPC when it is known.
    fn security_group(
        &self,
        name: &str,
        vpc: Option<&Vpc>,
    ) -> Result<Option<SecurityGroup>, Error> {
        lab::security_group(name, vpc.map(|v| v.vpc_id.as_str()))
    }

    fn alb(&self) -> Result<Option<LoadBalancer>, Error> {
        lab::load_balancer(self.p("alb"))
    }

    fn target_group(&self) -> Result<Option<TargetGroup>, Error> {
        lab::target_group(self.p("tg"))
    }

    fn image(&self) -> Result<Option<Image>, Error> {
        lab::own_image_named(self.p("ami"))
    }

    /// The subnets of the cluster's DB subnet group (private: never the ALB's).
    fn db_subnet_ids(&self, c: &DbCluster) -> Result<Vec<(String, String)>, Error> {
        let Some(group) = &c.db_subnet_group else {
            return Ok(Vec::new());
        };
        Ok(lab::db_subnet_group(group)?
            .into_iter()
            .flat_map(|g| g.subnets)
            .map(|s| (s.subnet_identifier, s.subnet_availability_zone.name))
            .collect())
    }

    /// The EC2 subnet of the cluster's DB subnet group in `az`: where an instance
    /// there lives.
    fn db_subnet_in(&self, c: &DbCluster, az: &str) -> Result<Option<Subnet>, Error> {
        let Some((id, _)) = self.db_subnet_ids(c)?.into_iter().find(|(_, z)| z == az) else {
            return Ok(None);
        };
        lab::subnet(&id)
    }

    /// A read-only MySQL query, through the web server when labrun can SSH there.
    fn query(&self, mut request: Value) -> Result<Value, Error> {
        if self.ssh {
            request["via"] = json!(self.via);
        }
        Ok(mysql::query(request)?)
    }

    /// The no-load-balancer skip the checks after C1 share.
    fn no_alb(&self, id: &str) -> Checked {
        skip(id, self.msg("shared", "skip_no_alb", &[])?)
    }

    // ------------------------------------------------------------ A. Aurora

    fn a1_reader_member(&self) -> Checked {
        let Some(c) = self.cluster()? else {
            return fail("A1", self.msg("A1", "no_cluster", &[])?, Value::Null);
        };
        let members: Vec<&str> = c
            .members
            .iter()
            .map(|m| m.db_instance_identifier.as_str())
            .collect();
        let evidence = json!({ "cluster": self.p("cluster"), "members": members });
        if members.contains(&self.p("reader")) {
            return pass("A1", self.msg("A1", "member", &[])?, evidence);
        }
        let m = self.msg(
            "A1",
            "not_member",
            &[("members", members.join(", ").into())],
        )?;
        fail("A1", m, evidence)
    }

    fn a2_reader_placement(&self) -> Checked {
        let Some(r) = lab::db_instance(self.p("reader"))? else {
            return fail("A2", self.msg("A2", "no_instance", &[])?, Value::Null);
        };
        let mut p = Found::new();
        let az = r.availability_zone.clone().unwrap_or_default();
        if az != self.p("reader_az") {
            p.add(self.msg("A2", "az", &[("az", az.into())])?);
        }
        if r.publicly_accessible == Some(true) {
            p.add(self.msg("A2", "public", &[])?);
        }
        let class = r.db_instance_class.clone().unwrap_or_default();
        if !self.p("reader_class").is_empty() && class != self.p("reader_class") {
            p.add(self.msg("A2", "class", &[("class", class.into())])?);
        }
        let status = r.db_instance_status.clone().unwrap_or_default();
        let evidence = json!({
            "instance": self.p("reader"), "az": r.availability_zone, "class": r.db_instance_class,
            "publicly_accessible": r.publicly_accessible, "status": r.db_instance_status,
        });
        let v = [
            ("status", Var::from(&status)),
            ("problems", p.summary().into()),
        ];
        if !p.is_empty() {
            fail("A2", self.msg("A2", "wrong", &v)?, evidence)
        } else if status == "available" {
            pass("A2", self.msg("A2", "ok", &v)?, evidence)
        } else if DB_WAIT_STATES.contains(&status.as_str()) {
            pending("A2", self.msg("A2", "waiting", &v)?, evidence)
        } else {
            fail("A2", self.msg("A2", "not_available", &v)?, evidence)
        }
    }

    fn a3_endpoints(&self) -> Checked {
        let Some(c) = self.cluster()? else {
            return skip("A3", self.msg("A3", "skip_no_cluster", &[])?);
        };
        let evidence = json!({
            "endpoint": c.endpoint, "reader_endpoint": c.reader_endpoint, "status": c.status,
        });
        let present = |e: &Option<String>| e.as_deref().is_some_and(|e| !e.is_empty());
        let v = [
            ("endpoint", Var::from(c.endpoint.clone())),
            ("reader_endpoint", c.reader_endpoint.clone().into()),
            ("status", c.status.clone().into()),
        ];
        let (writer, reader) = (present(&c.endpoint), present(&c.reader_endpoint));
        if writer && reader {
            pass("A3", self.msg("A3", "ok", &v)?, evidence)
        } else if c.status.as_deref() != Some("available") {
            pending("A3", self.msg("A3", "waiting", &v)?, evidence)
        } else if writer {
            fail("A3", self.msg("A3", "no_reader_endpoint", &v)?, evidence)
        } else {
            fail("A3", self.msg("A3", "no_cluster_endpoint", &v)?, evidence)
        }
    }

    fn a4_endpoint_dns(&self) -> Checked {
        let c = self.known_cluster()?;
        let (mut writers, mut readers) = (Vec::new(), Vec::new());
        for m in &c.members {
            let Some(i) =
                lab::db_instance(&m.db_instance_identifier)?.filter(|i| i.endpoint.is_some())
            else {
                continue;
            };
            if m.is_cluster_writer {
                writers.push(i);
            } else {
                readers.push(i);
            }
        }
        let mut p = Found::new();
        let cluster = self.endpoint_resolves(&mut p, &c, "cluster", &c.endpoint, &writers)?;
        let reader = self.endpoint_resolves(&mut p, &c, "reader", &c.reader_endpoint, &readers)?;
        let evidence = json!({ "cluster": cluster, "reader": reader });
        if p.is_empty() {
            let text = |v: &Value| Var::from(v.as_str().map(str::to_string));
            let m = self.msg(
                "A4",
                "ok",
                &[
                    ("to_writer", text(&cluster["instance"])),
                    ("writer_cidr", text(&cluster["subnet"])),
                    ("to_reader", text(&reader["instance"])),
                    ("reader_cidr", text(&reader["subnet"])),
                ],
            )?;
            return pass("A4", m, evidence);
        }
        let v = [("problems", Var::from(p.summary()))];
        if c.status.as_deref() == Some("failing-over") {
            return pending("A4", self.msg("A4", "failing_over", &v)?, evidence);
        }
        fail("A4", self.msg("A4", "wrong", &v)?, evidence)
    }

    /// Whether endpoint `name` (labelled as the API names it) resolves to one of
    /// `instances` and to an address inside that instance's subnet; records problems
    /// in `p`, returns evidence.
    fn endpoint_resolves(
        &self,
        p: &mut Found,
        c: &DbCluster,
        label: &str,
        name: &Option<String>,
        instances: &[DbInstance],
    ) -> Result<Value, Error> {
        let answer = dns::lookup(json!({ "name": name }))?;
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let address = |i: &DbInstance| {
            i.endpoint
                .as_ref()
                .map_or("", |e| e.address.as_str())
                .to_string()
        };
        let mut ev = json!({
            "name": name, "status": answer["status"], "cname_chain": answer["cname_chain"],
            "addresses": answer["addresses"],
            "expected": instances.iter().map(address).collect::<Vec<_>>(),
        });
        let status = answer["status"].as_str().unwrap_or_default();
        let v = [
            ("label", Var::from(label)),
            ("name", name.clone().into()),
            ("status", status.into()),
        ];
        if status != "ok" {
            p.add(self.msg("A4", "unresolved", &v)?);
            return Ok(ev);
        }
        let chain: Vec<String> = strings(&answer["cname_chain"])
            .iter()
            .map(|n| lab::bare(n))
            .collect();
        let Some(target) = instances
            .iter()
            .rfind(|i| chain.contains(&lab::bare(&address(i))))
        else {
            let shown = match chain.last() {
                Some(last) => Var::from(last),
                None => self.msg("A4", "no_cname", &[])?.into(),
            };
            let ids: Vec<&str> = instances
                .iter()
                .map(|i| i.db_instance_identifier.as_str())
                .collect();
            let expected = Message::joined(&ids, " or ", " または ");
            p.add(self.msg(
                "A4",
                "points_elsewhere",
                &[&v[..], &[("shown", shown), ("expected", expected.into())]].concat(),
            )?);
            return Ok(ev);
        };
        ev["instance"] = json!(target.db_instance_identifier);
        let az = target.availability_zone.clone().unwrap_or_default();
        let Some(subnet) = self.db_subnet_in(c, &az)? else {
            p.add(self.msg("A4", "no_subnet", &[("az", az.into())])?);
            return Ok(ev);
        };
        let cidr = subnet.cidr_block.clone().unwrap_or_default();
        ev["subnet"] = json!(subnet.cidr_block);
        let addresses = strings(&answer["addresses"]);
        if !addresses.iter().any(|a| lab::in_cidr(a, &cidr)) {
            let extra = [
                ("addresses", Var::from(addresses.join(", "))),
                ("cidr", cidr.into()),
                ("instance", (&target.db_instance_identifier).into()),
            ];
            p.add(self.msg("A4", "outside", &[&v[..], &extra].concat())?);
        }
        Ok(ev)
    }

    fn a5_databases(&self) -> Checked {
        let c = self.known_cluster()?;
        let answer = self.query(json!({
            "host": c.endpoint, "port": c.port.unwrap_or(3306), "user": c.master_username,
            "sql": "SHOW DATABASES",
        }))?;
        let databases: Vec<String> = rows(&answer).iter().map(|r| cell(r, 0)).collect();
        let evidence = json!({ "endpoint": c.endpoint, "databases": databases });
        if databases.iter().any(|d| d == self.p("database")) {
            return pass("A5", self.msg("A5", "ok", &[])?, evidence);
        }
        let m = self.msg("A5", "missing", &[("found", databases.join(", ").into())])?;
        fail("A5", m, evidence)
    }

    fn a6_reader_read_only(&self) -> Checked {
        let c = self.known_cluster()?;
        // Decided by reading server variables: a check never writes, not even to fail.
        let answer = self.query(json!({
            "host": c.reader_endpoint, "port": c.port.unwrap_or(3306), "user": c.master_username,
            "sql": "SELECT @@read_only, @@innodb_read_only",
        }))?;
        let Some(row) = rows(&answer).first() else {
            return Err(Error::Step(
                "SELECT @@read_only returned no row".to_string(),
            ));
        };
        let (read_only, innodb) = (cell(row, 0), cell(row, 1));
        let evidence = json!({
            "endpoint": c.reader_endpoint, "read_only": row[0], "innodb_read_only": row[1],
        });
        if read_only == "1" || innodb == "1" {
            // Only the variables were read: a check never writes, so it never saw ERROR 1290.
            let m = self.msg(
                "A6",
                "ok",
                &[
                    ("read_only", read_only.into()),
                    ("innodb_read_only", innodb.into()),
                ],
            )?;
            return pass("A6", m, evidence);
        }
        fail("A6", self.msg("A6", "writable", &[])?, evidence)
    }

    fn a7_failover(&self) -> Checked {
        let c = self.known_cluster()?;
        let roles: BTreeMap<&str, &str> = c
            .members
            .iter()
            .map(|m| {
                let role = if m.is_cluster_writer {
                    "writer"
                } else {
                    "reader"
                };
                (m.db_instance_identifier.as_str(), role)
            })
            .collect();
        let mut evidence = json!({ "roles": roles, "cluster_status": c.status });
        // Failover events are evidence where the API keeps them (14 days at most): this
        // cluster's, from one account-wide call shared by the whole class.
        match lab::cluster_events(self.p("cluster"), 20160) {
            Ok(events) => {
                let failovers: Vec<String> = events
                    .iter()
                    .filter(|e| e.message.to_lowercase().contains("failover"))
                    .map(|e| {
                        format!(
                            "{} {}",
                            e.date.as_ref().map_or(String::new(), text),
                            e.message
                        )
                    })
                    .collect();
                evidence["failover_events"] = json!(failovers);
            }
            Err(e) => evidence["failover_events_error"] = json!(cause(&e)),
        }
        if c.status.as_deref() == Some("failing-over") {
            return pending("A7", self.msg("A7", "failing_over", &[])?, evidence);
        }
        // The old writer is whichever other member is now a reader, by IsClusterWriter:
        // trainees copy the manual's typos into its name (`wb-user05`).
        let old: Vec<&str> = c
            .members
            .iter()
            .filter(|m| !m.is_cluster_writer && m.db_instance_identifier != self.p("reader"))
            .map(|m| m.db_instance_identifier.as_str())
            .collect();
        let writer = c.writer();
        if writer == Some(self.p("reader")) {
            if old.is_empty() {
                return fail("A7", self.msg("A7", "writer_gone", &[])?, evidence);
            }
            let m = self.msg(
                "A7",
                "done",
                &[("old", Message::joined(&old, ", ", "、").into())],
            )?;
            return pass("A7", m, evidence);
        }
        let current = match writer {
            Some(w) => Var::from(w),
            None => self.msg("A7", "nobody", &[])?.into(),
        };
        fail(
            "A7",
            self.msg("A7", "not_yet", &[("current", current)])?,
            evidence,
        )
    }

    // ------------------------------------------------------------ B. AMI, web server 2

    fn b1_ami(&self) -> Checked {
        let Some(img) = self.image()? else {
            return fail("B1", self.msg("B1", "no_ami", &[])?, Value::Null);
        };
        let web1 = lab::instances_named(self.p("web1"))?;
        let mut p = Found::new();
        if img.description.as_deref() != Some(self.p("ami")) {
            p.add(self.msg(
                "B1",
                "description",
                &[("description", img.description.clone().into())],
            )?);
        }
        let lineage = match &img.source_instance_id {
            None => "name only (the API did not report the source instance)",
            Some(src) if web1.first().is_some_and(|i| &i.instance_id == src) => "SourceInstanceId",
            Some(src) => {
                p.add(self.msg("B1", "source", &[("source", src.into())])?);
                "unknown"
            }
        };
        let evidence = json!({
            "image_id": img.image_id, "name": img.name, "state": img.state,
            "source_instance": img.source_instance_id, "lineage": lineage,
        });
        let state = img.state.clone().unwrap_or_default();
        let v = [
            ("image_id", Var::from(&img.image_id)),
            ("state", (&state).into()),
            ("problems", p.summary().into()),
        ];
        if !p.is_empty() {
            return fail("B1", self.msg("B1", "wrong", &v)?, evidence);
        }
        match state.as_str() {
            "available" => pass("B1", self.msg("B1", "ok", &v)?, evidence),
            "pending" => pending("B1", self.msg("B1", "creating", &v)?, evidence),
            _ => fail("B1", self.msg("B1", "state", &v)?, evidence),
        }
    }

    fn b2_web2(&self) -> Checked {
        let found = lab::instances_named(self.p("web2"))?;
        let Some(i) = found.first() else {
            return fail("B2", self.msg("B2", "no_instance", &[])?, Value::Null);
        };
        let Some(img) = self.image()? else {
            return skip("B2", self.msg("B2", "skip_no_ami", &[])?);
        };
        let mut p = Found::new();
        if i.image_id.as_deref() != Some(img.image_id.as_str()) {
            p.add(self.msg(
                "B2",
                "image",
                &[
                    ("image", i.image_id.clone().into()),
                    ("ami_id", (&img.image_id).into()),
                ],
            )?);
        }
        if i.instance_type.as_deref() != Some(self.p("web2_type")) {
            p.add(self.msg("B2", "type", &[("type", i.instance_type.clone().into())])?);
        }
        let vpc = self.vpc_of()?;
        if vpc.is_none_or(|v| i.vpc_id.as_deref() != Some(v.vpc_id.as_str())) {
            p.add(self.msg("B2", "vpc", &[])?);
        }
        self.web2_subnet(&mut p, i)?;
        if i.public_ip_address.is_none() && i.state.name == "running" {
            p.add(self.msg("B2", "public_ip", &[])?);
        }
        let groups = i.group_names();
        if !groups.iter().any(|g| g == self.p("web_sg")) {
            p.add(self.msg("B2", "groups", &[("groups", groups.join(", ").into())])?);
        }
        if i.key_name.as_deref() != Some(self.p("key")) {
            p.add(self.msg("B2", "key", &[("key_name", i.key_name.clone().into())])?);
        }
        let mut evidence = json!({
            "instance_id": i.instance_id, "image_id": i.image_id, "type": i.instance_type,
            "subnet": i.subnet_id, "public_ip": i.public_ip_address, "groups": groups,
            "key": i.key_name, "state": i.state.name,
        });
        if found.len() > 1 {
            evidence["note"] = json!(format!(
                "{} instances are named {}; checked the first",
                found.len(),
                self.p("web2")
            ));
        }
        let v = [
            ("state", Var::from(&i.state.name)),
            ("problems", p.summary().into()),
        ];
        if !p.is_empty() {
            return fail("B2", self.msg("B2", "wrong", &v)?, evidence);
        }
        match i.state.name.as_str() {
            "running" => pass("B2", self.msg("B2", "ok", &v)?, evidence),
            "pending" => pending("B2", self.msg("B2", "starting", &v)?, evidence),
            _ => fail("B2", self.msg("B2", "state", &v)?, evidence),
        }
    }

    /// webserver#2 is in the manual's public subnet (CIDR and AZ).
    fn web2_subnet(&self, p: &mut Found, i: &Instance) -> Result<(), Error> {
        let subnet = match &i.subnet_id {
            Some(id) => lab::subnet(id)?,
            None => None,
        };
        let right = subnet.as_ref().is_some_and(|s| {
            s.cidr_block.as_deref() == Some(self.p("web2_cidr"))
                && s.availability_zone.as_deref() == Some(self.p("web2_az"))
        });
        if !right {
            let at = match &subnet {
                Some(s) => self
                    .msg(
                        "B2",
                        "subnet_at",
                        &[
                            ("cidr", s.cidr_block.clone().into()),
                            ("az", s.availability_zone.clone().into()),
                        ],
                    )?
                    .into(),
                None => Var::from(i.subnet_id.clone()),
            };
            p.add(self.msg("B2", "subnet", &[("where", at)])?);
        }
        Ok(())
    }

    // ------------------------------------------------------------ C. load balancer

    fn c1_alb(&self) -> Checked {
        let Some(lb) = self.alb()? else {
            return fail("C1", self.msg("C1", "no_alb", &[])?, Value::Null);
        };
        let mut p = Found::new();
        if lb.kind.as_deref() != Some("application") {
            p.add(self.msg("C1", "type", &[("type", lb.kind.clone().into())])?);
        }
        if lb.scheme.as_deref() != Some("internet-facing") {
            p.add(self.msg("C1", "scheme", &[("scheme", lb.scheme.clone().into())])?);
        }
        let vpc = self.vpc_of()?;
        if vpc.is_none_or(|v| lb.vpc_id.as_deref() != Some(v.vpc_id.as_str())) {
            p.add(self.msg("C1", "vpc", &[])?);
        }
        let zones: Vec<&str> = lb.zones.iter().map(|z| z.zone_name.as_str()).collect();
        for az in self.alb_azs() {
            if !zones.contains(&az) {
                p.add(self.msg("C1", "az", &[("az", az.into())])?);
            }
        }
        let private = match self.cluster()? {
            Some(c) => self.db_subnet_ids(&c)?,
            None => Vec::new(),
        };
        for z in &lb.zones {
            if private
                .iter()
                .any(|(id, _)| z.subnet_id.as_ref() == Some(id))
            {
                let v = [
                    ("zone", Var::from(&z.zone_name)),
                    ("subnet", z.subnet_id.clone().into()),
                ];
                p.add(self.msg("C1", "private_subnet", &v)?);
            }
        }
        let evidence = json!({
            "dns_name": lb.dns_name, "scheme": lb.scheme, "type": lb.kind, "state": lb.state.code,
            "zones": lb.zones.iter()
                .map(|z| format!("{}:{}", z.zone_name, z.subnet_id.as_deref().unwrap_or_default()))
                .collect::<Vec<_>>(),
        });
        let v = [
            ("state", Var::from(&lb.state.code)),
            ("zones", Message::joined(&zones, " and ", "・").into()),
            ("problems", p.summary().into()),
        ];
        if !p.is_empty() {
            return fail("C1", self.msg("C1", "wrong", &v)?, evidence);
        }
        match lb.state.code.as_str() {
            "active" => pass("C1", self.msg("C1", "ok", &v)?, evidence),
            "provisioning" => pending("C1", self.msg("C1", "provisioning", &v)?, evidence),
            _ => fail("C1", self.msg("C1", "state", &v)?, evidence),
        }
    }

    fn c2_alb_sg(&self) -> Checked {
        let Some(lb) = self.alb()? else {
            return self.no_alb("C2");
        };
        let vpc = self.vpc_of()?;
        let Some(sg) = self.security_group(self.p("alb_sg"), vpc.as_ref())? else {
            return fail("C2", self.msg("C2", "no_sg", &[])?, Value::Null);
        };
        let attached = lb
            .security_groups
            .as_ref()
            .is_some_and(|g| g.contains(&sg.group_id));
        let open = sg.open_to_anywhere(80);
        let evidence =
            json!({ "group_id": sg.group_id, "attached": attached, "http_from_anywhere": open });
        if !attached {
            return fail("C2", self.msg("C2", "not_attached", &[])?, evidence);
        }
        if !open {
            return fail("C2", self.msg("C2", "closed", &[])?, evidence);
        }
        pass("C2", self.msg("C2", "ok", &[])?, evidence)
    }

    fn c3_target_group(&self) -> Checked {
        let Some(tg) = self.target_group()? else {
            return fail("C3", self.msg("C3", "no_tg", &[])?, Value::Null);
        };
        let mut p = Found::new();
        if tg.protocol.as_deref() != Some("HTTP") || tg.port != Some(80) {
            let v = [
                ("protocol", Var::from(tg.protocol.clone())),
                ("port", tg.port.into()),
            ];
            p.add(self.msg("C3", "port", &v)?);
        }
        if tg.target_type.as_deref() != Some("instance") {
            p.add(self.msg(
                "C3",
                "target_type",
                &[("target_type", tg.target_type.clone().into())],
            )?);
        }
        let health = lab::target_health(&tg.arn)?;
        let states: BTreeMap<&str, &str> = health
            .iter()
            .map(|h| (h.target.id.as_str(), h.target_health.state.as_str()))
            .collect();
        let mut waiting = Vec::new();
        for name in [self.p("web1"), self.p("web2")] {
            let Some(i) = lab::instances_named(name)?.into_iter().next() else {
                p.add(self.msg("C3", "missing", &[("name", name.into())])?);
                continue;
            };
            let Some(state) = states.get(i.instance_id.as_str()) else {
                let v = [("name", Var::from(name)), ("id", (&i.instance_id).into())];
                p.add(self.msg("C3", "unregistered", &v)?);
                continue;
            };
            match *state {
                "initial" => waiting.push(name),
                "healthy" => {}
                other => {
                    let reason = health
                        .iter()
                        .filter(|h| h.target.id == i.instance_id)
                        .filter_map(|h| h.target_health.description.clone())
                        .next_back();
                    let mut v = vec![("name", Var::from(name)), ("state", other.into())];
                    let key = match reason {
                        Some(r) => {
                            v.push(("reason", r.into()));
                            "unhealthy_because"
                        }
                        None => "unhealthy",
                    };
                    p.add(self.msg("C3", key, &v)?);
                }
            }
        }
        let evidence = json!({ "target_group": tg.arn, "health": states });
        let v = [
            ("waiting", Var::from(Message::joined(&waiting, ", ", "、"))),
            ("problems", p.summary().into()),
        ];
        if !p.is_empty() {
            fail("C3", self.msg("C3", "wrong", &v)?, evidence)
        } else if !waiting.is_empty() {
            pending("C3", self.msg("C3", "checking", &v)?, evidence)
        } else {
            pass("C3", self.msg("C3", "ok", &v)?, evidence)
        }
    }

    fn c4_listener(&self) -> Checked {
        let Some(lb) = self.alb()? else {
            return self.no_alb("C4");
        };
        let tg = self.target_group()?;
        let listeners = lab::listeners(&lb.arn)?;
        let shown: Vec<String> = listeners
            .iter()
            .map(|l| {
                let proto = l.protocol.as_deref().unwrap_or_default();
                let port = l.port.map_or(String::new(), |p| p.to_string());
                format!("{proto}:{port}")
            })
            .collect();
        let mut evidence = json!({ "listeners": shown });
        let Some(http80) = listeners
            .iter()
            .rfind(|l| l.port == Some(80) && l.protocol.as_deref() == Some("HTTP"))
        else {
            return fail("C4", self.msg("C4", "no_listener", &[])?, evidence);
        };
        let mut targets: Vec<String> = Vec::new();
        for arn in http80.default_actions.iter().flat_map(|a| a.forwards_to()) {
            if !targets.contains(&arn) {
                targets.push(arn);
            }
        }
        evidence["forwards_to"] = json!(targets);
        if tg.is_none_or(|tg| !targets.contains(&tg.arn)) {
            return fail("C4", self.msg("C4", "elsewhere", &[])?, evidence);
        }
        pass("C4", self.msg("C4", "ok", &[])?, evidence)
    }

    fn c5_wordpress_via_alb(&self) -> Checked {
        let Some(lb) = self.alb()? else {
            return self.no_alb("C5");
        };
        let url = format!("http://{}/", lb.dns_name);
        let r = http::get(json!({ "url": url }))?;
        let mut evidence = json!({
            "url": url, "ok": r["ok"], "status": r["status"], "failure": r["failure"],
            "elapsed_ms": r["elapsed_ms"],
        });
        let status = r["status"].as_i64();
        let mut v = vec![
            ("url", Var::from(&url)),
            ("status", status.into()),
            ("failure", text(&r["failure"]).into()),
            ("detail", text(&r["message"]).into()),
        ];
        if r["ok"] != json!(true) {
            if lb.state.code == "provisioning" {
                return pending("C5", self.msg("C5", "provisioning", &v)?, evidence);
            }
            return fail("C5", self.msg("C5", "no_answer", &v)?, evidence);
        }
        let status = status.unwrap_or(0);
        if status >= 500 {
            return fail("C5", self.msg("C5", "server_error", &v)?, evidence);
        }
        if (300..400).contains(&status) {
            let to = r["headers"]["location"].clone();
            evidence["location"] = to.clone();
            v.push(("location", text(&to).into()));
            return fail("C5", self.msg("C5", "redirect", &v)?, evidence);
        }
        let body = r["body"].as_str().unwrap_or_default();
        if status == 200 && (body.contains("wp-content") || body.contains("WordPress")) {
            return pass("C5", self.msg("C5", "ok", &v)?, evidence);
        }
        fail("C5", self.msg("C5", "not_wordpress", &v)?, evidence)
    }

    // ------------------------------------------------------------ D. WordPress settings

    fn d1_site_url(&self) -> Checked {
        let Some(lb) = self.alb()? else {
            return self.no_alb("D1");
        };
        let c = self.known_cluster()?;
        let answer = self.query(json!({
            "host": c.endpoint, "port": c.port.unwrap_or(3306), "user": c.master_username,
            "database": self.p("database"),
            "sql": "SELECT option_name, option_value FROM wp_options WHERE option_name IN ('siteurl', 'home')",
        }))?;
        let site = format!("http://{}", lb.dns_name);
        let values: BTreeMap<String, String> = rows(&answer)
            .iter()
            .map(|r| (cell(r, 0), cell(r, 1)))
            .collect();
        let mut p = Found::new();
        for name in ["siteurl", "home"] {
            let Some(value) = values.get(name) else {
                p.add(self.msg("D1", "no_option", &[("name", name.into())])?);
                continue;
            };
            let got = value.to_lowercase();
            if got.strip_suffix('/').unwrap_or(&got) != site.to_lowercase() {
                let v = [
                    ("name", Var::from(name)),
                    ("value", value.into()),
                    ("want", (&site).into()),
                ];
                p.add(self.msg("D1", "value", &v)?);
            }
        }
        let evidence = json!({ "expected": site, "found": values });
        if !p.is_empty() {
            let m = self.msg("D1", "wrong", &[("problems", p.summary().into())])?;
            return fail("D1", m, evidence);
        }
        pass(
            "D1",
            self.msg("D1", "ok", &[("want", site.into())])?,
            evidence,
        )
    }

    // ------------------------------------------------------------ E. lock-down

    fn e1_web_sg(&self) -> Checked {
        let vpc = self.vpc_of()?;
        let Some(sg) = self.security_group(self.p("web_sg"), vpc.as_ref())? else {
            return fail("E1", self.msg("E1", "no_sg", &[])?, Value::Null);
        };
        let alb = self.security_group(self.p("alb_sg"), vpc.as_ref())?;
        let cidrs = sg.cidrs_allowed(80);
        let (from_alb, others): (Vec<String>, Vec<String>) = sg
            .groups_allowed(80)
            .into_iter()
            .partition(|g| alb.as_ref().is_some_and(|a| &a.group_id == g));
        let from_alb = !from_alb.is_empty();
        let evidence = json!({
            "group_id": sg.group_id, "http_from_cidrs": cidrs,
            "http_from_other_groups": others, "http_from_alb": from_alb,
        });
        let v = [
            ("cidrs", Var::from(cidrs.join(", "))),
            ("groups", others.join(", ").into()),
        ];
        if !cidrs.is_empty() {
            fail("E1", self.msg("E1", "open", &v)?, evidence)
        } else if !from_alb {
            fail("E1", self.msg("E1", "not_from_alb", &v)?, evidence)
        } else if !others.is_empty() {
            fail("E1", self.msg("E1", "others", &v)?, evidence)
        } else {
            pass("E1", self.msg("E1", "ok", &v)?, evidence)
        }
    }

    fn e2_no_direct_http(&self) -> Checked {
        let mut servers = Vec::new();
        for name in [self.p("web1"), self.p("web2")] {
            if let Some(ip) = public_address(name)? {
                servers.push((name, ip));
            }
        }
        if servers.is_empty() {
            return skip("E2", self.msg("E2", "skip_no_address", &[])?);
        }
        let mut p = Found::new();
        let mut tried = BTreeMap::new();
        for (name, ip) in &servers {
            let r = tcp::connect(json!({ "host": ip, "port": 80 }))?;
            let connected = r["ok"] == json!(true);
            tried.insert(
                *name,
                if connected {
                    json!("connected")
                } else {
                    r["failure"].clone()
                },
            );
            if connected {
                let v = [("name", Var::from(*name)), ("ip", ip.into())];
                p.add(self.msg("E2", "reachable", &v)?);
            }
        }
        let evidence = json!({ "tried": tried });
        if !p.is_empty() {
            let m = self.msg("E2", "wrong", &[("problems", p.summary().into())])?;
            return fail("E2", m, evidence);
        }
        let names: Vec<&str> = servers.iter().map(|(n, _)| *n).collect();
        pass(
            "E2",
            self.msg("E2", "ok", &[("servers", names.join(", ").into())])?,
            evidence,
        )
    }

    // ------------------------------------------------------------ F. traffic

    fn f1_both_targets_receive(&self) -> Checked {
        if !self.ssh {
            return skip("F1", self.msg("F1", "no_ssh", &[])?);
        }
        let Some(lb) = self.alb()? else {
            return self.no_alb("F1");
        };
        let mut servers = Vec::new();
        for name in [self.p("web1"), self.p("web2")] {
            let Some(ip) = public_address(name)? else {
                return skip(
                    "F1",
                    self.msg("F1", "no_address", &[("name", name.into())])?,
                );
            };
            servers.push((name, ip));
        }
        // The marker is unique to this run yet replays from a cassette: it is made from
        // the logs' last lines before this run's requests (a different request from the
        // read after them: labrun answers identical calls once per run).
        let mut stamps = Vec::new();
        for (_, ip) in &servers {
            stamps.push(last_stamp(&access_log(self.p("access_log"), ip, 1)?));
        }
        let marker = format!("labrun-f1={}-{}", self.p("user"), stamps.join("-"));
        let mut answered = 0;
        for i in 0..F1_REQUESTS {
            let r = http::get(json!({ "url": format!("http://{}/?{marker}-{i}", lb.dns_name) }))?;
            if r["ok"] == json!(true) {
                answered += 1;
            }
        }
        let mut received = BTreeMap::new();
        let mut p = Found::new();
        for (name, ip) in &servers {
            let log = access_log(self.p("access_log"), ip, F1_TAIL_LINES)?;
            let n = log.split('\n').filter(|l| l.contains(&marker)).count();
            received.insert(*name, n);
            if n == 0 {
                let v = [("name", Var::from(*name)), ("sent", F1_REQUESTS.into())];
                p.add(self.msg("F1", "none_received", &v)?);
            }
        }
        let evidence = json!({
            "marker": marker, "sent": F1_REQUESTS, "answered": answered, "received": received,
        });
        if !p.is_empty() {
            let m = self.msg("F1", "wrong", &[("problems", p.summary().into())])?;
            return fail("F1", m, evidence);
        }
        let v = [
            ("n1", Var::from(received[self.p("web1")])),
            ("n2", received[self.p("web2")].into()),
        ];
        pass("F1", self.msg("F1", "ok", &v)?, evidence)
    }
}

// ---------------------------------------------------------------- servers

/// The public address of the (first) web server named `name`.
fn public_address(name: &str) -> Result<Option<String>, Error> {
    Ok(lab::instances_named(name)?
        .into_iter()
        .next()
        .and_then(|i| i.public_ip_address))
}

/// Whether checks go through the web server: the operator gave --ssh-key (a cassette
/// recorded without it replays as without it). An SSH failure counts as usable: the
/// checks through the server then say what failed.
fn ssh_usable(via: &str) -> bool {
    match server::listening(json!({ "via": via })) {
        Ok(_) => true,
        // No SSH settings; not recorded (a cassette made without --ssh-key); denied by
        // the policy: not granted.
        Err(e) => {
            let no_ssh = e.kind == "unsupported" && e.code.as_deref() == Some("ssh");
            !(no_ssh || e.kind == "not_recorded" || e.code.as_deref() == Some("policy"))
        }
    }
}

fn access_log(path: &str, ip: &str, lines: u64) -> Result<String, CapError> {
    let f = server::read_file(json!({ "via": ip, "path": path, "tail_lines": lines }))?;
    Ok(text(&f["content"]))
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

// ---------------------------------------------------------------- values

/// A JSON value as a message shows it (missing → empty), as a script's `${…}` does.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn rows(answer: &Value) -> &[Value] {
    answer["rows"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn cell(row: &Value, i: usize) -> String {
    text(&row[i])
}

/// One line saying why a call failed, as the Rhai library's `cause`.
fn cause(e: &Error) -> String {
    match e {
        Error::Cap(e) => {
            let code = e
                .code
                .as_ref()
                .map(|c| format!(" (code {c})"))
                .unwrap_or_default();
            format!("{e}{code}")
        }
        Error::Step(s) => s.clone(),
    }
}
