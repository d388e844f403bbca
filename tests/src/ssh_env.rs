//! Trainees' web servers as real servers on 127.0.0.1, reached the way the manual
//! reaches them: one OpenSSH `sshd` per server, each in its own mount namespace
//! (`unshare -m`) so it sees its own `/var/log/nginx`, `wp-config.php`, `/etc/passwd`
//! (an `ec2-user`), `/etc/sudoers` and `/etc/systemd/system` (which units start at
//! boot, as the real `systemctl is-enabled` reads them) at the real paths; one real
//! `nginx` serving the servers' sites (each with its own access log) and, when there is
//! one, the "ALB" (an upstream, round robin). The client keys are RSA PEM, one per
//! trainee, the way EC2 issues key pairs.
//!
//! What the servers hold is a [`Fleet`]: a list of [`ServerSpec`]s that a Step-3
//! [`World`] ([`Fleet::step3`]) and the Steps-1/2 course worlds
//! ([`Fleet::course`]) both produce. A server with its own MySQL
//! ([`ServerSpec::local_mysql`]) also gets its own network namespace (`unshare -n`),
//! as an EC2 instance has its own network stack: its `127.0.0.1:3306` is its own
//! MariaDB, not the test machine's. The test bridges that namespace's loopback with
//! the test machine's (its sshd from outside, its MySQL port to the MariaDB that
//! stands for it), so nothing leaves 127.0.0.0/8 either side.
//!
//! Needs root (mount and network namespaces), `sshd`, `ssh-keygen`, `nginx` and `sudo`
//! (`tests/run` installs them). Every process listens on 127.0.0.1 only and is killed
//! on drop.

use std::fs::File;
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::course::{CourseWorld, Step};
use crate::servers;
use crate::world::World;

/// The login user on the simulated servers (EC2's Amazon Linux).
pub const SSH_USER: &str = "ec2-user";

/// The AWS secret planted in every server's wp-config.php: it must never show.
pub const PLANTED_AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTEDKEY";

/// A name only the simulated servers resolve (their own `/etc/hosts`: 127.0.0.1), as
/// a VPC-internal name resolves only inside the VPC. A probe `via` a server that
/// reaches it shows the server itself resolved and connected.
pub const INTRANET_NAME: &str = "intranet.vpc.internal";

/// How a world's servers are broken for one scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct SshOptions {
    /// webserver#2 is not in the ALB's upstream (deregistered): F1 fails naming it.
    pub web2_deregistered: bool,
    /// No sshd runs: the SSH ports are closed.
    pub sshd_down: bool,
    /// `sudo` asks ec2-user for a password.
    pub sudo_needs_password: bool,
    /// EC2 Instance Connect: sshd accepts only the key pushed for the server, which
    /// its `AuthorizedKeysCommand` reads from `DIR/pushed/<public ip>` (see
    /// [`crate::pushed_keys`]); the trainees' key files log in nowhere.
    pub pushed_keys: bool,
}

/// The systemd unit of a server's own MySQL, as the manual's Amazon Linux names it.
pub const LOCAL_MYSQL_UNIT: &str = "mysqld";

/// What one server holds, as far as a check over SSH can see it.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Whose server it is: it accepts only that trainee's key (`1day-<trainee>.pem`).
    pub trainee: String,
    /// As AWS reports it (webserver#1-userXX).
    pub name: String,
    /// Its public address as AWS reports it: what a step goes `via`.
    pub public_ip: String,
    /// Its address in the VPC as AWS reports it, when known (kept for the tests'
    /// messages; the server's own stack is loopback only).
    pub private_ip: Option<String>,
    /// Its `/var/www/html/wordpress/wp-config.php` (and a second copy at
    /// `/var/www/html/wp-config.php`, for a policy that widens the readable list);
    /// `None`: WordPress has no config there.
    pub wp_config: Option<String>,
    /// The page its nginx site serves at `/`; `None`: no site in nginx for it.
    pub site: Option<String>,
    /// Whether it is in the ALB's upstream (a registered, healthy target).
    pub behind_alb: bool,
    /// Its own MySQL: the 127.0.0.1 port of the MariaDB that is this server's
    /// `127.0.0.1:3306` (the server gets its own network namespace).
    pub local_mysql: Option<u16>,
    /// systemd units with a unit file in its `/etc/systemd/system`, and whether each
    /// starts at boot (`systemctl is-enabled`: enabled / disabled).
    pub units: Vec<(String, bool)>,
}

/// The servers one [`SshEnv`] runs, and the ALB in front of them if any.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub servers: Vec<ServerSpec>,
    /// The ALB's DNS name (nginx answers for it on 127.0.0.1) when there is one.
    pub alb_dns: Option<String>,
}

impl Fleet {
    /// A Step-3 world's two web servers behind its ALB: WordPress with its
    /// wp-config.php (`db_password` in it, DB_HOST the cluster endpoint); webserver#2
    /// is out of the ALB's upstream when `options.web2_deregistered`.
    pub fn step3(world: &World, db_password: &str, options: &SshOptions) -> Result<Fleet> {
        let site_url = format!("http://{}", world.alb.dns_name);
        let page = servers::wordpress_page(&format!("{} blog", world.trainee), &site_url);
        let mut servers = Vec::new();
        for (i, instance) in [&world.web1, &world.web2].into_iter().enumerate() {
            let public_ip = instance
                .public_ip
                .clone()
                .with_context(|| format!("{} has no public IP", instance.name))?;
            servers.push(ServerSpec {
                trainee: world.trainee.clone(),
                name: instance.name.clone(),
                public_ip,
                private_ip: Some(instance.private_ip.clone()),
                wp_config: Some(wp_config(&world.cluster.endpoint, db_password)),
                site: Some(page.clone()),
                behind_alb: !(options.web2_deregistered && i == 1),
                local_mysql: None,
                units: vec![(LOCAL_MYSQL_UNIT.to_string(), false)],
            });
        }
        Ok(Fleet {
            servers,
            alb_dns: Some(world.alb.dns_name.clone()),
        })
    }

    /// The webserver#1 of each Steps-1/2 course world, as the end of its step leaves
    /// it. Step 1: WordPress on the server's own MySQL (`local_mysql`: that world's
    /// MariaDB port, if it has one; `mysqld` enabled), wp-config.php's DB_HOST
    /// `localhost`. Step 2: DB_HOST the cluster endpoint, `mysqld` stopped and disabled,
    /// the plugin's AWS keys defined. `db_password` goes into wp-config.php. Change a
    /// spec afterwards to break one outcome.
    pub fn course(worlds: &[(&CourseWorld, Option<u16>)], db_password: &str) -> Fleet {
        let servers = worlds
            .iter()
            .map(|(w, local_mysql)| {
                let site_url = format!(
                    "http://{}",
                    w.web1_public_dns.as_deref().unwrap_or(&w.web1_public_ip)
                );
                let step2 = w.step >= Step::Two;
                let db_host = match (&w.cluster_endpoint, step2) {
                    (Some(endpoint), true) => endpoint.clone(),
                    _ => "localhost".to_string(),
                };
                let mut config = wp_config(&db_host, db_password);
                if !step2 {
                    // Step 1's WordPress has no S3 plugin yet: no AWS keys.
                    config = config
                        .lines()
                        .filter(|l| !l.contains("DBI_AWS_"))
                        .map(|l| format!("{l}\n"))
                        .collect();
                }
                ServerSpec {
                    trainee: w.trainee.clone(),
                    name: format!("webserver#1-{}", w.trainee),
                    public_ip: w.web1_public_ip.clone(),
                    private_ip: None,
                    wp_config: Some(config),
                    site: Some(servers::wordpress_page(
                        &format!("{} blog", w.trainee),
                        &site_url,
                    )),
                    behind_alb: false,
                    local_mysql: if step2 { None } else { *local_mysql },
                    units: vec![(LOCAL_MYSQL_UNIT.to_string(), !step2)],
                }
            })
            .collect();
        Fleet {
            servers,
            alb_dns: None,
        }
    }

    /// The spec of the server named `name` (to break it).
    pub fn server_mut(&mut self, name: &str) -> &mut ServerSpec {
        self.servers
            .iter_mut()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no server {name} in the fleet"))
    }
}

/// One simulated web server.
#[derive(Debug)]
pub struct WebServer {
    /// Whose server it is.
    pub trainee: String,
    /// As AWS reports it (webserver#1-userXX).
    pub name: String,
    /// Its public address as AWS reports it: what the step goes `via`.
    pub public_ip: String,
    /// Where its sshd is reached from the test machine.
    pub ssh_port: u16,
    /// Where its nginx site listens (0: it has none).
    pub http_port: u16,
    /// Its host key's SHA256 fingerprint, as `ssh-keygen -l` prints it.
    pub host_key_fingerprint: String,
    /// Its files: `log/` is its /var/log/nginx, `www/` its /var/www/html.
    pub root: PathBuf,
}

/// The servers and the labrun arguments that reach them; everything stops on drop.
pub struct SshEnv {
    pub web: Vec<WebServer>,
    /// The first trainee's key (RSA, PEM), in `dir/keys/1day-<trainee>.pem`.
    pub key: PathBuf,
    /// Every trainee's key, `(trainee, path)`, in the same folder.
    pub keys: Vec<(String, PathBuf)>,
    /// Another RSA key that no server accepts.
    pub wrong_key: PathBuf,
    /// The known-hosts file labrun is given (absent until the first run records it).
    pub known_hosts: PathBuf,
    /// Where the ALB listens (0: the fleet has none).
    pub alb_port: u16,
    alb_dns: Option<String>,
    /// Whether some server has its own MySQL (a route keeps its 127.0.0.1:3306 as is).
    local_mysql: bool,
    /// sshd serves only pushed keys ([`SshOptions::pushed_keys`]).
    pushed_keys: bool,
    children: Vec<Child>,
    bridges: Vec<Bridge>,
    pub dir: PathBuf,
}

impl std::fmt::Debug for SshEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshEnv")
            .field("web", &self.web)
            .field("alb_port", &self.alb_port)
            .finish_non_exhaustive()
    }
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn keygen(path: &Path, kind: &str, pem: bool) -> Result<()> {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", "", "-C", "labrun-test", "-f"])
        .arg(path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    if pem {
        cmd.args(["-m", "PEM"]);
    }
    run(&mut cmd).map(|_| ())
}

/// `SHA256:…` of a public key file.
pub fn fingerprint(public_key: &Path) -> Result<String> {
    let out = run(Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(public_key))?;
    out.split_whitespace()
        .nth(1)
        .map(str::to_string)
        .with_context(|| format!("no fingerprint in {out:?}"))
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited ({status}) before listening on 127.0.0.1:{port}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} did not listen on 127.0.0.1:{port} within 15 s")
}

fn write(path: &Path, text: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn chmod(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

/// wp-config.php as the manual's WordPress has it, with its secrets.
pub fn wp_config(db_host: &str, db_password: &str) -> String {
    format!(
        "<?php\n\
define( 'DB_NAME', 'wordpress' );\n\
define( 'DB_USER', 'admin' );\n\
define( 'DB_PASSWORD', '{db_password}' );\n\
define( 'DB_HOST', '{db_host}' );\n\
define( 'AUTH_KEY',         'k*1Q9]x@plantedAuthKey' );\n\
define( 'SECURE_AUTH_KEY',  'Zq#plantedSecureAuthKey' );\n\
define( 'NONCE_SALT',       'n0nce-plantedSalt' );\n\
define( 'DBI_AWS_ACCESS_KEY_ID', 'AKIAPLANTEDKEYID0000' );\n\
define( 'DBI_AWS_SECRET_ACCESS_KEY', '{PLANTED_AWS_SECRET}' );\n\
$table_prefix = 'wp_';\n\
require_once ABSPATH . 'wp-settings.php';\n"
    )
}

impl SshEnv {
    /// Starts `world`'s two web servers, its ALB and their sshds. `db_password` goes
    /// into each server's wp-config.php (as the trainee's WordPress has it).
    pub fn start(world: &World, db_password: &str, options: SshOptions) -> Result<SshEnv> {
        SshEnv::launch(&Fleet::step3(world, db_password, &options)?, options)
    }

    /// Starts `fleet`'s servers (their sshds, nginx for their sites and the ALB).
    /// Of `options`, `sshd_down` and `sudo_needs_password` apply (`web2_deregistered`
    /// is the fleet's [`ServerSpec::behind_alb`]).
    pub fn launch(fleet: &Fleet, options: SshOptions) -> Result<SshEnv> {
        let dir = std::env::temp_dir().join(format!(
            "labrun-ssh-env-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(dir.join("keys"))?;
        chmod(&dir, 0o755)?;
        if options.pushed_keys {
            // sshd reads pushed keys as `nobody`.
            std::fs::create_dir_all(dir.join("pushed"))?;
            chmod(&dir.join("pushed"), 0o755)?;
        }
        let mut keys: Vec<(String, PathBuf)> = Vec::new();
        for spec in &fleet.servers {
            if keys.iter().any(|(t, _)| *t == spec.trainee) {
                continue;
            }
            let key = dir.join(format!("keys/1day-{}.pem", spec.trainee));
            keygen(&key, "rsa", true)?;
            keys.push((spec.trainee.clone(), key));
        }
        let key = keys.first().context("the fleet has no server")?.1.clone();
        let wrong_key = dir.join("keys/wrong.pem");
        keygen(&wrong_key, "rsa", true)?;

        // The namespace's /etc: the host's users plus ec2-user, and its own sudoers.
        let passwd =
            std::fs::read_to_string("/etc/passwd")? + "ec2-user:x:1990:1990::/tmp:/bin/sh\n";
        let group = std::fs::read_to_string("/etc/group")? + "ec2-user:x:1990:\n";
        let shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default()
            + "ec2-user:*:19000:0:99999:7:::\n";
        let sudoers = if options.sudo_needs_password {
            "Defaults !lecture\nroot ALL=(ALL) ALL\nec2-user ALL=(ALL) ALL\n"
        } else {
            "root ALL=(ALL) ALL\nec2-user ALL=(ALL) NOPASSWD: ALL\n"
        };
        write(&dir.join("etc/passwd"), &passwd, 0o644)?;
        write(&dir.join("etc/group"), &group, 0o644)?;
        write(&dir.join("etc/shadow"), &shadow, 0o640)?;
        write(&dir.join("etc/sudoers"), sudoers, 0o440)?;
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default()
            + &format!("127.0.0.1 {INTRANET_NAME}\n");
        write(&dir.join("etc/hosts"), &hosts, 0o644)?;

        let mut web = Vec::new();
        for (i, spec) in fleet.servers.iter().enumerate() {
            let root = dir.join(format!("web{}", i + 1));
            // /var/log/nginx is root's only (as on Amazon Linux): reading it needs sudo.
            std::fs::create_dir_all(root.join("log"))?;
            chmod(&root.join("log"), 0o700)?;
            std::fs::create_dir_all(root.join("www/wordpress"))?;
            if let Some(page) = &spec.site {
                write(&root.join("www/wordpress/index.html"), page, 0o644)?;
            }
            if let Some(config) = &spec.wp_config {
                write(&root.join("www/wordpress/wp-config.php"), config, 0o640)?;
                // A second copy outside the default list, for a policy that widens it.
                write(&root.join("www/wp-config.php"), config, 0o640)?;
            }
            // Its /etc/systemd/system: a unit file per unit, a wants link if enabled.
            let units = root.join("systemd");
            std::fs::create_dir_all(units.join("multi-user.target.wants"))?;
            for (unit, enabled) in &spec.units {
                let file = format!("{unit}.service");
                write(
                    &units.join(&file),
                    &format!(
                        "[Unit]\nDescription={unit}\n[Service]\nExecStart=/usr/sbin/{unit}\n[Install]\nWantedBy=multi-user.target\n"
                    ),
                    0o644,
                )?;
                if *enabled {
                    std::os::unix::fs::symlink(
                        format!("/etc/systemd/system/{file}"),
                        units.join("multi-user.target.wants").join(&file),
                    )?;
                }
            }
            let authorized = keys
                .iter()
                .find(|(t, _)| *t == spec.trainee)
                .map(|(_, k)| format!("{}.pub", k.display()))
                .expect("a key per trainee");
            write(
                &root.join("authorized_keys"),
                &std::fs::read_to_string(&authorized)?,
                0o644,
            )?;
            let host_key = root.join("ssh_host_ed25519_key");
            keygen(&host_key, "ed25519", false)?;
            web.push(WebServer {
                trainee: spec.trainee.clone(),
                name: spec.name.clone(),
                public_ip: spec.public_ip.clone(),
                ssh_port: free_port()?,
                http_port: if spec.site.is_some() { free_port()? } else { 0 },
                host_key_fingerprint: fingerprint(&root.join("ssh_host_ed25519_key.pub"))?,
                root,
            });
        }

        let mut env = SshEnv {
            web,
            key,
            keys,
            wrong_key,
            known_hosts: dir.join("known_hosts"),
            alb_port: if fleet.alb_dns.is_some() {
                free_port()?
            } else {
                0
            },
            alb_dns: fleet.alb_dns.clone(),
            local_mysql: fleet.servers.iter().any(|s| s.local_mysql.is_some()),
            pushed_keys: options.pushed_keys,
            children: Vec::new(),
            bridges: Vec::new(),
            dir,
        };
        env.start_nginx(fleet)?;
        if !options.sshd_down {
            for (i, spec) in fleet.servers.iter().enumerate() {
                env.start_sshd(i, spec.local_mysql)?;
            }
        }
        Ok(env)
    }

    /// Where the key pushed for the server at `public_ip` is served from
    /// ([`SshOptions::pushed_keys`]).
    pub fn pushed_key_file(&self, public_ip: &str) -> PathBuf {
        self.dir.join("pushed").join(public_ip)
    }

    /// The key of `trainee` (panics for a trainee without a server: test data).
    pub fn key_of(&self, trainee: &str) -> &Path {
        self.keys
            .iter()
            .find(|(t, _)| t == trainee)
            .map(|(_, k)| k.as_path())
            .unwrap_or_else(|| panic!("no key for {trainee}"))
    }

    fn start_nginx(&mut self, fleet: &Fleet) -> Result<()> {
        let d = &self.dir;
        let sites: Vec<&WebServer> = self.web.iter().filter(|w| w.http_port != 0).collect();
        if sites.is_empty() && self.alb_dns.is_none() {
            return Ok(());
        }
        let webs: Vec<String> = sites
            .iter()
            .map(|w| {
                format!(
                    "    server {{\n        listen 127.0.0.1:{port};\n        root {root}/www/wordpress;\n        index index.html;\n        access_log {root}/log/access.log;\n        error_log {root}/log/error.log;\n    }}\n",
                    port = w.http_port,
                    root = w.root.display()
                )
            })
            .collect();
        let alb = if self.alb_dns.is_some() {
            let targets: Vec<String> = self
                .web
                .iter()
                .zip(&fleet.servers)
                .filter(|(w, spec)| spec.behind_alb && w.http_port != 0)
                .map(|(w, _)| format!("        server 127.0.0.1:{};\n", w.http_port))
                .collect();
            format!(
                "    upstream targets {{\n{targets}    }}\n\
    server {{\n        listen 127.0.0.1:{alb};\n        location / {{ proxy_pass http://targets; }}\n    }}\n",
                targets = targets.concat(),
                alb = self.alb_port,
            )
        } else {
            String::new()
        };
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
events {{ worker_connections 64; }}\n\
http {{\n    access_log off;\n    client_body_temp_path {d}/nginx-tmp/body;\n    proxy_temp_path {d}/nginx-tmp/proxy;\n    fastcgi_temp_path {d}/nginx-tmp/fastcgi;\n    uwsgi_temp_path {d}/nginx-tmp/uwsgi;\n    scgi_temp_path {d}/nginx-tmp/scgi;\n\
{alb}{webs}}}\n",
            d = d.display(),
            webs = webs.concat(),
        );
        std::fs::create_dir_all(d.join("nginx-tmp"))?;
        write(&d.join("nginx.conf"), &conf, 0o644)?;
        let mut child = Command::new("nginx")
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-e")
            .arg(d.join("nginx-error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx")?;
        let ports: Vec<u16> = sites
            .iter()
            .map(|w| w.http_port)
            .chain(self.alb_dns.as_ref().map(|_| self.alb_port))
            .collect();
        for port in ports {
            if let Err(e) = wait_for_port(port, &mut child, "nginx") {
                let _ = child.kill();
                let log = std::fs::read_to_string(d.join("nginx-error.log")).unwrap_or_default();
                bail!("{e}: {log}");
            }
        }
        self.children.push(child);
        Ok(())
    }

    /// Starts server `i`'s sshd. With `local_mysql`, the server gets its own network
    /// namespace: sshd listens on its 127.0.0.1:22 (bridged from the test machine's
    /// `ssh_port`) and its 127.0.0.1:3306 is bridged to the MariaDB at `local_mysql`.
    fn start_sshd(&mut self, i: usize, local_mysql: Option<u16>) -> Result<()> {
        let d = self.dir.clone();
        let w = &self.web[i];
        let own_net = local_mysql.is_some();
        let listen_port = if own_net { 22 } else { w.ssh_port };
        let keys = if self.pushed_keys {
            format!(
                "AuthorizedKeysFile none\nAuthorizedKeysCommand /bin/cat {}\nAuthorizedKeysCommandUser nobody\n",
                self.pushed_key_file(&w.public_ip).display()
            )
        } else {
            format!("AuthorizedKeysFile {}/authorized_keys\n", w.root.display())
        };
        // LogLevel INFO: sshd logs each accepted login ([`SshEnv::logins`]).
        let config = format!(
            "Port {listen_port}\nListenAddress 127.0.0.1\nHostKey {root}/ssh_host_ed25519_key\nPidFile {root}/sshd.pid\n\
{keys}StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
KbdInteractiveAuthentication no\nPermitRootLogin no\nAllowTcpForwarding yes\nAllowUsers {SSH_USER}\n\
PrintMotd no\nLogLevel INFO\nSubsystem sftp internal-sftp\n",
            root = w.root.display(),
        );
        let config_path = w.root.join("sshd_config");
        write(&config_path, &config, 0o644)?;
        // Its own mount namespace: this server's files at the real paths.
        let script = format!(
            "set -e\n\
{lo}\
mkdir -p /var/log/nginx /var/www/html /run/sshd /etc/systemd/system\n\
mount --bind {root}/log /var/log/nginx\n\
mount --bind {root}/www /var/www/html\n\
mount --bind {root}/systemd /etc/systemd/system\n\
for f in passwd group shadow sudoers hosts; do mount --bind {d}/etc/$f /etc/$f; done\n\
exec /usr/sbin/sshd -D -e -f {config}\n",
            lo = if own_net { "ip link set lo up\n" } else { "" },
            root = w.root.display(),
            d = d.display(),
            config = config_path.display(),
        );
        let log = std::fs::File::create(w.root.join("sshd.log"))?;
        let namespaces: &[&str] = if own_net { &["-m", "-n"] } else { &["-m"] };
        let mut child = Command::new("unshare")
            .args(namespaces)
            .args(["--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting sshd in its own namespaces")?;
        let port = w.ssh_port;
        let started = match local_mysql {
            None => wait_for_port(port, &mut child, "sshd"),
            Some(mysql_port) => self.bridge_server(&mut child, port, mysql_port),
        };
        if let Err(e) = started {
            let _ = child.kill();
            let _ = child.wait();
            let log =
                std::fs::read_to_string(self.web[i].root.join("sshd.log")).unwrap_or_default();
            bail!("{e}: {log}");
        }
        self.children.push(child);
        Ok(())
    }

    /// Bridges the network namespace of `child` (a server's sshd): the test machine's
    /// 127.0.0.1:`ssh_port` to its 127.0.0.1:22, its 127.0.0.1:3306 to the test
    /// machine's 127.0.0.1:`mysql_port`.
    fn bridge_server(&mut self, child: &mut Child, ssh_port: u16, mysql_port: u16) -> Result<()> {
        let ns = NetNs::of(child)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("sshd exited ({status}) before listening in its namespace");
            }
            if ns.connect(22).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("sshd did not listen on its 127.0.0.1:22 within 15 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let outside = TcpListener::bind(("127.0.0.1", ssh_port))
            .with_context(|| format!("binding 127.0.0.1:{ssh_port}"))?;
        let ns = Arc::new(ns);
        let to_sshd = ns.clone();
        self.bridges
            .push(Bridge::start(outside, move || to_sshd.connect(22))?);
        let inside = ns
            .listen(3306)
            .context("binding the server's 127.0.0.1:3306")?;
        self.bridges.push(Bridge::start(inside, move || {
            TcpStream::connect(("127.0.0.1", mysql_port))
        })?);
        Ok(())
    }

    /// The labrun arguments: the SSH settings and the routes to sshd and the ALB. Give
    /// them before a [`crate::ProbeEnv`]'s (the first matching --connect-to wins).
    pub fn args(&self) -> Vec<String> {
        let template = self
            .key
            .parent()
            .expect("key folder")
            .join("1day-{trainee}.pem");
        let mut args = vec![
            "--ssh-key".to_string(),
            template.display().to_string(),
            "--ssh-user".to_string(),
            SSH_USER.to_string(),
            "--ssh-known-hosts".to_string(),
            self.known_hosts.display().to_string(),
        ];
        args.extend(self.routes());
        args
    }

    /// Only the routes (for runs that give their own SSH settings).
    pub fn routes(&self) -> Vec<String> {
        let mut args = Vec::new();
        for w in &self.web {
            args.push("--connect-to".to_string());
            args.push(format!("{}:22:127.0.0.1:{}", w.public_ip, w.ssh_port));
        }
        if let Some(alb) = &self.alb_dns {
            args.push("--connect-to".to_string());
            args.push(format!("{alb}:80:127.0.0.1:{}", self.alb_port));
        }
        if self.local_mysql {
            // A server's own 127.0.0.1:3306 stays itself (a catch-all rule after these
            // must not send it elsewhere): the server connects there, in its namespace.
            args.push("--connect-to".to_string());
            args.push("127.0.0.1:3306:127.0.0.1:3306".to_string());
        }
        args
    }

    /// SSH logins the servers' own sshd accepted so far (their `Accepted publickey`
    /// log lines): what labrun opened, counted on the other side.
    pub fn accepted_logins(&self) -> usize {
        self.web
            .iter()
            .map(|w| {
                std::fs::read_to_string(w.root.join("sshd.log"))
                    .unwrap_or_default()
                    .matches("Accepted publickey for ")
                    .count()
            })
            .sum()
    }

    /// How many SSH logins web server `i`'s sshd accepted so far (its own log).
    pub fn logins(&self, i: usize) -> usize {
        std::fs::read_to_string(self.web[i].root.join("sshd.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("Accepted publickey for"))
            .count()
    }

    /// The access log of web server `i` (0 or 1), as nginx wrote it.
    pub fn access_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.web[i].root.join("log/access.log")).unwrap_or_default()
    }
}

impl Drop for SshEnv {
    fn drop(&mut self) {
        for bridge in &mut self.bridges {
            bridge.stop();
        }
        // SIGTERM, not SIGKILL: nginx's master then stops its workers too (killed
        // outright, it would leave them running, orphaned, on the test's ports).
        for child in &mut self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.children {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A network namespace, held open by a file of `/proc/<pid>/ns/net`.
struct NetNs {
    file: File,
}

impl NetNs {
    /// The network namespace of `child`, once it has left the test's (it unshares
    /// right after starting).
    fn of(child: &Child) -> Result<NetNs> {
        let ours = std::fs::read_link("/proc/thread-self/ns/net")?;
        let path = format!("/proc/{}/ns/net", child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(&path).ok().as_ref() == Some(&ours) {
            if Instant::now() > deadline {
                bail!("{path} still names the test's network namespace after 5 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(NetNs {
            file: File::open(&path).with_context(|| format!("opening {path}"))?,
        })
    }

    /// Runs `f` on a thread inside this namespace: the sockets it makes live there.
    fn inside<T: Send>(&self, f: impl FnOnce() -> std::io::Result<T> + Send) -> std::io::Result<T> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: setns on this thread only (CLONE_NEWNET is per thread);
                    // the fd is open for the call.
                    let rc = unsafe { libc::setns(self.file.as_raw_fd(), libc::CLONE_NEWNET) };
                    if rc != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    f()
                })
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")))
        })
    }

    fn connect(&self, port: u16) -> std::io::Result<TcpStream> {
        self.inside(|| TcpStream::connect(("127.0.0.1", port)))
    }

    fn listen(&self, port: u16) -> std::io::Result<TcpListener> {
        self.inside(|| TcpListener::bind(("127.0.0.1", port)))
    }
}

/// Forwards each connection a listener accepts to a fresh connection `dial` makes:
/// a plain byte pipe between two network namespaces' loopbacks.
struct Bridge {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bridge {
    fn start(
        listener: TcpListener,
        dial: impl Fn() -> std::io::Result<TcpStream> + Send + 'static,
    ) -> Result<Bridge> {
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        // A refused dial closes the client: as a closed port would.
                        if let Ok(server) = dial() {
                            pipe(client, server);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(Bridge {
            stop,
            thread: Some(thread),
        })
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies both ways between `a` and `b` on two threads, each half-closing when its
/// side ends.
fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let one = |mut from: TcpStream, to: TcpStream| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            let mut to = to;
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    };
    one(a, b2);
    one(b, a2);
}
