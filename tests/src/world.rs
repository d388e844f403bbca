//! Step-3 worlds: a finished trainee environment, or one broken in exactly one way.
//!
//! A Step-3 world is a finished Step 1 and Step 2 ([`crate::layers`], the same code as
//! the course's Step-1 and Step-2 worlds) with Step 3 on them: this module owns only the
//! Step-3 layer. Everything is created through the real AWS SDK against moto, in the
//! order a trainee would do it in the workshop. Names follow `lab/step-3-checklist.md`
//! (`XX` = trainee).

use std::sync::LazyLock;

use anyhow::{bail, Context, Result};
use aws_sdk_ec2::types::{
    Filter, InstanceNetworkInterfaceSpecification, InstanceStateName, InstanceType, ResourceType,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum,
    TargetDescription, TargetTypeEnum,
};

use crate::course::{self, Edition};
use crate::layers::{self, name_tags, sdk, tcp_from_anywhere, tcp_from_sg, Account, Step1, Step2};
pub use crate::layers::{SecurityGroup, Subnet, DB_PASSWORD};
use crate::TestAccount;

/// Every checklist id, in checklist order: Step 3's catalog's.
pub static ALL_IDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| crate::declared_ids(3));
/// Checklist ids that need network probes (DNS, MySQL, HTTP, SSH), the ones Step 3's
/// catalog says `requires` something of the operator: `pass` in a finished world whose
/// probes reach a [`crate::ProbeEnv`], except [`UNCHECKED_IDS`].
pub static PROBE_IDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| crate::requiring_ids(3, None));
/// Checklist ids checked from the AWS APIs alone (every id not in [`PROBE_IDS`]): all
/// `pass` in a finished world.
pub static AWS_IDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ALL_IDS
        .iter()
        .copied()
        .filter(|id| !PROBE_IDS.contains(id))
        .collect()
});
/// Ids labrun cannot check without the operator's SSH settings (F1 needs the web
/// servers' nginx logs; Step 3's catalog: `requires` `ssh`): `skip` in runs without
/// --ssh-key.
pub static UNCHECKED_IDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| crate::requiring_ids(3, Some("ssh")));

/// One way to break a finished Step-3 world, named after the checklist id it breaks.
///
/// Rule used in [`Broken::expected`]: an outcome whose resource exists but is wrong is
/// `fail`; an outcome that cannot be judged because the resource it is *about* is
/// missing (a reader that was never created, an AMI that cannot be found) is `skip`.
/// The probe ids (A4 A5 A6 C5 D1 E2) pass when labrun runs with the args of a
/// [`crate::ProbeEnv`] in its finished state; F1 is always `skip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Broken {
    /// The finished world.
    None,
    /// A1: no reader `wp-XX-slave` was ever added to the cluster.
    NoReader,
    /// A2: the reader is in ap-northeast-1d instead of 1c.
    ReaderWrongAz,
    /// A2: the reader is publicly accessible.
    ReaderPublic,
    /// A2: the reader is db.t3.small instead of db.t2.small.
    ReaderWrongClass,
    /// A7: no failover: `wp-XX` is still the writer.
    NoFailover,
    /// B1: no AMI was made; webserver#2 was launched from the base AMI instead.
    NoAmi,
    /// B1: the AMI is named `wordpress-XX` (and described the same): not `wordpress XX`.
    AmiWrongName,
    /// B2: webserver#2 is in 10.0.0.0/24 (ap-northeast-1d) instead of 10.0.1.0/24 (1c).
    Web2WrongSubnet,
    /// B2: webserver#2 is t2.small.
    Web2WrongType,
    /// B2: webserver#2 has the VPC's `default` SG instead of `web-XX`.
    Web2WrongSg,
    /// B2: webserver#2 has no public IP (AssociatePublicIpAddress=false).
    Web2NoPublicIp,
    /// B2: webserver#2 was launched from the base AMI although the AMI exists.
    Web2NotFromAmi,
    /// C1: the ALB is internal.
    AlbInternal,
    /// C1: the ALB is only in the 1d public subnet (moto accepts one-subnet ALBs).
    AlbOneAz,
    /// C2: SG `alb-XX` allows 443 from anywhere, not 80.
    AlbSgNoHttp,
    /// C3: only webserver#1 is registered in `tg-elb-XX`.
    TgMissingTarget,
    /// C3: webserver#1 is stopped after registration (moto reports the target `unused`).
    TgTargetStopped,
    /// C4: the ALB has no listener.
    NoListener,
    /// C4: the HTTP:80 listener forwards to another target group `tg-web-XX`.
    ListenerWrongTg,
    /// E1: SG `web-XX` still allows port 80 from 0.0.0.0/0 (besides from `alb-XX`).
    WebSgOpenHttp,
}

impl Broken {
    /// Every variant, `None` first.
    pub const ALL: [Broken; 21] = [
        Broken::None,
        Broken::NoReader,
        Broken::ReaderWrongAz,
        Broken::ReaderPublic,
        Broken::ReaderWrongClass,
        Broken::NoFailover,
        Broken::NoAmi,
        Broken::AmiWrongName,
        Broken::Web2WrongSubnet,
        Broken::Web2WrongType,
        Broken::Web2WrongSg,
        Broken::Web2NoPublicIp,
        Broken::Web2NotFromAmi,
        Broken::AlbInternal,
        Broken::AlbOneAz,
        Broken::AlbSgNoHttp,
        Broken::TgMissingTarget,
        Broken::TgTargetStopped,
        Broken::NoListener,
        Broken::ListenerWrongTg,
        Broken::WebSgOpenHttp,
    ];

    /// The ids whose status differs from the finished world, and the status they get.
    pub fn expected(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Broken::None => &[],
            // The reader is missing: its properties and the failover to it cannot be judged.
            // A4 and A6 are about the reader's endpoint and depend on A1.
            Broken::NoReader => &[
                ("A1", "fail"),
                ("A2", "skip"),
                ("A4", "skip"),
                ("A6", "skip"),
                ("A7", "skip"),
            ],
            Broken::ReaderWrongAz | Broken::ReaderPublic | Broken::ReaderWrongClass => {
                &[("A2", "fail")]
            }
            Broken::NoFailover => &[("A7", "fail")],
            // No AMI `wordpress XX`: "runs from that AMI" cannot be judged.
            Broken::NoAmi | Broken::AmiWrongName => &[("B1", "fail"), ("B2", "skip")],
            Broken::Web2WrongSubnet
            | Broken::Web2WrongType
            | Broken::Web2WrongSg
            | Broken::Web2NoPublicIp
            | Broken::Web2NotFromAmi => &[("B2", "fail")],
            Broken::AlbInternal | Broken::AlbOneAz => &[("C1", "fail")],
            Broken::AlbSgNoHttp => &[("C2", "fail")],
            Broken::TgMissingTarget | Broken::TgTargetStopped => &[("C3", "fail")],
            Broken::NoListener | Broken::ListenerWrongTg => &[("C4", "fail")],
            Broken::WebSgOpenHttp => &[("E1", "fail")],
        }
    }

    /// The full expected status of every checklist id, in checklist order.
    pub fn expected_statuses(&self) -> Vec<(&'static str, &'static str)> {
        ALL_IDS
            .iter()
            .map(|&id| {
                let default = if UNCHECKED_IDS.contains(&id) {
                    "skip"
                } else {
                    "pass"
                };
                let status = self
                    .expected()
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map_or(default, |(_, s)| *s);
                (id, status)
            })
            .collect()
    }

    /// The exit code `labrun` should give for a report of this world alone.
    pub fn expected_exit_code(&self) -> i32 {
        exit_code_for(&self.expected_statuses())
    }
}

/// labrun's exit code for a report with these statuses: 2 if any `error`, else 1 if
/// any `fail` or `pending`, else 0.
pub fn exit_code_for(statuses: &[(&str, &str)]) -> i32 {
    if statuses.iter().any(|(_, s)| *s == "error") {
        2
    } else if statuses
        .iter()
        .any(|(_, s)| matches!(*s, "fail" | "pending"))
    {
        1
    } else {
        0
    }
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub subnet_id: String,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub public_dns: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Ami {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct DbInstance {
    pub id: String,
    pub endpoint: String,
    pub port: i32,
    pub az: String,
    pub class: String,
}

#[derive(Clone, Debug)]
pub struct DbCluster {
    pub id: String,
    pub arn: String,
    pub endpoint: String,
    pub reader_endpoint: String,
    pub port: i32,
    pub master_username: String,
    pub master_password: String,
    pub database: String,
    /// The instance that is the writer once the world is built.
    pub writer_id: String,
}

#[derive(Clone, Debug)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
}

#[derive(Clone, Debug)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
}

/// Everything created for one trainee.
#[derive(Clone, Debug)]
pub struct World {
    pub trainee: String,
    pub broken: Broken,
    pub vpc_id: String,
    pub igw_id: String,
    pub public_route_table_id: String,
    /// 10.0.0.0/24, ap-northeast-1d.
    pub public_d: Subnet,
    /// 10.0.1.0/24, ap-northeast-1c.
    pub public_c: Subnet,
    /// 10.0.2.0/24, ap-northeast-1d.
    pub private_d: Subnet,
    /// 10.0.3.0/24, ap-northeast-1c.
    pub private_c: Subnet,
    pub key_name: String,
    pub web_sg: SecurityGroup,
    pub alb_sg: SecurityGroup,
    /// `db-XX`: 3306 from `web-XX`, attached to the cluster.
    pub db_sg: SecurityGroup,
    /// The course AMI (`1Day-AMI`) webserver#1 was launched from in Step 1.
    pub base_ami_id: String,
    pub web1: Instance,
    /// `wordpress XX` (absent for [`Broken::NoAmi`]).
    pub ami: Option<Ami>,
    pub web2: Instance,
    pub db_subnet_group: String,
    pub cluster: DbCluster,
    /// `wp-XX`, created first (the writer before failover).
    pub db_primary: DbInstance,
    /// `wp-XX-slave`, or the reader name given to [`World::build_with_reader`]
    /// (absent for [`Broken::NoReader`]).
    pub db_slave: Option<DbInstance>,
    pub alb: LoadBalancer,
    pub target_group: TargetGroup,
    /// `tg-web-XX`, only for [`Broken::ListenerWrongTg`].
    pub other_target_group: Option<TargetGroup>,
    pub listener_arn: Option<String>,
}

/// Check a trainee id: `user` + digits (names are built from it).
fn check_trainee(trainee: &str) -> Result<()> {
    let ok = trainee
        .strip_prefix("user")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        bail!("trainee id {trainee:?} is not of the form userNN");
    }
    Ok(())
}

impl World {
    /// A finished Step-3 environment for `trainee` (e.g. `user05`).
    pub async fn build_finished(account: &TestAccount, trainee: &str) -> Result<World> {
        Self::build(account, trainee, Broken::None).await
    }

    /// A Step-3 environment for `trainee`, finished except for `broken`.
    pub async fn build(account: &TestAccount, trainee: &str, broken: Broken) -> Result<World> {
        Self::build_with_reader(account, trainee, broken, &format!("wp-{trainee}-slave")).await
    }

    /// [`World::build`] with the Step 3 reader named `reader` (the 2021 edition of
    /// the manual names it `wp-userXX-standby`).
    pub async fn build_with_reader(
        account: &TestAccount,
        trainee: &str,
        broken: Broken,
        reader: &str,
    ) -> Result<World> {
        check_trainee(trainee)?;
        let build = async {
            let a = Account {
                acct: account,
                t: trainee,
            };
            let ami = layers::course_ami(account).await?;
            let s1 = a.step1(&ami, course::Broken::None).await?;
            // No media bucket: bucket names are global on the server, and the Step-3
            // suites build the same trainee in many accounts at once (Step 3 never
            // looks at S3; a course world at Step 3 has its bucket).
            let s2 = a
                .step2(&s1, Edition::E2019, course::Broken::None, false)
                .await?;
            step3(a, s1, s2, broken, reader, "db.t2.small").await
        };
        build
            .await
            .with_context(|| format!("building Step-3 world for {trainee} ({broken:?})"))
    }

    /// Builds several trainees' worlds in one account at once, in the order given;
    /// a test cannot go on without them, so a failure panics with its context.
    pub async fn build_each(account: &TestAccount, worlds: &[(&str, Broken)]) -> Vec<World> {
        let builds = worlds
            .iter()
            .map(|(trainee, broken)| World::build(account, trainee, *broken));
        futures::future::join_all(builds)
            .await
            .into_iter()
            .map(|w| w.unwrap_or_else(|e| panic!("{e:#}")))
            .collect()
    }

    /// The DB instance that is the cluster writer.
    pub fn db_writer(&self) -> &DbInstance {
        if self.db_slave.as_ref().map(|s| &s.id) == Some(&self.cluster.writer_id) {
            self.db_slave.as_ref().unwrap()
        } else {
            &self.db_primary
        }
    }

    /// The DB instance that is a reader, if there is one.
    pub fn db_reader(&self) -> Option<&DbInstance> {
        let slave = self.db_slave.as_ref()?;
        Some(if slave.id == self.cluster.writer_id {
            &self.db_primary
        } else {
            slave
        })
    }
}
struct Builder<'a> {
    a: Account<'a>,
    broken: Broken,
    /// The Step 3 reader's instance id.
    reader: &'a str,
    /// The Step 3 reader's instance class.
    reader_class: &'a str,
}

/// Step 3 on a finished Step 1 and Step 2 of `a`: a world finished except for `broken`.
pub(crate) async fn step3(
    a: Account<'_>,
    s1: Step1,
    s2: Step2,
    broken: Broken,
    reader: &str,
    reader_class: &str,
) -> Result<World> {
    Builder {
        a,
        broken,
        reader,
        reader_class,
    }
    .build(s1, s2)
    .await
}

impl Builder<'_> {
    async fn build(self, s1: Step1, s2: Step2) -> Result<World> {
        let t = self.a.t;
        let b = self.broken;
        let ec2 = &self.a.acct.ec2;
        let rds = &self.a.acct.rds;
        let Step1 {
            vpc_id,
            igw_id,
            public_route_table_id,
            public_d,
            public_c,
            private_d,
            private_c,
            key_name,
            web_sg,
            ami_id: base_ami_id,
            web1_id,
            web1_name,
        } = s1;
        let public_route_table_id =
            public_route_table_id.context("Step 3 needs Step 1's public route table")?;
        let Step2 {
            db_sg,
            db_subnet_group,
            cluster_id,
            writer_id: primary_id,
            ..
        } = s2;

        // --- Step 3, C/E: the ALB's security group; HTTP to the web servers only from it ---
        let alb_name = format!("alb-{t}");
        let alb_sg = self.a.security_group(&vpc_id, &alb_name, &alb_name).await?;
        let alb_rule = if b == Broken::AlbSgNoHttp {
            tcp_from_anywhere(443)
        } else {
            tcp_from_anywhere(80)
        };
        self.a.authorize(&alb_sg, alb_rule).await?;
        // Step 3 ends by replacing Step 1's "80 from anywhere" with "80 from alb-XX".
        self.a
            .authorize(&web_sg, tcp_from_sg(80, &alb_sg.id))
            .await?;
        if b != Broken::WebSgOpenHttp {
            self.a.revoke(&web_sg, tcp_from_anywhere(80)).await?;
        }

        // --- Step 3, B: the AMI of webserver#1 ---
        let ami = match b {
            Broken::NoAmi => None,
            _ => {
                let name = if b == Broken::AmiWrongName {
                    format!("wordpress-{t}")
                } else {
                    format!("wordpress {t}")
                };
                let out = sdk(
                    ec2.create_image()
                        .instance_id(&web1_id)
                        .name(&name)
                        .description(&name)
                        .send()
                        .await,
                    format!("CreateImage {name}"),
                )?;
                let id = out
                    .image_id()
                    .context("CreateImage: no ImageId")?
                    .to_owned();
                Some(Ami { id, name })
            }
        };

        // --- Step 3, B: webserver#2 ---
        let web2_name = format!("webserver#2-{t}");
        let web2_ami = match (&ami, b) {
            (Some(ami), b) if b != Broken::Web2NotFromAmi => ami.id.clone(),
            _ => base_ami_id.clone(),
        };
        let web2_subnet = if b == Broken::Web2WrongSubnet {
            &public_d
        } else {
            &public_c
        };
        let web2_type = if b == Broken::Web2WrongType {
            InstanceType::T2Small
        } else {
            InstanceType::T2Micro
        };
        let web2_sg = if b == Broken::Web2WrongSg {
            self.default_sg(&vpc_id).await?
        } else {
            web_sg.id.clone()
        };
        let out = sdk(
            ec2.run_instances()
                .image_id(&web2_ami)
                .instance_type(web2_type)
                .min_count(1)
                .max_count(1)
                .key_name(&key_name)
                .network_interfaces(
                    InstanceNetworkInterfaceSpecification::builder()
                        .device_index(0)
                        .subnet_id(&web2_subnet.id)
                        .associate_public_ip_address(b != Broken::Web2NoPublicIp)
                        .groups(&web2_sg)
                        .build(),
                )
                .tag_specifications(name_tags(ResourceType::Instance, &web2_name))
                .send()
                .await,
            "RunInstances webserver#2",
        )?;
        let web2_id = out
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .context("RunInstances webserver#2: no instance")?
            .to_owned();
        // --- Step 3: reader, failover ---
        let slave_id = self.reader.to_string();
        let has_slave = b != Broken::NoReader;
        if has_slave {
            let az = if b == Broken::ReaderWrongAz {
                "ap-northeast-1d"
            } else {
                "ap-northeast-1c"
            };
            let class = if b == Broken::ReaderWrongClass {
                "db.t3.small"
            } else {
                self.reader_class
            };
            self.a
                .db_instance(&cluster_id, &slave_id, class, az, b == Broken::ReaderPublic)
                .await?;
            if b != Broken::NoFailover {
                sdk(
                    rds.failover_db_cluster()
                        .db_cluster_identifier(&cluster_id)
                        .target_db_instance_identifier(&slave_id)
                        .send()
                        .await,
                    "FailoverDBCluster",
                )?;
            }
        }

        // --- Step 3: ALB, target group, listener ---
        let elb = &self.a.acct.elb;
        let alb_name = format!("elb-{t}");
        let mut lb = elb
            .create_load_balancer()
            .name(&alb_name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(if b == Broken::AlbInternal {
                LoadBalancerSchemeEnum::Internal
            } else {
                LoadBalancerSchemeEnum::InternetFacing
            })
            .security_groups(&alb_sg.id)
            .subnets(&public_d.id);
        if b != Broken::AlbOneAz {
            lb = lb.subnets(&public_c.id);
        }
        let out = sdk(lb.send().await, "CreateLoadBalancer")?;
        let lb0 = out
            .load_balancers()
            .first()
            .context("CreateLoadBalancer: no load balancer")?;
        let alb = LoadBalancer {
            arn: lb0
                .load_balancer_arn()
                .context("no LoadBalancerArn")?
                .to_owned(),
            name: alb_name,
            dns_name: lb0.dns_name().context("no DNSName")?.to_owned(),
        };

        let target_group = self.target_group(&vpc_id, &format!("tg-elb-{t}")).await?;
        let mut targets = vec![web1_id.clone()];
        if b != Broken::TgMissingTarget {
            targets.push(web2_id.clone());
        }
        self.register(&target_group, &targets).await?;
        let other_target_group = if b == Broken::ListenerWrongTg {
            let tg = self.target_group(&vpc_id, &format!("tg-web-{t}")).await?;
            self.register(&tg, std::slice::from_ref(&web1_id)).await?;
            Some(tg)
        } else {
            None
        };
        let listener_arn = if b == Broken::NoListener {
            None
        } else {
            let forward_to = other_target_group.as_ref().unwrap_or(&target_group);
            let out = sdk(
                elb.create_listener()
                    .load_balancer_arn(&alb.arn)
                    .protocol(ProtocolEnum::Http)
                    .port(80)
                    .default_actions(
                        Action::builder()
                            .r#type(ActionTypeEnum::Forward)
                            .target_group_arn(&forward_to.arn)
                            .build(),
                    )
                    .send()
                    .await,
                "CreateListener",
            )?;
            Some(
                out.listeners()
                    .first()
                    .and_then(|l| l.listener_arn())
                    .context("CreateListener: no listener")?
                    .to_owned(),
            )
        };

        if b == Broken::TgTargetStopped {
            sdk(
                ec2.stop_instances().instance_ids(&web1_id).send().await,
                "StopInstances webserver#1",
            )?;
        }

        // --- read back what AWS reports ---
        let web1 = self.instance(&web1_id, &web1_name).await?;
        let web2 = self.instance(&web2_id, &web2_name).await?;
        let db_primary = self.describe_db_instance(&primary_id).await?;
        let db_slave = if has_slave {
            Some(self.describe_db_instance(&slave_id).await?)
        } else {
            None
        };
        let cluster = self.describe_cluster(&cluster_id).await?;

        Ok(World {
            trainee: t.to_owned(),
            broken: b,
            vpc_id,
            igw_id,
            public_route_table_id,
            public_d,
            public_c,
            private_d,
            private_c,
            key_name,
            web_sg,
            alb_sg,
            db_sg,
            base_ami_id,
            web1,
            ami,
            web2,
            db_subnet_group,
            cluster,
            db_primary,
            db_slave,
            alb,
            target_group,
            other_target_group,
            listener_arn,
        })
    }

    async fn default_sg(&self, vpc_id: &str) -> Result<String> {
        let out = sdk(
            self.a
                .acct
                .ec2
                .describe_security_groups()
                .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
                .filters(
                    Filter::builder()
                        .name("group-name")
                        .values("default")
                        .build(),
                )
                .send()
                .await,
            "DescribeSecurityGroups default",
        )?;
        Ok(out
            .security_groups()
            .first()
            .and_then(|g| g.group_id())
            .context("the VPC has no default security group")?
            .to_owned())
    }

    async fn instance(&self, id: &str, name: &str) -> Result<Instance> {
        let out = sdk(
            self.a
                .acct
                .ec2
                .describe_instances()
                .instance_ids(id)
                .send()
                .await,
            format!("DescribeInstances {name}"),
        )?;
        let i = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .with_context(|| format!("{name} ({id}) not found"))?;
        let state = i.state().and_then(|s| s.name());
        let expect = if self.broken == Broken::TgTargetStopped && name.starts_with("webserver#1") {
            InstanceStateName::Stopped
        } else {
            InstanceStateName::Running
        };
        if state != Some(&expect) {
            bail!("{name} is {state:?}, expected {expect:?}");
        }
        Ok(Instance {
            id: id.to_owned(),
            name: name.to_owned(),
            image_id: i.image_id().unwrap_or_default().to_owned(),
            subnet_id: i.subnet_id().unwrap_or_default().to_owned(),
            private_ip: i
                .private_ip_address()
                .context("no PrivateIpAddress")?
                .to_owned(),
            public_ip: i.public_ip_address().map(str::to_owned),
            public_dns: i
                .public_dns_name()
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
        })
    }

    async fn describe_db_instance(&self, id: &str) -> Result<DbInstance> {
        let out = sdk(
            self.a
                .acct
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await,
            format!("DescribeDBInstances {id}"),
        )?;
        let i = out
            .db_instances()
            .first()
            .with_context(|| format!("DB instance {id} not found"))?;
        let ep = i.endpoint().with_context(|| format!("{id}: no Endpoint"))?;
        Ok(DbInstance {
            id: id.to_owned(),
            endpoint: ep.address().unwrap_or_default().to_owned(),
            port: ep.port().unwrap_or(3306),
            az: i.availability_zone().unwrap_or_default().to_owned(),
            class: i.db_instance_class().unwrap_or_default().to_owned(),
        })
    }

    async fn describe_cluster(&self, id: &str) -> Result<DbCluster> {
        let out = sdk(
            self.a
                .acct
                .rds
                .describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
                .await,
            format!("DescribeDBClusters {id}"),
        )?;
        let c = out
            .db_clusters()
            .first()
            .with_context(|| format!("cluster {id} not found"))?;
        let writer_id = c
            .db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))
            .and_then(|m| m.db_instance_identifier())
            .with_context(|| format!("cluster {id} has no writer"))?
            .to_owned();
        Ok(DbCluster {
            id: id.to_owned(),
            arn: c.db_cluster_arn().unwrap_or_default().to_owned(),
            endpoint: c.endpoint().context("cluster: no Endpoint")?.to_owned(),
            reader_endpoint: c
                .reader_endpoint()
                .context("cluster: no ReaderEndpoint")?
                .to_owned(),
            port: c.port().unwrap_or(3306),
            master_username: "admin".to_owned(),
            master_password: DB_PASSWORD.to_owned(),
            database: "wordpress".to_owned(),
            writer_id,
        })
    }

    async fn target_group(&self, vpc_id: &str, name: &str) -> Result<TargetGroup> {
        let out = sdk(
            self.a
                .acct
                .elb
                .create_target_group()
                .name(name)
                .protocol(ProtocolEnum::Http)
                .port(80)
                .vpc_id(vpc_id)
                .target_type(TargetTypeEnum::Instance)
                .health_check_path("/")
                .send()
                .await,
            format!("CreateTargetGroup {name}"),
        )?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .context("CreateTargetGroup: no TargetGroupArn")?
            .to_owned();
        Ok(TargetGroup {
            arn,
            name: name.to_owned(),
        })
    }

    async fn register(&self, tg: &TargetGroup, ids: &[String]) -> Result<()> {
        let mut req = self.a.acct.elb.register_targets().target_group_arn(&tg.arn);
        for id in ids {
            req = req.targets(TargetDescription::builder().id(id).port(80).build());
        }
        sdk(req.send().await, format!("RegisterTargets {}", tg.name))?;
        Ok(())
    }
}
