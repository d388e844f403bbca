//! SSH to a trainee's web server, the way the manual does (`ssh -i 1day-userXX.pem
//! ec2-user@…`): the operator's key settings ([`SshSettings`]) and one pool of
//! connections per run ([`SshPool`]). Every probe `via` a server and every `server`
//! call share one connection per server (channels multiplexed); the key is read here
//! only and its path and contents never reach an answer or an error.
//!
//! This module dials nothing itself: the caller ([`super::net`]) routes and connects
//! the TCP stream (so `--connect-to` applies to SSH too) and hands it over.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};
use russh::{ChannelMsg, ChannelOpenFailure, Disconnect};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OnceCell, Semaphore};

use super::error::{CapError, ErrorKind};
use crate::text::{quoted, ssh as t, Text};

/// The placeholder of `--ssh-key` replaced by the trainee id.
pub const TRAINEE_PLACEHOLDER: &str = "{trainee}";

/// The SSH port of a server named by `via`.
pub const SSH_PORT: u16 = 22;

/// The operator's SSH settings (`--ssh-key`, `--ssh-user`, `--ssh-known-hosts`,
/// `--ssh-strict`). Steps never see them.
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// Path of the trainee's private key, `{trainee}` replaced by the trainee id.
    pub key_template: Option<String>,
    /// Each trainee's own key file (the roster's `ssh_key`), before the template.
    pub keys: std::collections::BTreeMap<String, PathBuf>,
    /// The login user (EC2's Amazon Linux: `ec2-user`).
    pub user: String,
    /// Host keys trusted on first use and recorded here (OpenSSH's `accept-new`).
    pub known_hosts: Option<PathBuf>,
    /// Refuse hosts that `known_hosts` does not list.
    pub strict: bool,
    /// `--ssh-via instance-connect`: a one-run key per server, its public half
    /// pushed by this before the login, instead of the key files.
    pub push: Option<Pusher>,
}

/// Pushes a one-run public key to the instance behind a server's address (EC2
/// Instance Connect's SendSSHPublicKey), for `trainee`'s account.
pub trait KeyPush: Send + Sync {
    fn push<'a>(
        &'a self,
        trainee: &'a str,
        server: &'a str,
        user: &'a str,
        public_key: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), SshError>>;
}

/// A [`KeyPush`] in the settings.
#[derive(Clone)]
pub struct Pusher(pub Arc<dyn KeyPush>);

impl fmt::Debug for Pusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pusher")
    }
}

/// A fresh Ed25519 key, in memory only, for one SSH connection.
fn one_run_key() -> Result<russh::keys::PrivateKey, SshError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| SshError::new(ErrorKind::Credentials, t::NoRandom { why: quoted(e) }))?;
    let pair = russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed);
    seed.fill(0);
    Ok(russh::keys::PrivateKey::from(pair))
}

impl SshSettings {
    /// The key file of `trainee`: the roster's, else `--ssh-key`'s; `None` when
    /// neither names one.
    pub fn key_path(&self, trainee: &str) -> Option<PathBuf> {
        if let Some(path) = self.keys.get(trainee) {
            return Some(path.clone());
        }
        let template = self.key_template.as_ref()?;
        Some(PathBuf::from(
            template.replace(TRAINEE_PLACEHOLDER, trainee),
        ))
    }

    /// Checks before anything runs. A flag that cannot work is `Err` (one line, exit
    /// 64); a trainee whose key file cannot be read is one warning line each (only
    /// that trainee's in-server outcomes become `error`, the class goes on).
    pub fn check(&self, trainees: &[&str]) -> Result<Vec<Text>, Text> {
        let templated: Vec<&&str> = trainees
            .iter()
            .filter(|t| !self.keys.contains_key(**t))
            .collect();
        if let Some(template) = &self.key_template {
            if templated.len() > 1 && !template.contains(TRAINEE_PLACEHOLDER) {
                return Err(t::OneKey {
                    template,
                    trainees: templated.len(),
                    placeholder: TRAINEE_PLACEHOLDER,
                }
                .into());
            }
        }
        let mut warnings = Vec::new();
        let files = if self.push.is_some() {
            &[][..]
        } else {
            trainees
        };
        for trainee in files {
            let Some(path) = self.key_path(trainee) else {
                warnings.push(t::NoKeyWarning { trainee: *trainee }.into());
                continue;
            };
            if let Err(e) = crate::files::read(&path, crate::files::cap::SECRET) {
                warnings.push(
                    t::CannotReadKeyWarning {
                        trainee: *trainee,
                        path: &path,
                        why: quoted(e),
                    }
                    .into(),
                );
            }
        }
        if let Some(path) = &self.known_hosts {
            if path.exists() {
                crate::files::read_to_string(path, crate::files::cap::TEXT).map_err(|e| {
                    Text::from(t::CannotReadKnownHosts {
                        path,
                        why: quoted(e),
                    })
                })?;
            } else if self.strict {
                return Err(t::StrictNoFile { path }.into());
            }
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dir.is_dir() {
                return Err(t::NoFolder { path, dir }.into());
            }
        } else if self.strict {
            return Err(t::StrictNeedsKnownHosts.into());
        }
        Ok(warnings)
    }
}

tokio::task_local! {
    /// The trainee whose run makes the current call: picks the key of `--ssh-key`.
    static TRAINEE: String;
}

/// Runs `work` on behalf of `trainee` (the gate wraps every call in it).
pub async fn as_trainee<F: Future>(trainee: &str, work: F) -> F::Output {
    TRAINEE.scope(trainee.to_string(), work).await
}

fn current_trainee() -> Option<String> {
    TRAINEE.try_with(Clone::clone).ok()
}

/// Why the TCP connection to a server's SSH port failed, in the probes' own words.
#[derive(Debug)]
pub struct DialError(pub String);

/// Why the SSH side failed: labrun could not check (an `error` outcome).
#[derive(Debug, Clone)]
pub struct SshError {
    pub kind: ErrorKind,
    pub message: Text,
}

impl SshError {
    /// As a capability error of `capability.operation` (code `ssh`).
    pub fn into_cap(self, capability: &'static str, operation: &str) -> CapError {
        CapError::new(capability, operation, self.kind, self.message).with_code("ssh")
    }

    fn new(kind: ErrorKind, message: impl Into<Text>) -> SshError {
        SshError {
            kind,
            message: message.into(),
        }
    }
}

/// One SSH connection to one server, shared by every call through it.
pub struct Session {
    server: String,
    handle: Handle<Client>,
}

/// What a fixed command printed, capped.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: Option<u32>,
    /// stdout was longer than the cap and was cut.
    pub truncated: bool,
}

/// Longest stderr kept from a command.
const MAX_STDERR: usize = 4096;

type Slot = Arc<OnceCell<Result<Arc<Session>, SshError>>>;

/// The run's SSH connections: at most one per server (and key), opened on first use,
/// closed by [`SshPool::close`] at the end of the run. A watch keeps the pool across
/// its cycles ([`SshPool::keep_across_runs`]): a cycle reuses the live connections of
/// the one before, and opens again only what died or failed.
pub struct SshPool {
    settings: SshSettings,
    timeout: Duration,
    sessions: Mutex<HashMap<String, Slot>>,
    /// Handshakes at once (`--jobs`).
    handshakes: Semaphore,
    opened: AtomicU64,
    /// One host-key check at a time: handshakes run in parallel (`--jobs`) and
    /// recording a key appends to the one known-hosts file, which concurrent appends
    /// and reads could garble or misread.
    known_hosts_lock: Arc<Mutex<()>>,
    /// Set by a watch: [`SshPool::end_run`] keeps the connections open.
    keep: AtomicBool,
}

impl fmt::Debug for SshPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshPool")
            .field("user", &self.settings.user)
            .field("opened", &self.opened())
            .finish()
    }
}

impl SshPool {
    pub fn new(settings: SshSettings, timeout: Duration, jobs: usize) -> SshPool {
        SshPool {
            settings,
            timeout,
            sessions: Mutex::new(HashMap::new()),
            handshakes: Semaphore::new(jobs.max(1)),
            opened: AtomicU64::new(0),
            known_hosts_lock: Arc::new(Mutex::new(())),
            keep: AtomicBool::new(false),
        }
    }

    /// From now on a run's end ([`SshPool::end_run`]) keeps the connections for the
    /// next run (a watch's next cycle); [`SshPool::close`] still ends them.
    pub fn keep_across_runs(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    /// The end of one run: closes every connection, unless the pool is kept across
    /// runs; then it forgets only the failures (the next run tries those servers again)
    /// and the connections that died.
    pub async fn end_run(&self) {
        if !self.keep.load(Ordering::Relaxed) {
            return self.close().await;
        }
        let mut sessions = self.sessions.lock().expect("ssh lock poisoned");
        sessions.retain(|_, slot| matches!(slot.get(), Some(Ok(s)) if !s.handle.is_closed()));
    }

    /// The operator's settings.
    pub fn settings(&self) -> &SshSettings {
        &self.settings
    }

    /// SSH connections opened so far in this run.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// The connection to `server` (as the step names it), opened on first use over the
    /// stream `dial` connects. A failure is remembered: later calls through the same
    /// server fail at once with the same error.
    pub async fn session<D, Fut>(&self, server: &str, dial: D) -> Result<Arc<Session>, SshError>
    where
        D: FnOnce(Duration) -> Fut,
        Fut: Future<Output = Result<TcpStream, DialError>>,
    {
        let trainee = current_trainee().unwrap_or_default();
        let key_path = self.settings.key_path(&trainee);
        let key_shown = match (&self.settings.push, &key_path) {
            (Some(_), _) => format!("instance-connect {trainee}"),
            (None, Some(p)) => p.display().to_string(),
            (None, None) => String::new(),
        };
        let slot = {
            let mut sessions = self.sessions.lock().expect("ssh lock poisoned");
            let slot = sessions
                .entry(format!("{server}\n{key_shown}"))
                .or_default();
            // A connection kept from an earlier run that the server has since closed
            // (sshd restarted, the instance rebooted): open a new one.
            if matches!(slot.get(), Some(Ok(s)) if s.handle.is_closed()) {
                *slot = Slot::default();
            }
            slot.clone()
        };
        slot.get_or_init(|| async {
            let _permit = self.handshakes.acquire().await;
            let work = self.open(server, &trainee, key_path.as_deref(), dial);
            match tokio::time::timeout(self.timeout, work).await {
                Ok(result) => result,
                Err(_) => Err(SshError::new(
                    ErrorKind::Timeout,
                    t::NoSession {
                        server,
                        ms: self.timeout.as_millis() as u64,
                    },
                )),
            }
        })
        .await
        .clone()
    }

    async fn open<D, Fut>(
        &self,
        server: &str,
        trainee: &str,
        key_path: Option<&Path>,
        dial: D,
    ) -> Result<Arc<Session>, SshError>
    where
        D: FnOnce(Duration) -> Fut,
        Fut: Future<Output = Result<TcpStream, DialError>>,
    {
        let (key, push) = match &self.settings.push {
            Some(push) => (one_run_key()?, Some(push)),
            None => (self.key_file(trainee, key_path).await?, None),
        };
        let stream = dial(self.timeout).await.map_err(|why| {
            SshError::new(
                ErrorKind::Network,
                t::CannotReach {
                    server,
                    why: quoted(why.0),
                },
            )
        })?;
        self.login(server, stream, key, push, trainee).await
    }

    /// The trainee's key file, read and decoded.
    async fn key_file(
        &self,
        trainee: &str,
        key_path: Option<&Path>,
    ) -> Result<russh::keys::PrivateKey, SshError> {
        let whose: Text = if trainee.is_empty() {
            t::TheKey.into()
        } else {
            t::TraineesKey { trainee }.into()
        };
        let Some(key_path) = key_path else {
            return Err(SshError::new(ErrorKind::Credentials, t::NoKey { trainee }));
        };
        // Never the path or the contents in a message: only whose key it is (and
        // its file name, which the operator gave and a report may show).
        let file = key_path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = crate::files::read_async(key_path.to_path_buf(), crate::files::cap::SECRET);
        let text = bytes
            .await
            .and_then(|b| String::from_utf8(b).map_err(std::io::Error::other))
            .map_err(|e| {
                SshError::new(
                    ErrorKind::Credentials,
                    t::CannotReadWhose {
                        whose: &whose,
                        file: &file,
                        why: quoted(e.kind()),
                    },
                )
            })?;
        let key = russh::keys::decode_secret_key(&text, None)
            .map_err(|_| SshError::new(ErrorKind::Credentials, t::NotAKey { whose: &whose }))?;
        drop(text);
        Ok(key)
    }

    /// The handshake and the login with `key` over `stream`; with Instance Connect,
    /// its public half is pushed between the two (AWS keeps it for 60 seconds).
    async fn login(
        &self,
        server: &str,
        stream: TcpStream,
        key: russh::keys::PrivateKey,
        push: Option<&Pusher>,
        trainee: &str,
    ) -> Result<Arc<Session>, SshError> {
        let whose: Text = match push {
            Some(_) => t::PushedKey.into(),
            None if trainee.is_empty() => t::TheKey.into(),
            None => t::TraineesKey { trainee }.into(),
        };
        let verdict = Arc::new(Mutex::new(None));
        let client = Client {
            server: server.to_string(),
            known_hosts: self.settings.known_hosts.clone(),
            strict: self.settings.strict,
            verdict: verdict.clone(),
            lock: self.known_hosts_lock.clone(),
        };
        let config = Arc::new(client::Config {
            nodelay: true,
            ..client::Config::default()
        });
        let mut handle = client::connect_stream(config, stream, client)
            .await
            .map_err(|e| {
                let refused = verdict.lock().expect("ssh lock poisoned").take();
                SshError::new(
                    if refused.is_some() {
                        ErrorKind::Denied
                    } else {
                        ErrorKind::Network
                    },
                    refused.unwrap_or_else(|| {
                        t::Handshake {
                            server,
                            why: quoted(&e),
                        }
                        .into()
                    }),
                )
            })?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        if let Some(push) = push {
            let public = key.public_key().to_openssh().map_err(|e| {
                SshError::new(
                    ErrorKind::Credentials,
                    t::CannotWritePublic { why: quoted(e) },
                )
            })?;
            push.0
                .push(trainee, server, &self.settings.user, &public)
                .await?;
        }
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten();
        let auth = handle
            .authenticate_publickey(
                self.settings.user.clone(),
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(|e| {
                SshError::new(
                    ErrorKind::Credentials,
                    t::AuthFailed {
                        server,
                        why: quoted(e),
                    },
                )
            })?;
        if !auth.success() {
            let _ = handle.disconnect(Disconnect::ByApplication, "", "en").await;
            return Err(SshError::new(
                ErrorKind::Credentials,
                t::AuthRefused {
                    user: &self.settings.user,
                    server,
                    whose,
                },
            ));
        }
        Ok(Arc::new(Session {
            server: server.to_string(),
            handle,
        }))
    }

    /// Ends every connection of the run.
    pub async fn close(&self) {
        let slots: Vec<Slot> = {
            let mut sessions = self.sessions.lock().expect("ssh lock poisoned");
            sessions.drain().map(|(_, slot)| slot).collect()
        };
        for slot in slots {
            if let Some(Ok(session)) = slot.get() {
                let _ = session
                    .handle
                    .disconnect(Disconnect::ByApplication, "labrun run finished", "en")
                    .await;
            }
        }
    }
}

/// Why the server could not open the inner connection: a probe answer, not an error.
#[derive(Debug)]
pub struct Unreachable {
    /// `refused` or `unreachable`.
    pub failure: &'static str,
    pub message: String,
}

/// A loopback port that leads, through the server, to `host:port`; closed when
/// dropped.
pub struct Forward {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Session {
    /// The server as the step named it.
    pub fn server(&self) -> &str {
        &self.server
    }

    async fn direct_tcpip(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Result<russh::Channel<client::Msg>, Unreachable>, SshError> {
        match self
            .handle
            .channel_open_direct_tcpip(host, port as u32, "127.0.0.1", 0)
            .await
        {
            Ok(channel) => Ok(Ok(channel)),
            Err(russh::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed)) => {
                Ok(Err(Unreachable {
                    failure: "refused",
                    message: format!(
                        "{} could not connect to {host}:{port} (refused or unreachable from there)",
                        self.server
                    ),
                }))
            }
            Err(russh::Error::ChannelOpenFailure(why)) => Err(SshError::new(
                ErrorKind::Denied,
                t::NoForwarding {
                    server: &self.server,
                    host,
                    port,
                    why: quoted(why.description()),
                },
            )),
            Err(e) => Err(SshError::new(
                ErrorKind::Network,
                t::ConnectionFailed {
                    server: &self.server,
                    why: quoted(e),
                },
            )),
        }
    }

    /// One TCP connection opened by the server itself to `host:port`, handed back as a
    /// loopback stream (so every probe keeps its plain TCP code).
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Result<TcpStream, Unreachable>, SshError> {
        let channel = match self.direct_tcpip(host, port).await? {
            Ok(c) => c,
            Err(u) => return Ok(Err(u)),
        };
        let local = |e: std::io::Error| {
            SshError::new(ErrorKind::Network, t::LoopbackPipe { why: quoted(e) })
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(local)?;
        let addr = listener.local_addr().map_err(local)?;
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let client = client.map_err(local)?;
        let (accepted, _) = accepted.map_err(local)?;
        tokio::spawn(pipe(accepted, channel));
        Ok(Ok(client))
    }

    /// A loopback port for clients that dial by themselves (MySQL, DNS over TCP): the
    /// first inner connection is opened now (so a refusal shows at once), each later
    /// client gets its own channel.
    pub async fn forward(
        self: &Arc<Self>,
        host: &str,
        port: u16,
    ) -> Result<Result<Forward, Unreachable>, SshError> {
        let first = match self.direct_tcpip(host, port).await? {
            Ok(c) => c,
            Err(u) => return Ok(Err(u)),
        };
        let local = |e: std::io::Error| {
            SshError::new(ErrorKind::Network, t::LoopbackPort { why: quoted(e) })
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(local)?;
        let addr = listener.local_addr().map_err(local)?;
        let session = self.clone();
        let (host, port) = (host.to_string(), port);
        let task = tokio::spawn(async move {
            let mut first = Some(first);
            while let Ok((accepted, _)) = listener.accept().await {
                let channel = match first.take() {
                    Some(c) => c,
                    None => match session.direct_tcpip(&host, port).await {
                        Ok(Ok(c)) => c,
                        _ => continue,
                    },
                };
                tokio::spawn(pipe(accepted, channel));
            }
        });
        Ok(Ok(Forward { addr, task }))
    }

    /// Runs one fixed command; stdout is kept up to `max_bytes`.
    pub async fn exec(&self, command: &str, max_bytes: usize) -> Result<Output, SshError> {
        let failed = |e: russh::Error| {
            SshError::new(
                ErrorKind::Network,
                t::ConnectionFailed {
                    server: &self.server,
                    why: quoted(e),
                },
            )
        };
        let mut channel = self.handle.channel_open_session().await.map_err(failed)?;
        channel.exec(true, command).await.map_err(failed)?;
        let mut out = Output::default();
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => {
                    let room = max_bytes.saturating_sub(out.stdout.len());
                    if data.len() > room {
                        out.truncated = true;
                    }
                    out.stdout.extend_from_slice(&data[..data.len().min(room)]);
                }
                ChannelMsg::ExtendedData { data, .. } => {
                    let room = MAX_STDERR.saturating_sub(out.stderr.len());
                    out.stderr.extend_from_slice(&data[..data.len().min(room)]);
                }
                ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Copies both ways between a loopback stream and a channel until either ends.
async fn pipe(mut stream: TcpStream, channel: russh::Channel<client::Msg>) {
    let mut remote = channel.into_stream();
    let _ = tokio::io::copy_bidirectional(&mut stream, &mut remote).await;
}

/// SHA256 fingerprint as OpenSSH prints it.
fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// russh's callbacks: the host-key check (trust on first use, `--ssh-strict`).
struct Client {
    server: String,
    known_hosts: Option<PathBuf>,
    strict: bool,
    /// Why the host key was refused, for the error message.
    verdict: Arc<Mutex<Option<Text>>>,
    /// The pool's known-hosts lock.
    lock: Arc<Mutex<()>>,
}

impl Client {
    fn refuse(&self, why: impl Into<Text>) -> Result<bool, russh::Error> {
        let why = why.into();
        *self.verdict.lock().expect("ssh lock poisoned") = Some(why);
        Ok(false)
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let server_key = &offered.public_key();
        let Some(path) = self.known_hosts.clone() else {
            // No --ssh-known-hosts: the manual's `StrictHostKeyChecking=no`.
            return Ok(true);
        };
        let host = self.server.clone();
        let lock = self.lock.clone();
        let _file = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match russh::keys::check_known_hosts_path(&host, SSH_PORT, server_key, &path) {
            Ok(true) => Ok(true),
            Ok(false) if self.strict => self.refuse(t::UnknownHost {
                host: &host,
                fingerprint: fingerprint(server_key),
                path: &path,
            }),
            Ok(false) => match russh::keys::known_hosts::learn_known_hosts_path(
                &host, SSH_PORT, server_key, &path,
            ) {
                Ok(()) => Ok(true),
                Err(e) => self.refuse(t::CannotRecord {
                    host: &host,
                    path: &path,
                    why: quoted(e),
                }),
            },
            Err(russh::keys::Error::KeyChanged { .. }) => {
                let recorded =
                    russh::keys::known_hosts::known_host_keys_path(&host, SSH_PORT, &path)
                        .unwrap_or_default()
                        .into_iter()
                        .find(|(_, k)| k.algorithm() == server_key.algorithm())
                        .map(|(_, k)| fingerprint(&k))
                        .unwrap_or_else(|| "?".to_string());
                self.refuse(t::KeyChanged {
                    host: &host,
                    path: &path,
                    recorded,
                    shown: fingerprint(server_key),
                })
            }
            Err(e) => self.refuse(t::CannotCheck {
                host: &host,
                path: &path,
                why: quoted(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(template: &str) -> SshSettings {
        SshSettings {
            key_template: Some(template.to_string()),
            keys: Default::default(),
            user: "ec2-user".to_string(),
            known_hosts: None,
            strict: false,
            push: None,
        }
    }

    #[test]
    fn the_key_template_names_each_trainees_key() {
        let s = settings("keys/1day-{trainee}.pem");
        assert_eq!(
            s.key_path("user05"),
            Some(PathBuf::from("keys/1day-user05.pem"))
        );
    }

    #[test]
    fn a_roster_key_wins_over_the_template_and_one_without_either_has_none() {
        let mut s = settings("keys/1day-{trainee}.pem");
        s.keys
            .insert("user07".into(), PathBuf::from("/roster/user07.pem"));
        assert_eq!(
            s.key_path("user07"),
            Some(PathBuf::from("/roster/user07.pem"))
        );
        s.key_template = None;
        assert_eq!(s.key_path("user08"), None);
        // One template key for one trainee, the others from the roster: no {trainee}.
        let mut one = settings("/keys/shared.pem");
        one.keys.insert("user01".into(), PathBuf::from("/k/1.pem"));
        one.keys.insert("user02".into(), PathBuf::from("/k/2.pem"));
        assert!(one.check(&["user01", "user02", "user03"]).is_ok());
    }

    #[test]
    fn bad_ssh_settings_are_one_line_naming_the_flag() {
        let e = settings("/nonexistent/one.pem")
            .check(&["user01", "user02"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("{trainee}") && !e.contains('\n'), "{e}");
        // A missing key is that trainee's warning, not the class's end.
        let warnings: Vec<String> = settings("/nonexistent/{trainee}.pem")
            .check(&["user01", "user02"])
            .unwrap()
            .iter()
            .map(Text::en)
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("cannot read the SSH key of user01, /nonexistent/user01.pem"),
            "{warnings:?}"
        );
        let key = std::env::temp_dir().join(format!("labrun-ssh-key-{}.pem", std::process::id()));
        std::fs::write(&key, "not read further").unwrap();
        let mut strict = settings(key.to_str().unwrap());
        strict.strict = true;
        let e = strict.check(&["user01"]).unwrap_err().to_string();
        assert!(e.contains("--ssh-known-hosts"), "{e}");
        // A device is no key file: refused at once, never opened.
        let warnings = settings("/dev/zero").check(&["user01"]).unwrap();
        assert!(
            warnings[0]
                .en()
                .contains("a character device, not a regular file"),
            "{warnings:?}"
        );
        let _ = std::fs::remove_file(&key);
    }
}
