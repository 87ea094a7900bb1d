//! Writing RESP2 replies into a connection's output buffer.
//!
//! Every reply is appended to a `Vec<u8>` that the connection writes out
//! later, so a pipeline of commands becomes one buffer and, usually, one
//! `write` system call. Nothing here allocates except the buffer growing.

/// `+OK\r\n`, the most common reply.
pub fn ok(out: &mut Vec<u8>) {
    out.extend_from_slice(b"+OK\r\n");
}

/// A simple string: `+text\r\n`. `text` must not contain CR or LF.
pub fn simple(out: &mut Vec<u8>, text: &str) {
    out.push(b'+');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// An error: `-TEXT\r\n`. `text` starts with the error code, as Redis's
/// do (`ERR …`, `WRONGTYPE …`, `NOAUTH …`). CR and LF inside it (from a
/// user's argument quoted back) are replaced by spaces so the reply stays
/// one line.
pub fn error(out: &mut Vec<u8>, text: &str) {
    out.push(b'-');
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// The error every command gives when a key holds the wrong kind of value.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// An integer: `:n\r\n`.
pub fn int(out: &mut Vec<u8>, n: i64) {
    out.push(b':');
    push_int(out, n);
    out.extend_from_slice(b"\r\n");
}

/// A bulk string: `$len\r\nbytes\r\n`.
pub fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    push_int(out, bytes.len() as i64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// An integer as a bulk string (what `INCR`'s value looks like to `GET`).
pub fn bulk_int(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let len = format_int(&mut digits, n);
    bulk(out, &digits[..len]);
}

/// A float as a bulk string, formatted as Redis 7 does for scores:
/// the shortest text that reads back as the same `f64` (`inf`, `-inf`).
pub fn bulk_f64(out: &mut Vec<u8>, x: f64) {
    bulk(out, format_f64(x).as_bytes());
}

/// The null bulk string, `$-1\r\n` (a missing key).
pub fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"$-1\r\n");
}

/// The null array, `*-1\r\n`.
pub fn null_array(out: &mut Vec<u8>) {
    out.extend_from_slice(b"*-1\r\n");
}

/// The header of an array of `n` elements; the caller appends them.
pub fn array(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    push_int(out, n as i64);
    out.extend_from_slice(b"\r\n");
}

/// A whole array of bulk strings.
pub fn bulk_array<'a>(out: &mut Vec<u8>, items: impl ExactSizeIterator<Item = &'a [u8]>) {
    array(out, items.len());
    for item in items {
        bulk(out, item);
    }
}

/// Redis's text for a float score: integers without a fraction, `inf`,
/// `-inf`, otherwise Rust's shortest round-trip form.
pub fn format_f64(x: f64) -> String {
    if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else if x == x.trunc() && x.abs() < 1e17 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let len = format_int(&mut digits, n);
    out.extend_from_slice(&digits[..len]);
}

/// Writes `n` in decimal into `buf`, returns the length. No allocation:
/// this runs once per reply.
pub fn format_int(buf: &mut [u8; 20], n: i64) -> usize {
    let negative = n < 0;
    let mut v = n.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut len = 0;
    if negative {
        buf[0] = b'-';
        len = 1;
    }
    let digits = &tmp[i..];
    // i64::MIN has 19 digits plus the sign: 20 bytes, which fits.
    buf[len..len + digits.len()].copy_from_slice(digits);
    len + digits.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_each_type() {
        let mut out = Vec::new();
        ok(&mut out);
        int(&mut out, -42);
        bulk(&mut out, b"hi");
        null(&mut out);
        array(&mut out, 2);
        error(&mut out, "ERR bad\r\nthing");
        assert_eq!(
            out,
            b"+OK\r\n:-42\r\n$2\r\nhi\r\n$-1\r\n*2\r\n-ERR bad  thing\r\n".to_vec()
        );
    }

    #[test]
    fn formats_extreme_integers() {
        let mut buf = [0u8; 20];
        for n in [0, 7, -7, i64::MAX, i64::MIN] {
            let len = format_int(&mut buf, n);
            assert_eq!(&buf[..len], n.to_string().as_bytes());
        }
    }

    #[test]
    fn formats_scores_like_redis() {
        assert_eq!(format_f64(1.0), "1");
        assert_eq!(format_f64(-2.5), "-2.5");
        assert_eq!(format_f64(f64::INFINITY), "inf");
        assert_eq!(format_f64(0.1), "0.1");
    }
}
