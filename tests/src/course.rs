//! Step-1 and Step-2 worlds: a trainee's account at the end of Step 1 or Step 2, in
//! either edition of the manual, finished or broken in exactly one way, and the network
//! their probes see ([`CourseNet`], all on 127.0.0.1).
//!
//! Everything AWS holds is created through the real SDK against moto, S3 included
//! (path-style on moto's one endpoint), in the order the manual creates it. Names follow
//! `lab/step-1-checklist.md` and `lab/step-2-checklist.md` (`XX` = trainee); the
//! "Editions" table decides the names [`Edition::E2021`] uses. Several trainees share
//! one account, as a class does.

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::layers::{sdk, Account};
use crate::mariadb::{self, MariaDb, MariaDbSpec};
use crate::probe_env::{ProbeBroken, ProbeEnv};
use crate::servers;
use crate::world::{self, World};
use crate::TestAccount;

/// The course AMI webserver#1 starts from (the instructor's, here in the same account).
pub const COURSE_AMI: &str = "1Day-AMI";
/// Step 1's ids, in checklist order (its catalog's).
pub static STEP1_IDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| crate::declared_ids(1));
/// Step 2's ids, in checklist order (its catalog's).
pub static STEP2_IDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| crate::declared_ids(2));
/// Ids seen only from inside webserver#1 over SSH: `error` in runs without --ssh-key.
pub const STEP1_IN_SERVER: &[&str] = &["C3"];
pub const STEP2_IN_SERVER: &[&str] = &["A5", "A6", "B2", "B3", "C3"];

/// Which step's script checks a world; for a world, the last step it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    One,
    Two,
    Three,
}

impl Step {
    pub fn script(self) -> &'static str {
        match self {
            Step::One => "scripts/step1.rhai",
            Step::Two => "scripts/step2.rhai",
            Step::Three => "scripts/step3.rhai",
        }
    }

    pub fn ids(self) -> &'static [&'static str] {
        match self {
            Step::One => STEP1_IDS.as_slice(),
            Step::Two => STEP2_IDS.as_slice(),
            Step::Three => world::ALL_IDS.as_slice(),
        }
    }

    /// The course file's prefix of this step's ids (`S1`).
    pub fn course_id(self) -> &'static str {
        match self {
            Step::One => "S1",
            Step::Two => "S2",
            Step::Three => "S3",
        }
    }

    /// An id's status in a finished world checked without --ssh-key (Step 3's probes
    /// served by a [`CourseNet`]): the in-server ids of Steps 1 and 2 are `error`,
    /// Step 3's F1 `skip`, everything else `pass`.
    fn unbroken_status(self, id: &str) -> &'static str {
        match self {
            Step::One if STEP1_IN_SERVER.contains(&id) => "error",
            Step::Two if STEP2_IN_SERVER.contains(&id) => "error",
            Step::Three => world::Broken::None
                .expected_statuses()
                .into_iter()
                .find(|(i, _)| *i == id)
                .map_or("pass", |(_, s)| s),
            _ => "pass",
        }
    }
}

/// The manual's edition: the names of the checklist's "Editions" table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edition {
    E2019,
    E2021,
}

impl Edition {
    pub fn subnet_group(self, t: &str) -> String {
        match self {
            Edition::E2019 => format!("db subnet {t}"),
            Edition::E2021 => format!("db-subnet-{t}"),
        }
    }

    /// The writer's name: the 2021 manual's example has a typo that trainees copy.
    pub fn writer(self, t: &str) -> String {
        match self {
            Edition::E2019 => format!("wp-{t}"),
            Edition::E2021 => format!("wb-{t}"),
        }
    }

    pub fn writer_class(self) -> &'static str {
        match self {
            Edition::E2019 => "db.t2.small",
            Edition::E2021 => "db.t3.small",
        }
    }

    /// Step 3's reader.
    pub fn reader(self, t: &str) -> String {
        match self {
            Edition::E2019 => format!("wp-{t}-slave"),
            Edition::E2021 => format!("wp-{t}-standby"),
        }
    }

    /// The reader's class: the 2019 manual's "as selected"; the 2021 manual states
    /// none, the console's default is the writer's.
    pub fn reader_class(self) -> &'static str {
        self.writer_class()
    }

    /// Whether the manual has the bucket ACL grant Everyone read.
    pub fn public_acl(self) -> bool {
        self == Edition::E2019
    }

    /// Every param of `step` with this edition's value, as `--param` arguments: what
    /// a course file gives (the 2019 values are the scripts' defaults).
    pub fn params(self, step: Step, t: &str) -> Vec<String> {
        if step == Step::Three {
            let p = [
                ("user", t.to_string()),
                ("writer", self.writer(t)),
                ("reader", self.reader(t)),
                ("reader_class", self.reader_class().to_string()),
            ];
            return p
                .into_iter()
                .flat_map(|(k, v)| ["--param".to_string(), format!("{k}={v}")])
                .collect();
        }
        let mut p: Vec<(&str, String)> = vec![
            ("user", t.into()),
            ("vpc", format!("vpc-{t}")),
            ("vpc_cidr", "10.0.0.0/16".into()),
            ("az1", "ap-northeast-1d".into()),
            ("az2", "ap-northeast-1c".into()),
            ("private_cidr1", "10.0.2.0/24".into()),
            ("private_cidr2", "10.0.3.0/24".into()),
            ("web1", format!("webserver#1-{t}")),
            ("web_sg", format!("web-{t}")),
        ];
        match step {
            Step::One => p.extend([
                ("public_cidr1", "10.0.0.0/24".into()),
                ("public_cidr2", "10.0.1.0/24".into()),
                ("ami", COURSE_AMI.into()),
                ("web_type", "t2.micro".into()),
                ("key", format!("1day-{t}")),
                ("database", "wordpress".into()),
                ("local_db_user", "root".into()),
                ("local_db_credential", "local".into()),
                ("table_prefix", "wp_".into()),
            ]),
            Step::Two => p.extend([
                ("db_sg", format!("db-{t}")),
                ("db_sg_description", "RDS for Aurora".into()),
                ("subnet_group", self.subnet_group(t)),
                ("cluster", format!("wp-{t}-cluster")),
                ("writer", self.writer(t)),
                ("writer_class", self.writer_class().into()),
                ("writer_az", "ap-northeast-1d".into()),
                ("master_user", "admin".into()),
                ("database", "wordpress".into()),
                ("table_prefix", "wp_".into()),
                ("local_mysql_unit", "mysqld".into()),
                ("bucket", format!("s3-1day-{t}")),
                ("region", "ap-northeast-1".into()),
                (
                    "bucket_public_acl",
                    if self.public_acl() { "yes" } else { "no" }.into(),
                ),
                ("uploads_prefix", "wp-content/uploads/".into()),
                (
                    "object_base",
                    format!("http://s3-1day-{t}.s3.ap-northeast-1.amazonaws.com/"),
                ),
                ("plugin_aws", "amazon-web-services".into()),
                ("plugin_offload", "amazon-s3-and-cloudfront".into()),
            ]),
            Step::Three => unreachable!("Step 3's params are returned above"),
        }
        p.into_iter()
            .flat_map(|(k, v)| ["--param".to_string(), format!("{k}={v}")])
            .collect()
    }
}

/// One way to break a finished world, named after the checklist id it breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Broken {
    None,
    /// S1 A1: the VPC is 10.0.0.0/20 (the subnets still fit in it).
    VpcWrongCidr,
    /// S1 A2: the private subnet 10.0.3.0/24 is in 1d, not 1c.
    SubnetWrongAz,
    /// S1 A3: the internet gateway was created but never attached (no public route).
    IgwNotAttached,
    /// S1 A4: the private subnet 10.0.2.0/24 is associated with the public route table.
    PrivateRoutedToIgw,
    /// S1 B1: webserver#1 is a t2.small.
    WebWrongType,
    /// S1 B2: `web-XX`'s description is the wizard's `launch-wizard-1`.
    WebSgWrongDescription,
    /// S1 B3: webserver#1 was launched with another key pair.
    WrongKey,
    /// S1 C1: the site answers with nginx's welcome page.
    NotWordpress,
    /// S1 C2: the site redirects to WordPress's installer.
    Installer,
    /// S2 A1: `db-XX` also allows 3306 from 0.0.0.0/0.
    DbSgOpenCidr,
    /// S2 A2: the DB subnet group also holds the public subnet 10.0.0.0/24.
    SubnetGroupWithPublic,
    /// S2 A3: the cluster has deletion protection on.
    ClusterDeletionProtection,
    /// S2 A4: the writer is publicly accessible.
    WriterPublic,
    /// S2 B1: Aurora's `wordpress` holds no posts (only the options were loaded).
    NoPosts,
    /// S2 B4: the site answers "Error establishing a database connection".
    DbConnectionError,
    /// S2 C1: the bucket ACL is private (the 2019 manual grants Everyone read).
    BucketPrivateAcl,
    /// S2 C2: "WP Offload S3 Lite" is not active.
    OffloadInactive,
    /// S2 C4: nothing under `wp-content/uploads/` in the bucket.
    NoMedia,
    /// S2 C4: the image is in the bucket but answers 403.
    MediaForbidden,
}

impl Broken {
    /// The Step-1 variants (each also a valid Step-2 world's Step-1 part).
    pub const STEP1: [Broken; 9] = [
        Broken::VpcWrongCidr,
        Broken::SubnetWrongAz,
        Broken::IgwNotAttached,
        Broken::PrivateRoutedToIgw,
        Broken::WebWrongType,
        Broken::WebSgWrongDescription,
        Broken::WrongKey,
        Broken::NotWordpress,
        Broken::Installer,
    ];
    /// The Step-2 variants.
    pub const STEP2: [Broken; 10] = [
        Broken::DbSgOpenCidr,
        Broken::SubnetGroupWithPublic,
        Broken::ClusterDeletionProtection,
        Broken::WriterPublic,
        Broken::NoPosts,
        Broken::DbConnectionError,
        Broken::BucketPrivateAcl,
        Broken::OffloadInactive,
        Broken::NoMedia,
        Broken::MediaForbidden,
    ];

    /// The ids of `step` whose status differs from the finished world, and theirs.
    /// A failed prerequisite turns its dependants to `skip` (the scripts' `blocked`).
    pub fn expected(self, step: Step) -> &'static [(&'static str, &'static str)] {
        match (step, self) {
            (Step::One, Broken::VpcWrongCidr) => &[
                ("A1", "fail"),
                ("A2", "skip"),
                ("A3", "skip"),
                ("A4", "skip"),
            ],
            (Step::One, Broken::SubnetWrongAz) => &[("A2", "fail"), ("A4", "skip")],
            (Step::One, Broken::IgwNotAttached) => &[("A3", "fail"), ("A4", "skip")],
            (Step::One, Broken::PrivateRoutedToIgw) => &[("A4", "fail")],
            (Step::One, Broken::WebWrongType) => &[("B1", "fail")],
            (Step::One, Broken::WebSgWrongDescription) => &[("B2", "fail")],
            (Step::One, Broken::WrongKey) => &[("B3", "fail")],
            (Step::One, Broken::NotWordpress) => &[("C1", "fail"), ("C2", "skip")],
            (Step::One, Broken::Installer) => &[("C2", "fail")],
            (Step::Two, Broken::DbSgOpenCidr) => &[("A1", "fail")],
            (Step::Two, Broken::SubnetGroupWithPublic) => &[("A2", "fail")],
            (Step::Two, Broken::ClusterDeletionProtection) => &[("A3", "fail")],
            (Step::Two, Broken::WriterPublic) => &[("A4", "fail")],
            (Step::Two, Broken::NoPosts) => &[("B1", "fail")],
            (Step::Two, Broken::DbConnectionError) => &[("B4", "fail")],
            (Step::Two, Broken::BucketPrivateAcl) => &[("C1", "fail"), ("C4", "skip")],
            (Step::Two, Broken::OffloadInactive) => &[("C2", "fail")],
            (Step::Two, Broken::NoMedia | Broken::MediaForbidden) => &[("C4", "fail")],
            _ => &[],
        }
    }

    /// Every id of `step` with its expected status in a run without --ssh-key: `pass`,
    /// the in-server ids `error` (Step 3's F1 `skip`), this variant's own ids as
    /// [`Broken::expected`] says. A Step-1 or Step-2 variant is not judged at Step 3.
    pub fn expected_statuses(self, step: Step) -> Vec<(&'static str, &'static str)> {
        step.ids()
            .iter()
            .map(|&id| {
                let default = step.unbroken_status(id);
                let status = self
                    .expected(step)
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map_or(default, |(_, s)| *s);
                (id, status)
            })
            .collect()
    }
}

/// What a world's probes need to know about it.
#[derive(Clone, Debug)]
pub struct CourseWorld {
    pub trainee: String,
    pub step: Step,
    pub edition: Edition,
    pub broken: Broken,
    pub web1_public_ip: String,
    pub web1_public_dns: Option<String>,
    /// Step 2 only.
    pub cluster_endpoint: Option<String>,
    pub cluster_port: i32,
    pub bucket: Option<String>,
    /// Step 3 only: the Step-3 world on this one's Steps 1 and 2.
    pub step3: Option<World>,
}

pub use crate::layers::course_ami;

/// Builds several trainees' worlds in one account at once; panics with the context of
/// the first failure (a test cannot go on without them). A world at [`Step::Three`] is
/// Steps 1 and 2 as `broken` says and a finished Step 3 on them.
pub async fn build_each(
    acct: &TestAccount,
    worlds: &[(&str, Step, Edition, Broken)],
) -> Vec<CourseWorld> {
    let ami = course_ami(acct)
        .await
        .unwrap_or_else(|e| panic!("course AMI: {e:#}"));
    let builds = worlds.iter().map(|(t, step, edition, broken)| {
        let ami = ami.clone();
        async move {
            Builder {
                acct,
                t,
                ami,
                edition: *edition,
                b: *broken,
            }
            .build(*step)
            .await
            .with_context(|| {
                format!("building the {step:?} world of {t} ({edition:?}, {broken:?})")
            })
        }
    });
    futures::future::join_all(builds)
        .await
        .into_iter()
        .map(|w| w.unwrap_or_else(|e| panic!("{e:#}")))
        .collect()
}

struct Builder<'a> {
    acct: &'a TestAccount,
    t: &'a str,
    ami: String,
    edition: Edition,
    b: Broken,
}

impl Builder<'_> {
    async fn build(self, step: Step) -> Result<CourseWorld> {
        let a = Account {
            acct: self.acct,
            t: self.t,
        };
        let s1 = a.step1(&self.ami, self.b).await?;
        let described = sdk(
            self.acct
                .ec2
                .describe_instances()
                .instance_ids(&s1.web1_id)
                .send()
                .await,
            "DescribeInstances webserver#1",
        )?;
        let web1 = described
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .context("webserver#1 not found")?;
        let mut world = CourseWorld {
            trainee: self.t.to_owned(),
            step,
            edition: self.edition,
            broken: self.b,
            web1_public_ip: web1
                .public_ip_address()
                .context("webserver#1 has no public IP")?
                .to_owned(),
            web1_public_dns: web1
                .public_dns_name()
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            cluster_endpoint: None,
            cluster_port: 3306,
            bucket: None,
            step3: None,
        };
        if step == Step::One {
            return Ok(world);
        }

        let s2 = a.step2(&s1, self.edition, self.b, true).await?;
        let described = sdk(
            self.acct
                .rds
                .describe_db_clusters()
                .db_cluster_identifier(&s2.cluster_id)
                .send()
                .await,
            "DescribeDBClusters",
        )?;
        let c = described.db_clusters().first().context("no cluster")?;
        world.cluster_endpoint = Some(c.endpoint().context("cluster: no Endpoint")?.to_owned());
        world.cluster_port = c.port().unwrap_or(3306);
        world.bucket = s2.bucket.clone();
        if step == Step::Two {
            return Ok(world);
        }

        let t = self.t;
        world.step3 = Some(
            world::step3(
                a,
                s1,
                s2,
                world::Broken::None,
                &self.edition.reader(t),
                self.edition.reader_class(),
            )
            .await?,
        );
        Ok(world)
    }
}

// ---------------------------------------------------------------- the network

/// Rows of a finished Step 2 beyond the template's `wp_options`: WordPress's tables,
/// one post, both plugins active.
fn wordpress_sql(posts: bool, offload: bool) -> String {
    let mut plugins = vec!["amazon-web-services/amazon-web-services.php"];
    if offload {
        plugins.push("amazon-s3-and-cloudfront/wordpress-s3.php");
    }
    let serialized: String = plugins
        .iter()
        .enumerate()
        .map(|(i, p)| format!("i:{i};s:{}:\"{p}\";", p.len()))
        .collect();
    let mut sql = format!(
        "CREATE TABLE wordpress.wp_posts (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, \
         post_title TEXT NOT NULL, post_type VARCHAR(20) NOT NULL DEFAULT 'post');\n\
         CREATE TABLE wordpress.wp_users (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, \
         user_login VARCHAR(60) NOT NULL);\n\
         INSERT INTO wordpress.wp_users (user_login) VALUES ('admin');\n\
         INSERT INTO wordpress.wp_options (option_name, option_value) VALUES \
         ('active_plugins', 'a:{}:{{{serialized}}}');\n",
        plugins.len()
    );
    if posts {
        sql.push_str(
            "INSERT INTO wordpress.wp_posts (post_title, post_type) VALUES ('Hello world!', 'post'), ('S3 photo', 'post');\n",
        );
    }
    sql
}

/// An HTTP server on 127.0.0.1 that answers every request alike; returns its port.
async fn fixed_server(status: &'static str, headers: String, body: String) -> u16 {
    let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind 127.0.0.1");
    let port = l.local_addr().expect("local_addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = l.accept().await else {
                continue;
            };
            let (headers, body) = (headers.clone(), body.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status}\r\nServer: test\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

/// What the worlds' probes reach, all on 127.0.0.1: webserver#1's site (by public
/// name and address), Aurora's `wordpress` database (MariaDB, by the cluster endpoint),
/// the bucket's public URL; for a world at Step 3, a [`ProbeEnv`] (its DNS zone,
/// writer and reader, ALB, the web servers locked behind it), whose `wordpress` also
/// holds Step 2's rows; anything else a closed port.
pub struct CourseNet {
    args: Vec<String>,
    runtime: Option<tokio::runtime::Runtime>,
    _databases: Vec<MariaDb>,
    /// The Step-3 worlds' network.
    pub step3: Option<ProbeEnv>,
}

impl CourseNet {
    pub async fn start(worlds: &[CourseWorld]) -> Result<CourseNet> {
        // One MariaDB per kind of data the Step-2 worlds need.
        let kind = |b: Broken| match b {
            Broken::NoPosts => 1,
            Broken::OffloadInactive => 2,
            _ => 0,
        };
        let mut kinds: Vec<usize> = worlds
            .iter()
            .filter(|w| w.step == Step::Two)
            .map(|w| kind(w.broken))
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        let specs: Vec<(usize, MariaDbSpec)> = kinds
            .iter()
            .map(|&k| {
                let sql = wordpress_sql(k != 1, k != 2);
                (
                    k,
                    MariaDbSpec::wordpress("http://ec2-site.example").with_sql(sql),
                )
            })
            .collect();
        let databases = tokio::task::spawn_blocking(move || {
            specs
                .into_iter()
                .map(|(k, s)| MariaDb::start(&s).map(|db| (k, db)))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .context("starting MariaDB")??;
        // A finished Step 3 keeps Step 2's posts and plugins.
        let step3_worlds: Vec<(&World, ProbeBroken)> = worlds
            .iter()
            .filter_map(|w| w.step3.as_ref())
            .map(|w| (w, ProbeBroken::None))
            .collect();
        let step3 = if step3_worlds.is_empty() {
            None
        } else {
            Some(ProbeEnv::start_with_sql(&step3_worlds, Some(&wordpress_sql(true, true))).await?)
        };

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("labrun-course-servers")
            .enable_all()
            .build()
            .context("building the test servers' runtime")?;
        let to = |port: u16| format!("127.0.0.1:{port}");
        let mut rules = Vec::new();
        for w in worlds {
            // At Step 3 the site is the ALB's and the web servers take HTTP only from
            // it, the database is the ProbeEnv's: only the bucket is left to serve.
            if w.step3.is_none() {
                let site = site_answer(w);
                let port = runtime.spawn(fixed_server(site.0, site.1, site.2)).await?;
                for name in std::iter::once(&w.web1_public_ip).chain(&w.web1_public_dns) {
                    rules.push(format!("{name}:80:{}", to(port)));
                }
                if let Some(endpoint) = &w.cluster_endpoint {
                    let (_, db) = databases
                        .iter()
                        .find(|(k, _)| *k == kind(w.broken))
                        .expect("a database for every kind");
                    rules.push(format!("{endpoint}:{}:{}", w.cluster_port, to(db.port())));
                }
            }
            if let Some(bucket) = &w.bucket {
                let (status, body) = if w.broken == Broken::MediaForbidden {
                    ("403 Forbidden", "<Error><Code>AccessDenied</Code></Error>")
                } else {
                    ("200 OK", "\u{ff}")
                };
                let port = runtime
                    .spawn(fixed_server(status, String::new(), body.to_string()))
                    .await?;
                rules.push(format!(
                    "{bucket}.s3.ap-northeast-1.amazonaws.com:80:{}",
                    to(port)
                ));
            }
        }
        let mut args = Vec::new();
        for rule in rules {
            args.push("--connect-to".to_string());
            args.push(rule);
        }
        match &step3 {
            // Its rules come after these (the first match wins) and end in its
            // catch-all to a closed port; its DNS server, password file, probe timeout.
            Some(env) => args.extend(env.args()),
            None => {
                // Anything no rule names goes to a closed port: no probe ever leaves
                // loopback.
                let closed = runtime.spawn(servers::closed_port()).await?;
                args.push("--connect-to".into());
                args.push(format!("::{}", to(closed)));
                args.push("--mysql-password-file".into());
                args.push(mariadb::password_file()?.display().to_string());
                args.push("--probe-timeout".into());
                args.push("3".into());
            }
        }
        Ok(CourseNet {
            args,
            runtime: Some(runtime),
            _databases: databases.into_iter().map(|(_, db)| db).collect(),
            step3,
        })
    }

    /// labrun's probe arguments.
    pub fn args(&self) -> Vec<String> {
        self.args.clone()
    }
}

/// How webserver#1's site answers in a world before Step 3: status, headers, body.
fn site_answer(w: &CourseWorld) -> (&'static str, String, String) {
    let html = "Content-Type: text/html; charset=UTF-8\r\n".to_string();
    match w.broken {
        Broken::NotWordpress => ("200 OK", html, servers::NGINX_WELCOME_PAGE.to_string()),
        Broken::Installer => (
            "302 Found",
            format!(
                "Location: http://{}/wp-admin/install.php\r\n",
                w.web1_public_dns.as_deref().unwrap_or(&w.web1_public_ip)
            ),
            String::new(),
        ),
        Broken::DbConnectionError => (
            "500 Internal Server Error",
            html,
            "<html><body><h1>Error establishing a database connection</h1></body></html>"
                .to_string(),
        ),
        _ => (
            "200 OK",
            html,
            servers::wordpress_page(&format!("{} blog", w.trainee), "http://ec2-site.example"),
        ),
    }
}

impl Drop for CourseNet {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
