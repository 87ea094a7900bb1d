//! A small blocking RESP2 client, for tests, benchmarks and the load
//! generator.
//!
//! One [`TcpStream`] with `TCP_NODELAY`, a read and write timeout (10 s by
//! default), and a reused input buffer: replies are parsed in place with
//! [`parse_frame`] and the bytes they used are dropped from the buffer's
//! front only when more must be read, so a pipeline's replies cost one
//! `memmove` per read at most.
//!
//! Errors are `io::Error`s: a reply that is not RESP2 is
//! [`io::ErrorKind::InvalidData`] (wrapping the [`ProtocolError`]), the server
//! closing the connection is [`io::ErrorKind::UnexpectedEof`], and a timeout is
//! whatever the platform reports (`WouldBlock` or `TimedOut` on Unix). An
//! error *reply* (`-ERR …`) is not an `io::Error`: it is `Ok(Frame::Error)`.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::resp::{Frame, ProtocolError, encode_command, parse_frame};

/// The read and write timeout a new [`Client`] has.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many bytes a read asks for, at least.
const READ_CHUNK: usize = 16 * 1024;

/// A blocking RESP2 connection.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    /// Bytes read but not yet parsed are `input[start..]`.
    input: Vec<u8>,
    start: usize,
    /// Reused for encoding requests.
    output: Vec<u8>,
}

impl Client {
    /// Connects, with `TCP_NODELAY` and [`DEFAULT_TIMEOUT`] for reads and
    /// writes.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        Self::from_stream(stream)
    }

    /// Wraps a connected stream, setting `TCP_NODELAY` and
    /// [`DEFAULT_TIMEOUT`].
    pub fn from_stream(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        let client = Self {
            stream,
            input: Vec::with_capacity(READ_CHUNK),
            start: 0,
            output: Vec::new(),
        };
        client.set_timeout(Some(DEFAULT_TIMEOUT))?;
        Ok(client)
    }

    /// Sets the read and the write timeout; `None` blocks forever. A zero
    /// duration is an error (as for [`TcpStream::set_read_timeout`]).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)?;
        self.stream.set_write_timeout(timeout)
    }

    /// The underlying stream (to shut it down, read its addresses, …).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends one command and reads its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> io::Result<Frame> {
        self.output.clear();
        encode_command(args, &mut self.output);
        self.stream.write_all(&self.output)?;
        self.read_frame()
    }

    /// Sends a command written as one line, its arguments separated by
    /// whitespace (no quoting): `cmd_str("SET key value")`.
    pub fn cmd_str(&mut self, line: &str) -> io::Result<Frame> {
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        self.cmd(&args)
    }

    /// Sends all the commands in one write, then reads one reply for each.
    ///
    /// Nothing is read until everything is written, so a pipeline whose
    /// replies overflow the socket buffers while the server waits for us to
    /// read them will hit the write timeout; keep pipelines to a few
    /// thousand small commands.
    pub fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> io::Result<Vec<Frame>> {
        self.output.clear();
        let mut refs: Vec<&[u8]> = Vec::new();
        for cmd in cmds {
            refs.clear();
            refs.extend(cmd.iter().map(Vec::as_slice));
            encode_command(&refs, &mut self.output);
        }
        self.stream.write_all(&self.output)?;
        (0..cmds.len()).map(|_| self.read_frame()).collect()
    }

    /// Writes `bytes` as they are (for protocol tests: partial requests,
    /// inline commands, garbage).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one reply.
    pub fn read_frame(&mut self) -> io::Result<Frame> {
        loop {
            match parse_frame(&self.input[self.start..]) {
                Ok(Some((frame, used))) => {
                    self.start += used;
                    if self.start == self.input.len() {
                        self.input.clear();
                        self.start = 0;
                    }
                    return Ok(frame);
                }
                Ok(None) => self.fill()?,
                Err(e) => return Err(protocol_error(e)),
            }
        }
    }

    /// Reads at least one more byte into the buffer, first dropping the
    /// parsed bytes at its front.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        let filled = self.input.len();
        // Ask for as much as is buffered already (at least READ_CHUNK), so a
        // long reply takes a logarithmic number of re-parses.
        let want = filled.max(READ_CHUNK);
        self.input.resize(filled + want, 0);
        let result = loop {
            match self.stream.read(&mut self.input[filled..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match result {
            Ok(0) => {
                self.input.truncate(filled);
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ))
            }
            Ok(n) => {
                self.input.truncate(filled + n);
                Ok(())
            }
            Err(e) => {
                self.input.truncate(filled);
                Err(e)
            }
        }
    }
}

fn protocol_error(e: ProtocolError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A server for one connection: for each `(expect, reply)` step it reads
    /// until it has seen `expect.len()` more bytes (checking them), then
    /// writes `reply` in pieces of `piece` bytes. Closes the connection at
    /// the end. Returns the address and the thread (which yields everything
    /// the client sent).
    fn canned(
        steps: Vec<(Vec<u8>, Vec<u8>)>,
        piece: usize,
    ) -> (std::net::SocketAddr, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_nodelay(true).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut seen = Vec::new();
            for (expect, reply) in steps {
                let mut got = vec![0u8; expect.len()];
                conn.read_exact(&mut got).unwrap();
                assert_eq!(got, expect, "what the client sent");
                seen.extend_from_slice(&got);
                for chunk in reply.chunks(piece.max(1)) {
                    conn.write_all(chunk).unwrap();
                    if piece < reply.len() {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            }
            seen
        });
        (addr, handle)
    }

    fn command(args: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(args, &mut out);
        out
    }

    #[test]
    fn cmd_sends_multibulk_and_reads_reply() {
        let (addr, server) = canned(
            vec![
                (command(&[b"PING"]), b"+PONG\r\n".to_vec()),
                (command(&[b"GET", b"k"]), b"$5\r\nhello\r\n".to_vec()),
                (command(&[b"SET", b"k", b"v"]), b"+OK\r\n".to_vec()),
            ],
            1024,
        );
        let mut c = Client::connect(addr).unwrap();
        assert_eq!(c.cmd(&[b"PING"]).unwrap(), Frame::simple("PONG"));
        assert_eq!(c.cmd(&[b"GET", b"k"]).unwrap(), Frame::bulk("hello"));
        assert_eq!(c.cmd_str("  SET k   v ").unwrap(), Frame::simple("OK"));
        server.join().unwrap();
    }

    #[test]
    fn pipeline_with_replies_arriving_byte_by_byte() {
        let cmds: Vec<Vec<Vec<u8>>> = vec![
            vec![b"INCR".to_vec(), b"n".to_vec()],
            vec![b"GET".to_vec(), b"missing".to_vec()],
            vec![
                b"LRANGE".to_vec(),
                b"l".to_vec(),
                b"0".to_vec(),
                b"-1".to_vec(),
            ],
            vec![b"BAD".to_vec()],
        ];
        let sent: Vec<u8> = cmds
            .iter()
            .flat_map(|c| command(&c.iter().map(Vec::as_slice).collect::<Vec<_>>()))
            .collect();
        let replies = b":1\r\n$-1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n-ERR unknown command 'BAD'\r\n";
        let (addr, server) = canned(vec![(sent, replies.to_vec())], 1);
        let mut c = Client::connect(addr).unwrap();
        let got = c.pipeline(&cmds).unwrap();
        assert_eq!(
            got,
            vec![
                Frame::Integer(1),
                Frame::Bulk(None),
                Frame::array(vec![Frame::bulk("a"), Frame::bulk("b")]),
                Frame::error("ERR unknown command 'BAD'"),
            ]
        );
        assert!(got[3].is_error());
        server.join().unwrap();
    }

    #[test]
    fn large_reply_in_pieces() {
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut reply = Vec::new();
        Frame::bulk(big.clone()).encode(&mut reply);
        reply.extend_from_slice(b"+after\r\n");
        let (addr, server) = canned(vec![(command(&[b"GET", b"big"]), reply)], 7_777);
        let mut c = Client::connect(addr).unwrap();
        assert_eq!(c.cmd(&[b"GET", b"big"]).unwrap().as_bulk(), Some(&big[..]));
        // The next reply was already in the buffer.
        assert_eq!(c.read_frame().unwrap(), Frame::simple("after"));
        server.join().unwrap();
    }

    #[test]
    fn send_raw_and_several_replies_in_one_read() {
        let (addr, server) = canned(
            vec![(b"PING\r\nPING\r\n".to_vec(), b"+PONG\r\n+PONG\r\n".to_vec())],
            1024,
        );
        let mut c = Client::connect(addr).unwrap();
        c.send_raw(b"PING\r\nPING\r\n").unwrap();
        assert_eq!(c.read_frame().unwrap(), Frame::simple("PONG"));
        assert_eq!(c.read_frame().unwrap(), Frame::simple("PONG"));
        server.join().unwrap();
    }

    #[test]
    fn server_closing_is_unexpected_eof() {
        let (addr, server) = canned(
            vec![(command(&[b"QUIT"]), b"+OK\r\n$10\r\nabc".to_vec())],
            1024,
        );
        let mut c = Client::connect(addr).unwrap();
        assert_eq!(c.cmd(&[b"QUIT"]).unwrap(), Frame::simple("OK"));
        server.join().unwrap();
        let err = c.read_frame().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn garbage_is_invalid_data() {
        let (addr, server) = canned(
            vec![(command(&[b"PING"]), b"HTTP/1.1 400\r\n".to_vec())],
            1024,
        );
        let mut c = Client::connect(addr).unwrap();
        let err = c.cmd(&[b"PING"]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let cause = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<ProtocolError>());
        assert_eq!(cause, Some(&ProtocolError::InvalidReplyType(b'H')), "{err}");
        server.join().unwrap();
    }

    #[test]
    fn read_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Hold the connection open, silent, until the client hangs up.
            let mut sink = Vec::new();
            let _ = conn.read_to_end(&mut sink);
        });
        let mut c = Client::connect(addr).unwrap();
        c.set_timeout(Some(Duration::from_millis(50))).unwrap();
        let err = c.cmd(&[b"PING"]).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err:?}"
        );
        c.stream().shutdown(std::net::Shutdown::Both).unwrap();
        server.join().unwrap();
    }
}
