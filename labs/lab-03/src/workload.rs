//! What each request says, and how to tell where its response ends.
//!
//! A [`Workload`] writes the next request into a connection's output
//! buffer and finds the end of one response at the start of its input
//! buffer. Parsing is a scan, not a decode: the generator needs to know
//! where a response ends and whether it was an error, nothing more, and it
//! must not allocate per request at 100k requests per second.
//!
//! - [`Resp`]: a Redis command mix (`set:get=1:9`) over a keyspace drawn
//!   uniformly or by a Zipf law, with a value size. Requests are encoded
//!   with lab-02's `encode_command`, the same bytes `redis-cli` sends.
//! - [`Http`]: one fixed HTTP/1.1 request (method, path, headers, body),
//!   built once; responses framed by `Content-Length`, chunked encoding or
//!   the end of the connection.

use std::fmt;
use std::str::FromStr;

use crate::schedule::Rng;
use kit::Zipf;

/// How a response ended, as far as the generator's statistics care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// A RESP error reply or an HTTP 5xx: the server answered, unhappily.
    ServerError,
    /// An HTTP 4xx: the request was wrong for this server.
    ClientError,
}

/// One complete response at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// Its length in bytes.
    pub len: usize,
    pub status: Status,
    /// The server will close the connection after it.
    pub close: bool,
}

/// A response the generator cannot frame: the connection is closed and its
/// requests are counted as protocol errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unparseable response: {0}")]
pub struct ProtoError(pub String);

/// Requests out, response boundaries in.
pub trait Workload: Send {
    /// Appends the next request to `out`.
    fn write_request(&mut self, out: &mut Vec<u8>);
    /// Finds one complete response at the start of `buf`; `Ok(None)` means
    /// more bytes are needed.
    fn parse(&self, buf: &[u8]) -> Result<Option<Parsed>, ProtoError>;
    /// The peer closed the connection with `buf` unparsed: a response that
    /// runs until the end of the connection is complete now.
    fn parse_at_eof(&self, buf: &[u8]) -> Option<Parsed> {
        let _ = buf;
        None
    }
    /// Close the connection after every response (HTTP without keep-alive).
    fn close_after_each(&self) -> bool {
        false
    }
    /// How many requests one connection may have in flight.
    fn pipeline(&self) -> usize {
        1
    }
    /// The largest response this workload expects, to bound what one
    /// connection buffers (see `engine::Plan::max_response`).
    fn max_response(&self) -> usize {
        crate::engine::MAX_RESPONSE
    }
    /// A short description for the summary.
    fn describe(&self) -> String;
}

// ---------------------------------------------------------------- RESP

/// The commands a RESP mix can contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Ping,
    Get,
    Set,
    Incr,
    Del,
    Lpush,
    Lpop,
    Hset,
    Hget,
    Sadd,
    /// `INCR {key:N}:a` and `INCR {key:N}:b` in one request, no
    /// transaction: two keys with one hash tag, so one part of a split
    /// keyspace (lab-02 and Redis Cluster route by the tag).
    Incr2Same,
    /// The same two INCRs inside MULTI … EXEC.
    TxSame,
    /// `INCR key:N` and `INCR kez:M`: two independent keys, usually in
    /// different parts.
    Incr2Spread,
    /// The same two INCRs inside MULTI … EXEC.
    TxSpread,
}

impl Command {
    /// Replies one request of this command gets.
    pub fn replies(self) -> usize {
        match self {
            Self::Incr2Same | Self::Incr2Spread => 2,
            Self::TxSame | Self::TxSpread => 4,
            _ => 1,
        }
    }
}

impl FromStr for Command {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "ping" => Self::Ping,
            "get" => Self::Get,
            "set" => Self::Set,
            "incr" => Self::Incr,
            "del" => Self::Del,
            "lpush" => Self::Lpush,
            "lpop" => Self::Lpop,
            "hset" => Self::Hset,
            "hget" => Self::Hget,
            "sadd" => Self::Sadd,
            "incr2-same" => Self::Incr2Same,
            "tx-same" => Self::TxSame,
            "incr2-spread" => Self::Incr2Spread,
            "tx-spread" => Self::TxSpread,
            other => {
                return Err(format!(
                    "unknown command {other:?}; known: ping, get, set, incr, del, lpush, lpop, \
                     hset, hget, sadd, and the two-key requests incr2-same, tx-same, \
                     incr2-spread, tx-spread"
                ));
            }
        })
    }
}

/// `set:get=1:9`: commands and their relative weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix(pub Vec<(Command, u32)>);

impl FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (names, weights) = match s.split_once('=') {
            Some((n, w)) => (n, Some(w)),
            None => (s, None),
        };
        let cmds: Vec<Command> = names.split(':').map(str::parse).collect::<Result<_, _>>()?;
        let weights: Vec<u32> = match weights {
            None => vec![1; cmds.len()],
            Some(w) => w
                .split(':')
                .map(|x| {
                    x.trim()
                        .parse::<u32>()
                        .map_err(|_| format!("weight {x:?} is not a whole number"))
                })
                .collect::<Result<_, _>>()?,
        };
        if weights.len() != cmds.len() {
            return Err(format!(
                "{} commands but {} weights (write e.g. set:get=1:9)",
                cmds.len(),
                weights.len()
            ));
        }
        if weights.iter().all(|&w| w == 0) {
            return Err("every weight is zero".into());
        }
        if cmds.len() > 1 && cmds.iter().any(|c| c.replies() > 1) {
            return Err(
                "a two-key request (incr2-…, tx-…) must be the only command in the mix".into(),
            );
        }
        Ok(Self(cmds.into_iter().zip(weights).collect()))
    }
}

/// How keys are drawn from the keyspace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyDist {
    Uniform,
    /// Rank `k` with probability proportional to `1 / k^s`: a few hot keys.
    Zipf(f64),
}

impl FromStr for KeyDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "uniform" => Ok(Self::Uniform),
            None if s == "zipf" => Ok(Self::Zipf(0.99)),
            Some(("zipf", e)) => match e.parse::<f64>() {
                Ok(e) if e > 0.0 && e.is_finite() => Ok(Self::Zipf(e)),
                _ => Err(format!("zipf exponent {e:?} must be a positive number")),
            },
            _ => Err(format!(
                "unknown key distribution {s:?}: uniform, zipf or zipf:EXPONENT"
            )),
        }
    }
}

impl fmt::Display for KeyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uniform => write!(f, "uniform"),
            Self::Zipf(s) => write!(f, "zipf:{s}"),
        }
    }
}

/// Settings for a RESP workload.
#[derive(Debug, Clone)]
pub struct RespSpec {
    pub mix: Mix,
    pub keyspace: u64,
    pub keys: KeyDist,
    pub value_size: usize,
    pub pipeline: usize,
    pub seed: u64,
}

/// A Redis command mix.
pub struct Resp {
    spec: RespSpec,
    /// Cumulative weight, and the command's encoding split around its key.
    cumulative: Vec<(u32, Template)>,
    total: u32,
    zipf: Option<Zipf>,
    rng: Rng,
}

/// A request encoded once by lab-02's `encode_command`, with placeholder
/// keys: sending it is copies around the keys, not an encoding.
#[derive(Debug, Clone)]
struct Template {
    /// The bytes between keys: one more piece than keys.
    pieces: Vec<Vec<u8>>,
    /// For each key: the first (0) or the second (1) key of the request.
    keys: Vec<usize>,
}

const KEY_PLACEHOLDER: &[u8; 16] = b"key:000000000000";
/// The second key of a two-key request.
const KEY2_PLACEHOLDER: &[u8; 16] = b"kez:000000000000";

impl Template {
    fn new(cmd: Command, value: &[u8]) -> Self {
        let key: &[u8] = KEY_PLACEHOLDER;
        let key2: &[u8] = KEY2_PLACEHOLDER;
        let tagged = |suffix: &[u8]| [b"{", key, b"}:", suffix].concat();
        let (tag_a, tag_b) = (tagged(b"a"), tagged(b"b"));
        fn one<'a>(args: &[&'a [u8]]) -> Vec<Vec<&'a [u8]>> {
            vec![args.to_vec()]
        }
        fn transaction(cmds: Vec<Vec<&[u8]>>) -> Vec<Vec<&[u8]>> {
            let mut all = vec![vec![&b"MULTI"[..]]];
            all.extend(cmds);
            all.push(vec![&b"EXEC"[..]]);
            all
        }
        let incr_same: Vec<Vec<&[u8]>> = vec![vec![b"INCR", &tag_a], vec![b"INCR", &tag_b]];
        let incr_spread: Vec<Vec<&[u8]>> = vec![vec![b"INCR", key], vec![b"INCR", key2]];
        let commands: Vec<Vec<&[u8]>> = match cmd {
            Command::Ping => one(&[b"PING"]),
            Command::Get => one(&[b"GET", key]),
            Command::Set => one(&[b"SET", key, value]),
            Command::Incr => one(&[b"INCR", key]),
            Command::Del => one(&[b"DEL", key]),
            Command::Lpush => one(&[b"LPUSH", key, value]),
            Command::Lpop => one(&[b"LPOP", key]),
            Command::Hset => one(&[b"HSET", key, b"field", value]),
            Command::Hget => one(&[b"HGET", key, b"field"]),
            Command::Sadd => one(&[b"SADD", key, value]),
            Command::Incr2Same => incr_same,
            Command::TxSame => transaction(incr_same),
            Command::Incr2Spread => incr_spread,
            Command::TxSpread => transaction(incr_spread),
        };
        let mut bytes = Vec::new();
        for args in &commands {
            lab_02::resp::encode_command(args, &mut bytes);
        }
        // Split at every placeholder: they occur only where keys go.
        let mut pieces = Vec::new();
        let mut keys = Vec::new();
        let mut from = 0;
        let mut at = 0;
        while at + KEY_PLACEHOLDER.len() <= bytes.len() {
            let window = &bytes[at..at + KEY_PLACEHOLDER.len()];
            let which = if window == KEY_PLACEHOLDER {
                Some(0)
            } else if window == KEY2_PLACEHOLDER {
                Some(1)
            } else {
                None
            };
            match which {
                Some(k) => {
                    pieces.push(bytes[from..at].to_vec());
                    keys.push(k);
                    at += KEY_PLACEHOLDER.len();
                    from = at;
                }
                None => at += 1,
            }
        }
        pieces.push(bytes[from..].to_vec());
        Self { pieces, keys }
    }
}

impl Resp {
    pub fn new(spec: RespSpec) -> Self {
        let value = vec![b'x'; spec.value_size];
        let mut acc = 0;
        let cumulative = spec
            .mix
            .0
            .iter()
            .map(|&(c, w)| {
                acc += w;
                (acc, Template::new(c, &value))
            })
            .collect();
        let zipf = match spec.keys {
            KeyDist::Zipf(s) => Some(Zipf::new(spec.keyspace, s)),
            KeyDist::Uniform => None,
        };
        Self {
            cumulative,
            total: acc,
            zipf,
            rng: Rng::new(spec.seed),
            spec,
        }
    }

    /// The next key, in the shape redis-benchmark uses: key:000000012345
    /// (`kez:…` for a request's second key).
    fn next_key(&mut self, which: usize) -> [u8; 16] {
        let mut k = match &self.zipf {
            Some(z) => z.sample(&mut self.rng) - 1,
            None => self.rng.below(self.spec.keyspace.max(1)),
        };
        let mut key = if which == 0 {
            *KEY_PLACEHOLDER
        } else {
            *KEY2_PLACEHOLDER
        };
        // The placeholder's digits are zeros already: stop at the last
        // significant one (five digits, not twelve, for 100k keys).
        for d in key[4..].iter_mut().rev() {
            if k == 0 {
                break;
            }
            *d = b'0' + (k % 10) as u8;
            k /= 10;
        }
        key
    }
}

impl Workload for Resp {
    fn write_request(&mut self, out: &mut Vec<u8>) {
        let pick = if self.cumulative.len() == 1 {
            0
        } else {
            self.rng.below(u64::from(self.total)) as u32
        };
        let i = self
            .cumulative
            .iter()
            .position(|(acc, _)| pick < *acc)
            .unwrap_or(0);
        let n = self.cumulative[i].1.keys.len();
        let drawn = match n {
            0 => [[0u8; 16]; 2],
            _ if self.cumulative[i].1.keys.contains(&1) => [self.next_key(0), self.next_key(1)],
            _ => [self.next_key(0), [0u8; 16]],
        };
        let t = &self.cumulative[i].1;
        for (piece, which) in t.pieces.iter().zip(&t.keys) {
            out.extend_from_slice(piece);
            out.extend_from_slice(&drawn[*which]);
        }
        if let Some(last) = t.pieces.last() {
            out.extend_from_slice(last);
        }
    }

    fn parse(&self, buf: &[u8]) -> Result<Option<Parsed>, ProtoError> {
        // A two-key request gets several replies (a mix holding one is
        // that command alone): the response is all of them.
        let replies = self.spec.mix.0.first().map_or(1, |(c, _)| c.replies());
        let (mut at, mut err) = (0, false);
        for _ in 0..replies {
            match resp_reply(buf, at, 0)? {
                None => return Ok(None),
                Some((end, e)) => {
                    at = end;
                    err |= e;
                }
            }
        }
        Ok(Some(Parsed {
            len: at,
            status: if err { Status::ServerError } else { Status::Ok },
            close: false,
        }))
    }

    fn pipeline(&self) -> usize {
        self.spec.pipeline.max(1)
    }

    fn max_response(&self) -> usize {
        // A GET's reply holds one value; leave room for its framing and a
        // read's worth of the replies after it.
        crate::engine::MAX_RESPONSE.max(self.spec.value_size.saturating_mul(2) + (64 << 10))
    }

    fn describe(&self) -> String {
        let mix: Vec<String> = self
            .spec
            .mix
            .0
            .iter()
            .map(|(c, w)| format!("{c:?}={w}").to_lowercase())
            .collect();
        format!(
            "RESP {}, {} keys ({}), {} B values, pipeline {}",
            mix.join(":"),
            self.spec.keyspace,
            self.spec.keys,
            self.spec.value_size,
            self.pipeline()
        )
    }
}

// ANCHOR: resp_reply
/// The end of one RESP2 reply starting at `pos`: `(end, is_error)`, or
/// `None` until it has fully arrived. Arrays nest, so it recurses, to a
/// bounded depth a hostile server cannot exhaust.
fn resp_reply(buf: &[u8], pos: usize, depth: u32) -> Result<Option<(usize, bool)>, ProtoError> {
    if depth > 64 {
        return Err(ProtoError("replies nested more than 64 deep".into()));
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(line_end) = find_crlf(buf, pos + 1) else {
        return Ok(None);
    };
    let after = line_end + 2;
    match kind {
        b'+' | b':' => Ok(Some((after, false))),
        b'-' => Ok(Some((after, true))),
        b'$' => match parse_len(&buf[pos + 1..line_end])? {
            None => Ok(Some((after, false))),
            Some(n) => {
                let end = after + n + 2;
                if buf.len() < end {
                    return Ok(None);
                }
                if &buf[end - 2..end] != b"\r\n" {
                    return Err(ProtoError("bulk string not followed by CRLF".into()));
                }
                Ok(Some((end, false)))
            }
        },
        b'*' => {
            let Some(n) = parse_len(&buf[pos + 1..line_end])? else {
                return Ok(Some((after, false)));
            };
            let mut at = after;
            let mut err = false;
            for _ in 0..n {
                match resp_reply(buf, at, depth + 1)? {
                    None => return Ok(None),
                    Some((end, e)) => {
                        at = end;
                        err |= e;
                    }
                }
            }
            Ok(Some((at, err)))
        }
        other => Err(ProtoError(format!(
            "reply starts with byte {other:#04x}, not one of + - : $ *"
        ))),
    }
}
// ANCHOR_END: resp_reply

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    rest.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

/// A RESP length: `-1` is nil (`None`).
fn parse_len(digits: &[u8]) -> Result<Option<usize>, ProtoError> {
    if digits == b"-1" {
        return Ok(None);
    }
    let text = std::str::from_utf8(digits).unwrap_or("");
    match text.parse::<usize>() {
        Ok(n) if n <= 512 * 1024 * 1024 => Ok(Some(n)),
        _ => Err(ProtoError(format!(
            "bad length {:?}",
            String::from_utf8_lossy(digits)
        ))),
    }
}

// ---------------------------------------------------------------- HTTP

/// Settings for an HTTP workload.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    pub method: String,
    /// `host:port` for the Host header.
    pub authority: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

/// One fixed HTTP/1.1 request, built once.
pub struct Http {
    request: Vec<u8>,
    keep_alive: bool,
    summary: String,
}

/// The largest response header section accepted.
const MAX_HEAD: usize = 64 * 1024;

impl Http {
    pub fn new(spec: &HttpSpec) -> Result<Self, String> {
        if spec.method.is_empty() || !spec.method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "method {:?} must be upper-case letters (GET, POST, …)",
                spec.method
            ));
        }
        if !spec.path.starts_with('/') || spec.path.bytes().any(|b| b <= b' ') {
            return Err(format!(
                "path {:?} must start with / and contain no spaces",
                spec.path
            ));
        }
        let mut r = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: lab-03\r\n",
            spec.method, spec.path, spec.authority
        );
        for (k, v) in &spec.headers {
            if k.is_empty() || k.bytes().any(|b| b <= b' ' || b == b':') || v.contains(['\r', '\n'])
            {
                return Err(format!("bad header {k:?}: {v:?}"));
            }
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        if !spec.body.is_empty() {
            r.push_str(&format!("Content-Length: {}\r\n", spec.body.len()));
        }
        if !spec.keep_alive {
            r.push_str("Connection: close\r\n");
        }
        r.push_str("\r\n");
        let mut request = r.into_bytes();
        request.extend_from_slice(&spec.body);
        Ok(Self {
            request,
            keep_alive: spec.keep_alive,
            summary: format!(
                "HTTP/1.1 {} http://{}{}{}",
                spec.method,
                spec.authority,
                spec.path,
                if spec.keep_alive {
                    ""
                } else {
                    ", no keep-alive"
                }
            ),
        })
    }
}

impl Workload for Http {
    fn write_request(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.request);
    }

    fn parse(&self, buf: &[u8]) -> Result<Option<Parsed>, ProtoError> {
        http_response(buf, false)
    }

    fn parse_at_eof(&self, buf: &[u8]) -> Option<Parsed> {
        http_response(buf, true).ok().flatten()
    }

    fn close_after_each(&self) -> bool {
        !self.keep_alive
    }

    fn describe(&self) -> String {
        self.summary.clone()
    }
}

/// Frames one HTTP/1.1 response. `eof`: the connection has ended, so a
/// body without a length ends here.
fn http_response(buf: &[u8], eof: bool) -> Result<Option<Parsed>, ProtoError> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(ProtoError("response header section over 64 KiB".into()));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| ProtoError("response header is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let code = match status_line.split(' ').collect::<Vec<_>>().as_slice() {
        [v, code, ..] if v.starts_with("HTTP/1.") => code
            .parse::<u16>()
            .map_err(|_| ProtoError(format!("bad status line {status_line:?}")))?,
        _ => return Err(ProtoError(format!("bad status line {status_line:?}"))),
    };
    let mut length = None;
    let mut chunked = false;
    let mut close = status_line.starts_with("HTTP/1.0");
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            return Err(ProtoError(format!("bad header line {line:?}")));
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            length = Some(
                v.parse::<usize>()
                    .map_err(|_| ProtoError(format!("bad Content-Length {v:?}")))?,
            );
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        } else if k.eq_ignore_ascii_case("connection") {
            let v = v.to_ascii_lowercase();
            if v.contains("close") {
                close = true;
            } else if v.contains("keep-alive") {
                close = false;
            }
        }
    }
    let body_start = head_end + 4;
    let status = match code {
        500..=599 => Status::ServerError,
        400..=499 => Status::ClientError,
        _ => Status::Ok,
    };
    let no_body = (100..200).contains(&code) || code == 204 || code == 304;
    let len = if no_body {
        Some(body_start)
    } else if chunked {
        chunked_end(buf, body_start)?
    } else if let Some(n) = length {
        (buf.len() >= body_start + n).then_some(body_start + n)
    } else if eof {
        close = true;
        Some(buf.len())
    } else {
        // Until the connection ends.
        None
    };
    Ok(len.map(|len| Parsed { len, status, close }))
}

fn chunked_end(buf: &[u8], mut at: usize) -> Result<Option<usize>, ProtoError> {
    loop {
        let Some(line_end) = find_crlf(buf, at) else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[at..line_end]).unwrap_or("");
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ProtoError(format!("bad chunk size {size_text:?}")))?;
        at = line_end + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(end) = find_crlf(buf, at) else {
                    return Ok(None);
                };
                let empty = end == at;
                at = end + 2;
                if empty {
                    return Ok(Some(at));
                }
            }
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse() {
        let m: Mix = "set:get=1:9".parse().unwrap();
        assert_eq!(m.0, vec![(Command::Set, 1), (Command::Get, 9)]);
        let m: Mix = "ping".parse().unwrap();
        assert_eq!(m.0, vec![(Command::Ping, 1)]);
        assert!("set:get=1".parse::<Mix>().is_err());
        assert!("sett".parse::<Mix>().is_err());
        assert!("set=0".parse::<Mix>().is_err());
    }

    #[test]
    fn resp_replies_are_framed() {
        let ok = |b: &[u8]| resp_reply(b, 0, 0).unwrap();
        assert_eq!(ok(b"+OK\r\n"), Some((5, false)));
        assert_eq!(ok(b"+OK\r"), None);
        assert_eq!(ok(b"-ERR x\r\n+OK\r\n"), Some((8, true)));
        assert_eq!(ok(b"$3\r\nabc\r\n"), Some((9, false)));
        assert_eq!(ok(b"$3\r\nab"), None);
        assert_eq!(ok(b"$-1\r\n"), Some((5, false)));
        assert_eq!(ok(b"*2\r\n:1\r\n$1\r\na\r\n"), Some((15, false)));
        assert_eq!(ok(b"*2\r\n:1\r\n"), None);
        assert!(resp_reply(b"?x\r\n", 0, 0).is_err());
        assert!(resp_reply(b"$3\r\nabcd\r\n", 0, 0).is_err());
        assert!(resp_reply(b"$99999999999\r\n", 0, 0).is_err());
        let deep = "*1\r\n".repeat(100);
        assert!(resp_reply(deep.as_bytes(), 0, 0).is_err());
    }

    #[test]
    fn resp_requests_match_what_redis_cli_sends() {
        let mut w = Resp::new(RespSpec {
            mix: "set".parse().unwrap(),
            keyspace: 10,
            keys: KeyDist::Uniform,
            value_size: 3,
            pipeline: 1,
            seed: 1,
        });
        let mut out = Vec::new();
        w.write_request(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("*3\r\n$3\r\nSET\r\n$16\r\nkey:0000000000"));
        assert!(text.ends_with("$3\r\nxxx\r\n"));
    }

    /// The commands of one request, as argument lists.
    fn commands_of(request: &[u8]) -> Vec<Vec<String>> {
        let mut at = 0;
        let mut cmds = Vec::new();
        while at < request.len() {
            let (frame, used) = lab_02::resp::parse_frame(&request[at..]).unwrap().unwrap();
            at += used;
            let args = frame.as_array().unwrap();
            cmds.push(
                args.iter()
                    .map(|a| String::from_utf8(a.as_bulk().unwrap().to_vec()).unwrap())
                    .collect(),
            );
        }
        cmds
    }

    #[test]
    fn two_key_requests_and_their_replies() {
        let spec = |mix: &str| RespSpec {
            mix: mix.parse().unwrap(),
            keyspace: 1_000,
            keys: KeyDist::Uniform,
            value_size: 3,
            pipeline: 1,
            seed: 3,
        };
        let mut same = Resp::new(spec("tx-same"));
        for _ in 0..50 {
            let mut out = Vec::new();
            same.write_request(&mut out);
            let cmds = commands_of(&out);
            assert_eq!(cmds.len(), 4);
            assert_eq!(
                (cmds[0][0].as_str(), cmds[3][0].as_str()),
                ("MULTI", "EXEC")
            );
            let (a, b) = (&cmds[1][1], &cmds[2][1]);
            // One hash tag, so one part: `{key:…}:a` and `{key:…}:b`.
            assert!(a.starts_with("{key:") && a.ends_with("}:a"), "{a}");
            assert_eq!(a[..a.len() - 1], b[..b.len() - 1]);
        }
        let mut spread = Resp::new(spec("incr2-spread"));
        let mut out = Vec::new();
        spread.write_request(&mut out);
        let cmds = commands_of(&out);
        assert_eq!(cmds.len(), 2);
        assert!(cmds[0][1].starts_with("key:") && cmds[1][1].starts_with("kez:"));
        // The response is every reply of the request.
        let tx = Resp::new(spec("tx-spread"));
        let replies = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n";
        assert_eq!(tx.parse(&replies[..20]).unwrap(), None);
        assert_eq!(
            tx.parse(replies).unwrap().map(|p| p.len),
            Some(replies.len())
        );
        let failed = b"+OK\r\n+QUEUED\r\n-ERR x\r\n-EXECABORT y\r\n";
        assert_eq!(
            tx.parse(failed).unwrap().map(|p| p.status),
            Some(Status::ServerError)
        );
        assert!("tx-same:get".parse::<Mix>().is_err());
    }

    #[test]
    fn every_command_of_a_mix_is_well_formed() {
        let mut w = Resp::new(RespSpec {
            mix: "ping:get:set:incr:del:lpush:lpop:hset:hget:sadd"
                .parse()
                .unwrap(),
            keyspace: 1_000_000,
            keys: KeyDist::Zipf(0.99),
            value_size: 100,
            pipeline: 1,
            seed: 9,
        });
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2_000 {
            let mut out = Vec::new();
            w.write_request(&mut out);
            let (frame, used) = lab_02::resp::parse_frame(&out).unwrap().unwrap();
            assert_eq!(used, out.len());
            let args = frame.as_array().unwrap();
            let name = String::from_utf8(args[0].as_bulk().unwrap().to_vec()).unwrap();
            if name != "PING" {
                let key = args[1].as_bulk().unwrap();
                assert_eq!(key.len(), 16);
                assert!(key.starts_with(b"key:") && key[4..].iter().all(u8::is_ascii_digit));
            }
            if matches!(name.as_str(), "SET" | "LPUSH" | "SADD" | "HSET") {
                assert_eq!(args.last().unwrap().as_bulk().unwrap(), &[b'x'; 100][..]);
            }
            seen.insert(name);
        }
        assert_eq!(seen.len(), 10, "{seen:?}");
    }

    #[test]
    fn http_responses_are_framed() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1";
        assert_eq!(
            http_response(r, false).unwrap(),
            Some(Parsed {
                len: 40,
                status: Status::Ok,
                close: false
            })
        );
        assert_eq!(http_response(&r[..39], false).unwrap(), None);
        let c = b"HTTP/1.1 503 No\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
        let p = http_response(c, false).unwrap().unwrap();
        assert_eq!((p.len, p.status), (c.len(), Status::ServerError));
        let eof = b"HTTP/1.0 200 OK\r\n\r\nbody";
        assert_eq!(http_response(eof, false).unwrap(), None);
        assert_eq!(http_response(eof, true).unwrap().unwrap().len, eof.len());
        assert!(http_response(b"SSH-2.0\r\n\r\n", false).is_err());
        assert!(http_response(&vec![b'a'; 70_000], false).is_err());
    }

    #[test]
    fn http_requests_are_built_once_and_checked() {
        let spec = HttpSpec {
            method: "POST".into(),
            authority: "127.0.0.1:8080".into(),
            path: "/x".into(),
            headers: vec![("X-A".into(), "1".into())],
            body: b"hello".to_vec(),
            keep_alive: false,
        };
        let mut h = Http::new(&spec).unwrap();
        let mut out = Vec::new();
        h.write_request(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("POST /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(text.contains("Content-Length: 5\r\nConnection: close\r\n\r\nhello"));
        assert!(h.close_after_each());
        let bad = HttpSpec {
            path: "no-slash".into(),
            ..spec
        };
        assert!(Http::new(&bad).is_err());
    }
}
