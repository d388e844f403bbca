//! EC2 Instance Connect as the instance sees it: moto's SendSSHPublicKey is a stub (it
//! answers Success and keeps nothing), so [`KeyCapture`] sits in front of moto, keeps
//! each pushed public key in `DIR/<public ip>` (what the instance's metadata service
//! would serve), and forwards every request to moto unchanged. A server started with
//! [`crate::ssh_env::SshOptions::pushed_keys`] lets sshd's `AuthorizedKeysCommand`
//! read that file, and nothing else: only a pushed key logs in. [`KeyCapture::deny`]
//! makes it answer one AWS action with `AccessDenied`, as IAM does for an action the
//! policy lacks; [`KeyCapture::deny_role_in`] refuses to assume the roles of one
//! account, as STS does when a role's trust policy leaves the caller out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;

use crate::http1::{header, read_message, rewrite};
use tokio::net::{TcpListener, TcpStream};

/// One push as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Push {
    pub instance_id: String,
    pub os_user: String,
    pub public_key: String,
}

/// An HTTP proxy on 127.0.0.1 in front of moto that keeps what SendSSHPublicKey
/// pushed (see the module doc).
pub struct KeyCapture {
    pub addr: SocketAddr,
    pushes: Arc<Mutex<Vec<Push>>>,
    denied: Arc<Mutex<Option<Denial>>>,
    task: tokio::task::JoinHandle<()>,
}

/// What the proxy answers `AccessDenied`: a query-protocol action, and with it only
/// the requests that name a role of `role_account`.
#[derive(Debug, Clone)]
struct Denial {
    action: String,
    role_account: Option<String>,
}

impl Denial {
    fn matches(&self, body: &str) -> bool {
        let mut pairs = body.split('&');
        let action = format!("Action={}", self.action);
        if !body.split('&').any(|kv| kv == action) {
            return false;
        }
        match &self.role_account {
            None => true,
            // RoleArn=arn%3Aaws%3Aiam%3A%3A<account>%3Arole%2F…
            Some(account) => pairs.any(|kv| {
                kv.starts_with("RoleArn=") && kv.contains(&format!("%3A%3A{account}%3A"))
            }),
        }
    }
}

impl KeyCapture {
    /// `addresses`: instance id → the address its sshd serves pushed keys for;
    /// `refused`: instances whose pushes are recorded but never served (a server that
    /// refuses the key).
    pub async fn start(
        moto: &str,
        dir: PathBuf,
        addresses: HashMap<String, String>,
        refused: Vec<String>,
    ) -> KeyCapture {
        std::fs::create_dir_all(&dir).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = moto
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let pushes = Arc::new(Mutex::new(Vec::new()));
        let seen = pushes.clone();
        let denied: Arc<Mutex<Option<Denial>>> = Arc::new(Mutex::new(None));
        let deny = denied.clone();
        let shared = Arc::new((dir, addresses, refused));
        let task = crate::http1::serve(listener, move |inbound| {
            let (upstream, seen, shared) = (upstream.clone(), seen.clone(), shared.clone());
            let deny = deny.lock().unwrap().clone();
            async move { forward(inbound, &upstream, &seen, &shared, deny.as_ref()).await }
        });
        KeyCapture {
            addr,
            pushes,
            denied,
            task,
        }
    }

    /// From now on, the query-protocol `action` (e.g. `DescribeTargetHealth`) is
    /// answered `AccessDenied` (HTTP 403) instead of reaching moto.
    pub fn deny(&self, action: &str) {
        *self.denied.lock().unwrap() = Some(Denial {
            action: action.to_string(),
            role_account: None,
        });
    }

    /// From now on, STS `AssumeRole` on a role of `account` is answered
    /// `AccessDenied`; every other request reaches moto.
    pub fn deny_role_in(&self, account: &str) {
        *self.denied.lock().unwrap() = Some(Denial {
            action: "AssumeRole".to_string(),
            role_account: Some(account.to_string()),
        });
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every push so far.
    pub fn pushes(&self) -> Vec<Push> {
        self.pushes.lock().unwrap().clone()
    }
}

impl Drop for KeyCapture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = (PathBuf, HashMap<String, String>, Vec<String>);

async fn forward(
    mut inbound: TcpStream,
    upstream: &str,
    seen: &Mutex<Vec<Push>>,
    shared: &Shared,
    deny: Option<&Denial>,
) -> std::io::Result<()> {
    let (head, body) = read_message(&mut inbound, false).await?;
    if let Some(denial) = deny {
        let action = &denial.action;
        if denial.matches(&String::from_utf8_lossy(&body)) {
            let xml = format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                 <Message>User is not authorized to perform: {action}</Message></Error>\
                 <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
            );
            let answer = format!(
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{xml}",
                xml.len()
            );
            inbound.write_all(answer.as_bytes()).await?;
            return inbound.shutdown().await;
        }
    }
    if header(&head, "x-amz-target") == Some("AWSEC2InstanceConnectService.SendSSHPublicKey") {
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let text = |k: &str| request[k].as_str().unwrap_or_default().to_string();
        let push = Push {
            instance_id: text("InstanceId"),
            os_user: text("InstanceOSUser"),
            public_key: text("SSHPublicKey"),
        };
        let (dir, addresses, refused) = shared;
        if let Some(address) = addresses.get(&push.instance_id) {
            if !refused.contains(&push.instance_id) {
                let file = dir.join(address);
                std::fs::write(&file, format!("{}\n", push.public_key))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
            }
        }
        seen.lock().unwrap().push(push);
    }
    let mut out = TcpStream::connect(upstream).await?;
    out.write_all(rewrite(&head, None).as_bytes()).await?;
    out.write_all(&body).await?;
    let (head, body) = read_message(&mut out, true).await?;
    inbound.write_all(rewrite(&head, None).as_bytes()).await?;
    inbound.write_all(&body).await?;
    inbound.shutdown().await
}
