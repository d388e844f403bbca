//! EC2 Instance Connect (`--ssh-via instance-connect`): instead of the trainees' key
//! files, labrun makes a one-run key in memory per server and pushes its public half
//! with SendSSHPublicKey (the one AWS call labrun makes that is not a describe or a
//! list; AWS keeps the key for 60 seconds, and Amazon Linux 2's sshd asks the
//! instance metadata for it). The instance behind a server's address is found with
//! DescribeInstances, in the trainee's own account when the roster gives one.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::types::Filter;
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::OnceCell;

use super::identity;
use crate::caps::error::ErrorKind;
use crate::caps::settings::AwsIdentity;
use crate::caps::ssh::{KeyPush, SshError};
use crate::text::{instance_connect as t, quoted, Text};

/// The SDK clients of one account.
struct Clients {
    ec2: aws_sdk_ec2::Client,
    connect: aws_sdk_ec2instanceconnect::Client,
}

type Slot = Arc<OnceCell<Result<Arc<Clients>, SshError>>>;

/// Pushes one-run keys for the trainees of a run, each in their own account.
pub struct InstanceConnect {
    region: Option<String>,
    identities: BTreeMap<String, AwsIdentity>,
    /// Clients per identity (`None`: the operator's), made on first use.
    clients: Mutex<HashMap<Option<AwsIdentity>, Slot>>,
}

impl InstanceConnect {
    pub fn new(region: Option<String>, identities: BTreeMap<String, AwsIdentity>) -> Self {
        InstanceConnect {
            region,
            identities,
            clients: Mutex::new(HashMap::new()),
        }
    }

    async fn clients(&self, trainee: &str) -> Result<Arc<Clients>, SshError> {
        let identity = self.identities.get(trainee).cloned();
        let slot = self
            .clients
            .lock()
            .expect("instance connect lock poisoned")
            .entry(identity.clone())
            .or_default()
            .clone();
        slot.get_or_init(|| async {
            let config = identity::config(
                identity::loader(),
                self.region.clone(),
                identity.as_ref(),
                trainee,
            )
            .await;
            if config.region().is_none() {
                return Err(SshError {
                    kind: ErrorKind::Credentials,
                    message: t::NeedsRegion.into(),
                });
            }
            Ok(Arc::new(Clients {
                ec2: aws_sdk_ec2::Client::new(&config),
                connect: aws_sdk_ec2instanceconnect::Client::new(&config),
            }))
        })
        .await
        .clone()
    }
}

/// The filter that finds an instance by the address a step named it by.
fn address_filter(server: &str) -> &'static str {
    match server.parse::<IpAddr>() {
        Ok(ip) if is_private(&ip) => "private-ip-address",
        Ok(_) => "ip-address",
        Err(_) if server.ends_with(".internal") => "private-dns-name",
        Err(_) => "dns-name",
    }
}

fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(_) => false,
    }
}

fn failed(what: impl Into<Text>) -> SshError {
    SshError {
        kind: ErrorKind::Service,
        message: what.into(),
    }
}

impl KeyPush for InstanceConnect {
    fn push<'a>(
        &'a self,
        trainee: &'a str,
        server: &'a str,
        user: &'a str,
        public_key: &'a str,
    ) -> BoxFuture<'a, Result<(), SshError>> {
        async move {
            let clients = self.clients(trainee).await?;
            let found = clients
                .ec2
                .describe_instances()
                .filters(
                    Filter::builder()
                        .name(address_filter(server))
                        .values(server)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| {
                    failed(t::CannotFind {
                        server,
                        why: quoted(aws_smithy_types::error::display::DisplayErrorContext(&e)),
                    })
                })?;
            let instance = found
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .next()
                .ok_or_else(|| failed(t::NoInstance { server }))?;
            let id = instance.instance_id().unwrap_or_default();
            let mut send = clients
                .connect
                .send_ssh_public_key()
                .instance_id(id)
                .instance_os_user(user)
                .ssh_public_key(public_key);
            if let Some(az) = instance.placement().and_then(|p| p.availability_zone()) {
                send = send.availability_zone(az);
            }
            let answer = send.send().await.map_err(|e| {
                let denied = matches!(
                    aws_sdk_ec2instanceconnect::error::ProvideErrorMetadata::code(&e),
                    Some("AccessDeniedException" | "AccessDenied")
                );
                SshError {
                    kind: if denied {
                        ErrorKind::Denied
                    } else {
                        ErrorKind::Service
                    },
                    message: t::Refused {
                        id,
                        server,
                        user,
                        why: quoted(aws_smithy_types::error::display::DisplayErrorContext(&e)),
                    }
                    .into(),
                }
            })?;
            if !answer.success() {
                return Err(failed(t::NotTaken { id, server }));
            }
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_picks_its_filter() {
        assert_eq!(address_filter("54.1.2.3"), "ip-address");
        assert_eq!(address_filter("10.0.0.12"), "private-ip-address");
        assert_eq!(
            address_filter("ec2-54-1-2-3.ap-northeast-1.compute.amazonaws.com"),
            "dns-name"
        );
        assert_eq!(
            address_filter("ip-10-0-0-12.ap-northeast-1.compute.internal"),
            "private-dns-name"
        );
    }
}
