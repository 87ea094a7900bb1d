//! What a profile request may ask for, and the clear error when it asks
//! for something else.
//!
//! The debug port takes `GET /debug/pprof/profile?seconds=N&frequency=H&format=F`,
//! Go's path and parameter names (Go's `frequency` is fixed at 100 Hz; ours
//! is a parameter because the chapter measures what it costs). Every bound
//! is checked before anything starts, so a bad request costs the server
//! nothing.

use std::fmt;
use std::time::Duration;

/// Longest profile one request may take (Go's default is 30 s).
pub const MAX_SECONDS: u64 = 60;
/// Highest sampling rate: above about 1 kHz the timer signal costs more
/// than it tells (the chapter measures 19, 99 and 999 Hz).
pub const MAX_FREQUENCY: u32 = 1000;
/// What `go tool pprof` asks for when given no `-seconds`.
pub const DEFAULT_SECONDS: u64 = 30;
/// 99, not 100: a rate that is not a multiple of the kernel's tick or of a
/// periodic job's period does not sample in lockstep with either.
pub const DEFAULT_FREQUENCY: u32 = 99;

/// The output of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Google's profile.proto, which `go tool pprof` reads.
    Pprof,
    /// An interactive flame graph (inferno).
    Svg,
    /// Folded stacks, one line per distinct stack: `thread;root;…;leaf count`.
    Folded,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pprof => "pprof",
            Format::Svg => "svg",
            Format::Folded => "folded",
        }
    }

    /// The `Content-Type` the debug port answers with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pprof => "application/octet-stream",
            Format::Svg => "image/svg+xml",
            Format::Folded => "text/plain; charset=utf-8",
        }
    }
}

/// Where the sampler drops a sample instead of unwinding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Blocklist {
    /// Only in the unwinder (libgcc) and the vDSO: lab-04's default.
    #[default]
    Unwinder,
    /// Also anywhere in libc, as pprof-rs's examples do (kept to measure
    /// what that loses: `blocklist=libc`).
    Libc,
}

impl Blocklist {
    pub fn name(self) -> &'static str {
        match self {
            Blocklist::Unwinder => "unwinder",
            Blocklist::Libc => "libc",
        }
    }
}

/// A checked profile request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileRequest {
    pub seconds: u64,
    pub frequency: u32,
    pub format: Format,
    pub blocklist: Blocklist,
}

impl Default for ProfileRequest {
    fn default() -> Self {
        Self {
            seconds: DEFAULT_SECONDS,
            frequency: DEFAULT_FREQUENCY,
            format: Format::Pprof,
            blocklist: Blocklist::Unwinder,
        }
    }
}

/// Why a request was refused (the debug port answers 400 with this text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    Unknown(String),
    Repeated(String),
    NotANumber {
        name: &'static str,
        value: String,
    },
    OutOfRange {
        name: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    BadFormat(String),
    BadBlocklist(String),
    BadEncoding,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Unknown(p) => write!(
                f,
                "unknown parameter `{p}`: the profile takes seconds, frequency, format and blocklist"
            ),
            RequestError::Repeated(p) => write!(f, "parameter `{p}` given more than once"),
            RequestError::NotANumber { name, value } => {
                write!(f, "{name} must be a whole number, got `{value}`")
            }
            RequestError::OutOfRange {
                name,
                value,
                min,
                max,
            } => write!(f, "{name} must be between {min} and {max}, got {value}"),
            RequestError::BadFormat(v) => {
                write!(f, "format must be pprof, svg or folded, got `{v}`")
            }
            RequestError::BadBlocklist(v) => {
                write!(f, "blocklist must be unwinder or libc, got `{v}`")
            }
            RequestError::BadEncoding => write!(f, "the query is not valid percent-encoded UTF-8"),
        }
    }
}

impl std::error::Error for RequestError {}

impl ProfileRequest {
    /// Parses the query string of a request (the part after `?`, possibly
    /// empty). Defaults fill what is not given.
    pub fn from_query(query: &str) -> Result<Self, RequestError> {
        let mut req = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(raw).ok_or(RequestError::BadEncoding)?;
            let name_known = match name {
                "seconds" => {
                    req.seconds = bounded("seconds", &value, 1, MAX_SECONDS)?;
                    "seconds"
                }
                "frequency" => {
                    req.frequency =
                        bounded("frequency", &value, 1, u64::from(MAX_FREQUENCY))? as u32;
                    "frequency"
                }
                "format" => {
                    req.format = match value.as_str() {
                        "pprof" | "proto" => Format::Pprof,
                        "svg" | "flamegraph" => Format::Svg,
                        "folded" | "collapsed" => Format::Folded,
                        _ => return Err(RequestError::BadFormat(value)),
                    };
                    "format"
                }
                "blocklist" => {
                    req.blocklist = match value.as_str() {
                        "unwinder" => Blocklist::Unwinder,
                        "libc" => Blocklist::Libc,
                        _ => return Err(RequestError::BadBlocklist(truncate(&value))),
                    };
                    "blocklist"
                }
                other => return Err(RequestError::Unknown(truncate(other))),
            };
            if seen.contains(&name_known) {
                return Err(RequestError::Repeated(name_known.to_owned()));
            }
            seen.push(name_known);
        }
        Ok(req)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }

    /// The query string that asks for this request.
    pub fn to_query(&self) -> String {
        format!(
            "seconds={}&frequency={}&format={}&blocklist={}",
            self.seconds,
            self.frequency,
            self.format.name(),
            self.blocklist.name()
        )
    }
}

fn bounded(name: &'static str, value: &str, min: u64, max: u64) -> Result<u64, RequestError> {
    let n: u64 = value.parse().map_err(|_| RequestError::NotANumber {
        name,
        value: truncate(value),
    })?;
    if n < min || n > max {
        return Err(RequestError::OutOfRange {
            name,
            value: n,
            min,
            max,
        });
    }
    Ok(n)
}

/// Error messages echo at most this much of what the client sent.
fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `%XX` and `+` decoding; `None` on a broken escape or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_go_where_go_has_one() {
        let r = ProfileRequest::from_query("").unwrap();
        assert_eq!(r.seconds, 30);
        assert_eq!(r.frequency, 99);
        assert_eq!(r.format, Format::Pprof);
    }

    #[test]
    fn parses_every_parameter() {
        let r = ProfileRequest::from_query("seconds=5&frequency=999&format=svg&blocklist=libc")
            .unwrap();
        assert_eq!(r.blocklist, Blocklist::Libc);
        assert_eq!((r.seconds, r.frequency, r.format), (5, 999, Format::Svg));
        assert_eq!(
            ProfileRequest::from_query(&r.to_query()).unwrap(),
            r,
            "to_query round-trips"
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let err = |q: &str| ProfileRequest::from_query(q).unwrap_err().to_string();
        assert_eq!(err("seconds=0"), "seconds must be between 1 and 60, got 0");
        assert_eq!(
            err("seconds=61"),
            "seconds must be between 1 and 60, got 61"
        );
        assert_eq!(
            err("frequency=5000"),
            "frequency must be between 1 and 1000, got 5000"
        );
        assert_eq!(
            err("seconds=ten"),
            "seconds must be a whole number, got `ten`"
        );
        assert_eq!(
            err("seconds=-1"),
            "seconds must be a whole number, got `-1`"
        );
        assert!(err("format=png").contains("pprof, svg or folded"));
        assert!(err("blocklist=all").contains("unwinder or libc"));
        assert!(err("debug=1").contains("unknown parameter `debug`"));
        assert!(err("seconds=1&seconds=2").contains("more than once"));
        assert!(err("format=%zz").contains("percent-encoded"));
        let long = format!("{}=1", "x".repeat(5000));
        assert!(err(&long).len() < 160, "errors do not echo a huge input");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None, "not UTF-8");
    }
}
