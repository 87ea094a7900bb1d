//! What the proxy does wrong on purpose: [`Faults`], and how a fault is
//! written as `key=value` (the control interface and the command line).

use std::time::Duration;

use kit::duration::{parse_duration, to_arg};
use serde::Serialize;

/// When a chosen request's connection is reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetAt {
    /// Before the request is forwarded: the server never sees it.
    Request,
    /// When the request's reply comes back, instead of forwarding it: the
    /// server executed the request and the client lost the answer.
    #[default]
    Reply,
}

impl ResetAt {
    pub fn name(self) -> &'static str {
        match self {
            ResetAt::Request => "request",
            ResetAt::Reply => "reply",
        }
    }
}

impl std::str::FromStr for ResetAt {
    type Err = FaultError;

    fn from_str(s: &str) -> Result<Self, FaultError> {
        match s {
            "request" => Ok(ResetAt::Request),
            "reply" => Ok(ResetAt::Reply),
            _ => Err(FaultError::bad("reset_at", s, "expected request or reply")),
        }
    }
}

/// The faults a proxy injects. [`Faults::default`] injects none.
///
/// Per-chunk faults (latency, jitter, bandwidth, black hole) apply to every
/// read in both directions; per-request faults (reset, truncate) are drawn
/// once per RESP request, in request order, from the connection's seeded
/// generator.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Faults {
    /// Added before forwarding each chunk, in both directions.
    #[serde(serialize_with = "duration_text")]
    pub latency: Duration,
    /// Plus a uniform `0..jitter`, drawn from the connection's generator.
    #[serde(serialize_with = "duration_text")]
    pub jitter: Duration,
    /// Bytes per second, per connection and direction; `None` is no limit.
    pub bandwidth: Option<u64>,
    /// Probability per request of resetting the client connection.
    pub reset: f64,
    /// Where the reset happens.
    pub reset_at: ResetAt,
    /// Probability per reply of forwarding only its first half, then closing
    /// both sides cleanly.
    pub truncate: f64,
    /// Probability per reply of holding it back for `stall_for` more (and,
    /// since a connection delivers in order, whatever follows it on that
    /// connection): a server or path that pauses now and then.
    pub stall: f64,
    #[serde(serialize_with = "duration_text")]
    pub stall_for: Duration,
    /// Read and never forward nor answer; connections stay open. A
    /// connection that lost bytes to the black hole keeps swallowing both
    /// ways until it closes, even after the black hole is lifted (a stream
    /// cannot skip the bytes it lost); new connections work again.
    pub blackhole: bool,
    /// Close the listening socket: connects are refused until it is off.
    pub refuse: bool,
    /// Stop accepting, with a listen backlog of one: once it is full,
    /// connects time out.
    pub stall_accept: bool,
}

fn duration_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_arg(*d))
}

/// A fault that does not parse or is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error(
        "unknown fault `{0}` (expected latency, jitter, bandwidth, reset, reset_at, truncate, blackhole, refuse, stall_accept)"
    )]
    UnknownKey(String),
    #[error("bad value `{value}` for {key}: {reason}")]
    BadValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("`{0}` is not key=value")]
    NotAnAssignment(String),
}

impl FaultError {
    fn bad(key: &str, value: &str, reason: impl Into<String>) -> Self {
        FaultError::BadValue {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A probability in `[0, 1]`.
pub fn parse_probability(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(_) => Err(format!("probability `{s}` is not in [0, 1]")),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

fn parse_switch(key: &str, s: &str) -> Result<bool, FaultError> {
    match s {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(FaultError::bad(key, s, "expected on or off")),
    }
}

impl Faults {
    /// Sets one fault from its text: `latency=10ms`, `bandwidth=65536` (or
    /// `off`), `reset=0.05`, `reset_at=request`, `blackhole=on`. Keys may
    /// use `-` for `_`. On error nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), FaultError> {
        let key_norm = key.replace('-', "_");
        let dur = |v: &str| parse_duration(v).map_err(|e| FaultError::bad(key, v, e.to_string()));
        let prob = |v: &str| parse_probability(v).map_err(|e| FaultError::bad(key, v, e));
        match key_norm.as_str() {
            "latency" => self.latency = dur(value)?,
            "jitter" => self.jitter = dur(value)?,
            "bandwidth" => {
                self.bandwidth = match value {
                    "off" | "none" | "0" => None,
                    v => Some(
                        v.parse::<u64>()
                            .map_err(|_| FaultError::bad(key, v, "expected bytes per second"))?,
                    ),
                }
            }
            "reset" => self.reset = prob(value)?,
            "reset_at" => self.reset_at = value.parse()?,
            "truncate" => self.truncate = prob(value)?,
            "stall" => self.stall = prob(value)?,
            "stall_for" => self.stall_for = dur(value)?,
            "blackhole" => self.blackhole = parse_switch(key, value)?,
            "refuse" => self.refuse = parse_switch(key, value)?,
            "stall_accept" => self.stall_accept = parse_switch(key, value)?,
            _ => return Err(FaultError::UnknownKey(key.to_owned())),
        }
        Ok(())
    }

    /// Applies `key=value` pairs separated by whitespace, all or nothing.
    pub fn apply(&mut self, assignments: &str) -> Result<(), FaultError> {
        let mut next = self.clone();
        for pair in assignments.split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| FaultError::NotAnAssignment(pair.to_owned()))?;
            next.set(k, v)?;
        }
        *self = next;
        Ok(())
    }

    /// Checks the ranges: probabilities in `[0, 1]`, a bandwidth above 0.
    pub fn validate(&self) -> Result<(), FaultError> {
        for (key, p) in [
            ("reset", self.reset),
            ("truncate", self.truncate),
            ("stall", self.stall),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(FaultError::bad(key, &p.to_string(), "not in [0, 1]"));
            }
        }
        if self.bandwidth == Some(0) {
            return Err(FaultError::bad("bandwidth", "0", "use None for no limit"));
        }
        Ok(())
    }

    /// The same faults with every value in range: probabilities clamped to
    /// `[0, 1]` (NaN is 0), a bandwidth of 0 is no limit.
    pub fn sanitized(mut self) -> Self {
        let clamp = |p: f64| if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.reset = clamp(self.reset);
        self.truncate = clamp(self.truncate);
        self.stall = clamp(self.stall);
        if self.bandwidth == Some(0) {
            self.bandwidth = None;
        }
        self
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_apply_all_or_nothing() {
        let mut f = Faults::default();
        f.apply("latency=10ms reset=0.05 blackhole=on reset-at=request bandwidth=1000")
            .expect("valid");
        assert_eq!(f.latency, Duration::from_millis(10));
        assert_eq!(f.reset, 0.05);
        assert!(f.blackhole);
        assert_eq!(f.reset_at, ResetAt::Request);
        assert_eq!(f.bandwidth, Some(1000));
        let before = f.clone();
        assert!(f.apply("latency=1s reset=2").is_err());
        assert!(f.apply("colour=red").is_err());
        assert!(f.apply("latency").is_err());
        assert_eq!(f, before);
        assert!(
            f.to_json().contains("\"latency\":\"10ms\""),
            "{}",
            f.to_json()
        );
    }

    #[test]
    fn sanitized_is_valid() {
        let f = Faults {
            reset: f64::NAN,
            truncate: 7.0,
            bandwidth: Some(0),
            ..Faults::default()
        }
        .sanitized();
        assert_eq!(f.validate(), Ok(()));
    }

    proptest::proptest! {
        /// The control port hands `apply` whatever a peer typed: it must
        /// answer every line with Ok or an error, never panic, and leave
        /// the faults valid.
        #[test]
        fn any_line_is_applied_or_refused_never_a_panic(line in "[ -~]{0,80}") {
            let mut f = Faults::default();
            if f.apply(&line).is_ok() {
                proptest::prop_assert!(f.validate().is_ok(), "{line:?} gave {f:?}");
            }
        }

        #[test]
        fn assignments_of_known_keys_with_any_value_never_panic(
            key in "(latency|jitter|bandwidth|reset|reset_at|truncate|stall|stall_for|blackhole|refuse|stall_accept)",
            value in "[ -~]{0,24}",
        ) {
            let mut f = Faults::default();
            let _ = f.set(&key, &value);
            proptest::prop_assert!(f.validate().is_ok(), "{key}={value:?} gave {f:?}");
        }
    }
}
