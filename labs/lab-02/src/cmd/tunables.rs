//! The Redis tuning parameters that `CONFIG SET` accepts and `CONFIG GET`
//! reports: the encoding thresholds (`hash-max-listpack-entries` and
//! friends, with their old `ziplist` names) and the memory limits
//! (`maxmemory`, `maxmemory-policy`, …), with Redis 7's defaults, value
//! checks and error texts.
//!
//! They are stored, per server, and have no effect: lab-02 keeps one
//! representation per type whatever its size (see `OBJECT ENCODING`), and
//! it never evicts. They exist so that tools and client libraries that
//! set them at start-up (as many Redis deployment scripts do) work
//! unchanged, and so that a reader can compare a setting's handling with
//! Redis's byte for byte.

use std::sync::{Mutex, PoisonError};

/// How a parameter's value is read (Redis's `numericParseString` and
/// friends).
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An integer as `string2ll` reads it, within `min..=max`.
    Int { min: i64, max: i64 },
    /// A byte count with an optional unit (`100mb`, `1gb`, `5k`), at most
    /// `max`.
    Memory { max: u64 },
    /// `yes` or `no`.
    Bool,
    /// One of these names, case-insensitively.
    Enum(&'static [&'static str]),
}

/// One parameter: its name, its older alias (Redis 7 renamed `ziplist` to
/// `listpack` and still answers to both), how it is read, its default.
struct Param {
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
}

const LONG_MAX: i64 = i64::MAX;
const INT_MIN: i64 = i32::MIN as i64;
const INT_MAX: i64 = i32::MAX as i64;

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

const fn param(
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias,
        kind,
        default,
    }
}

const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Redis 7's definitions (`config.c`). `set-max-listpack-*` arrived in
/// Redis 7.2; the rest are 7.0's.
const PARAMS: &[Param] = &[
    param(
        "hash-max-listpack-entries",
        Some("hash-max-ziplist-entries"),
        int(0, LONG_MAX),
        "512",
    ),
    param(
        "hash-max-listpack-value",
        Some("hash-max-ziplist-value"),
        Kind::Memory {
            max: LONG_MAX as u64,
        },
        "64",
    ),
    param(
        "list-max-listpack-size",
        Some("list-max-ziplist-size"),
        int(INT_MIN, INT_MAX),
        "-2",
    ),
    param("list-compress-depth", None, int(0, INT_MAX), "0"),
    param("set-max-intset-entries", None, int(0, LONG_MAX), "512"),
    param("set-max-listpack-entries", None, int(0, LONG_MAX), "128"),
    param(
        "set-max-listpack-value",
        None,
        Kind::Memory {
            max: LONG_MAX as u64,
        },
        "64",
    ),
    param(
        "zset-max-listpack-entries",
        Some("zset-max-ziplist-entries"),
        int(0, LONG_MAX),
        "128",
    ),
    param(
        "zset-max-listpack-value",
        Some("zset-max-ziplist-value"),
        Kind::Memory {
            max: LONG_MAX as u64,
        },
        "64",
    ),
    param(
        "stream-node-max-bytes",
        None,
        Kind::Memory {
            max: LONG_MAX as u64,
        },
        "4096",
    ),
    param("stream-node-max-entries", None, int(0, i64::MAX), "100"),
    param("maxmemory", None, Kind::Memory { max: u64::MAX }, "0"),
    param("maxmemory-policy", None, Kind::Enum(POLICIES), "noeviction"),
    param("maxmemory-samples", None, int(1, INT_MAX), "5"),
    param("maxmemory-eviction-tenacity", None, int(0, 100), "10"),
    param("lazyfree-lazy-eviction", None, Kind::Bool, "no"),
    param("lazyfree-lazy-expire", None, Kind::Bool, "no"),
    param("lazyfree-lazy-server-del", None, Kind::Bool, "no"),
    param("lazyfree-lazy-user-del", None, Kind::Bool, "no"),
    param("lazyfree-lazy-user-flush", None, Kind::Bool, "no"),
];

/// One server's values of the parameters, as CONFIG GET shows them.
#[derive(Debug)]
pub struct Tunables {
    values: Mutex<Vec<String>>,
}

impl Default for Tunables {
    fn default() -> Self {
        Self {
            values: Mutex::new(PARAMS.iter().map(|p| p.default.to_string()).collect()),
        }
    }
}

impl Tunables {
    /// Every parameter at Redis's default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every name CONFIG GET can match, aliases included (Redis lists
    /// both).
    pub fn names() -> impl Iterator<Item = &'static str> {
        PARAMS
            .iter()
            .flat_map(|p| std::iter::once(p.name).chain(p.alias))
    }

    /// The parameter called `name` (lowercase; a name or an alias).
    pub(crate) fn find(name: &str) -> Option<usize> {
        PARAMS
            .iter()
            .position(|p| p.name == name || p.alias == Some(name))
    }

    /// The current value of parameter `name` (lowercase), if it is one.
    pub fn get(&self, name: &str) -> Option<String> {
        let i = Self::find(name)?;
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        values.get(i).cloned()
    }

    /// Checks `value` for parameter `index`: the value as CONFIG GET will
    /// show it, or Redis's reason for refusing it.
    pub(crate) fn parse(index: usize, value: &[u8]) -> Result<String, String> {
        let Some(param) = PARAMS.get(index) else {
            return Err("no such parameter".into());
        };
        match param.kind {
            Kind::Int { min, max } => {
                let n = super::parse::parse_i64(value)
                    .ok_or("argument couldn't be parsed into an integer")?;
                if !(min..=max).contains(&n) {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(n.to_string())
            }
            Kind::Memory { max } => {
                let n = memtoull(value).ok_or("argument must be a memory value")?;
                if n > max {
                    return Err(format!("argument must be between 0 and {max} inclusive"));
                }
                Ok(n.to_string())
            }
            Kind::Bool => {
                if value.eq_ignore_ascii_case(b"yes") {
                    Ok("yes".into())
                } else if value.eq_ignore_ascii_case(b"no") {
                    Ok("no".into())
                } else {
                    Err("argument must be 'yes' or 'no'".into())
                }
            }
            Kind::Enum(names) => names
                .iter()
                .find(|n| value.eq_ignore_ascii_case(n.as_bytes()))
                .map(|n| n.to_string())
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    )
                }),
        }
    }

    /// Stores checked values (from [`parse`](Self::parse)) all at once.
    pub(crate) fn set_all(&self, changes: Vec<(usize, String)>) {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, v) in changes {
            if let Some(slot) = values.get_mut(i) {
                *slot = v;
            }
        }
    }
}

/// Redis 7.0's `memtoull`: digits, then an optional unit (`b`, `k`=1000,
/// `kb`=1024, `m`, `mb`, `g`, `gb`, any case). As in Redis 7.0: no sign,
/// no spaces; an empty number is 0 (`""` and `kb` are 0); digits past
/// `u64::MAX` saturate (strtoull's overflow is not checked) and the unit's
/// product wraps (7.0 has no overflow check there either).
fn memtoull(s: &[u8]) -> Option<u64> {
    let end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(end);
    let mul: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let value = digits.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(value.wrapping_mul(mul))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values_like_redis_7_0() {
        assert_eq!(memtoull(b"100mb"), Some(104_857_600));
        assert_eq!(memtoull(b"1GB"), Some(1 << 30));
        assert_eq!(memtoull(b"5k"), Some(5000));
        assert_eq!(memtoull(b"05"), Some(5));
        assert_eq!(memtoull(b""), Some(0));
        assert_eq!(memtoull(b"kb"), Some(0));
        assert_eq!(memtoull(b"99999999999999999999"), Some(u64::MAX));
        for bad in [&b"-1"[..], b"1.5mb", b"10xb", b" 5", b"+5"] {
            assert_eq!(memtoull(bad), None, "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn names_and_aliases_share_a_value() {
        let t = Tunables::new();
        let i = Tunables::find("hash-max-ziplist-entries").unwrap();
        assert_eq!(Tunables::find("hash-max-listpack-entries"), Some(i));
        t.set_all(vec![(i, "7".into())]);
        assert_eq!(t.get("hash-max-listpack-entries").as_deref(), Some("7"));
        assert_eq!(t.get("hash-max-ziplist-entries").as_deref(), Some("7"));
        assert_eq!(t.get("nosuch"), None);
        assert!(Tunables::names().any(|n| n == "zset-max-ziplist-value"));
    }

    #[test]
    fn checks_and_error_texts() {
        let at = |name| Tunables::find(name).unwrap();
        let p = |name, v: &str| Tunables::parse(at(name), v.as_bytes());
        assert_eq!(p("maxmemory", "100mb"), Ok("104857600".into()));
        assert_eq!(
            p("maxmemory", "-1"),
            Err("argument must be a memory value".into())
        );
        assert_eq!(
            p("hash-max-listpack-entries", "1k"),
            Err("argument couldn't be parsed into an integer".into())
        );
        assert_eq!(
            p("hash-max-listpack-entries", "-1"),
            Err("argument must be between 0 and 9223372036854775807 inclusive".into())
        );
        assert_eq!(
            p("hash-max-listpack-value", "9223372036854775808"),
            Err("argument must be between 0 and 9223372036854775807 inclusive".into())
        );
        assert_eq!(
            p("maxmemory-policy", "ALLKEYS-LRU"),
            Ok("allkeys-lru".into())
        );
        assert!(
            p("maxmemory-policy", "lru")
                .unwrap_err()
                .starts_with("argument(s) must be one of the following: volatile-lru, ")
        );
        assert_eq!(p("lazyfree-lazy-eviction", "YES"), Ok("yes".into()));
        assert_eq!(
            p("lazyfree-lazy-eviction", "1"),
            Err("argument must be 'yes' or 'no'".into())
        );
        assert_eq!(p("set-max-listpack-entries", "64"), Ok("64".into()));
        assert_eq!(
            p("maxmemory-samples", "0"),
            Err("argument must be between 1 and 2147483647 inclusive".into())
        );
    }
}
