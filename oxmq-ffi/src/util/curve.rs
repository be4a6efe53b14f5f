//! `zmq_curve_keypair` and `zmq_curve_public`: CURVE (X25519) long-term keys as 40-character
//! Z85 text.
//!
//! oxmq has no CURVE mechanism yet (`zmq_has("curve")` is 0), but the key utilities work, as
//! in a libzmq built with libsodium: a secret key is 32 random bytes from the operating system,
//! the public key is X25519's scalar multiplication of the base point by it (clamped), the same
//! as libsodium's `crypto_box_keypair` and `crypto_scalarmult_base`. Key bytes are wiped from
//! this library's memory once written out.

use std::ffi::{CStr, c_char, c_int};

use oxmq_proto::z85;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::{fail, guard};

/// The length of a key, in bytes.
const KEY_LEN: usize = 32;

/// The length of a key in Z85, without the terminating NUL.
const KEY_TEXT_LEN: usize = z85::encoded_len(KEY_LEN);

/// Writes `key` as Z85 and a NUL into `out`.
///
/// # Safety
/// `out` points to `KEY_TEXT_LEN + 1` (41) writable bytes.
unsafe fn write_key(out: *mut c_char, key: &[u8; KEY_LEN]) {
    // SAFETY: 41 writable bytes by the caller's contract.
    let out = unsafe { std::slice::from_raw_parts_mut(out.cast::<u8>(), KEY_TEXT_LEN + 1) };
    let (text, terminator) = out.split_at_mut(KEY_TEXT_LEN);
    // Cannot fail: 32 bytes are whole groups, and `text` has room for them.
    let _ = z85::encode_into(key, text);
    terminator.fill(0);
}

/// Makes a new CURVE key pair and writes both keys as 40-character Z85 text and a NUL into
/// the 41-byte buffers `z85_public_key` and `z85_secret_key`. Returns 0, or -1 with errno
/// `EFAULT` for a NULL buffer, or the operating system's error when it has no randomness to
/// give.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_curve_keypair(
    z85_public_key: *mut c_char,
    z85_secret_key: *mut c_char,
) -> c_int {
    guard(-1, || {
        if z85_public_key.is_null() || z85_secret_key.is_null() {
            return fail(libc::EFAULT, -1);
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if let Err(error) = getrandom::fill(bytes.as_mut()) {
            return fail(error.raw_os_error().unwrap_or(libc::EIO), -1);
        }
        let secret = StaticSecret::from(*bytes);
        let public = PublicKey::from(&secret);
        // SAFETY: both not NULL, and 41 writable bytes by the caller's contract.
        unsafe {
            write_key(z85_public_key, public.as_bytes());
            write_key(z85_secret_key, secret.as_bytes());
        }
        0
    })
}

/// Writes the public key of the Z85 secret key `z85_secret_key` (40 characters) as Z85 text
/// and a NUL into the 41-byte buffer `z85_public_key`. Returns 0, or -1 with errno `EINVAL`
/// when the secret key is not 40 characters of valid Z85 (the output is then untouched), or
/// `EFAULT` for a NULL pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_curve_public(
    z85_public_key: *mut c_char,
    z85_secret_key: *const c_char,
) -> c_int {
    guard(-1, || {
        if z85_secret_key.is_null() {
            return fail(libc::EFAULT, -1);
        }
        // SAFETY: not NULL, and NUL-terminated by the caller's contract.
        let text = unsafe { CStr::from_ptr(z85_secret_key) }.to_bytes();
        // libzmq only checks for whole groups and then decodes into a 32-byte buffer (a shorter
        // key leaves bytes unset, a longer one overflows it); a key is exactly 40 characters.
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if text.len() != KEY_TEXT_LEN || z85::decode_into(text, bytes.as_mut()).is_err() {
            return fail(libc::EINVAL, -1);
        }
        if z85_public_key.is_null() {
            return fail(libc::EFAULT, -1);
        }
        let public = PublicKey::from(&StaticSecret::from(*bytes));
        // SAFETY: not NULL, and 41 writable bytes by the caller's contract.
        unsafe { write_key(z85_public_key, public.as_bytes()) };
        0
    })
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::set_errno;
    use crate::util::zmq_errno;

    /// The client key pair of zmq_curve(7) and libzmq's test_sodium ("hintjens.com/blog:45").
    const CLIENT_PUBLIC: &CStr = c"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    const CLIENT_SECRET: &CStr = c"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
    /// The server key pair of zmq_curve(7).
    const SERVER_PUBLIC: &CStr = c"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const SERVER_SECRET: &CStr = c"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

    /// `zmq_curve_public` of `secret`, or errno; checks that a failure leaves the output alone.
    fn public_of(secret: &CStr) -> Result<String, i32> {
        let mut out = [0 as c_char; 41];
        set_errno(0);
        // SAFETY: 41 writable bytes; `secret` is NUL-terminated.
        let rc = unsafe { zmq_curve_public(out.as_mut_ptr(), secret.as_ptr()) };
        if rc != 0 {
            assert_eq!(rc, -1);
            assert!(out.iter().all(|&c| c == 0), "output untouched on failure");
            return Err(zmq_errno());
        }
        // SAFETY: NUL-terminated by the call.
        Ok(unsafe { CStr::from_ptr(out.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned())
    }

    #[test]
    fn public_of_known_secrets() {
        assert_eq!(
            public_of(CLIENT_SECRET).unwrap(),
            CLIENT_PUBLIC.to_str().unwrap()
        );
        assert_eq!(
            public_of(SERVER_SECRET).unwrap(),
            SERVER_PUBLIC.to_str().unwrap()
        );
    }

    #[test]
    fn rfc_7748_alice() {
        // RFC 7748 section 6.1: Alice's private and public keys.
        let hex = |text: &str| -> Vec<u8> {
            (0..text.len() / 2)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
                .collect()
        };
        let secret = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let secret = std::ffi::CString::new(z85::encode(&secret).unwrap()).unwrap();
        assert_eq!(public_of(&secret).unwrap(), z85::encode(&public).unwrap());
    }

    #[test]
    fn keypair_is_consistent_and_fresh() {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let mut public = [0x55 as c_char; 41];
            let mut secret = [0x55 as c_char; 41];
            set_errno(0);
            // SAFETY: two 41-byte buffers.
            let rc = unsafe { zmq_curve_keypair(public.as_mut_ptr(), secret.as_mut_ptr()) };
            assert_eq!(rc, 0);
            assert_eq!(zmq_errno(), 0);
            // SAFETY: NUL-terminated by the call.
            let (public, secret) = unsafe {
                (
                    CStr::from_ptr(public.as_ptr()),
                    CStr::from_ptr(secret.as_ptr()),
                )
            };
            assert_eq!(public.to_bytes().len(), 40);
            assert_eq!(secret.to_bytes().len(), 40);
            assert!(z85::decode(public.to_bytes()).is_ok());
            assert_eq!(public_of(secret).unwrap(), public.to_str().unwrap());
            assert!(!seen.contains(&secret.to_owned()), "a new secret each time");
            seen.push(secret.to_owned());
        }
    }

    #[test]
    fn bad_secrets_are_einval() {
        for secret in [
            // libzmq's test_sodium: too short, too long.
            c"42",
            c"0123456789012345678901234567890123456789.",
            // Whole groups, but not a key's length.
            c"",
            c"HelloWorld",
            c"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%csHello",
            // A key's length, but not Z85.
            c"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%c ",
            c"#####lAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
        ] {
            assert_eq!(public_of(secret), Err(libc::EINVAL), "{secret:?}");
        }
    }

    #[test]
    fn null_pointers_are_efault() {
        let mut buffer = [0 as c_char; 41];
        // SAFETY (whole block): the NULL pointers are checked before use.
        unsafe {
            set_errno(0);
            assert_eq!(zmq_curve_keypair(ptr::null_mut(), buffer.as_mut_ptr()), -1);
            assert_eq!(zmq_errno(), libc::EFAULT);
            set_errno(0);
            assert_eq!(zmq_curve_keypair(buffer.as_mut_ptr(), ptr::null_mut()), -1);
            assert_eq!(zmq_errno(), libc::EFAULT);
            set_errno(0);
            assert_eq!(zmq_curve_public(buffer.as_mut_ptr(), ptr::null()), -1);
            assert_eq!(zmq_errno(), libc::EFAULT);
            set_errno(0);
            assert_eq!(
                zmq_curve_public(ptr::null_mut(), CLIENT_SECRET.as_ptr()),
                -1
            );
            assert_eq!(zmq_errno(), libc::EFAULT);
            // A bad secret is EINVAL whatever the output pointer.
            set_errno(0);
            assert_eq!(zmq_curve_public(ptr::null_mut(), c"42".as_ptr()), -1);
            assert_eq!(zmq_errno(), libc::EINVAL);
        }
        assert!(buffer.iter().all(|&c| c == 0));
    }
}
