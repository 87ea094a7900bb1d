//! Checks exercise `resp-parser`: hand-written cases, then thousands of
//! generated inputs compared with lab-02's own parser.

use lab_02::resp::{self, Limits, ProtocolError};
use lab_02_exercises::resp_parser::{Request, parse_request};

/// Redis's defaults: 512 MiB per argument, 1 Mi arguments.
const MAX_BULK: usize = 512 * 1024 * 1024;
const MAX_ARGS: usize = 1024 * 1024;

fn parse(buf: &[u8]) -> Result<Option<Request>, String> {
    parse_request(buf, MAX_BULK, MAX_ARGS)
}

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn show(buf: &[u8]) -> String {
    format!("\"{}\"", buf.escape_ascii())
}

fn expect_ok(buf: &[u8], want: &[&str], consumed: usize) {
    assert_eq!(
        parse(buf),
        Ok(Some((args(want), consumed))),
        "parse_request({}) should give the arguments {want:?} and consume {consumed} bytes",
        show(buf)
    );
}

fn expect_incomplete(buf: &[u8]) {
    assert_eq!(
        parse(buf),
        Ok(None),
        "parse_request({}): the request is not complete yet, so Ok(None)",
        show(buf)
    );
}

fn expect_err(buf: &[u8], text: &str) {
    assert_eq!(
        parse(buf),
        Err(text.to_owned()),
        "parse_request({}) should fail with {text:?}",
        show(buf)
    );
}

#[test]
fn one_multibulk_request() {
    let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
    expect_ok(buf, &["SET", "k", "hello"], buf.len());
}

#[test]
fn bulk_data_is_binary_safe() {
    let buf = b"*2\r\n$0\r\n\r\n$5\r\n\r\n\0\xff*\r\n";
    assert_eq!(
        parse(buf),
        Ok(Some((vec![vec![], b"\r\n\0\xff*".to_vec()], buf.len()))),
        "parse_request({}): an empty argument, then 5 bytes that include CR, LF, NUL",
        show(buf)
    );
}

#[test]
fn inline_requests() {
    expect_ok(b"PING\r\n", &["PING"], 6);
    expect_ok(b"PING\n", &["PING"], 5);
    expect_ok(b"  SET\tk   v  \r\n", &["SET", "k", "v"], 15);
    expect_ok(b"GET a\rb\n", &["GET", "a", "b"], 8);
    expect_ok(b"GET a\n*1\r\n", &["GET", "a"], 6);
    expect_incomplete(b"GET a");
    expect_incomplete(b"GET a\r");
}

#[test]
fn empty_requests() {
    expect_ok(b"*0\r\n", &[], 4);
    expect_ok(b"*-1\r\n", &[], 5);
    expect_ok(b"*-100\r\nPING\r\n", &[], 7);
    expect_ok(b"\r\n", &[], 2);
    expect_ok(b"\n", &[], 1);
    expect_ok(b" \t \r\n", &[], 5);
    expect_incomplete(b"");
}

#[test]
fn pipelined_requests() {
    let buf =
        b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*0\r\n\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI";
    let mut requests = Vec::new();
    let mut at = 0;
    loop {
        match parse(&buf[at..]) {
            Ok(Some((a, n))) => {
                assert!(
                    n > 0 && at + n <= buf.len(),
                    "consumed {n} bytes of {}",
                    show(&buf[at..])
                );
                requests.push(a);
                at += n;
            }
            Ok(None) => break,
            Err(e) => panic!("parse_request({}) failed: {e}", show(&buf[at..])),
        }
    }
    assert_eq!(
        requests,
        vec![
            args(&["PING"]),
            args(&["ECHO", "hi"]),
            vec![],
            vec![],
            args(&["GET", "k"])
        ],
        "five pipelined requests, taken off the front of {} one by one",
        show(buf)
    );
    assert_eq!(
        &buf[at..],
        b"*1\r\n$4\r\nPI",
        "the incomplete last request must stay unconsumed"
    );
}

#[test]
fn byte_by_byte_delivery() {
    let full = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$12\r\nhello\r\nworld\r\nGET key\r\n*0\r\n";
    let mut received = Vec::new();
    let mut got = Vec::new();
    for &b in full {
        received.push(b);
        match parse(&received) {
            Ok(Some((a, n))) => {
                got.push(a);
                received.drain(..n);
            }
            Ok(None) => {}
            Err(e) => panic!(
                "delivered one byte at a time, parse_request({}) failed: {e}",
                show(&received)
            ),
        }
    }
    assert!(
        received.is_empty(),
        "left over after the last byte: {}",
        show(&received)
    );
    assert_eq!(
        got,
        vec![
            args(&["SET", "key", "hello\r\nworld"]),
            args(&["GET", "key"]),
            vec![]
        ],
        "the same requests, whether the bytes come at once or one at a time"
    );
}

#[test]
fn headers_wait_for_their_line_end() {
    // Like Redis, a header line is judged only once its `\r` and the byte
    // after it are there.
    expect_incomplete(b"*");
    expect_incomplete(b"*1");
    expect_incomplete(b"*1x");
    expect_incomplete(b"*1\r");
    expect_incomplete(b"*1\r\n");
    expect_incomplete(b"*1\r\n:");
    expect_incomplete(b"*1\r\n$1\r");
    expect_incomplete(b"*1\r\n$1\r\n");
    expect_incomplete(b"*1\r\n$1\r\na");
    expect_incomplete(b"*1\r\n$1\r\na\r");
    expect_incomplete(b"*1\r\n$1\r\naX");
    expect_incomplete(b"*2\r\n$1\r\na\r\n");
}

#[test]
fn invalid_multibulk_length() {
    let text = "Protocol error: invalid multibulk length";
    for bad in [
        &b"*x\r\n"[..],
        b"*\r\n",
        b"*01\r\n",
        b"*+1\r\n",
        b"*-0\r\n",
        b"*1 \r\n",
        b"*1\rx",
        b"*1048577\r\n",
        b"*99999999999999999999\r\n",
    ] {
        expect_err(bad, text);
    }
}

#[test]
fn invalid_bulk_length() {
    let text = "Protocol error: invalid bulk length";
    for bad in [
        &b"*1\r\n$x\r\n"[..],
        b"*1\r\n$\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$03\r\n",
        b"*1\r\n$1\rx",
        b"*1\r\n$536870913\r\n",
        b"*2\r\n$1\r\na\r\n$9223372036854775808\r\n",
    ] {
        expect_err(bad, text);
    }
}

#[test]
fn expected_dollar() {
    expect_err(b"*1\r\n:5\r\n", "Protocol error: expected '$', got ':'");
    expect_err(
        b"*2\r\n$1\r\na\r\nb\r\n",
        "Protocol error: expected '$', got 'b'",
    );
    expect_err(b"*1\r\n\r\n", "Protocol error: expected '$', got ' '");
    expect_err(b"*1\r\n\n$1\r\n", "Protocol error: expected '$', got ' '");
    expect_err(
        b"*1\r\n\xe9\r\n",
        "Protocol error: expected '$', got '\u{e9}'",
    );
    // The `$` is checked before the byte after the `\r`.
    expect_err(b"*1\r\n:5\rx", "Protocol error: expected '$', got ':'");
}

#[test]
fn expected_crlf_after_bulk_data() {
    let text = "Protocol error: expected CRLF after bulk data";
    expect_err(b"*1\r\n$1\r\nab\r\n", text);
    expect_err(b"*1\r\n$1\r\na\n\r", text);
    expect_err(b"*1\r\n$0\r\nxy", text);
}

#[test]
fn limits_are_inclusive() {
    let ok = b"*2\r\n$3\r\nabc\r\n$0\r\n\r\n";
    assert_eq!(
        parse_request(ok, 3, 2),
        Ok(Some((args(&["abc", ""]), ok.len()))),
        "max_bulk = 3 and max_args = 2 allow exactly 2 arguments of up to 3 bytes: {}",
        show(ok)
    );
    assert_eq!(
        parse_request(b"*1\r\n$4\r\n", 3, 2),
        Err("Protocol error: invalid bulk length".to_owned()),
        "a 4-byte argument with max_bulk = 3 (refused as soon as the header is read)"
    );
    assert_eq!(
        parse_request(b"*3\r\n", 3, 2),
        Err("Protocol error: invalid multibulk length".to_owned()),
        "3 arguments with max_args = 2 (refused as soon as the header is read)"
    );
    assert_eq!(
        parse_request(b"*-3\r\n", 3, 2),
        Ok(Some((vec![], 5))),
        "a negative count is an empty request, whatever max_args"
    );
}

#[test]
fn huge_declared_lengths_wait() {
    // Declared but not sent: wait for the bytes (and do not allocate them).
    expect_incomplete(b"*1\r\n$536870911\r\nabc");
    expect_incomplete(b"*1048576\r\n$1\r\na\r\n");
}

// ---------------------------------------------------------------------------
// Differential test: lab-02's parser as the oracle.
// ---------------------------------------------------------------------------

/// A small xorshift generator: deterministic, no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Bytes the generator may produce: everything except those the exercise
/// leaves out (NUL, quotes) and the two whitespace bytes (vertical tab,
/// form feed) where Redis's inline splitting has a quirk.
fn allowed(b: u8) -> bool {
    !matches!(b, 0 | b'"' | b'\'' | 0x0b | 0x0c)
}

/// A byte, biased towards the ones that matter to the framing.
fn some_byte(rng: &mut Rng) -> u8 {
    const STRUCTURAL: &[u8] = b"*$\r\n-+0123456789 \t:xa";
    loop {
        let b = if rng.chance(60) {
            rng.pick(STRUCTURAL)
        } else {
            rng.next() as u8
        };
        if allowed(b) {
            return b;
        }
    }
}

fn some_arg(rng: &mut Rng) -> Vec<u8> {
    let len = rng.pick(&[0, 1, 1, 2, 3, 5, 8, 13, 20]);
    (0..len)
        .map(|_| {
            if rng.chance(70) {
                b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.below(36)]
            } else {
                some_byte(rng)
            }
        })
        .collect()
}

fn some_request(rng: &mut Rng, out: &mut Vec<u8>) {
    if rng.chance(20) {
        // Inline: words separated by runs of blanks.
        let words = rng.below(5);
        for i in 0..words {
            if i > 0 || rng.chance(30) {
                let sep: &[u8] = rng.pick(&[&b" "[..], b"  ", b"\t", b" \t ", b"\r"]);
                out.extend_from_slice(sep);
            }
            let len = 1 + rng.below(6);
            out.extend((0..len).map(|_| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rng.below(36)]));
        }
        out.extend_from_slice(if rng.chance(50) { b"\r\n" } else { b"\n" });
        return;
    }
    let n = rng.pick(&[0, 1, 1, 2, 2, 3, 3, 4, 6]);
    let args: Vec<Vec<u8>> = (0..n).map(|_| some_arg(rng)).collect();
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    resp::encode_command(&refs, out);
}

fn mutate(rng: &mut Rng, buf: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        if buf.is_empty() {
            buf.push(some_byte(rng));
            continue;
        }
        let i = rng.below(buf.len());
        match rng.below(4) {
            0 => buf[i] = some_byte(rng),
            1 => buf.insert(i, some_byte(rng)),
            2 => {
                buf.remove(i);
            }
            _ => {
                // Rewrite a length or count: the digits after a `*` or `$`.
                if let Some(at) = buf[i..].iter().position(|&b| b == b'*' || b == b'$') {
                    let at = i + at + 1;
                    let end = buf[at..]
                        .iter()
                        .position(|&b| b == b'\r')
                        .map_or(buf.len(), |e| at + e);
                    let n: &[u8] = rng.pick(&[
                        &b"0"[..],
                        b"1",
                        b"2",
                        b"3",
                        b"-1",
                        b"-2",
                        b"-0",
                        b"01",
                        b"+1",
                        b"",
                        b"20",
                        b"17",
                        b"9223372036854775807",
                        b"9223372036854775808",
                        b"1x",
                    ]);
                    buf.splice(at..end, n.iter().copied());
                }
            }
        }
    }
}

/// What lab-02's parser says, in the exercise's terms.
fn oracle(buf: &[u8], limits: &Limits) -> Result<Option<Request>, ProtocolError> {
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    let n = resp::parse_request(buf, limits, &mut ranges, &mut scratch)?;
    Ok(n.map(|n| {
        let a = ranges.iter().map(|r| r.slice(buf, &scratch).to_vec());
        (a.collect(), n)
    }))
}

/// Whether the exercise asks for this error's exact text.
fn text_is_specified(e: &ProtocolError) -> bool {
    matches!(
        e,
        ProtocolError::InvalidMultibulkLength
            | ProtocolError::InvalidBulkLength
            | ProtocolError::ExpectedDollar(_)
            | ProtocolError::ExpectedCrlf
    )
}

fn compare(buf: &[u8], max_bulk: usize, max_args: usize, what: &str) {
    let limits = Limits {
        max_bulk_len: max_bulk,
        max_multibulk_len: max_args,
        // The exercise has no line-length limit.
        max_inline_len: usize::MAX,
    };
    let want = oracle(buf, &limits);
    let got = parse_request(buf, max_bulk, max_args);
    let agree = match (&want, &got) {
        (Ok(w), Ok(g)) => w == g,
        (Err(w), Err(g)) => !text_is_specified(w) || w.to_string() == *g,
        _ => false,
    };
    assert!(
        agree,
        "{what}: parse_request({}, max_bulk = {max_bulk}, max_args = {max_args})\n  \
         returned {got:?}\n  expected {:?}",
        show(buf),
        want.map_err(|e| e.to_string()),
    );
}

#[test]
fn agrees_with_lab_02_on_generated_input() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut checked = 0;
    for case in 0..3000 {
        let (max_bulk, max_args) = if rng.chance(25) {
            (rng.below(12), rng.below(5))
        } else {
            (MAX_BULK, MAX_ARGS)
        };
        let mut buf = Vec::new();
        for _ in 0..1 + rng.below(3) {
            some_request(&mut rng, &mut buf);
        }
        // The valid input, and every request taken off its front in turn.
        compare(&buf, max_bulk, max_args, &format!("case {case} (valid)"));
        let mut at = 0;
        while let Ok(Some((_, n))) = parse_request(&buf[at..], max_bulk, max_args) {
            if n == 0 || at + n > buf.len() {
                panic!("parse_request({}) consumed {n} bytes", show(&buf[at..]));
            }
            at += n;
            compare(
                &buf[at..],
                max_bulk,
                max_args,
                &format!("case {case} (pipelined rest)"),
            );
        }
        // Truncations.
        for _ in 0..3 {
            let cut = rng.below(buf.len() + 1);
            compare(
                &buf[..cut],
                max_bulk,
                max_args,
                &format!("case {case} (truncated)"),
            );
        }
        // Mutations, whole and truncated.
        let mut bad = buf.clone();
        mutate(&mut rng, &mut bad);
        compare(&bad, max_bulk, max_args, &format!("case {case} (mutated)"));
        let cut = rng.below(bad.len() + 1);
        compare(
            &bad[..cut],
            max_bulk,
            max_args,
            &format!("case {case} (mutated, truncated)"),
        );
        checked += 7;
    }
    assert!(checked > 10_000);
}

#[test]
fn agrees_with_lab_02_on_every_prefix() {
    let buf =
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\na\r\nb\xffc\r\n$2\r\nPX\r\nGET k\r\n*1\r\n$-1\r\n";
    for cut in 0..=buf.len() {
        compare(
            &buf[..cut],
            MAX_BULK,
            MAX_ARGS,
            &format!("prefix of {cut} bytes"),
        );
    }
}
