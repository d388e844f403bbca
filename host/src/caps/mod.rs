//! Capabilities: everything a step can ask of the world. Each capability is one
//! module that describes itself in a [`Capability`] (its operations, live answer,
//! policy target and untrusted-step scope); [`registry`] lists them, and every call
//! goes through the [`Hub`] (live, record, replay).
//!
//! Inside: [`capability`] (the description type) and [`registry`]; the capabilities
//! [`aws`], [`dns`], [`mysql`], [`http`], [`tcp`], [`server`]; what they share ([`net`], [`ssh`],
//! [`resolver`], [`owner`], [`settings`], [`error`]); and the [`hub`] with its
//! [`cassette`].

pub mod aws;
pub mod capability;
pub mod cassette;
pub mod dns;
pub mod error;
pub mod http;
pub mod hub;
pub mod mysql;
pub mod net;
pub mod owner;
pub mod registry;
pub mod resolver;
pub mod server;
pub mod settings;
pub mod ssh;
pub mod tcp;

pub use capability::{Capability, Operation, Scope, Target};
pub use cassette::{Answer, Call, Cassette};
pub use error::{CapError, ErrorKind};
pub use hub::Hub;
pub use settings::Settings;
