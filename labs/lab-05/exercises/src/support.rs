//! What the exercises share: a scripted server for the retry loop.
//!
//! [`Scripted`] answers each attempt with the next item of its script (a
//! reply or a failure) and records what it was asked and when, on tokio's
//! clock, so the tests can run under the paused clock and check both what
//! was sent and how long the loop waited between attempts.

use std::collections::VecDeque;
use std::sync::Mutex;

use lab_02::resp::Frame;
use lab_05::error::{Cause, NetError, Op};
use tokio::time::{Duration, Instant};

/// One attempt's outcome, as the script says.
#[derive(Debug, Clone)]
pub enum Step {
    /// The server answers `+OK`.
    Reply,
    /// The server answers with an error reply (`-ERR …`).
    ErrorReply,
    /// The connection is reset after the request went out (the server
    /// may have run it).
    ResetAfterSend,
    /// Connecting was refused: nothing was sent.
    RefusedBeforeSend,
    /// No reply by the attempt's deadline; the attempt takes `Duration`.
    Timeout(Duration),
    /// The peer answered with bytes that are not RESP.
    Garbage,
}

/// A server that follows a script, one step per attempt.
#[derive(Debug)]
pub struct Scripted {
    script: Mutex<VecDeque<Step>>,
    /// (when, command name) of every attempt.
    log: Mutex<Vec<(Instant, String)>>,
}

impl Scripted {
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Self {
            script: Mutex::new(steps.into_iter().collect()),
            log: Mutex::new(Vec::new()),
        }
    }

    /// Sends one attempt of `args`.
    pub async fn attempt(&self, args: &[&[u8]]) -> Result<Frame, NetError> {
        let name = String::from_utf8_lossy(args.first().copied().unwrap_or_default()).into_owned();
        if let Ok(mut log) = self.log.lock() {
            log.push((Instant::now(), name));
        }
        let step = self
            .script
            .lock()
            .ok()
            .and_then(|mut s| s.pop_front())
            .unwrap_or(Step::Reply);
        let fail = |op, sent, cause| Err(NetError::new(op, None, sent, cause));
        match step {
            Step::Reply => Ok(Frame::Simple("OK".into())),
            Step::ErrorReply => fail(Op::Receive, true, Cause::Reply("ERR no".into())),
            Step::ResetAfterSend => fail(
                Op::Receive,
                true,
                Cause::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            ),
            Step::RefusedBeforeSend => fail(
                Op::Connect,
                false,
                Cause::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            ),
            Step::Garbage => fail(
                Op::Receive,
                true,
                Cause::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not RESP",
                )),
            ),
            Step::Timeout(after) => {
                tokio::time::sleep(after).await;
                fail(Op::Receive, true, Cause::Deadline(after))
            }
        }
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> usize {
        self.log.lock().map_or(0, |l| l.len())
    }

    /// The time between each attempt and the next.
    pub fn gaps(&self) -> Vec<Duration> {
        self.log.lock().map_or_else(
            |_| Vec::new(),
            |l| l.windows(2).map(|w| w[1].0 - w[0].0).collect(),
        )
    }
}
