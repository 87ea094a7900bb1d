//! The one duration parser every command line of the book uses, and its
//! inverse for building command lines.
//!
//! Accepted: a number (decimals allowed) and a unit, `ns`, `us` or `µs`,
//! `ms`, `s`, `m`, `h`, with or without a space between; a bare number is
//! seconds. `10s`, `500ms`, `1.5s`, `250us`, `2m`.

use std::time::Duration;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration (write e.g. 10s, 500ms, 1.5s, 2m)")]
    NotANumber(String),
    #[error("unknown unit `{unit}` in `{input}` (use ns, us, ms, s, m or h)")]
    UnknownUnit { input: String, unit: String },
    #[error("`{0}` is out of range for a duration")]
    OutOfRange(String),
}

/// Parses `400ms`, `1s`, `1.5s`, `250us`, `250µs`, `2m`, `1h` or a bare
/// number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| DurationError::NotANumber(s.to_owned()))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "ns" => value / 1e9,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(DurationError::UnknownUnit {
                input: s.to_owned(),
                unit: other.to_owned(),
            });
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| DurationError::OutOfRange(s.to_owned()))
}

/// A duration as a command-line argument that [`parse_duration`] reads
/// back exactly: the largest unit that divides it (`10s`, `470us`, `1500ms`).
pub fn to_arg(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0s".to_owned()
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000) {
        format!("{}us", ns / 1_000)
    } else {
        format!("{ns}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_book_writes() {
        assert_eq!(parse_duration("400ms"), Ok(Duration::from_millis(400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250 µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(matches!(
            parse_duration("fast"),
            Err(DurationError::NotANumber(_))
        ));
        assert!(matches!(
            parse_duration("3 parsecs"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("1e400"),
            Err(DurationError::NotANumber(_) | DurationError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn arguments_round_trip() {
        for d in [
            Duration::ZERO,
            Duration::from_secs(10),
            Duration::from_micros(470),
            Duration::from_millis(1500),
            Duration::from_nanos(3),
        ] {
            assert_eq!(parse_duration(&to_arg(d)), Ok(d), "{}", to_arg(d));
        }
        assert_eq!(to_arg(Duration::from_millis(1500)), "1500ms");
    }
}
