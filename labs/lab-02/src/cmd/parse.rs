//! Argument parsing as Redis does it, and Redis's error texts.
//!
//! Redis is strict about integers (`string2ll`: no sign `+`, no leading
//! zeros, no spaces) and uses `strtod` for floats with a few extra checks;
//! clients and tests depend on exactly which inputs fail, so these mirror
//! Redis rather than Rust's `str::parse`.

use std::ops::Bound;

pub(crate) const NOT_INT: &str = "ERR value is not an integer or out of range";
pub(crate) const NOT_FLOAT: &str = "ERR value is not a valid float";
pub(crate) const SYNTAX: &str = "ERR syntax error";
pub(crate) const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub(crate) const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
pub(crate) const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
pub(crate) const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub(crate) const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// Redis's largest string (`proto-max-bulk-len`, 512 MB).
pub(crate) const MAX_STRING: usize = 512 * 1024 * 1024;

/// Case-insensitive comparison of an argument with a lowercase keyword.
pub(crate) fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// An integer exactly as Redis's `string2ll` reads it: optional `-`, no
/// `+`, no leading zeros (except `0` itself), no spaces, within `i64`.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [] => return None,
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// A count that must be non-negative (`LPOP key count`, `SPOP key count`):
/// Redis's `getPositiveLongFromObjectOrReply`, whose one error text covers
/// both a non-integer and a negative number.
pub(crate) fn parse_count(s: &[u8]) -> Result<usize, &'static str> {
    match parse_i64(s) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(MUST_BE_POSITIVE),
    }
}

/// A float as Redis's `getDoubleFromObject` reads it (`strtod` on the
/// whole argument): no leading space, no trailing bytes, not NaN, and no
/// overflow to infinity or underflow to zero (`inf`, `-inf`, `+inf` and
/// `infinity` themselves are fine).
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    let first = *s.first()?;
    if first.is_ascii_whitespace() {
        return None;
    }
    let x: f64 = text.parse().ok()?;
    if x.is_nan() {
        return None;
    }
    let lower_has_inf = s.len() >= 3 && s.windows(3).any(|w| w.eq_ignore_ascii_case(b"inf"));
    if x.is_infinite() && !lower_has_inf {
        // Overflow: strtod sets ERANGE, Redis refuses.
        return None;
    }
    if x == 0.0 {
        // Underflow to zero also sets ERANGE: a non-zero mantissa read as 0.
        let mantissa = s.split(|&b| b == b'e' || b == b'E').next().unwrap_or(s);
        if mantissa.iter().any(|b| (b'1'..=b'9').contains(b)) {
            return None;
        }
    }
    Some(x)
}

/// One end of a score range (`ZRANGEBYSCORE`, `ZCOUNT`): `(` makes it
/// exclusive. Redis reads these with a bare `strtod`, which is laxer than
/// [`parse_f64`]: leading spaces are skipped, an empty string is 0, an
/// overflow is infinity; only NaN and trailing garbage fail.
pub(crate) fn parse_score_bound(s: &[u8]) -> Option<Bound<f64>> {
    let (exclusive, body) = match s {
        [b'(', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = &body[start..];
    let x = if body.is_empty() {
        0.0
    } else {
        std::str::from_utf8(body).ok()?.parse::<f64>().ok()?
    };
    if x.is_nan() {
        return None;
    }
    Some(if exclusive {
        Bound::Excluded(x)
    } else {
        Bound::Included(x)
    })
}

/// A float result as Redis stores it for `INCRBYFLOAT`/`HINCRBYFLOAT`
/// (human-friendly: no exponent, no trailing zeros).
pub(crate) fn format_float(x: f64) -> String {
    crate::reply::format_f64(x)
}

/// A sorted-set score as Redis 7.0 replies it: C's `%.17g` (17
/// significant digits, exponent form below 1e-4 and from 1e17), `inf`
/// and `-inf` for the infinities. Zero is `0` whatever its sign: Redis
/// keeps small sorted sets as listpacks, which store a score as text and
/// write `-0` as `0`.
pub(crate) fn format_score(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return "0".into();
    }
    // `{:.16e}` is the `%e` conversion `%g` starts from: its exponent
    // decides between the two forms, as in C.
    let sci = format!("{x:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = usize::try_from(16 - exp).unwrap_or(0);
        trim_fraction(&format!("{x:.decimals$}")).to_string()
    }
}

/// `%g`'s removal of trailing zeros (and of a bare trailing point).
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_like_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999999",
            b"abc",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_like_redis() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-2"), Some(-2.0));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"0"), Some(0.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"abc",
            b"1e400",
            b"1e-400",
            b"1x",
        ] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn score_bounds() {
        assert_eq!(parse_score_bound(b"1"), Some(Bound::Included(1.0)));
        assert_eq!(parse_score_bound(b"(1"), Some(Bound::Excluded(1.0)));
        assert_eq!(
            parse_score_bound(b"-inf"),
            Some(Bound::Included(f64::NEG_INFINITY))
        );
        assert_eq!(
            parse_score_bound(b"(+inf"),
            Some(Bound::Excluded(f64::INFINITY))
        );
        assert_eq!(parse_score_bound(b""), Some(Bound::Included(0.0)));
        assert_eq!(parse_score_bound(b"x"), None);
        assert_eq!(parse_score_bound(b"nan"), None);
    }

    #[test]
    fn scores_like_percent_17g() {
        for (x, want) in [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (3.0, "3"),
            (-1e20, "-1e+20"),
            (1e-5, "1.0000000000000001e-05"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e16, "10000000000000000"),
            (0.0001, "0.0001"),
            (-0.0, "0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.30000000000000004, "0.30000000000000004"),
        ] {
            assert_eq!(format_score(x), want, "{x:?}");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count(b"3"), Ok(3));
        assert_eq!(parse_count(b"0"), Ok(0));
        assert_eq!(parse_count(b"-1"), Err(MUST_BE_POSITIVE));
        assert_eq!(parse_count(b"x"), Err(MUST_BE_POSITIVE));
    }
}
