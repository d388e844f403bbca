//! A world's two web servers as real servers on 127.0.0.1, reached the way the manual
//! reaches them: one OpenSSH `sshd` per web server, each in its own mount namespace
//! (`unshare -m`) so it sees its own `/var/log/nginx`, `wp-config.php`, `/etc/passwd`
//! (an `ec2-user`) and `/etc/sudoers` at the real paths; one real `nginx` serving both
//! web servers (each with its own access log) and the "ALB" (an upstream, round robin).
//! The client key is RSA PEM, the way EC2 issues key pairs.
//!
//! Needs root (mount namespaces), `sshd`, `ssh-keygen`, `nginx` and `sudo`
//! (`tests/run` installs them). Every process listens on 127.0.0.1 only and is killed
//! on drop.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

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
}

/// One simulated web server.
#[derive(Debug)]
pub struct WebServer {
    /// As AWS reports it (webserver#1-userXX).
    pub name: String,
    /// Its public address as AWS reports it: what the step goes `via`.
    pub public_ip: String,
    /// Where its sshd listens.
    pub ssh_port: u16,
    /// Where its nginx listens.
    pub http_port: u16,
    /// Its host key's SHA256 fingerprint, as `ssh-keygen -l` prints it.
    pub host_key_fingerprint: String,
    /// Its files: `log/` is its /var/log/nginx, `www/` its /var/www/html.
    pub root: PathBuf,
}

/// The servers and the labrun arguments that reach them; everything stops on drop.
pub struct SshEnv {
    pub web: Vec<WebServer>,
    /// The trainee's key (RSA, PEM), in `dir/keys/1day-<trainee>.pem`.
    pub key: PathBuf,
    /// Another RSA key that no server accepts.
    pub wrong_key: PathBuf,
    /// The known-hosts file labrun is given (absent until the first run records it).
    pub known_hosts: PathBuf,
    pub alb_port: u16,
    alb_dns: String,
    children: Vec<Child>,
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
        let dir = std::env::temp_dir().join(format!(
            "labrun-ssh-env-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(dir.join("keys"))?;
        chmod(&dir, 0o755)?;
        let key = dir.join(format!("keys/1day-{}.pem", world.trainee));
        keygen(&key, "rsa", true)?;
        let wrong_key = dir.join("keys/wrong.pem");
        keygen(&wrong_key, "rsa", true)?;
        let authorized = std::fs::read_to_string(key.with_extension("pem.pub"))
            .or_else(|_| std::fs::read_to_string(format!("{}.pub", key.display())))?;
        write(&dir.join("authorized_keys"), &authorized, 0o644)?;
        let site_url = format!("http://{}", world.alb.dns_name);
        let page = servers::wordpress_page(&format!("{} blog", world.trainee), &site_url);

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
        for (i, instance) in [&world.web1, &world.web2].into_iter().enumerate() {
            let public_ip = instance
                .public_ip
                .clone()
                .with_context(|| format!("{} has no public IP", instance.name))?;
            let root = dir.join(format!("web{}", i + 1));
            // /var/log/nginx is root's only (as on Amazon Linux): reading it needs sudo.
            std::fs::create_dir_all(root.join("log"))?;
            chmod(&root.join("log"), 0o700)?;
            write(&root.join("www/wordpress/index.html"), &page, 0o644)?;
            let config = wp_config(&world.cluster.endpoint, db_password);
            write(&root.join("www/wordpress/wp-config.php"), &config, 0o640)?;
            // A second copy outside the default list, for a policy that widens it.
            write(&root.join("www/wp-config.php"), &config, 0o640)?;
            let host_key = root.join("ssh_host_ed25519_key");
            keygen(&host_key, "ed25519", false)?;
            web.push(WebServer {
                name: instance.name.clone(),
                public_ip,
                ssh_port: free_port()?,
                http_port: free_port()?,
                host_key_fingerprint: fingerprint(&root.join("ssh_host_ed25519_key.pub"))?,
                root,
            });
        }

        let mut env = SshEnv {
            web,
            key,
            wrong_key,
            known_hosts: dir.join("known_hosts"),
            alb_port: free_port()?,
            alb_dns: world.alb.dns_name.clone(),
            children: Vec::new(),
            dir,
        };
        env.start_nginx(&options)?;
        if !options.sshd_down {
            for i in 0..env.web.len() {
                env.start_sshd(i)?;
            }
        }
        Ok(env)
    }

    fn start_nginx(&mut self, options: &SshOptions) -> Result<()> {
        let d = &self.dir;
        let targets: Vec<String> = self
            .web
            .iter()
            .enumerate()
            .filter(|(i, _)| !(options.web2_deregistered && *i == 1))
            .map(|(_, w)| format!("        server 127.0.0.1:{};\n", w.http_port))
            .collect();
        let webs: Vec<String> = self
            .web
            .iter()
            .map(|w| {
                format!(
                    "    server {{\n        listen 127.0.0.1:{port};\n        root {root}/www/wordpress;\n        index index.html;\n        access_log {root}/log/access.log;\n        error_log {root}/log/error.log;\n    }}\n",
                    port = w.http_port,
                    root = w.root.display()
                )
            })
            .collect();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
events {{ worker_connections 64; }}\n\
http {{\n    access_log off;\n    client_body_temp_path {d}/nginx-tmp/body;\n    proxy_temp_path {d}/nginx-tmp/proxy;\n    fastcgi_temp_path {d}/nginx-tmp/fastcgi;\n    uwsgi_temp_path {d}/nginx-tmp/uwsgi;\n    scgi_temp_path {d}/nginx-tmp/scgi;\n\
    upstream targets {{\n{targets}    }}\n\
{webs}\
    server {{\n        listen 127.0.0.1:{alb};\n        location / {{ proxy_pass http://targets; }}\n    }}\n}}\n",
            d = d.display(),
            targets = targets.concat(),
            webs = webs.concat(),
            alb = self.alb_port,
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
        let ports: Vec<u16> = self
            .web
            .iter()
            .map(|w| w.http_port)
            .chain([self.alb_port])
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

    fn start_sshd(&mut self, i: usize) -> Result<()> {
        let d = self.dir.clone();
        let w = &self.web[i];
        // LogLevel INFO: sshd logs each accepted login ([`SshEnv::logins`]).
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/ssh_host_ed25519_key\nPidFile {root}/sshd.pid\n\
AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
KbdInteractiveAuthentication no\nPermitRootLogin no\nAllowTcpForwarding yes\nAllowUsers {SSH_USER}\n\
PrintMotd no\nLogLevel INFO\nSubsystem sftp internal-sftp\n",
            port = w.ssh_port,
            root = w.root.display(),
            d = d.display(),
        );
        let config_path = w.root.join("sshd_config");
        write(&config_path, &config, 0o644)?;
        // Its own mount namespace: this server's files at the real paths.
        let script = format!(
            "set -e\n\
mkdir -p /var/log/nginx /var/www/html /run/sshd\n\
mount --bind {root}/log /var/log/nginx\n\
mount --bind {root}/www /var/www/html\n\
for f in passwd group shadow sudoers hosts; do mount --bind {d}/etc/$f /etc/$f; done\n\
exec /usr/sbin/sshd -D -e -f {config}\n",
            root = w.root.display(),
            d = d.display(),
            config = config_path.display(),
        );
        let log = std::fs::File::create(w.root.join("sshd.log"))?;
        let mut child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting sshd in a mount namespace")?;
        let port = w.ssh_port;
        if let Err(e) = wait_for_port(port, &mut child, "sshd") {
            let _ = child.kill();
            let log = std::fs::read_to_string(w.root.join("sshd.log")).unwrap_or_default();
            bail!("{e}: {log}");
        }
        self.children.push(child);
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
        args.push("--connect-to".to_string());
        args.push(format!("{}:80:127.0.0.1:{}", self.alb_dns, self.alb_port));
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
