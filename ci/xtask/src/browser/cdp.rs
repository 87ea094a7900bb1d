//! A small synchronous Chrome DevTools Protocol client over one websocket.
//!
//! Commands are `{id, method, params, sessionId}` objects; the answer is the
//! message with the same `id`. Everything else that arrives meanwhile is an
//! event, kept in a queue for the checks to look at.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// One CDP event.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) method: String,
    pub(crate) params: Value,
    pub(crate) session: Option<String>,
}

/// A message from the browser, decoded.
#[derive(Debug)]
pub(crate) enum Incoming {
    Response {
        id: u64,
        result: Result<Value, String>,
    },
    Event(Event),
}

/// Encodes one command.
pub(crate) fn encode(id: u64, method: &str, params: &Value, session: Option<&str>) -> String {
    let mut msg = json!({ "id": id, "method": method, "params": params });
    if let Some(s) = session {
        msg["sessionId"] = Value::String(s.to_owned());
    }
    msg.to_string()
}

/// Decodes one message; `Err` for something that is neither a response
/// nor an event.
pub(crate) fn decode(text: &str) -> anyhow::Result<Incoming> {
    let mut v: Value = serde_json::from_str(text).context("CDP message is not JSON")?;
    let session = v
        .get("sessionId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(id) = v.get("id").and_then(Value::as_u64) {
        let result = match v.get_mut("error") {
            Some(err) => Err(format!(
                "{} ({})",
                err.get("message").and_then(Value::as_str).unwrap_or("?"),
                err.get("code").and_then(Value::as_i64).unwrap_or_default()
            )),
            None => Ok(v.get_mut("result").map(Value::take).unwrap_or(Value::Null)),
        };
        return Ok(Incoming::Response { id, result });
    }
    if let Some(method) = v.get("method").and_then(Value::as_str) {
        return Ok(Incoming::Event(Event {
            method: method.to_owned(),
            params: v.get_mut("params").map(Value::take).unwrap_or(Value::Null),
            session,
        }));
    }
    bail!("CDP message is neither a response nor an event: {text:.200}")
}

pub(crate) struct Cdp {
    socket: WebSocket<TcpStream>,
    next_id: u64,
    events: VecDeque<Event>,
    /// Set once the connection failed; every later call fails fast.
    broken: Option<String>,
}

impl Cdp {
    /// Connects to `ws://host:port/path`.
    pub(crate) fn connect(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let host_port = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| anyhow!("not a ws:// URL: {url}"))?;
        let addr = host_port
            .to_socket_addrs()
            .with_context(|| format!("resolving {host_port}"))?
            .next()
            .ok_or_else(|| anyhow!("no address for {host_port}"))?;
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .with_context(|| format!("connecting to DevTools at {addr}"))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        let (socket, _) = tungstenite::client(url, stream)
            .map_err(|e| anyhow!("websocket handshake with {url} failed: {e}"))?;
        Ok(Self {
            socket,
            next_id: 1,
            events: VecDeque::new(),
            broken: None,
        })
    }

    /// Sends a command and waits for its answer; a CDP error is an `Err`.
    pub(crate) fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        if let Some(why) = &self.broken {
            bail!("DevTools connection is broken: {why}");
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Err(e) = self
            .socket
            .send(Message::text(encode(id, method, &params, session)))
        {
            self.broken = Some(e.to_string());
            bail!("sending {method}: {e}");
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_one(deadline)? {
                Some(Incoming::Response { id: got, result }) if got == id => {
                    return result.map_err(|e| anyhow!("{method} failed: {e}"));
                }
                Some(Incoming::Response { .. }) => {}
                Some(Incoming::Event(e)) => self.events.push_back(e),
                None => bail!("no answer to {method} within {timeout:?}"),
            }
        }
    }

    /// Waits for the first queued or arriving event that `pred` accepts and
    /// removes it from the queue; `None` on timeout.
    pub(crate) fn wait_event(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> anyhow::Result<Option<Event>> {
        if let Some(pos) = self.events.iter().position(&mut pred) {
            return Ok(self.events.remove(pos));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_one(deadline)? {
                Some(Incoming::Event(e)) if pred(&e) => return Ok(Some(e)),
                Some(Incoming::Event(e)) => self.events.push_back(e),
                Some(Incoming::Response { .. }) => {}
                None => return Ok(None),
            }
        }
    }

    /// Reads events for `duration`, queueing them.
    pub(crate) fn pump(&mut self, duration: Duration) -> anyhow::Result<()> {
        self.wait_event(duration, |_| false).map(|_| ())
    }

    /// Why the connection failed, if it did.
    pub(crate) fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Takes every queued event.
    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// One decoded message, or `None` once `deadline` has passed.
    fn read_one(&mut self, deadline: Instant) -> anyhow::Result<Option<Incoming>> {
        if let Some(why) = &self.broken {
            bail!("DevTools connection is broken: {why}");
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket
                .get_mut()
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match self.socket.read() {
                Ok(Message::Text(text)) => return decode(text.as_str()).map(Some),
                Ok(Message::Close(frame)) => {
                    let why = format!("DevTools closed the connection: {frame:?}");
                    self.broken = Some(why.clone());
                    bail!(why);
                }
                Ok(_) => {}
                // A timeout, or a signal that interrupted the read (the
                // fresh-clone suite saw EINTR here once): read again.
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    self.broken = Some(e.to_string());
                    bail!("reading from DevTools: {e}");
                }
            }
        }
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        let _ = self.socket.close(None);
        let _ = self.socket.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands_with_and_without_session() {
        let v: Value =
            serde_json::from_str(&encode(7, "Page.navigate", &json!({"url": "x"}), None)).unwrap();
        assert_eq!(
            v,
            json!({"id": 7, "method": "Page.navigate", "params": {"url": "x"}})
        );
        let v: Value =
            serde_json::from_str(&encode(8, "Runtime.enable", &json!({}), Some("S1"))).unwrap();
        assert_eq!(
            v,
            json!({"id": 8, "method": "Runtime.enable", "params": {}, "sessionId": "S1"})
        );
    }

    #[test]
    fn decodes_responses_errors_and_events() {
        match decode(r#"{"id":3,"result":{"frameId":"F"},"sessionId":"S"}"#).unwrap() {
            Incoming::Response { id, result } => {
                assert_eq!(id, 3);
                assert_eq!(result.unwrap()["frameId"], "F");
            }
            other => panic!("{other:?}"),
        }
        match decode(r#"{"id":4,"error":{"code":-32601,"message":"'X.y' wasn't found"}}"#).unwrap()
        {
            Incoming::Response { id, result } => {
                assert_eq!(id, 4);
                assert_eq!(result.unwrap_err(), "'X.y' wasn't found (-32601)");
            }
            other => panic!("{other:?}"),
        }
        match decode(r#"{"id":5}"#).unwrap() {
            Incoming::Response { result, .. } => assert_eq!(result.unwrap(), Value::Null),
            other => panic!("{other:?}"),
        }
        match decode(
            r#"{"method":"Page.loadEventFired","params":{"timestamp":1.5},"sessionId":"S"}"#,
        )
        .unwrap()
        {
            Incoming::Event(e) => {
                assert_eq!(e.method, "Page.loadEventFired");
                assert_eq!(e.params["timestamp"], 1.5);
                assert_eq!(e.session.as_deref(), Some("S"));
            }
            other => panic!("{other:?}"),
        }
        assert!(decode("not json").is_err());
        assert!(decode(r#"{"foo":1}"#).is_err());
    }
}
