//! A trainee's account built the way the manual builds it, one step on the other: the
//! [`Step1`] layer (VPC, subnets, internet gateway, route table, key pair, `web-XX`,
//! webserver#1 from the course AMI), the [`Step2`] layer on it (`db-XX`, the DB subnet
//! group, the Aurora cluster and its writer, the media bucket). The Step-3 layer on
//! both is [`crate::world`]'s; [`crate::course`] stops after the step it is asked for.
//! This module owns every AWS call those layers share, so the network of a Step-1 world
//! and of a Step-3 world is the same code.
//!
//! Each layer is finished except for one [`Broken`] (a Step-1 or Step-2 variant; any
//! other leaves the layer finished), in the names of one [`Edition`].

use anyhow::{Context, Result};
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, InstanceType, IpPermission, IpRange, ResourceType, Tag,
    TagSpecification, UserIdGroupPair,
};
use aws_sdk_s3::types::{
    BucketCannedAcl, BucketLocationConstraint, CreateBucketConfiguration,
    PublicAccessBlockConfiguration,
};

use crate::course::{Broken, Edition, COURSE_AMI};
use crate::TestAccount;

/// The password every world's Aurora cluster is created with.
pub const DB_PASSWORD: &str = "Passw0rd-labrun";

#[derive(Clone, Debug)]
pub struct Subnet {
    pub id: String,
    pub cidr: String,
    pub az: String,
}

#[derive(Clone, Debug)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
}

/// What Step 1 leaves in the account.
#[derive(Clone, Debug)]
pub struct Step1 {
    pub vpc_id: String,
    pub igw_id: String,
    /// `public-rt-XX` (absent for [`Broken::IgwNotAttached`]).
    pub public_route_table_id: Option<String>,
    /// 10.0.0.0/24, ap-northeast-1d.
    pub public_d: Subnet,
    /// 10.0.1.0/24, ap-northeast-1c.
    pub public_c: Subnet,
    /// 10.0.2.0/24, ap-northeast-1d.
    pub private_d: Subnet,
    /// 10.0.3.0/24, ap-northeast-1c ([`Broken::SubnetWrongAz`]: 1d).
    pub private_c: Subnet,
    /// `1day-XX`.
    pub key_name: String,
    /// `web-XX`: SSH and HTTP from anywhere.
    pub web_sg: SecurityGroup,
    /// The course AMI webserver#1 runs from.
    pub ami_id: String,
    pub web1_id: String,
    pub web1_name: String,
}

/// What Step 2 leaves in the account, on its Step 1.
#[derive(Clone, Debug)]
pub struct Step2 {
    /// `db-XX`: 3306 from `web-XX`.
    pub db_sg: SecurityGroup,
    pub db_subnet_group: String,
    pub cluster_id: String,
    /// The writer as the edition names it (`wp-XX`, 2021 `wb-XX`).
    pub writer_id: String,
    /// `s3-1day-XX`, when the layer was asked for its media.
    pub bucket: Option<String>,
}

pub(crate) fn sdk<T, E>(r: Result<T, E>, what: impl std::fmt::Display) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    r.map_err(|e| anyhow::anyhow!("{what}: {}", aws_sdk_ec2::error::DisplayErrorContext(e)))
}

pub(crate) fn name_tags(rt: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .tags(Tag::builder().key("Name").value(name).build())
        .build()
}

pub(crate) fn tcp_from_anywhere(port: i32) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

pub(crate) fn tcp_from_sg(port: i32, sg_id: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(sg_id).build())
        .build()
}

/// An Amazon Linux 2 AMI from moto's built-in catalogue.
pub(crate) async fn base_ami(acct: &TestAccount) -> Result<String> {
    let out = sdk(
        acct.ec2
            .describe_images()
            .owners("amazon")
            .filters(
                Filter::builder()
                    .name("name")
                    .values("amzn2-ami-hvm-*-x86_64-gp2")
                    .build(),
            )
            .send()
            .await,
        "DescribeImages (base AMI)",
    )?;
    let mut ids: Vec<&str> = out.images().iter().filter_map(|i| i.image_id()).collect();
    ids.sort_unstable();
    Ok(ids
        .first()
        .context("moto has no amzn2-ami-hvm-*-x86_64-gp2 image")?
        .to_string())
}

/// The course AMI (`1Day-AMI`) in `acct`, made on first use from an instructor's
/// instance and then shared by every trainee of the account, as in a class.
pub async fn course_ami(acct: &TestAccount) -> Result<String> {
    acct.course_ami
        .get_or_try_init(|| async {
            let base = base_ami(acct).await?;
            let out = sdk(
                acct.ec2
                    .run_instances()
                    .image_id(&base)
                    .instance_type(InstanceType::T2Micro)
                    .min_count(1)
                    .max_count(1)
                    .tag_specifications(name_tags(ResourceType::Instance, "instructor-wordpress"))
                    .send()
                    .await,
                "RunInstances (instructor)",
            )?;
            let id = out
                .instances()
                .first()
                .and_then(|i| i.instance_id())
                .context("RunInstances: no instance")?;
            let image = sdk(
                acct.ec2
                    .create_image()
                    .instance_id(id)
                    .name(COURSE_AMI)
                    .description("WordPress for the 1-day course")
                    .send()
                    .await,
                "CreateImage 1Day-AMI",
            )?;
            Ok(image
                .image_id()
                .context("CreateImage: no ImageId")?
                .to_owned())
        })
        .await
        .cloned()
}

/// One trainee's account, and the calls every layer makes in it.
pub struct Account<'a> {
    pub acct: &'a TestAccount,
    /// The trainee id, `userXX`.
    pub t: &'a str,
}

impl Account<'_> {
    /// Step 1 as the manual does it, finished except for `b`; webserver#1 from `ami`.
    pub async fn step1(&self, ami: &str, b: Broken) -> Result<Step1> {
        let t = self.t;
        let ec2 = &self.acct.ec2;

        // --- A: the network ---
        let cidr = if b == Broken::VpcWrongCidr {
            "10.0.0.0/20"
        } else {
            "10.0.0.0/16"
        };
        let vpc = sdk(
            ec2.create_vpc()
                .cidr_block(cidr)
                .tag_specifications(name_tags(ResourceType::Vpc, &format!("vpc-{t}")))
                .send()
                .await,
            "CreateVpc",
        )?;
        let vpc_id = vpc
            .vpc()
            .and_then(|v| v.vpc_id())
            .context("CreateVpc: no VpcId")?
            .to_owned();
        let public_d = self
            .subnet(&vpc_id, "10.0.0.0/24", "ap-northeast-1d", "public-d", true)
            .await?;
        let public_c = self
            .subnet(&vpc_id, "10.0.1.0/24", "ap-northeast-1c", "public-c", true)
            .await?;
        let private_d = self
            .subnet(
                &vpc_id,
                "10.0.2.0/24",
                "ap-northeast-1d",
                "private-d",
                false,
            )
            .await?;
        let private_c_az = if b == Broken::SubnetWrongAz {
            "ap-northeast-1d"
        } else {
            "ap-northeast-1c"
        };
        let private_c = self
            .subnet(&vpc_id, "10.0.3.0/24", private_c_az, "private-c", false)
            .await?;

        let igw = sdk(
            ec2.create_internet_gateway()
                .tag_specifications(name_tags(
                    ResourceType::InternetGateway,
                    &format!("igw-{t}"),
                ))
                .send()
                .await,
            "CreateInternetGateway",
        )?;
        let igw_id = igw
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .context("no InternetGatewayId")?
            .to_owned();
        let public_route_table_id = if b == Broken::IgwNotAttached {
            None
        } else {
            let mut routed = vec![&public_d, &public_c];
            if b == Broken::PrivateRoutedToIgw {
                routed.push(&private_d);
            }
            Some(self.public_route_table(&vpc_id, &igw_id, &routed).await?)
        };

        // --- B: key pair, security group, webserver#1 ---
        let key_name = format!("1day-{t}");
        self.key_pair(&key_name).await?;
        let launch_key = if b == Broken::WrongKey {
            let other = format!("mykey-{t}");
            self.key_pair(&other).await?;
            other
        } else {
            key_name.clone()
        };
        let web_sg_name = format!("web-{t}");
        let description = if b == Broken::WebSgWrongDescription {
            "launch-wizard-1".to_string()
        } else {
            web_sg_name.clone()
        };
        let web_sg = self
            .security_group(&vpc_id, &web_sg_name, &description)
            .await?;
        self.authorize(&web_sg, tcp_from_anywhere(22)).await?;
        self.authorize(&web_sg, tcp_from_anywhere(80)).await?;
        let web1_name = format!("webserver#1-{t}");
        let out = sdk(
            ec2.run_instances()
                .image_id(ami)
                .instance_type(if b == Broken::WebWrongType {
                    InstanceType::T2Small
                } else {
                    InstanceType::T2Micro
                })
                .min_count(1)
                .max_count(1)
                .key_name(&launch_key)
                .subnet_id(&public_d.id)
                .security_group_ids(&web_sg.id)
                .tag_specifications(name_tags(ResourceType::Instance, &web1_name))
                .send()
                .await,
            "RunInstances webserver#1",
        )?;
        let web1_id = out
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .context("RunInstances webserver#1: no instance")?
            .to_owned();
        Ok(Step1 {
            vpc_id,
            igw_id,
            public_route_table_id,
            public_d,
            public_c,
            private_d,
            private_c,
            key_name,
            web_sg,
            ami_id: ami.to_owned(),
            web1_id,
            web1_name,
        })
    }

    /// Step 2 on `s1`, finished except for `b`, in `edition`'s names. `media`: also the
    /// bucket with an uploaded image (S3 bucket names are global, in moto as in AWS, so
    /// only worlds whose trainee is unique on the server may ask for it).
    pub async fn step2(
        &self,
        s1: &Step1,
        edition: Edition,
        b: Broken,
        media: bool,
    ) -> Result<Step2> {
        let t = self.t;

        // --- A: Aurora ---
        let db_sg = self
            .security_group(&s1.vpc_id, &format!("db-{t}"), "RDS for Aurora")
            .await?;
        self.authorize(&db_sg, tcp_from_sg(3306, &s1.web_sg.id))
            .await?;
        if b == Broken::DbSgOpenCidr {
            self.authorize(&db_sg, tcp_from_anywhere(3306)).await?;
        }
        let rds = &self.acct.rds;
        let db_subnet_group = edition.subnet_group(t);
        let mut create_group = rds
            .create_db_subnet_group()
            .db_subnet_group_name(&db_subnet_group)
            .db_subnet_group_description(&db_subnet_group)
            .subnet_ids(&s1.private_d.id)
            .subnet_ids(&s1.private_c.id);
        if b == Broken::SubnetGroupWithPublic {
            create_group = create_group.subnet_ids(&s1.public_d.id);
        }
        sdk(
            create_group.send().await,
            format!("CreateDBSubnetGroup {db_subnet_group}"),
        )?;
        let cluster_id = format!("wp-{t}-cluster");
        let created = rds
            .create_db_cluster()
            .db_cluster_identifier(&cluster_id)
            .engine("aurora-mysql")
            .master_username("admin")
            .master_user_password(DB_PASSWORD)
            .database_name("wordpress")
            .db_subnet_group_name(&db_subnet_group)
            .vpc_security_group_ids(&db_sg.id)
            .storage_encrypted(false)
            .deletion_protection(b == Broken::ClusterDeletionProtection)
            .send()
            .await;
        // Under load the SDK may retry a CreateDBCluster that moto had already done;
        // the retry then fails on the cluster (or its automatic snapshot) existing.
        // The cluster is there: that is what was asked.
        if let Err(e) = created {
            let code = e.as_service_error().and_then(|s| {
                aws_sdk_rds::error::ProvideErrorMetadata::code(s).map(str::to_string)
            });
            let exists = matches!(
                code.as_deref(),
                Some("DBClusterSnapshotAlreadyExistsFault" | "DBClusterAlreadyExistsFault")
            ) && rds
                .describe_db_clusters()
                .db_cluster_identifier(&cluster_id)
                .send()
                .await
                .is_ok_and(|d| !d.db_clusters().is_empty());
            if !exists {
                return Err(sdk::<(), _>(Err(e), "CreateDBCluster").unwrap_err());
            }
        }
        let writer_id = edition.writer(t);
        self.db_instance(
            &cluster_id,
            &writer_id,
            edition.writer_class(),
            "ap-northeast-1d",
            b == Broken::WriterPublic,
        )
        .await?;

        // --- C: the media bucket ---
        let bucket = if media {
            Some(self.media_bucket(edition, b).await?)
        } else {
            None
        };
        Ok(Step2 {
            db_sg,
            db_subnet_group,
            cluster_id,
            writer_id,
            bucket,
        })
    }

    async fn media_bucket(&self, edition: Edition, b: Broken) -> Result<String> {
        let s3 = &self.acct.s3;
        let bucket = format!("s3-1day-{}", self.t);
        sdk(
            s3.create_bucket()
                .bucket(&bucket)
                .create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::ApNortheast1)
                        .build(),
                )
                .send()
                .await,
            format!("CreateBucket {bucket}"),
        )?;
        sdk(
            s3.put_public_access_block()
                .bucket(&bucket)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(false)
                        .ignore_public_acls(false)
                        .block_public_policy(false)
                        .restrict_public_buckets(false)
                        .build(),
                )
                .send()
                .await,
            "PutPublicAccessBlock",
        )?;
        if edition.public_acl() && b != Broken::BucketPrivateAcl {
            sdk(
                s3.put_bucket_acl()
                    .bucket(&bucket)
                    .acl(BucketCannedAcl::PublicRead)
                    .send()
                    .await,
                "PutBucketAcl public-read",
            )?;
        }
        if b != Broken::NoMedia {
            sdk(
                s3.put_object()
                    .bucket(&bucket)
                    .key("wp-content/uploads/2019/06/photo.jpg")
                    .body(aws_sdk_s3::primitives::ByteStream::from_static(
                        b"\xff\xd8\xff",
                    ))
                    .send()
                    .await,
                "PutObject",
            )?;
        }
        Ok(bucket)
    }

    /// `public-rt-XX` with 0.0.0.0/0 to the attached `igw_id`, associated with `routed`.
    async fn public_route_table(
        &self,
        vpc_id: &str,
        igw_id: &str,
        routed: &[&Subnet],
    ) -> Result<String> {
        let ec2 = &self.acct.ec2;
        sdk(
            ec2.attach_internet_gateway()
                .internet_gateway_id(igw_id)
                .vpc_id(vpc_id)
                .send()
                .await,
            "AttachInternetGateway",
        )?;
        let rt = sdk(
            ec2.create_route_table()
                .vpc_id(vpc_id)
                .tag_specifications(name_tags(
                    ResourceType::RouteTable,
                    &format!("public-rt-{}", self.t),
                ))
                .send()
                .await,
            "CreateRouteTable",
        )?;
        let rt_id = rt
            .route_table()
            .and_then(|r| r.route_table_id())
            .context("no RouteTableId")?
            .to_owned();
        sdk(
            ec2.create_route()
                .route_table_id(&rt_id)
                .destination_cidr_block("0.0.0.0/0")
                .gateway_id(igw_id)
                .send()
                .await,
            "CreateRoute",
        )?;
        for s in routed {
            sdk(
                ec2.associate_route_table()
                    .route_table_id(&rt_id)
                    .subnet_id(&s.id)
                    .send()
                    .await,
                format!("AssociateRouteTable {}", s.cidr),
            )?;
        }
        Ok(rt_id)
    }

    async fn key_pair(&self, name: &str) -> Result<()> {
        sdk(
            self.acct.ec2.create_key_pair().key_name(name).send().await,
            format!("CreateKeyPair {name}"),
        )?;
        Ok(())
    }

    pub(crate) async fn subnet(
        &self,
        vpc_id: &str,
        cidr: &str,
        az: &str,
        role: &str,
        public: bool,
    ) -> Result<Subnet> {
        let ec2 = &self.acct.ec2;
        let name = format!("{role}-subnet-{}", self.t);
        let out = sdk(
            ec2.create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .availability_zone(az)
                .tag_specifications(name_tags(ResourceType::Subnet, &name))
                .send()
                .await,
            format!("CreateSubnet {cidr}"),
        )?;
        let id = out
            .subnet()
            .and_then(|s| s.subnet_id())
            .context("CreateSubnet: no SubnetId")?
            .to_owned();
        if public {
            sdk(
                ec2.modify_subnet_attribute()
                    .subnet_id(&id)
                    .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                    .send()
                    .await,
                format!("ModifySubnetAttribute {cidr}"),
            )?;
        }
        Ok(Subnet {
            id,
            cidr: cidr.to_owned(),
            az: az.to_owned(),
        })
    }

    pub(crate) async fn security_group(
        &self,
        vpc_id: &str,
        name: &str,
        description: &str,
    ) -> Result<SecurityGroup> {
        let out = sdk(
            self.acct
                .ec2
                .create_security_group()
                .group_name(name)
                .description(description)
                .vpc_id(vpc_id)
                .tag_specifications(name_tags(ResourceType::SecurityGroup, name))
                .send()
                .await,
            format!("CreateSecurityGroup {name}"),
        )?;
        Ok(SecurityGroup {
            id: out.group_id().context("no GroupId")?.to_owned(),
            name: name.to_owned(),
        })
    }

    pub(crate) async fn authorize(&self, sg: &SecurityGroup, rule: IpPermission) -> Result<()> {
        sdk(
            self.acct
                .ec2
                .authorize_security_group_ingress()
                .group_id(&sg.id)
                .ip_permissions(rule)
                .send()
                .await,
            format!("AuthorizeSecurityGroupIngress {}", sg.name),
        )?;
        Ok(())
    }

    pub(crate) async fn revoke(&self, sg: &SecurityGroup, rule: IpPermission) -> Result<()> {
        sdk(
            self.acct
                .ec2
                .revoke_security_group_ingress()
                .group_id(&sg.id)
                .ip_permissions(rule)
                .send()
                .await,
            format!("RevokeSecurityGroupIngress {}", sg.name),
        )?;
        Ok(())
    }

    /// An Aurora instance of `cluster_id`, as the manual sets it up (no minor version
    /// upgrades, no enhanced monitoring).
    pub(crate) async fn db_instance(
        &self,
        cluster_id: &str,
        id: &str,
        class: &str,
        az: &str,
        public: bool,
    ) -> Result<()> {
        sdk(
            self.acct
                .rds
                .create_db_instance()
                .db_instance_identifier(id)
                .db_cluster_identifier(cluster_id)
                .engine("aurora-mysql")
                .db_instance_class(class)
                .availability_zone(az)
                .publicly_accessible(public)
                .auto_minor_version_upgrade(false)
                .monitoring_interval(0)
                .send()
                .await,
            format!("CreateDBInstance {id}"),
        )?;
        Ok(())
    }
}
