//! Security mechanisms: the part of the handshake between the greeting and
//! the exchange of metadata.
//!
//! A mechanism is a state machine over command *bodies*: it is fed the body
//! of each command frame the peer sends during the handshake
//! ([`Mechanism::handle_command`]) and produces the command frames to send
//! ([`Mechanism::poll_transmit`]). The [`Handshake`](crate::Handshake) does
//! the framing, size limits and peer metadata checks common to all
//! mechanisms.
//!
//! Only NULL exists today. PLAIN and CURVE will be further
//! [`MechanismConfig`] variants with their own [`Mechanism`] types; CURVE
//! will also need to transform data frames after the handshake, which will
//! come as new trait methods with pass-through defaults.

pub mod null;

use std::fmt;

use bytes::Bytes;

use crate::error::HandshakeError;
use crate::greeting::MechanismName;
use crate::metadata::Metadata;

/// Which security mechanism a socket uses, with its settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MechanismConfig {
    /// No authentication, no encryption (RFC 37 NULL).
    #[default]
    Null,
}

impl MechanismConfig {
    /// The name announced in the greeting.
    pub fn name(&self) -> MechanismName {
        match self {
            MechanismConfig::Null => MechanismName::NULL,
        }
    }

    /// Creates the mechanism state machine for one connection.
    ///
    /// `local_metadata` is what this side announces in its final command
    /// (READY for NULL); `as_server` is the role in the security handshake
    /// (NULL ignores it).
    pub fn start(&self, as_server: bool, local_metadata: Metadata) -> Box<dyn Mechanism> {
        let _ = as_server;
        match self {
            MechanismConfig::Null => Box::new(null::NullMechanism::new(local_metadata)),
        }
    }
}

/// Progress of a mechanism's handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MechanismStatus {
    /// Commands still have to be exchanged.
    Handshaking,
    /// Both sides' final commands have been exchanged (ours is at least
    /// queued by [`Mechanism::poll_transmit`]); the peer's metadata is
    /// available.
    Ready,
}

/// A security mechanism's handshake state machine for one connection.
pub trait Mechanism: Send + Sync + fmt::Debug {
    /// The mechanism's greeting name.
    fn name(&self) -> MechanismName;

    /// Appends any command frames that are due now to `out`.
    fn poll_transmit(&mut self, out: &mut Vec<u8>);

    /// Processes the body of one command frame received during the
    /// handshake. An error is fatal for the connection.
    fn handle_command(&mut self, body: Bytes) -> Result<(), HandshakeError>;

    /// Handshake progress.
    fn status(&self) -> MechanismStatus;

    /// The metadata the peer announced, once [`MechanismStatus::Ready`].
    fn peer_metadata(&self) -> Option<&Metadata>;
}
