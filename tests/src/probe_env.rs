//! The network a Step-3 world's probes see, all on 127.0.0.1.
//!
//! [`ProbeEnv::start`] serves, for every world: a DNS zone (cluster endpoint → CNAME →
//! the writer instance's endpoint → an address in the private subnet of the writer's
//! AZ, the reader endpoint likewise), a MariaDB writer and a `--read-only` reader (the
//! `wordpress` database with siteurl/home = `http://<ALB DNS name>`), an HTTP server
//! for the ALB name with a WordPress front page, and direct targets for the web
//! servers' public addresses that never answer (webserver#1 refused, webserver#2 a
//! black hole). [`ProbeEnv::args`] gives `labrun` the `--dns-server`, the
//! `--connect-to` rules that send every name and address to those 127.0.0.1 ports (a
//! final catch-all rule sends anything else to a closed port, so no probe can leave
//! loopback), `--mysql-password-file` and `--probe-timeout`. A [`ProbeBroken`] breaks
//! one world's network in one way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::mariadb::{self, MariaDb, MariaDbSpec};
use crate::servers::{self, HomePage, Rec};
use crate::world::{exit_code_for, Broken, Subnet, World};

/// `--probe-timeout` given to labrun: a black-holed web server costs this long.
pub const PROBE_TIMEOUT_SECS: u64 = 3;
/// Host part of the address the DNS zone gives `wp-XX` (first writer) and `wp-XX-slave`.
pub const PRIMARY_HOST: u8 = 57;
pub const SLAVE_HOST: u8 = 217;
/// siteurl/home left from before the ALB: webserver#1's public DNS name in the manual.
pub const OLD_SITE_URL: &str = "http://ec2-54-250-1-2.ap-northeast-1.compute.amazonaws.com";

/// One way to break a finished world's network, named after the outcome it breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeBroken {
    /// Everything answers as in a finished Step 3.
    None,
    /// A4: the cluster endpoint still CNAMEs to the old writer (`wp-XX`, now a reader)
    /// and so resolves into the old writer's subnet: the failover is not reflected.
    DnsWrongSubnet,
    /// A4: the DNS server does not answer (`--dns-server` is a closed port): `error`.
    /// Applies to the whole run.
    DnsDown,
    /// A6: the reader endpoint reaches a writable server.
    ReaderNotReadOnly,
    /// A5: no `wordpress` database (D1 is then skipped).
    NoWordpressDb,
    /// D1: siteurl/home are still [`OLD_SITE_URL`].
    OldSiteUrl,
    /// C5: the ALB answers 200 with nginx's welcome page, not WordPress.
    AlbNotWordpress,
    /// C5: the ALB answers 503 (no healthy target).
    AlbServerError,
    /// E2: webserver#2's public address still answers HTTP on port 80.
    WebServerAnswersDirectly,
    /// A5 A6: the password file holds a wrong password: `error` with MySQL code 1045
    /// (D1 is then skipped: it depends on A5). Applies to the whole run.
    WrongDbPassword,
}

impl ProbeBroken {
    /// Every variant, `None` first.
    pub const ALL: [ProbeBroken; 10] = [
        ProbeBroken::None,
        ProbeBroken::DnsWrongSubnet,
        ProbeBroken::DnsDown,
        ProbeBroken::ReaderNotReadOnly,
        ProbeBroken::NoWordpressDb,
        ProbeBroken::OldSiteUrl,
        ProbeBroken::AlbNotWordpress,
        ProbeBroken::AlbServerError,
        ProbeBroken::WebServerAnswersDirectly,
        ProbeBroken::WrongDbPassword,
    ];

    /// The ids whose status differs from the finished world, and the status they get.
    pub fn expected(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            ProbeBroken::None => &[],
            ProbeBroken::DnsWrongSubnet => &[("A4", "fail")],
            // labrun could not check: not the trainee's fault.
            ProbeBroken::DnsDown => &[("A4", "error")],
            ProbeBroken::ReaderNotReadOnly => &[("A6", "fail")],
            // Without the database its wp_options cannot be judged.
            ProbeBroken::NoWordpressDb => &[("A5", "fail"), ("D1", "skip")],
            ProbeBroken::OldSiteUrl => &[("D1", "fail")],
            ProbeBroken::AlbNotWordpress | ProbeBroken::AlbServerError => &[("C5", "fail")],
            ProbeBroken::WebServerAnswersDirectly => &[("E2", "fail")],
            // labrun could not check; D1 follows A5 like any check whose prerequisite
            // did not pass.
            ProbeBroken::WrongDbPassword => &[("A5", "error"), ("A6", "error"), ("D1", "skip")],
        }
    }

    /// The full expected status of every checklist id for a world broken as `world` in
    /// AWS and as `self` on the network (this variant's ids win).
    pub fn expected_statuses(&self, world: Broken) -> Vec<(&'static str, &'static str)> {
        world
            .expected_statuses()
            .into_iter()
            .map(|(id, status)| {
                let status = self
                    .expected()
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map_or(status, |(_, s)| *s);
                (id, status)
            })
            .collect()
    }

    /// The exit code `labrun` should give for a report of this world alone.
    pub fn expected_exit_code(&self, world: Broken) -> i32 {
        exit_code_for(&self.expected_statuses(world))
    }

    /// Variants that change a setting of the whole run, not one world's servers.
    fn whole_run(&self) -> bool {
        matches!(self, ProbeBroken::DnsDown | ProbeBroken::WrongDbPassword)
    }
}

/// The servers one world's probes reach.
#[derive(Clone, Debug)]
pub struct WorldServers {
    pub trainee: String,
    /// Reached through the cluster endpoint.
    pub writer: SocketAddr,
    /// Reached through the reader endpoint.
    pub reader: SocketAddr,
    /// The HTTP server behind the ALB's DNS name.
    pub alb: SocketAddr,
    /// `http://<ALB DNS name>`: siteurl/home of a finished world.
    pub site_url: String,
}

/// Servers and labrun arguments for a set of worlds; everything stops on drop.
pub struct ProbeEnv {
    args: Vec<String>,
    password_file: PathBuf,
    /// The worlds' servers, in the order given to [`ProbeEnv::start`].
    pub worlds: Vec<WorldServers>,
    /// The zone's DNS server (even for [`ProbeBroken::DnsDown`], which hides it).
    pub dns_server: SocketAddr,
    // Field order is drop order: servers stop before the scratch directory goes.
    runtime: Option<tokio::runtime::Runtime>,
    _databases: Vec<MariaDb>,
    scratch: PathBuf,
}

impl std::fmt::Debug for ProbeEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeEnv")
            .field("args", &self.args)
            .field("worlds", &self.worlds)
            .finish_non_exhaustive()
    }
}

/// `a.b.c.<host>` inside a /24 subnet `a.b.c.0/24`.
fn address_in(subnet: &Subnet, host: u8) -> Result<Ipv4Addr> {
    let (net, len) = subnet
        .cidr
        .split_once('/')
        .with_context(|| format!("subnet CIDR {} has no prefix length", subnet.cidr))?;
    anyhow::ensure!(len == "24", "subnet {} is not a /24", subnet.cidr);
    let o = net
        .parse::<Ipv4Addr>()
        .with_context(|| format!("subnet CIDR {}", subnet.cidr))?
        .octets();
    Ok(Ipv4Addr::new(o[0], o[1], o[2], host))
}

/// The private subnet (of the DB subnet group) in `az`.
fn private_subnet<'w>(world: &'w World, az: &str) -> Result<&'w Subnet> {
    [&world.private_c, &world.private_d]
        .into_iter()
        .find(|s| s.az == az)
        .with_context(|| format!("{}: no private subnet in {az}", world.trainee))
}

fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// What ProbeEnv::start plans for one world before anything runs.
struct Plan {
    zone: Vec<(String, Rec)>,
    writer: MariaDbSpec,
    home: HomePage,
}

fn plan(world: &World, broken: ProbeBroken) -> Result<Plan> {
    let mut zone = Vec::new();
    let primary = &world.db_primary;
    let primary_ip = address_in(private_subnet(world, &primary.az)?, PRIMARY_HOST)?;
    zone.push((primary.endpoint.clone(), Rec::Ip(IpAddr::V4(primary_ip))));
    if let Some(slave) = &world.db_slave {
        let slave_ip = address_in(private_subnet(world, &slave.az)?, SLAVE_HOST)?;
        zone.push((slave.endpoint.clone(), Rec::Ip(IpAddr::V4(slave_ip))));
    }
    let writer = world.db_writer();
    let cluster_target = if broken == ProbeBroken::DnsWrongSubnet {
        let old = world.db_reader().with_context(|| {
            format!(
                "{}: DnsWrongSubnet needs a reader (the old writer)",
                world.trainee
            )
        })?;
        &old.endpoint
    } else {
        &writer.endpoint
    };
    zone.push((world.cluster.endpoint.clone(), Rec::cname(cluster_target)));
    // With no reader instance, Aurora's reader endpoint leads to the writer.
    let reader = world.db_reader().unwrap_or(writer);
    zone.push((
        world.cluster.reader_endpoint.clone(),
        Rec::cname(&reader.endpoint),
    ));

    let site_url = format!("http://{}", world.alb.dns_name);
    let writer = match broken {
        ProbeBroken::NoWordpressDb => MariaDbSpec::without_wordpress(),
        ProbeBroken::OldSiteUrl => MariaDbSpec::wordpress(OLD_SITE_URL),
        _ => MariaDbSpec::wordpress(&site_url),
    };
    let home = match broken {
        ProbeBroken::AlbNotWordpress => HomePage::ok(servers::NGINX_WELCOME_PAGE),
        ProbeBroken::AlbServerError => HomePage::service_unavailable(),
        _ => HomePage::ok(servers::wordpress_page(
            &format!("{} blog", world.trainee),
            &site_url,
        )),
    };
    Ok(Plan { zone, writer, home })
}

fn start_databases(specs: Vec<MariaDbSpec>) -> Result<Vec<MariaDb>> {
    std::thread::scope(|s| {
        let starts: Vec<_> = specs
            .iter()
            .map(|spec| s.spawn(move || MariaDb::start(spec)))
            .collect();
        starts
            .into_iter()
            .map(|h| h.join().expect("MariaDb::start panicked"))
            .collect()
    })
}

impl ProbeEnv {
    /// Starts the servers for `worlds` (each broken as its [`ProbeBroken`] says). The
    /// whole-run variants ([`ProbeBroken::DnsDown`], [`ProbeBroken::WrongDbPassword`])
    /// cannot be mixed with other variants in one env.
    pub async fn start(worlds: &[(&World, ProbeBroken)]) -> Result<ProbeEnv> {
        Self::start_with_sql(worlds, None).await
    }

    /// [`ProbeEnv::start`] with `sql` also run on every world's `wordpress` (a course
    /// world's Step-2 rows: posts, plugins).
    pub async fn start_with_sql(
        worlds: &[(&World, ProbeBroken)],
        sql: Option<&str>,
    ) -> Result<ProbeEnv> {
        anyhow::ensure!(!worlds.is_empty(), "ProbeEnv::start needs a world");
        let whole_run: Vec<ProbeBroken> = worlds
            .iter()
            .map(|(_, b)| *b)
            .filter(ProbeBroken::whole_run)
            .collect();
        if !whole_run.is_empty() && whole_run.len() != worlds.len() {
            bail!("{whole_run:?} change the whole run: give them to every world of one env or to none");
        }
        let mut plans = Vec::new();
        for (world, broken) in worlds {
            let mut p = plan(world, *broken)?;
            if let Some(sql) = sql {
                p.writer = p.writer.with_sql(sql);
            }
            plans.push(p);
        }

        // MariaDB first (the slow part), in parallel: each world's writer, then reader.
        let specs: Vec<MariaDbSpec> = plans
            .iter()
            .flat_map(|p| [p.writer.clone(), p.writer.clone().read_only()])
            .collect();
        let databases = tokio::task::spawn_blocking(move || start_databases(specs))
            .await
            .context("starting MariaDB servers")??;

        // The in-process servers get a runtime of their own: tests wait for labrun by
        // blocking a thread, which must not starve them.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("labrun-test-servers")
            .enable_all()
            .build()
            .context("building the test servers' runtime")?;
        let zone: Vec<(String, Rec)> = plans.iter().flat_map(|p| p.zone.clone()).collect();
        let dns_server = runtime
            .spawn(async move { servers::dns_server(&zone).await })
            .await?;
        let closed = runtime.spawn(servers::closed_port()).await?;
        let closed_udp = runtime.spawn(servers::closed_udp_port()).await?;
        let blackhole = runtime.spawn(servers::blackhole_port()).await?;
        let mut albs = Vec::new();
        for p in &plans {
            albs.push(
                runtime
                    .spawn(servers::http_server_with(p.home.clone()))
                    .await?,
            );
        }

        let scratch = std::env::temp_dir().join(format!(
            "labrun-probe-env-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&scratch)
            .with_context(|| format!("mkdir {}", scratch.display()))?;
        let password_file = if whole_run.contains(&ProbeBroken::WrongDbPassword) {
            let file = scratch.join("wrong-password");
            write_secret(&file, &format!("Wr0ng-{:016x}", fastrand::u64(..)))?;
            file
        } else {
            mariadb::password_file()?
        };

        let to = |port: u16| format!("127.0.0.1:{port}");
        let mut rules: Vec<String> = Vec::new();
        let mut servers_of_worlds = Vec::new();
        for (i, (world, broken)) in worlds.iter().enumerate() {
            let writer_db = &databases[2 * i];
            let reader_db = if *broken == ProbeBroken::ReaderNotReadOnly {
                writer_db
            } else {
                &databases[2 * i + 1]
            };
            let port = world.cluster.port;
            rules.push(format!(
                "{}:{port}:{}",
                world.cluster.endpoint,
                to(writer_db.port())
            ));
            rules.push(format!(
                "{}:{port}:{}",
                world.cluster.reader_endpoint,
                to(reader_db.port())
            ));
            let writer = world.db_writer();
            rules.push(format!(
                "{}:{}:{}",
                writer.endpoint,
                writer.port,
                to(writer_db.port())
            ));
            if let Some(reader) = world.db_reader() {
                rules.push(format!(
                    "{}:{}:{}",
                    reader.endpoint,
                    reader.port,
                    to(reader_db.port())
                ));
            }
            let alb = &albs[i];
            rules.push(format!("{}:80:{}", world.alb.dns_name, to(alb.port)));
            // webserver#1 refuses; webserver#2 drops packets, or still answers HTTP.
            let web2_port = if *broken == ProbeBroken::WebServerAnswersDirectly {
                alb.port
            } else {
                blackhole
            };
            for (web, port) in [(&world.web1, closed), (&world.web2, web2_port)] {
                for name in web.public_ip.iter().chain(&web.public_dns) {
                    rules.push(format!("{name}:80:{}", to(port)));
                }
            }
            servers_of_worlds.push(WorldServers {
                trainee: world.trainee.clone(),
                writer: writer_db.addr,
                reader: reader_db.addr,
                alb: SocketAddr::from((Ipv4Addr::LOCALHOST, alb.port)),
                site_url: format!("http://{}", world.alb.dns_name),
            });
        }
        // Anything no rule names goes to a closed port: no probe ever leaves loopback.
        rules.push(format!("::{}", to(closed)));

        let dns_arg = if whole_run.contains(&ProbeBroken::DnsDown) {
            to(closed_udp)
        } else {
            dns_server.to_string()
        };
        let mut args = vec!["--dns-server".to_string(), dns_arg];
        for rule in rules {
            args.push("--connect-to".into());
            args.push(rule);
        }
        args.push("--mysql-password-file".into());
        args.push(password_file.display().to_string());
        args.push("--probe-timeout".into());
        args.push(PROBE_TIMEOUT_SECS.to_string());

        Ok(ProbeEnv {
            args,
            password_file,
            worlds: servers_of_worlds,
            dns_server,
            runtime: Some(runtime),
            _databases: databases,
            scratch,
        })
    }

    /// The labrun arguments that route every probe to this env's servers.
    pub fn args(&self) -> Vec<String> {
        self.args.clone()
    }

    /// [`ProbeEnv::args`] with a longer `--probe-timeout`, for a test whose probes
    /// include slow steps of its own (an SSH login that first pushes a key through
    /// AWS) and that is not about timeouts: a loaded machine must not turn them into
    /// `error`.
    pub fn args_with_probe_timeout(&self, secs: u64) -> Vec<String> {
        let mut args = self.args.clone();
        if let Some(i) = args.iter().position(|a| a == "--probe-timeout") {
            args[i + 1] = secs.to_string();
        }
        args
    }

    /// The MySQL password file given to labrun (a wrong one for
    /// [`ProbeBroken::WrongDbPassword`]).
    pub fn password_file(&self) -> &Path {
        &self.password_file
    }

    /// The password in [`ProbeEnv::password_file`].
    pub fn given_password(&self) -> String {
        std::fs::read_to_string(&self.password_file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.password_file.display()))
            .trim()
            .to_string()
    }

    /// The servers' real password for user `admin`.
    pub fn db_password(&self) -> String {
        mariadb::password().unwrap_or_else(|e| panic!("{e:#}"))
    }
}

impl Drop for ProbeEnv {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Allowed inside an async test, unlike dropping the runtime.
            rt.shutdown_background();
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
