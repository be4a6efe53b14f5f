//! `zmq_z85_encode` and `zmq_z85_decode`: the C face of `oxmq_proto::z85` (ZeroMQ RFC 32).
//!
//! As in libzmq: data whose size is not a multiple of 4, and text whose length is not a
//! multiple of 5 (the empty text included), with a character outside the alphabet or a group
//! above 32 bits, fail with `EINVAL`. A NULL pointer that libzmq would dereference fails with
//! `EFAULT` instead, after those checks. The output buffer is untouched when a call fails.

use std::ffi::{CStr, c_char};
use std::ptr;

use oxmq_proto::z85;

use crate::{fail, guard};

/// Encodes `size` bytes at `data` as Z85 into `dest`, which must hold `size * 5 / 4 + 1` bytes,
/// and NUL-terminates it. Returns `dest`, or NULL with errno `EINVAL` when `size` is not a
/// multiple of 4 (`EFAULT` for a NULL `dest`, or a NULL `data` with a size).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_z85_encode(
    dest: *mut c_char,
    data: *const u8,
    size: usize,
) -> *mut c_char {
    guard(ptr::null_mut(), || {
        // A size whose text would not fit in memory cannot be a real buffer either.
        if size % 4 != 0 || size > isize::MAX as usize / 5 * 4 {
            return fail(libc::EINVAL, ptr::null_mut());
        }
        if dest.is_null() || (data.is_null() && size != 0) {
            return fail(libc::EFAULT, ptr::null_mut());
        }
        let data = if size == 0 {
            &[][..]
        } else {
            // SAFETY: not NULL, and `size` readable bytes by the caller's contract.
            unsafe { std::slice::from_raw_parts(data, size) }
        };
        let len = z85::encoded_len(size);
        // SAFETY: not NULL, and `size * 5 / 4 + 1` writable bytes by the caller's contract.
        let out = unsafe { std::slice::from_raw_parts_mut(dest.cast::<u8>(), len + 1) };
        match z85::encode_into(data, out) {
            Ok(written) => {
                if let Some(terminator) = out.get_mut(written) {
                    *terminator = 0;
                }
                dest
            }
            Err(_) => fail(libc::EINVAL, ptr::null_mut()),
        }
    })
}

/// Decodes the NUL-terminated Z85 `string` into `dest`, which must hold `strlen(string) * 4 / 5`
/// bytes. Returns `dest`, or NULL with errno `EINVAL` when the length is not a positive multiple
/// of 5 or the text is not valid Z85 (`EFAULT` for a NULL pointer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zmq_z85_decode(dest: *mut u8, string: *const c_char) -> *mut u8 {
    guard(ptr::null_mut(), || {
        if string.is_null() {
            return fail(libc::EFAULT, ptr::null_mut());
        }
        // SAFETY: not NULL, and NUL-terminated by the caller's contract.
        let text = unsafe { CStr::from_ptr(string) }.to_bytes();
        // libzmq refuses the empty string, which the codec accepts.
        if text.is_empty() || text.len() % 5 != 0 {
            return fail(libc::EINVAL, ptr::null_mut());
        }
        if dest.is_null() {
            // Bad text is EINVAL whatever `dest` is.
            let code = match z85::decode(text) {
                Ok(_) => libc::EFAULT,
                Err(_) => libc::EINVAL,
            };
            return fail(code, ptr::null_mut());
        }
        // SAFETY: not NULL, and `strlen(string) * 4 / 5` writable bytes by the caller's contract.
        let out = unsafe { std::slice::from_raw_parts_mut(dest, z85::decoded_len(text.len())) };
        match z85::decode_into(text, out) {
            Ok(_) => dest,
            Err(_) => fail(libc::EINVAL, ptr::null_mut()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set_errno;
    use crate::util::zmq_errno;

    const HELLO_WORLD: [u8; 8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];

    /// Encodes with `zmq_z85_encode`, or returns errno.
    fn encode(data: &[u8]) -> Result<String, i32> {
        let mut out = vec![0x55 as c_char; data.len() * 5 / 4 + 1];
        set_errno(0);
        // SAFETY: `out` holds size * 5 / 4 + 1 bytes.
        let rc = unsafe { zmq_z85_encode(out.as_mut_ptr(), data.as_ptr(), data.len()) };
        if rc.is_null() {
            return Err(zmq_errno());
        }
        assert_eq!(rc, out.as_mut_ptr());
        assert_eq!(zmq_errno(), 0);
        // SAFETY: NUL-terminated by the call.
        Ok(unsafe { CStr::from_ptr(out.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned())
    }

    /// Decodes with `zmq_z85_decode`, or returns errno.
    fn decode(text: &CStr) -> Result<Vec<u8>, i32> {
        let mut out = vec![0xAA; text.to_bytes().len() * 4 / 5];
        set_errno(0);
        // SAFETY: `out` holds strlen * 4 / 5 bytes; `text` is NUL-terminated.
        let rc = unsafe { zmq_z85_decode(out.as_mut_ptr(), text.as_ptr()) };
        if rc.is_null() {
            assert!(out.iter().all(|&b| b == 0xAA), "untouched on failure");
            return Err(zmq_errno());
        }
        assert_eq!(rc, out.as_mut_ptr());
        Ok(out)
    }

    #[test]
    fn rfc_32_test_vector() {
        assert_eq!(encode(&HELLO_WORLD).unwrap(), "HelloWorld");
        assert_eq!(decode(c"HelloWorld").unwrap(), HELLO_WORLD);
    }

    #[test]
    fn libzmq_round_trips() {
        assert_eq!(
            decode(&std::ffi::CString::new(encode(&[0; 4]).unwrap()).unwrap()).unwrap(),
            [0; 4]
        );
        assert_eq!(encode(&[0xFF; 4]).unwrap(), "%nSc0");
        let regular = c"r^/rM9M=rMToK)63O8dCvd9D<PY<7iGlC+{BiSnG";
        let data = decode(regular).unwrap();
        assert_eq!(data.len(), 32);
        assert_eq!(encode(&data).unwrap().as_bytes(), regular.to_bytes());
    }

    #[test]
    fn encode_refuses_partial_groups_before_looking_at_pointers() {
        for size in [1, 42] {
            set_errno(0);
            // SAFETY: the size is refused before the pointers are used.
            let rc = unsafe { zmq_z85_encode(ptr::null_mut(), ptr::null(), size) };
            assert!(rc.is_null());
            assert_eq!(zmq_errno(), libc::EINVAL);
        }
    }

    #[test]
    fn encode_null_pointers_are_efault() {
        let mut out = [0 as c_char; 11];
        set_errno(0);
        // SAFETY: NULL `dest` is checked.
        let rc = unsafe { zmq_z85_encode(ptr::null_mut(), HELLO_WORLD.as_ptr(), 8) };
        assert!(rc.is_null());
        assert_eq!(zmq_errno(), libc::EFAULT);
        set_errno(0);
        // SAFETY: NULL `data` with a size is checked.
        let rc = unsafe { zmq_z85_encode(out.as_mut_ptr(), ptr::null(), 8) };
        assert!(rc.is_null());
        assert_eq!(zmq_errno(), libc::EFAULT);
    }

    #[test]
    fn encode_of_nothing_is_the_empty_string() {
        let mut out = [0x55 as c_char; 1];
        // SAFETY: `out` holds the terminator; NULL data with size 0 is no data.
        let rc = unsafe { zmq_z85_encode(out.as_mut_ptr(), ptr::null(), 0) };
        assert_eq!(rc, out.as_mut_ptr());
        assert_eq!(out[0], 0);
    }

    #[test]
    fn decode_refuses_what_libzmq_refuses() {
        for text in [
            c"",
            c"0",
            c"01234567",
            c"#####",
            c"%nSc1",
            c"####\x047",
            c"####\x100",
            c"####\x037",
            c"#### ",
            c"0000\x7f",
            c"Hello\xC3\xA9orl",
            c"0123456789012345678901234567890123456789.",
        ] {
            assert_eq!(decode(text), Err(libc::EINVAL), "{text:?}");
        }
    }

    #[test]
    fn decode_null_pointers_are_efault() {
        let mut out = [0u8; 8];
        set_errno(0);
        // SAFETY: NULL `string` is checked.
        assert!(unsafe { zmq_z85_decode(out.as_mut_ptr(), ptr::null()) }.is_null());
        assert_eq!(zmq_errno(), libc::EFAULT);
        set_errno(0);
        // SAFETY: NULL `dest` is checked.
        assert!(unsafe { zmq_z85_decode(ptr::null_mut(), c"HelloWorld".as_ptr()) }.is_null());
        assert_eq!(zmq_errno(), libc::EFAULT);
        // Bad text is EINVAL even with a NULL `dest`.
        set_errno(0);
        // SAFETY: as above.
        assert!(unsafe { zmq_z85_decode(ptr::null_mut(), c"#####".as_ptr()) }.is_null());
        assert_eq!(zmq_errno(), libc::EINVAL);
    }
}
