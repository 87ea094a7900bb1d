//! Property tests for the RESP parsers: `lab_02::resp::fuzz_one` (which
//! panics when an invariant breaks) on random, mutated and hostile input.
//! The same function is the body of the cargo-fuzz target in `fuzz/`.

use lab_02::resp::{
    ArgRange, Frame, Limits, ProtocolError, RequestParser, encode_command, fuzz_one, parse_request,
};
use proptest::prelude::*;

/// Cases per property: the whole file runs in a few seconds in debug mode.
const CASES: u32 = 1000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One way to damage a buffer.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to the parsers come up often.
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"*$\r\n-0123456789 \"'\\x+:".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<usize>(), byte).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(buf: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let len = buf.len();
        match *m {
            Mutation::Flip { at, bit } if len > 0 => buf[at % len] ^= 1 << bit,
            Mutation::Set { at, byte } if len > 0 => buf[at % len] = byte,
            Mutation::Insert { at, byte } => buf.insert(at % (len + 1), byte),
            Mutation::Delete { at } if len > 0 => {
                buf.remove(at % len);
            }
            Mutation::Truncate { at } => buf.truncate(at % (len + 1)),
            _ => {}
        }
    }
}

/// A request's arguments: short, often printable, sometimes binary.
fn request_args() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let arg = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12),
        "[A-Za-z0-9 ]{0,10}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(arg, 1..6)
}

/// A line of inline tokens, heavy on quotes, escapes and whitespace.
fn inline_line() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        "[a-z]{1,4}".prop_map(String::into_bytes),
        prop::sample::select(vec![
            &b" "[..],
            b"  ",
            b"\t",
            b"\x0b",
            b"\"",
            b"'",
            b"\\",
            b"\\\"",
            b"\\'",
            b"\\n",
            b"\\x41",
            b"\\xZ",
            b"\\x4",
            b"\"a b\"",
            b"'c d'",
            b"\r",
            b"\0",
        ])
        .prop_map(<[u8]>::to_vec),
    ];
    let end = prop::sample::select(vec![&b"\r\n"[..], b"\n", b"", b"\r\nPING\r\n"]);
    (prop::collection::vec(piece, 0..12), end).prop_map(|(pieces, end)| {
        let mut line = pieces.concat();
        line.extend_from_slice(end);
        line
    })
}

/// Any reply frame, nested a few levels.
fn frame() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        "[ -~]{0,8}".prop_map(Frame::Simple),
        "[ -~]{0,8}".prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..10)).prop_map(Frame::Bulk),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop::option::of(prop::collection::vec(inner, 0..5)).prop_map(Frame::Array)
    })
}

/// A few requests back to back: multibulk (some with many arguments) and
/// inline lines.
fn pipeline() -> impl Strategy<Value = Vec<u8>> {
    let many = prop::collection::vec(
        prop::sample::select(vec![&b""[..], b"a", b"key", b"\r\n", b"0123456789abcdef"]),
        0..300,
    )
    .prop_map(|args| {
        let mut buf = Vec::new();
        encode_command(&args, &mut buf);
        buf
    });
    let few = request_args().prop_map(|args| {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut buf = Vec::new();
        encode_command(&refs, &mut buf);
        buf
    });
    let request = prop_oneof![3 => few, 1 => many, 2 => inline_line()];
    prop::collection::vec(request, 1..6).prop_map(|requests| requests.concat())
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        Just(Limits {
            max_bulk_len: 16,
            max_multibulk_len: 8,
            max_inline_len: 32,
        }),
    ]
}

/// The requests of `data` taken off the front one by one, their arguments
/// copied out, then how it ends: `Ok(n)` with `n` bytes left over
/// (incomplete), or the protocol error.
type Outcome = (Vec<Vec<Vec<u8>>>, Result<usize, ProtocolError>);

fn owned(ranges: &[ArgRange], buf: &[u8], scratch: &[u8]) -> Vec<Vec<u8>> {
    ranges
        .iter()
        .map(|r| r.slice(buf, scratch).to_vec())
        .collect()
}

/// With [`parse_request`] on all of `data`.
fn parse_whole(data: &[u8], limits: &Limits) -> Outcome {
    let (mut args, mut scratch) = (Vec::new(), Vec::new());
    let mut requests = Vec::new();
    let mut at = 0;
    loop {
        let buf = &data[at..];
        match parse_request(buf, limits, &mut args, &mut scratch) {
            Ok(Some(n)) => {
                requests.push(owned(&args, buf, &scratch));
                at += n;
            }
            Ok(None) => return (requests, Ok(buf.len())),
            Err(e) => return (requests, Err(e)),
        }
    }
}

/// With one [`RequestParser`], `data` arriving in pieces ending at `ends`,
/// into a buffer that is compacted as a connection's is: consumed bytes are
/// dropped (so the request being parsed moves to the front) after each.
fn parse_arriving(data: &[u8], limits: &Limits, ends: &[usize]) -> Outcome {
    let mut parser = RequestParser::new();
    let mut input: Vec<u8> = Vec::new();
    let mut requests = Vec::new();
    let mut arrived = 0;
    for &end in ends.iter().chain([&data.len()]) {
        if end < arrived {
            continue;
        }
        input.extend_from_slice(&data[arrived..end]);
        arrived = end;
        let mut start = 0;
        loop {
            let buf = &input[start..];
            match parser.parse(buf, limits) {
                Ok(Some(n)) => {
                    // Peeking first must not change the answer.
                    assert_eq!(parser.parse(buf, limits), Ok(Some(n)));
                    parser.reset();
                    requests.push(owned(parser.args(), buf, parser.scratch()));
                    start += n;
                }
                Ok(None) => break,
                Err(e) => return (requests, Err(e)),
            }
        }
        input.drain(..start);
    }
    (requests, Ok(input.len()))
}

proptest! {
    #![proptest_config(config())]

    /// However the bytes arrive, a resuming parser takes the same requests
    /// off them, and ends the same way, as parsing them all at once.
    #[test]
    fn resumed_parsing_matches_parsing_at_once(
        data in pipeline(),
        mutations in prop::collection::vec(mutation(), 0..3),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        limits in limits(),
    ) {
        let mut data = data;
        apply(&mut data, &mutations);
        let mut ends: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        ends.sort_unstable();
        let whole = parse_whole(&data, &limits);
        prop_assert_eq!(parse_arriving(&data, &limits, &ends), whole.clone());
        // One byte at a time.
        let bytes: Vec<usize> = (0..data.len().min(2048)).collect();
        prop_assert_eq!(parse_arriving(&data, &limits, &bytes), whole);
    }

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzz_one(&data);
    }

    #[test]
    fn mutated_requests(
        requests in prop::collection::vec(request_args(), 1..3),
        mutations in prop::collection::vec(mutation(), 0..4),
    ) {
        let mut buf = Vec::new();
        for args in &requests {
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            encode_command(&refs, &mut buf);
        }
        fuzz_one(&buf);
        apply(&mut buf, &mutations);
        fuzz_one(&buf);
    }

    #[test]
    fn inline_lines(line in inline_line(), mutations in prop::collection::vec(mutation(), 0..2)) {
        fuzz_one(&line);
        let mut line = line;
        apply(&mut line, &mutations);
        fuzz_one(&line);
    }

    #[test]
    fn mutated_frames(f in frame(), mutations in prop::collection::vec(mutation(), 0..3)) {
        let mut buf = f.to_bytes();
        fuzz_one(&buf);
        apply(&mut buf, &mutations);
        fuzz_one(&buf);
    }
}

fn parse(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    parse_request(buf, &Limits::default(), &mut Vec::new(), &mut Vec::new())
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn overflowing_multibulk_count() {
    let buf = b"*99999999999999999999\r\n";
    assert_eq!(parse(buf), Err(ProtocolError::InvalidMultibulkLength));
    fuzz_one(buf);
}

#[test]
fn negative_bulk_length() {
    assert_eq!(
        parse(b"*1\r\n$-5\r\n"),
        Err(ProtocolError::InvalidBulkLength)
    );
    // Without a request around it, `$-5` is an inline command.
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let r = parse_request(b"$-5\r\n", &Limits::default(), &mut args, &mut scratch);
    assert_eq!(r, Ok(Some(5)));
    assert_eq!(args[0].slice(b"$-5\r\n", &scratch), b"$-5");
    fuzz_one(b"*1\r\n$-5\r\n");
    fuzz_one(b"$-5");
}

#[test]
fn garbage_after_first_argument() {
    let mut buf = b"*3\r\n$3\r\nSET\r\n".to_vec();
    assert_eq!(parse(&buf), Ok(None));
    let mut nul = buf.clone();
    buf.extend_from_slice(b"X\xffgarbage\r\n");
    assert_eq!(parse(&buf), Err(ProtocolError::ExpectedDollar(b'X')));
    fuzz_one(&buf);
    // As in Redis (which looks for the `\r` with strchr), a NUL hides it.
    nul.extend_from_slice(b"\x00\xffgarbage\r\n");
    assert_eq!(parse(&nul), Ok(None));
    fuzz_one(&nul);
    for seed in 1..20 {
        let mut buf = b"*3\r\n$3\r\nSET\r\n".to_vec();
        buf.extend(garbage(64, seed));
        fuzz_one(&buf);
    }
}

#[test]
fn a_megabyte_of_garbage() {
    for seed in [1, 0xdead_beef] {
        let data = garbage(1 << 20, seed);
        fuzz_one(&data);
        let mut starred = data;
        starred[0] = b'*';
        fuzz_one(&starred);
    }
}

#[test]
fn long_line_without_newline() {
    let line = vec![b'a'; 100 * 1024];
    assert_eq!(parse(&line), Err(ProtocolError::TooBigInlineRequest));
    assert_eq!(
        ProtocolError::TooBigInlineRequest.to_string(),
        "Protocol error: too big inline request"
    );
    fuzz_one(&line);
}
