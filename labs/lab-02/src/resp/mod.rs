//! RESP2, both sides of the wire, split by who reads what:
//!
//! - `error`: [`ProtocolError`], what either side reports.
//! - `request`: the server side. [`parse_request`] and [`RequestParser`]
//!   read requests (multibulk and inline) zero-copy and incrementally, with
//!   Redis's [`Limits`] and its error texts ([`ProtocolError`]).
//! - `frame`: the client side. [`Frame`] is an owned reply, [`parse_frame`]
//!   reads one and [`encode_command`] writes a request.
//! - `oracle` (tests and the `fuzz-oracle` feature only): `fuzz_one`, which
//!   checks both parsers' invariants on arbitrary bytes for the proptests in
//!   `tests/resp_fuzz.rs` and the cargo-fuzz target in `fuzz/`.
//!
//! Everything is re-exported here, so callers name `resp::Frame`, never the
//! file it lives in.

mod error;
mod frame;
#[cfg(any(test, feature = "fuzz-oracle"))]
mod oracle;
mod request;

pub use error::{MAX_FRAME_DEPTH, ProtocolError};
pub use frame::{Frame, encode_command, parse_frame};
#[cfg(any(test, feature = "fuzz-oracle"))]
pub use oracle::fuzz_one;
pub use request::{ArgRange, Limits, RequestParser, parse_request};
