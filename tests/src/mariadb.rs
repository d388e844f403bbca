//! Throw-away MariaDB servers, one per test world.
//!
//! `tests/run` prepares a template data directory once (`tests/env/mariadb.sh template`:
//! `mariadb-install-db`, database `wordpress` with `wp_options`, user `admin` without
//! SUPER and with a random password in a mode-600 file) and exports
//! `LABRUN_MARIADB_TEMPLATE` and `LABRUN_MARIADB_PASSWORD_FILE`. [`MariaDb::start`]
//! copies the template, starts `mariadbd` on a free 127.0.0.1 port, seeds what the
//! [`MariaDbSpec`] says (as root over the unix socket, which bypasses `--read-only`),
//! and on drop kills the server and removes its directory.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Env var naming the template data directory (set by `tests/run`).
pub const TEMPLATE_ENV: &str = "LABRUN_MARIADB_TEMPLATE";
/// Env var naming the file with user `admin`'s password (set by `tests/run`).
pub const PASSWORD_FILE_ENV: &str = "LABRUN_MARIADB_PASSWORD_FILE";
/// The database user every test server has (Aurora's master user in the lab).
pub const USER: &str = "admin";

/// How long a server may take to start on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What one server holds and how it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MariaDbSpec {
    /// Started with `--read-only`, like an Aurora reader: `admin` cannot write and
    /// `@@read_only` is 1.
    pub read_only: bool,
    /// Database `wordpress` whose `wp_options` rows `siteurl` and `home` hold this URL;
    /// `None`: no `wordpress` database at all.
    pub site_url: Option<String>,
    /// More SQL run as root after the seed (Step 2's posts and plugins), if any.
    pub extra_sql: Option<String>,
}

impl MariaDbSpec {
    /// A writable server with WordPress installed at `site_url`.
    pub fn wordpress(site_url: impl Into<String>) -> MariaDbSpec {
        MariaDbSpec {
            read_only: false,
            site_url: Some(site_url.into()),
            extra_sql: None,
        }
    }

    /// A writable server without a `wordpress` database.
    pub fn without_wordpress() -> MariaDbSpec {
        MariaDbSpec {
            read_only: false,
            site_url: None,
            extra_sql: None,
        }
    }

    /// The same data on a `--read-only` server.
    pub fn read_only(self) -> MariaDbSpec {
        MariaDbSpec {
            read_only: true,
            ..self
        }
    }

    /// The same server with `sql` run after the seed.
    pub fn with_sql(self, sql: impl Into<String>) -> MariaDbSpec {
        MariaDbSpec {
            extra_sql: Some(sql.into()),
            ..self
        }
    }

    fn seed_sql(&self) -> String {
        let seed = match &self.site_url {
            Some(url) => format!(
                "UPDATE wordpress.wp_options SET option_value = '{}' \
                 WHERE option_name IN ('siteurl', 'home');",
                sql_string(url)
            ),
            None => "DROP DATABASE wordpress;".to_string(),
        };
        match &self.extra_sql {
            Some(extra) => format!("{seed}\n{extra}"),
            None => seed,
        }
    }
}

/// The body of a single-quoted SQL string literal.
fn sql_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "''")
}

/// A running server; killed and deleted on drop.
pub struct MariaDb {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    pub spec: MariaDbSpec,
    child: Child,
    dir: PathBuf,
}

impl std::fmt::Debug for MariaDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MariaDb")
            .field("addr", &self.addr)
            .field("spec", &self.spec)
            .field("dir", &self.dir)
            .finish()
    }
}

static DIR_COUNTER: AtomicU32 = AtomicU32::new(0);

fn env_path(name: &str) -> Result<PathBuf> {
    match std::env::var_os(name) {
        Some(v) if !v.is_empty() => Ok(PathBuf::from(v)),
        _ => bail!(
            "{name} is not set: run the tests via tests/run, which prepares a MariaDB \
             template with tests/env/mariadb.sh"
        ),
    }
}

/// The file holding user `admin`'s password (mode 600).
pub fn password_file() -> Result<PathBuf> {
    env_path(PASSWORD_FILE_ENV)
}

/// User `admin`'s password on every test server.
pub fn password() -> Result<String> {
    let file = password_file()?;
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "cannot read {}: run the tests via tests/run",
            file.display()
        )
    })?;
    Ok(text.trim().to_string())
}

fn find_bin(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(
        ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
            .iter()
            .map(PathBuf::from),
    );
    let dirs: Vec<PathBuf> = dirs.collect();
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

struct Binaries {
    mariadbd: PathBuf,
    client: PathBuf,
}

fn binaries() -> Result<&'static Binaries> {
    static BINS: OnceLock<Option<Binaries>> = OnceLock::new();
    BINS.get_or_init(|| {
        Some(Binaries {
            mariadbd: find_bin(&["mariadbd", "mysqld"])?,
            client: find_bin(&["mariadb", "mysql"])?,
        })
    })
    .as_ref()
    .context("mariadbd or the mariadb client not found: apt-get install mariadb-server mariadb-client (tests/run does)")
}

/// mariadbd refuses to run as root unless told to.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A short private directory: the server's unix socket path must stay under ~107 bytes.
fn server_dir() -> Result<PathBuf> {
    let tmp = std::env::temp_dir();
    let base = if tmp.as_os_str().len() <= 40 {
        tmp
    } else {
        PathBuf::from("/tmp")
    };
    let dir = base.join(format!(
        "lrdb-{}-{}-{}",
        std::process::id(),
        DIR_COUNTER.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
    Ok(dir)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("mkdir {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!("copying {} to {}", entry.path().display(), target.display())
            })?;
        }
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl MariaDb {
    /// Starts a server as `spec` says (blocking, typically well under a second).
    pub fn start(spec: &MariaDbSpec) -> Result<MariaDb> {
        let template = env_path(TEMPLATE_ENV)?;
        anyhow::ensure!(
            template.join("mysql").is_dir(),
            "{TEMPLATE_ENV}={} is not a MariaDB data directory: run the tests via tests/run",
            template.display()
        );
        let bins = binaries()?;
        let dir = server_dir()?;
        let started = Self::start_in(&dir, &template, bins, spec);
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    fn start_in(
        dir: &Path,
        template: &Path,
        bins: &Binaries,
        spec: &MariaDbSpec,
    ) -> Result<MariaDb> {
        let data = dir.join("data");
        copy_dir(template, &data)?;
        let socket = dir.join("sock");
        let err_log = dir.join("err.log");
        let deadline = Instant::now() + START_TIMEOUT;
        for attempt in 1..=5 {
            let port = free_port()?;
            let _ = std::fs::remove_file(&err_log);
            let mut cmd = Command::new(&bins.mariadbd);
            cmd.arg("--no-defaults");
            if running_as_root() {
                cmd.arg("--user=root");
            }
            cmd.arg(format!("--datadir={}", data.display()))
                .arg(format!("--port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--pid-file={}", dir.join("pid").display()))
                .arg(format!("--log-error={}", err_log.display()))
                .args([
                    "--skip-name-resolve",
                    "--skip-log-bin",
                    "--innodb-buffer-pool-size=32M",
                    "--innodb-log-file-size=8M",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--skip-innodb-doublewrite",
                    "--performance-schema=OFF",
                    "--skip-slave-start",
                    "--max-connections=50",
                    "--character-set-server=utf8mb4",
                ]);
            if spec.read_only {
                cmd.arg("--read-only");
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("spawning {}", bins.mariadbd.display()))?;
            let mut server = MariaDb {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                spec: spec.clone(),
                child,
                dir: dir.to_path_buf(),
            };
            match server.wait_ready(&err_log, deadline)? {
                Ready::Yes => {
                    server.seed(bins, &socket)?;
                    return Ok(server);
                }
                Ready::PortTaken => {
                    // Dropping `server` would remove the directory: keep it for the retry.
                    let _ = server.child.kill();
                    let _ = server.child.wait();
                    server.dir = PathBuf::new();
                    eprintln!("mariadbd: port {port} was taken meanwhile (attempt {attempt})");
                }
            }
        }
        bail!(
            "could not start mariadbd in {}: no free port after 5 attempts",
            dir.display()
        )
    }

    fn wait_ready(&mut self, err_log: &Path, deadline: Instant) -> Result<Ready> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                let tail = log_tail(err_log);
                if tail.contains("Address already in use") || tail.contains("Bind on TCP/IP port") {
                    return Ok(Ready::PortTaken);
                }
                bail!("mariadbd exited while starting ({status}); last lines of its log:\n{tail}");
            }
            let log = std::fs::read_to_string(err_log).unwrap_or_default();
            if log.contains("ready for connections") {
                return Ok(Ready::Yes);
            }
            if Instant::now() >= deadline {
                bail!(
                    "mariadbd did not start within {START_TIMEOUT:?}; last lines of its log:\n{}",
                    log_tail(err_log)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Applies the spec as root over the unix socket (root bypasses `--read-only`).
    fn seed(&self, bins: &Binaries, socket: &Path) -> Result<()> {
        let sql = self.spec.seed_sql();
        let mut child = Command::new(&bins.client)
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--socket={}", socket.display()))
            .arg("--batch")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("spawning {}", bins.client.display()))?;
        child
            .stdin
            .take()
            .expect("stdin piped")
            .write_all(sql.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "seeding MariaDB at {} as root over {} failed ({}): {}",
                self.addr,
                socket.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

enum Ready {
    Yes,
    PortTaken,
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
