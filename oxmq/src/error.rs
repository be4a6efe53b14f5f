//! The error type of every fallible oxmq call.
//!
//! Each variant stands for exactly one errno value that libzmq 4.3 returns from the same call, so a C
//! ABI built on oxmq can hand `Error::errno()` straight to `zmq_errno()`. Errors the operating system
//! reports that have no variant of their own travel as [`Error::Os`] with their raw errno.

use std::fmt;
use std::io;

/// libzmq's base for the error numbers it defines itself (`ZMQ_HAUSNUMERO`).
const HAUSNUMERO: i32 = 156_384_712;

/// `EFSM`: the operation is not valid in the socket's current state.
pub const EFSM: i32 = HAUSNUMERO + 51;
/// `ENOCOMPATPROTO`: the transport does not fit the socket type.
pub const ENOCOMPATPROTO: i32 = HAUSNUMERO + 52;
/// `ETERM`: the context was shut down.
pub const ETERM: i32 = HAUSNUMERO + 53;
/// `EMTHREAD`: no I/O thread is available.
pub const EMTHREAD: i32 = HAUSNUMERO + 54;

/// An oxmq error. Every variant maps one to one onto a libzmq errno value (see [`Error::errno`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// `EADDRINUSE`: the address is already bound.
    AddrInUse,
    /// `EADDRNOTAVAIL`: the address is not local to this machine.
    AddrNotAvailable,
    /// `EFAULT`: an invalid handle was used.
    Fault,
    /// `EHOSTUNREACH`: the message could not be routed to a peer.
    HostUnreachable,
    /// `EINTR`: the call was interrupted by a signal.
    Interrupted,
    /// `EINVAL`: an argument was invalid (a malformed endpoint, an option value out of range, ...).
    Invalid,
    /// `EFSM`: the operation is not valid in the socket's current state.
    InvalidState,
    /// `EMSGSIZE`: the message is too large.
    MessageTooLarge,
    /// `ENAMETOOLONG`: an ipc path is longer than the platform allows.
    NameTooLong,
    /// `ENOCOMPATPROTO`: the transport cannot be used with this socket type.
    NoCompatibleProtocol,
    /// `ENODEV`: no such network interface.
    NoDevice,
    /// `ENOENT`: no such endpoint (unbind or disconnect of an endpoint that is not in use).
    NotFound,
    /// `ENOTSUP`: the operation or socket type is not supported.
    NotSupported,
    /// `EMTHREAD`: no I/O thread is available for the operation.
    NoThread,
    /// `EPROTONOSUPPORT`: the transport protocol is unknown or not supported.
    ProtocolNotSupported,
    /// `ETERM`: the context was shut down.
    Terminated,
    /// `EMFILE`: too many open sockets or files.
    TooManyOpenFiles,
    /// `EAGAIN`: the operation would block (a non-blocking call, or a timeout expired).
    WouldBlock,
    /// Any other operating-system error, by its raw errno.
    Os(i32),
}

/// The result type of oxmq calls.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The errno value libzmq would report for this error.
    pub fn errno(self) -> i32 {
        match self {
            Error::AddrInUse => libc::EADDRINUSE,
            Error::AddrNotAvailable => libc::EADDRNOTAVAIL,
            Error::Fault => libc::EFAULT,
            Error::HostUnreachable => libc::EHOSTUNREACH,
            Error::Interrupted => libc::EINTR,
            Error::Invalid => libc::EINVAL,
            Error::InvalidState => EFSM,
            Error::MessageTooLarge => libc::EMSGSIZE,
            Error::NameTooLong => libc::ENAMETOOLONG,
            Error::NoCompatibleProtocol => ENOCOMPATPROTO,
            Error::NoDevice => libc::ENODEV,
            Error::NotFound => libc::ENOENT,
            Error::NotSupported => libc::ENOTSUP,
            Error::NoThread => EMTHREAD,
            Error::ProtocolNotSupported => libc::EPROTONOSUPPORT,
            Error::Terminated => ETERM,
            Error::TooManyOpenFiles => libc::EMFILE,
            Error::WouldBlock => libc::EAGAIN,
            Error::Os(code) => code,
        }
    }

    /// The error for an errno value; the inverse of [`Error::errno`].
    pub fn from_errno(errno: i32) -> Error {
        use libc::*;
        match errno {
            EADDRINUSE => Error::AddrInUse,
            EADDRNOTAVAIL => Error::AddrNotAvailable,
            EFAULT => Error::Fault,
            EHOSTUNREACH => Error::HostUnreachable,
            EINTR => Error::Interrupted,
            EINVAL => Error::Invalid,
            EFSM => Error::InvalidState,
            EMSGSIZE => Error::MessageTooLarge,
            ENAMETOOLONG => Error::NameTooLong,
            ENOCOMPATPROTO => Error::NoCompatibleProtocol,
            ENODEV => Error::NoDevice,
            ENOENT => Error::NotFound,
            ENOTSUP => Error::NotSupported,
            EMTHREAD => Error::NoThread,
            EPROTONOSUPPORT => Error::ProtocolNotSupported,
            ETERM => Error::Terminated,
            EMFILE => Error::TooManyOpenFiles,
            EAGAIN => Error::WouldBlock,
            other => Error::Os(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::AddrInUse => "address already in use",
            Error::AddrNotAvailable => "cannot assign requested address",
            Error::Fault => "bad address",
            Error::HostUnreachable => "host unreachable",
            Error::Interrupted => "interrupted system call",
            Error::Invalid => "invalid argument",
            Error::InvalidState => "operation cannot be accomplished in current state",
            Error::MessageTooLarge => "message too long",
            Error::NameTooLong => "file name too long",
            Error::NoCompatibleProtocol => "the protocol is not compatible with the socket type",
            Error::NoDevice => "no such device",
            Error::NotFound => "no such file or directory",
            Error::NotSupported => "operation not supported",
            Error::NoThread => "no thread available",
            Error::ProtocolNotSupported => "protocol not supported",
            Error::Terminated => "context was terminated",
            Error::TooManyOpenFiles => "too many open files",
            Error::WouldBlock => "resource temporarily unavailable",
            Error::Os(code) => return write!(f, "{}", io::Error::from_raw_os_error(*code)),
        };
        f.write_str(text)
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Error {
        match err.raw_os_error() {
            Some(code) => Error::from_errno(code),
            None => match err.kind() {
                io::ErrorKind::WouldBlock => Error::WouldBlock,
                io::ErrorKind::InvalidInput => Error::Invalid,
                io::ErrorKind::AddrInUse => Error::AddrInUse,
                io::ErrorKind::AddrNotAvailable => Error::AddrNotAvailable,
                io::ErrorKind::NotFound => Error::NotFound,
                io::ErrorKind::Interrupted => Error::Interrupted,
                _ => Error::Os(libc::EIO),
            },
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::WouldBlock => io::Error::from(io::ErrorKind::WouldBlock),
            Error::Terminated
            | Error::InvalidState
            | Error::NoCompatibleProtocol
            | Error::NoThread => io::Error::other(err),
            other => io::Error::from_raw_os_error(other.errno()),
        }
    }
}

/// The Linux errno values oxmq names (the numbers libzmq returns on Linux).
#[allow(missing_docs)]
#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Error] = &[
        Error::AddrInUse,
        Error::AddrNotAvailable,
        Error::Fault,
        Error::HostUnreachable,
        Error::Interrupted,
        Error::Invalid,
        Error::InvalidState,
        Error::MessageTooLarge,
        Error::NameTooLong,
        Error::NoCompatibleProtocol,
        Error::NoDevice,
        Error::NotFound,
        Error::NotSupported,
        Error::NoThread,
        Error::ProtocolNotSupported,
        Error::Terminated,
        Error::TooManyOpenFiles,
        Error::WouldBlock,
    ];

    #[test]
    fn errno_round_trips_and_is_one_to_one() {
        let mut seen = std::collections::HashSet::new();
        for &err in ALL {
            assert!(seen.insert(err.errno()), "{err:?} shares an errno");
            assert_eq!(Error::from_errno(err.errno()), err);
        }
        assert_eq!(Error::from_errno(1), Error::Os(1));
        assert_eq!(Error::Os(1).errno(), 1);
    }

    #[test]
    fn libzmq_specific_numbers() {
        assert_eq!(Error::Terminated.errno(), 156_384_765);
        assert_eq!(Error::InvalidState.errno(), 156_384_763);
        assert_eq!(Error::NoCompatibleProtocol.errno(), 156_384_764);
        assert_eq!(Error::WouldBlock.errno(), 11);
    }

    #[test]
    fn io_errors_map_by_errno() {
        let err = io::Error::from_raw_os_error(98);
        assert_eq!(Error::from(err), Error::AddrInUse);
        assert_eq!(
            Error::from(io::Error::from(io::ErrorKind::WouldBlock)),
            Error::WouldBlock
        );
    }
}
